import { createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EST_PATHS, formatEnrolmentCode } from '../../../base/common/enrolment.js';
import { passFor, tempDir, waitFor } from '../../helpers/fixtures.js';
import { KioskProcessRig, type RunningKiosk } from '../../helpers/kiosk-process.js';
import { TestCertificates } from '../../helpers/mosquitto.js';
import { createLogger } from '../../../base/node/logger.js';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { EnrolServer } from '../../../sync/hub/fleet/enrol-server.js';
import { EnrolmentBook } from '../../../sync/hub/fleet/enrolment-book.js';
import { HubPki } from '../../../sync/hub/fleet/pki.js';
import { sqliteBackend } from '../../helpers/directory-db.js';

type Log = Record<string, unknown>;

const TOKEN = 'A'.repeat(43);

/** A packaged kiosk's file: no device, checkpoint or hub of its own (enrolment gives them); debug logs carry each output transition. */
async function unenrolledRig(): Promise<KioskProcessRig> {
  const rig = await KioskProcessRig.create();
  const doc = parse(readFileSync(rig.config, 'utf8')) as Record<string, unknown>;
  delete doc['device'];
  delete doc['checkpoint'];
  doc['log'] = { level: 'debug' };
  writeFileSync(rig.config, stringify(doc));
  return rig;
}

