import { spawn } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { formatEnrolmentCode } from '../../../../base/common/enrolment.js';
import { generateSigningKeyPair } from '../../../../base/node/keys.js';
import { readCertificate } from '../../../../base/node/x509.js';
import { CertificateRenewer, enrolDevice, loadSettings } from '../../../../src-main/core/enrolment/index.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { EnrolServer } from '../../../../sync/hub/fleet/enrol-server.js';
import { EnrolmentBook, type EnrolmentSettings } from '../../../../sync/hub/fleet/enrolment-book.js';
import { HubPki } from '../../../../sync/hub/fleet/pki.js';
import { SAFEGATE_BIN } from '../../../helpers/cli.js';
import { sqliteBackend } from '../../../helpers/directory-db.js';
import { tempDir } from '../../../helpers/fixtures.js';

/**
 * The kiosk's client against the hub's real enrolment endpoint (H1's EnrolServer, its PKI and
 * enrolment book on a SQLite directory), over real HTTPS on loopback: real tokens, real refusals,
 * renewal with the device's certificate, a revoked device refused. Refusals are also read through
 * the compiled `safegate enrol`, as an operator sees them.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SETTINGS: EnrolmentSettings = { siteId: 'site-k', checkpoint: { id: 'gate-k', name: 'Cổng K', kind: 'gate', direction: 'entry' } };

function safegateAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(SAFEGATE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}

describe("enrolment against the hub's enrolment endpoint", () => {
  const root = tempDir('safegate-enrol-hub-');
  let pki: HubPki;
  let directory: HubDirectory;
  let book: EnrolmentBook;
  let server: EnrolServer;
  const downlink = generateSigningKeyPair('ES256');
  const pass = generateSigningKeyPair('EdDSA');

  beforeAll(async () => {
    pki = await HubPki.init(join(root.path, 'pki'), { hosts: ['localhost', '127.0.0.1'], hubIds: ['hub.1'] });
    directory = await HubDirectory.open(await sqliteBackend.target());
    book = new EnrolmentBook(directory.sql);
    server = new EnrolServer({
      pki,
      book,
      directory,
      signingKey: createPrivateKey(downlink.privatePem),
      keys: { pass: [pass.publicPem], downlink: [downlink.publicPem] },
      brokerUrl: 'mqtts://localhost:8883',
      gpioProfiles: {},
      host: '127.0.0.1',
      port: 0,
      rateLimitPerMinute: 1_000,
      log: pino({ level: 'silent' }),
    });
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
    await directory.close();
    root.remove();
  });

  const code = async (o: { nowMs?: number; caFingerprint?: string } = {}) => {
    const [t] = await book.createTokens({ settings: SETTINGS, expiresInMs: HOUR, ...(o.nowMs !== undefined ? { nowMs: o.nowMs } : {}) });
    return { deviceId: t!.deviceId, text: formatEnrolmentCode({ hubUrl: `https://127.0.0.1:${server.port}`, deviceId: t!.deviceId, token: t!.token, caFingerprint: o.caFingerprint ?? pki.caFingerprint() }) };
  };
  let n = 0;
  const kiosk = () => {
    const d = join(root.path, `kiosk-${++n}`);
    mkdirSync(d, { recursive: true });
    const config = join(d, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    return { config, dir: join(d, 'enrolment') };
  };

  it('enrols with a real token; the kiosk then loads as the device the hub named, at its checkpoint', async () => {
    const k = kiosk();
    const c = await code();
    expect(await enrolDevice(c.text, { settingsFile: k.config })).toEqual({ ok: true, deviceId: c.deviceId });
    const loaded = loadSettings(k.config);
    expect(loaded.settings.device.id).toBe(c.deviceId);
    expect(loaded.settings.checkpoint).toMatchObject({ id: 'gate-k', name: 'Cổng K', kind: 'gate' });
    expect(loaded.broker?.url).toBe('mqtts://localhost:8883');
    expect(readCertificate(readFileSync(join(k.dir, 'device.crt'), 'utf8')).commonName).toBe(c.deviceId);
  });

  it("each refusal reaches the operator of `safegate enrol`: CA_MISMATCH, TOKEN_USED, TOKEN_EXPIRED, TOKEN_UNKNOWN", async () => {
    const used = await code();
    expect(await enrolDevice(used.text, { settingsFile: kiosk().config })).toMatchObject({ ok: true });
    const expired = await code({ nowMs: Date.now() - 2 * HOUR });
    const fresh = await code();
    const unknown = formatEnrolmentCode({ hubUrl: `https://127.0.0.1:${server.port}`, deviceId: fresh.deviceId, token: randomBytes(32).toString('base64url'), caFingerprint: pki.caFingerprint() });
    const cases: [string, string, RegExp][] = [
      [(await code({ caFingerprint: 'ab'.repeat(32) })).text, 'CA_MISMATCH', /this may not be your hub/],
      [used.text, 'TOKEN_USED', /used already/],
      [expired.text, 'TOKEN_EXPIRED', /expired/],
      [unknown, 'TOKEN_UNKNOWN', /does not know this enrolment code/],
    ];
    for (const [text, reason, words] of cases) {
      const r = await safegateAsync(['enrol', '--config', kiosk().config, '--token', text]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^safegate: enrolment failed \\(${reason}\\): `));
      expect(r.stderr).toMatch(words);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });

  it('renews over the enrolled channel (new key, new certificate, restart asked); a revoked device is refused', async () => {
    const k = kiosk();
    const c = await code();
    expect(await enrolDevice(c.text, { settingsFile: k.config })).toMatchObject({ ok: true });
    const before = { key: readFileSync(join(k.dir, 'device.key'), 'utf8'), cert: readCertificate(readFileSync(join(k.dir, 'device.crt'), 'utf8')) };
    const restarts: string[] = [];
    const renewer = new CertificateRenewer({ settingsFile: k.config, requestRestart: (r) => restarts.push(r), now: () => Date.now() + 300 * DAY });
    expect(await renewer.check()).toMatchObject({ kind: 'renewed' });
    expect(restarts).toEqual(['device certificate renewed']);
    const after = { key: readFileSync(join(k.dir, 'device.key'), 'utf8'), cert: readCertificate(readFileSync(join(k.dir, 'device.crt'), 'utf8')) };
    expect(after.key).not.toBe(before.key);
    expect(after.cert.serialHex).not.toBe(before.cert.serialHex);
    expect(after.cert.publicKeyPem).not.toBe(before.cert.publicKeyPem);
    expect(after.cert.commonName).toBe(c.deviceId);
    expect(loadSettings(k.config).settings.device.id).toBe(c.deviceId);

    expect(await book.markRevoked(c.deviceId)).not.toBe('unknown');
    const again = new CertificateRenewer({ settingsFile: k.config, requestRestart: (r) => restarts.push(r), now: () => Date.now() + 600 * DAY });
    expect(await again.check()).toMatchObject({ kind: 'failed', reason: 'DEVICE_REVOKED' });
    expect(readCertificate(readFileSync(join(k.dir, 'device.crt'), 'utf8')).serialHex).toBe(after.cert.serialHex);
    expect(restarts).toHaveLength(1);
    expect(createPrivateKey(readFileSync(join(k.dir, 'device.key'), 'utf8')).asymmetricKeyType).toBe('ec');
  });
});
