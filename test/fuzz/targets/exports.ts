import { join } from 'node:path';
import fc from 'fast-check';
import { EXPORT_HEADERS, signExportUpload, type ExportDescription } from '../../../base/node/export-upload.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { ExportRefusal, HubExports } from '../../../sync/hub/exports.js';
import { TestCertificates } from '../../helpers/mosquitto.js';
import { check, scratchDir, show, target, type AnyFuzzTarget, type Closer } from '../harness.js';

/**
 * A kiosk's export upload at the hub (sync/hub/exports.ts): whatever headers and body arrive, the
 * hub throws nothing but its refusal (a status and words), and keeps only what the placed device's
 * certificate signed, byte for byte.
 */

const DEVICE = 'fuzz-kiosk-01';
const NOW_MS = Date.now();
const HEADER_NAMES = Object.values(EXPORT_HEADERS);
const junk: fc.Arbitrary<string | string[] | undefined> = fc.oneof(fc.string({ maxLength: 80 }), fc.base64String({ maxLength: 200 }), fc.constant(undefined), fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }));
/** Mostly a description the kiosk would sign, each field sometimes out of shape. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>) => fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: bad });
const descriptionLike = fc.record({
  exportId: mostly(fc.string({ unit: fc.constantFrom(...'abcdefghijklmnop0123456789_-'), minLength: 16, maxLength: 24 }), fc.string({ maxLength: 70 })),
  fileName: mostly(fc.constantFrom('safegate-log-2026-11-27.csv', 'x.xlsx'), fc.oneof(fc.constantFrom('../etc/passwd', 'a.pdf', ''), fc.string({ maxLength: 30 }))),
  format: mostly(fc.constantFrom('csv', 'xlsx'), fc.constantFrom('pdf', 1)),
  rows: mostly(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(-1, 0.5, 1e12)),
  supervisorId: mostly(fc.constant('giam-sat-1'), fc.string({ maxLength: 70 })),
  supervisorName: mostly(fc.string({ minLength: 1, maxLength: 50 }), fc.string({ maxLength: 120 })),
  madeMs: fc.integer({ min: 0, max: NOW_MS * 2 }),
});

type UploadInput =
  | { mode: 'raw'; headers: Record<string, string | string[] | undefined>; body: Uint8Array }
  | { mode: 'signed'; description: unknown; body: Uint8Array; skewMs: number; change?: { header: string; value: string | undefined } | undefined; flip: boolean };

const uploadInput: fc.Arbitrary<UploadInput> = fc.oneof(
  fc.record({ mode: fc.constant('raw' as const), headers: fc.dictionary(fc.constantFrom(...HEADER_NAMES, 'content-type'), junk, { maxKeys: 6 }), body: fc.uint8Array({ maxLength: 64 }) }),
  fc.record(
    {
      mode: fc.constant('signed' as const),
      description: descriptionLike,
      body: fc.uint8Array({ maxLength: 64 }),
      skewMs: fc.oneof(fc.constant(0), fc.integer({ min: -3_600_000, max: 3_600_000 })),
      change: fc.option(fc.record({ header: fc.constantFrom(...HEADER_NAMES), value: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }) }), { nil: undefined }),
      flip: fc.boolean(),
    },
    { requiredKeys: ['mode', 'description', 'body', 'skewMs', 'flip'] },
  ),
);

export async function exportUploadTargets(closer: Closer): Promise<AnyFuzzTarget[]> {
  const dir = scratchDir('safegate-fuzz-exports-');
  const certs = new TestCertificates(join(dir.path, 'certs'));
  const device = certs.issue(DEVICE);
  const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
  closer.add(async () => {
    await directory.close();
    dir.remove();
  });
  await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
  await directory.addSite({ id: 'site-a', orgId: 'ORG-A' });
  await directory.addCheckpoint({ id: 'gate-a', siteId: 'site-a', kind: 'gate', orgIds: ['ORG-A'] });
  await directory.placeDevices('gate-a', [DEVICE]);
  // After the certificate's start (openssl dates it from the second it is issued).
  const nowMs = Date.now() + 60_000;
  const exports = new HubExports({ sql: directory.sql, directory, caPem: device.ca, now: () => nowMs });
  let kept = 0;
  closer.add(() => {
    // A run that never stored anything would not have tested the signature check at all.
    check(kept > 0, 'no upload was ever stored: the inputs never reach the signature check');
  });
  return [
    target({
      name: 'kiosk export upload',
      weight: 20,
      smallRuns: 150,
      arbitrary: uploadInput,
      async run(input: UploadInput) {
        let headers: Record<string, string | string[] | undefined>;
        let body = Buffer.from(input.body);
        let mayKeep = false;
        if (input.mode === 'raw') headers = input.headers;
        else {
          try {
            headers = signExportUpload({ deviceId: DEVICE, description: input.description as ExportDescription, body, certPem: device.cert, keyPem: device.key, nowMs: nowMs + input.skewMs });
          } catch {
            return; // the kiosk refuses to sign a description out of shape
          }
          // A header "changed" to the value it had is no change.
          const changed = input.change !== undefined && headers[input.change.header] !== input.change.value;
          mayKeep = Math.abs(input.skewMs) <= 10 * 60_000 && !changed && !input.flip;
          if (input.change) headers = { ...headers, [input.change.header]: input.change.value };
          if (input.flip) body = Buffer.concat([body, Buffer.from([0x2c])]);
        }
        try {
          const r = await exports.receive(headers, body);
          check(mayKeep, () => `kept an upload it should refuse: ${show(headers)}`);
          check(r.export.deviceId === DEVICE && (await exports.file(r.export.exportId))?.body.equals(body), () => `kept another file than was signed: ${show(r)}`);
          kept++;
        } catch (err) {
          if (!(err instanceof ExportRefusal)) throw err;
          check(err.message.length > 0 && [400, 401, 403, 409, 413].includes(err.status), () => `refusal ${err.status}: ${err.message}`);
        }
      },
    }),
  ];
}