/** The simulated outputs' transitions as the running kiosk logged them: `greenLight:on`, ... */
function transitions(logs: Log[], since = 0): { at: number; what: string }[] {
  return logs
    .slice(since)
    .filter((l) => l.msg === 'output' && l.ns === 'device:gpio')
    .map((l) => ({ at: l.time as number, what: `${String(l.output)}:${l.active ? 'on' : 'off'}` }));
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * `safegate run --headless` with a settings file that names no device, checkpoint or hub, as a
 * packaged kiosk starts before IT enrols it: a real process, a real pty scanner, the simulated
 * outputs' transitions read from its log; refusals from real TLS peers, and a real enrolment against
 * the hub's enrolment endpoint (its PKI and enrolment book on a SQLite directory, in this process).
 */
describe('safegate run, not enrolled: "enrol me"', () => {
  let rig: KioskProcessRig | undefined;
  let https: Server | undefined;
  const pki = tempDir('safegate-enrol-me-pki-');
  afterEach(async () => {
    if (https) await new Promise<void>((r) => https!.close(() => r()));
    https = undefined;
    await rig?.dispose();
    rig = undefined;
  });
  afterAll(() => pki.remove());

  it('lights green and red in turn, decides no pass, refuses a code for another CA or an unreachable hub with the reason and a long beep, stays not enrolled, and stops on SIGTERM with status 0', async () => {
    rig = await unenrolledRig();
    const kiosk: RunningKiosk = await rig.startKiosk();
    const { child, logs } = kiosk;
    expect(logs.some((l) => l.msg === 'kiosk not enrolled: waiting for an enrolment code (enrol me)')).toBe(true);

    // The pattern: green and red on in turn, never together; the relay and the buzzer untouched.
    await waitFor(() => (transitions(logs).filter((t) => t.what.endsWith(':on')).length >= 4 ? true : undefined), 'two cycles of the enrol-me pattern', 10_000);
    const pattern = transitions(logs);
    expect(pattern.every((t) => t.what.startsWith('greenLight') || t.what.startsWith('redLight'))).toBe(true);
    const ons = pattern.filter((t) => t.what.endsWith(':on')).map((t) => t.what);
    expect(ons.slice(0, 4)).toEqual(['greenLight:on', 'redLight:on', 'greenLight:on', 'redLight:on']);
    const lit = new Set<string>();
    for (const t of pattern) {
      const [line, state] = t.what.split(':') as [string, string];
      if (state === 'on') lit.add(line);
      else lit.delete(line);
      expect(lit.size).toBeLessThanOrEqual(1);
    }

    // A pass is no enrolment code: ignored, nothing decided, no store opened.
    await rig.pty.write(`${passFor(rig.keys, 'W1')}\r`);
    await waitFor(() => (logs.some((l) => l.msg === 'not an enrolment code: ignored (this kiosk is not enrolled and decides no passes)') ? true : undefined), 'pass ignored');
    expect(logs.some((l) => l.msg === 'scan')).toBe(false);
    expect(existsSync(join(rig.dir.path, 'safegate.db'))).toBe(false);

    // A code naming a CA other than the one the server presents: refused as CA_MISMATCH.
    const certs = new TestCertificates(join(pki.path, 'pki'));
    https = createHttpsServer({ key: readFileSync(join(certs.dir, 'server.key')), cert: readFileSync(join(certs.dir, 'server.crt')) }, (req, res) => {
      if (req.url === EST_PATHS.cacerts) res.writeHead(200, { 'Content-Type': 'application/pem-certificate-chain' }).end(readFileSync(join(certs.dir, 'ca.crt')));
      else res.writeHead(404).end();
    });
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
    const httpsPort = (https.address() as AddressInfo).port;
    // The ignored pass's long beep is over first, so the refusal's own beep is one on and one off.
    await waitFor(() => (transitions(logs).filter((t) => t.what.startsWith('buzzer')).at(-1)?.what === 'buzzer:off' ? true : undefined), 'the first beep over');
    const beepsBefore = logs.length;
    await rig.pty.write(`${formatEnrolmentCode({ hubUrl: `https://127.0.0.1:${httpsPort}`, deviceId: 'gate-a-0001', token: TOKEN, caFingerprint: 'ab'.repeat(32) })}\r`);
    const mismatch = await waitFor(() => logs.find((l) => l.msg === 'enrolment refused; still waiting for an enrolment code'), 'CA mismatch refused', 20_000);
    expect(mismatch.reason).toBe('CA_MISMATCH');
    // One long beep.
    const buzzer = () => transitions(logs, beepsBefore).filter((t) => t.what.startsWith('buzzer'));
    await waitFor(() => (buzzer().length >= 2 ? true : undefined), 'long beep');
    const beep = buzzer();
    expect(beep.slice(0, 2).map((t) => t.what)).toEqual(['buzzer:on', 'buzzer:off']);
    expect(beep[1]!.at - beep[0]!.at).toBeGreaterThanOrEqual(900);

    // A hub that cannot be reached: NETWORK.
    const port = await closedPort();
    await rig.pty.write(`${formatEnrolmentCode({ hubUrl: `https://127.0.0.1:${port}`, deviceId: 'gate-a-0001', token: TOKEN, caFingerprint: 'ab'.repeat(32) })}\r`);
    await waitFor(() => (logs.filter((l) => l.msg === 'enrolment refused; still waiting for an enrolment code').length === 2 ? true : undefined), 'closed port refused', 20_000);
    expect(logs.filter((l) => l.msg === 'enrolment refused; still waiting for an enrolment code').map((l) => l.reason)).toEqual(['CA_MISMATCH', 'NETWORK']);

    // Still not enrolled: nothing in the enrolment folder, the kiosk never composed, the lights still say so.
    expect(existsSync(join(rig.dir.path, 'enrolment', 'state.json'))).toBe(false);
    expect(logs.some((l) => l.msg === 'kiosk started')).toBe(false);
    const after = logs.length;
    await waitFor(() => (transitions(logs, after).filter((t) => t.what.endsWith(':on') && !t.what.startsWith('buzzer')).length >= 2 ? true : undefined), 'the pattern goes on');

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    // Stopped with every output off.
    const last = new Map<string, string>();
    for (const t of transitions(logs)) last.set(t.what.split(':')[0]!, t.what.split(':')[1]!);
    expect([...last.values()].every((v) => v === 'off')).toBe(true);
  });

  it("a real enrolment by scan: the hub's endpoint issues the certificate and settings, the same process composes the kiosk, which decides passes with the hub's keys and ignores a second enrolment code", async () => {
    const root = tempDir('safegate-enrol-me-hub-');
    const hubPki = await HubPki.init(join(root.path, 'pki'), { hosts: ['localhost', '127.0.0.1'], hubIds: ['hub.1'] });
    const directory = await HubDirectory.open(await sqliteBackend.target());
    const downlink = generateSigningKeyPair('ES256');
    const pass = generateSigningKeyPair('EdDSA');
    const book = new EnrolmentBook(directory.sql);
    const server = new EnrolServer({
      pki: hubPki,
      book,
      directory,
      signingKey: createPrivateKey(downlink.privatePem),
      keys: { pass: [pass.publicPem], downlink: [downlink.publicPem] },
      brokerUrl: 'mqtts://localhost:8883',
      gpioProfiles: {},
      host: '127.0.0.1',
      port: 0,
      rateLimitPerMinute: 1_000,
      log: createLogger({ level: 'silent' }),
    });
    await server.start();
    try {
      rig = await unenrolledRig();
      const { child, logs } = await rig.startKiosk();
      const [token] = await book.createTokens({ settings: { siteId: 'site-k', checkpoint: { id: 'gate-k', name: 'Cổng K', kind: 'gate', direction: 'entry' } }, expiresInMs: 3_600_000 });
      const text = formatEnrolmentCode({ hubUrl: `https://127.0.0.1:${server.port}`, deviceId: token!.deviceId, token: token!.token, caFingerprint: hubPki.caFingerprint() });
      await rig.pty.write(`${text}\r`);
      await waitFor(() => (logs.some((l) => l.msg === 'kiosk started') ? true : undefined), 'the kiosk composed after enrolment', 30_000);
      const started = logs.find((l) => l.msg === 'kiosk started')!;
      expect(started).toMatchObject({ device: token!.deviceId, checkpoint: 'gate-k', hub: 'mqtts://localhost:8883' });
      expect(logs.some((l) => l.msg === 'enrolled: composing the kiosk' && l.device === token!.deviceId)).toBe(true);
      expect(existsSync(join(rig.dir.path, 'enrolment', 'state.json'))).toBe(true);
      // The enrol-me pattern stopped: after the composition no light blinks by itself.
      const composedAt = logs.indexOf(started);
      await new Promise((r) => setTimeout(r, 2_500));
      expect(transitions(logs, composedAt).filter((t) => !t.what.startsWith('buzzer'))).toEqual([]);

      // A pass signed by the hub's pass key is verified with the key enrolment installed (the worker is not in the roster yet).
      await rig.pty.write(`${passFor(pass, 'W1')}\r`);
      const scan = await waitFor(() => logs.find((l) => l.msg === 'scan'), 'a decided scan');
      expect(scan.outcome).toBe('deny');
      expect(scan.reasons).not.toContain('UNKNOWN_KEY');
      expect(scan.reasons).not.toContain('BAD_SIGNATURE');
      // A pass from a key the hub never gave is refused as unknown: the keys are the hub's, not the rig's.
      await rig.pty.write(`${passFor(rig.keys, 'W1')}\r`);
      await waitFor(() => (logs.filter((l) => l.msg === 'scan').length === 2 ? true : undefined), 'a second decided scan');
      expect(logs.filter((l) => l.msg === 'scan')[1]!.reasons).toEqual(['UNKNOWN_KEY']);

      // Another enrolment code at the enrolled gate: ignored, never a second enrolment.
      const [second] = await book.createTokens({ settings: { siteId: 'site-k', checkpoint: { id: 'gate-x', name: 'Cổng X', kind: 'gate', direction: 'entry' } }, expiresInMs: 3_600_000 });
      await rig.pty.write(`${formatEnrolmentCode({ hubUrl: `https://127.0.0.1:${server.port}`, deviceId: second!.deviceId, token: second!.token, caFingerprint: hubPki.caFingerprint() })}\r`);
      await waitFor(() => (logs.some((l) => String(l.msg).startsWith('enrolment code ignored: this kiosk is enrolled already')) ? true : undefined), 'second code ignored');
      expect(logs.filter((l) => l.msg === 'kiosk started')).toHaveLength(1);
      expect(JSON.parse(readFileSync(join(rig.dir.path, 'enrolment', 'state.json'), 'utf8'))).toMatchObject({ deviceId: token!.deviceId });

      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      await server.stop();
      await directory.close();
      root.remove();
    }
  });
});
