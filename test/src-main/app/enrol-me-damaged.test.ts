import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { formatEnrolmentCode } from '../../../base/common/enrolment.js';
import { createLogger } from '../../../base/node/logger.js';
import { EnrolMeKiosk, type EnrolOutcome } from '../../../src-main/app/kiosk.js';
import { KioskRunLoop } from '../../../src-main/app/run-loop.js';
import { tempDir, waitFor, writeKioskConfig } from '../../helpers/fixtures.js';
import { makeEnrolledFolder } from '../core/enrolment/enrolled-folder.js';

/**
 * A box that was enrolled once and whose enrolment folder no longer checks (review r1, finding 1):
 * `safegate run` does not fall back to taking a code from the gate. It says the enrolment is damaged
 * and what IT does, and every code scanned is refused without enrolling.
 */
describe('safegate run with a damaged enrolment folder', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('runs as "enrol me" showing ENROLMENT_DAMAGED from the start, logs the problem and --force, and refuses a scanned code without calling enrol', async () => {
    const dir = tempDir('safegate-enrol-damaged-');
    cleanups.push(() => dir.remove());
    const file = writeKioskConfig(dir.path);
    const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    delete doc['device'];
    delete doc['checkpoint'];
    writeFileSync(file, stringify(doc));
    const folder = makeEnrolledFolder(join(dir.path, 'enrolment'));
    const cose = readFileSync(join(folder.dir, 'settings.cose'));
    cose.writeUInt8(cose.readUInt8(cose.length - 5) ^ 0x01, cose.length - 5);
    writeFileSync(join(folder.dir, 'settings.cose'), cose);

    const logs: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', destination: { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) } });
    const asked: string[] = [];
    const enrol = (code: string): Promise<EnrolOutcome> => {
      asked.push(code);
      return Promise.resolve({ ok: true, deviceId: 'kiosk-x-0001' });
    };
    const loop = new KioskRunLoop(file, { headless: true, log, enrol });
    cleanups.push(async () => {
      loop.stop('test over');
      await loop.done();
    });
    const first = await loop.start();
    expect(first).toBeInstanceOf(EnrolMeKiosk);
    const kiosk = first as EnrolMeKiosk;
    expect(kiosk.enrolmentView()).toMatchObject({ state: 'failed', reason: 'ENROLMENT_DAMAGED' });
    const damagedLine = logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('enrolment damaged'));
    expect(damagedLine).toMatchObject({ level: 50, problem: expect.stringContaining('settings.cose') as unknown });
    expect(String(damagedLine?.msg)).toContain('safegate enrol --force');

    const code = formatEnrolmentCode({ hubUrl: 'https://127.0.0.1:9', deviceId: 'kiosk-x-0001', token: 'A'.repeat(43), caFingerprint: 'a'.repeat(64) });
    kiosk.submitCode(`  ${code}\n`);
    await waitFor(() => (logs.some((l) => String(l.msg).startsWith('enrolment code refused: this kiosk was enrolled')) ? true : undefined), 'the refusal');
    // enrol would have been called in the same turn as the scan: it never was.
    expect(asked).toEqual([]);
    expect(loop.current).toBe(kiosk);
    expect(kiosk.enrolmentView()).toMatchObject({ state: 'failed', reason: 'ENROLMENT_DAMAGED' });
  });
});
