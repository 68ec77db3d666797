import { once } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseEnrolmentCode } from '../../../base/common/enrolment.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { EnrolmentBook } from '../../../sync/hub/fleet/enrolment-book.js';
import { HubPki } from '../../../sync/hub/fleet/pki.js';
import { EST_PATHS, enrolmentResultSchema } from '../../../base/common/enrolment.js';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { createCsr, generateDeviceKey, readCertificate } from '../../../base/node/x509.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { safegate, safegateProcess } from '../../helpers/cli.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';
import { freePort } from '../../helpers/mosquitto.js';

/** `safegate hub pki init` and `hub enrol create|list`, the compiled command (run `npx tsc -b` first), on the SQLite directory. */
// Each command is a process start (a few seconds on a busy machine): generous limits, no timing asserted.
describe('safegate hub pki init / hub enrol', { timeout: 120_000 }, () => {
  const dir = tempDir('safegate-hub-enrol-');
  const config = join(dir.path, 'hub.yaml');
  const env = { DATABASE_URL: '' };
  const run = (...args: string[]) => safegate(args, { env });

  beforeAll(() => {
    writeFileSync(
      config,
      stringify({
        broker: { url: 'mqtts://127.0.0.1:8883' },
        directory: { path: 'directory.db' },
        store: { path: 'hub.db' },
        console: { enabled: false },
        pki: { dir: 'pki' },
        enrol: { publicUrl: 'https://hub.example.vn:8443', gpioProfiles: { turnstile: { relay: { pin: 5, pulseMs: 800 } }, broken: { relay: { pin: 'five' } } } },
      }),
    );
  });
  afterAll(() => dir.remove());

  it('pki init makes the CA once and says what Mosquitto reads; a second init is refused', () => {
    const r = run('hub', 'pki', 'init', '--config', config, '--host', 'hub.example.vn', '--host', '127.0.0.1');
    expect(r.status, r.stderr).toBe(0);
    const pkiDir = join(dir.path, 'pki');
    // What Mosquitto reads is what the shipped safegate.conf names, the server key copied for the mosquitto user only.
    const conf = readFileSync(join(process.cwd(), 'config', 'mosquitto', 'safegate.conf'), 'utf8');
    const confPath = (k: string) => new RegExp(`^${k} (\\S+)$`, 'm').exec(conf)![1]!;
    expect(r.stdout).toContain(`install -o root -g mosquitto -m 0644 ${join(pkiDir, 'ca.crt')} ${confPath('cafile')}\n`);
    expect(r.stdout).toContain(`install -o root -g mosquitto -m 0644 ${join(pkiDir, 'server.crt')} ${confPath('certfile')}\n`);
    expect(r.stdout).toContain(`install -o mosquitto -g mosquitto -m 0600 ${join(pkiDir, 'server.key')} ${confPath('keyfile')}\n`);
    // The CRL copy is refreshed from the file revocations rewrite before every broker start.
    expect(r.stdout).toContain(`ExecStartPre=/usr/bin/install -o root -g mosquitto -m 0644 ${join(pkiDir, 'crl.pem')} ${confPath('crlfile')}`);
    // ... and before every reload (a revocation takes effect at `systemctl reload mosquitto`), then the packaged SIGHUP.
    expect(r.stdout).toContain(`  ExecReload=\n  ExecReload=/usr/bin/install -o root -g mosquitto -m 0644 ${join(pkiDir, 'crl.pem')} ${confPath('crlfile')}\n  ExecReload=/bin/kill -HUP $MAINPID`);
    expect(statSync(join(pkiDir, 'crl.pem')).mode & 0o777).toBe(0o644);
    expect(statSync(join(pkiDir, 'server.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir.path, 'pki', 'hub.1.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
    const again = run('hub', 'pki', 'init', '--config', config, '--host', 'x.example');
    expect(again.status).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/already holds a hub CA/);
  });

  it('enrol create prints each code as a terminal QR with its text; the code names the device, the hub URL and the CA fingerprint', () => {
    const r = run('hub', 'enrol', 'create', '--config', config, '--checkpoint-kind', 'gate', '--site', 'site-a', '--count', '2', '--gpio-profile', 'turnstile');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/[▀▄█]{7}/);
    const codes = r.stdout.split('\n').filter((l) => l.startsWith('SGE1:'));
    expect(codes).toHaveLength(2);
    const fp = HubPki.open(join(dir.path, 'pki')).caFingerprint();
    const parsed = codes.map((c) => parseEnrolmentCode(c));
    expect(parsed.map((p) => p.deviceId)).toEqual(['site-a-gate-0001', 'site-a-gate-0002']);
    for (const p of parsed) expect(p).toMatchObject({ hubUrl: 'https://hub.example.vn:8443', caFingerprint: fp });
    expect(r.stdout).toContain('device site-a-gate-0001');
  });

  it('enrol create --json and --sheet FILE.pdf: parseable codes, a PDF written; list shows states but never a token', async () => {
    const sheet = join(dir.path, 'codes.pdf');
    const r = run('hub', 'enrol', 'create', '--config', config, '--checkpoint-kind', 'bus', '--site', 'site-a', '--checkpoint-id', 'bus-12', '--name', 'Xe 12', '--direction', 'both', '--count', '3', '--expires', '2h', '--json', '--sheet', sheet);
    expect(r.status, r.stderr).toBe(0);
    const made = JSON.parse(r.stdout) as { deviceId: string; code: string; expiresAt: string }[];
    expect(made.map((m) => m.deviceId)).toEqual(['site-a-bus-0001', 'site-a-bus-0002', 'site-a-bus-0003']);
    for (const m of made) {
      expect(parseEnrolmentCode(m.code).deviceId).toBe(m.deviceId);
      expect(Date.parse(m.expiresAt) - Date.now()).toBeGreaterThan(1.9 * 3_600_000);
      expect(Date.parse(m.expiresAt) - Date.now()).toBeLessThanOrEqual(2 * 3_600_000);
    }
    const pdf = readFileSync(sheet);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(5_000);

    const png = join(dir.path, 'one.png');
    const one = run('hub', 'enrol', 'create', '--config', config, '--checkpoint-kind', 'canteen', '--site', 'site-a', '--device-id', 'canteen-main', '--sheet', png);
    expect(one.status, one.stderr).toBe(0);
    expect([...readFileSync(png).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    // The sheets hold live codes: the hub user's only.
    expect(statSync(png).mode & 0o777).toBe(0o600);
    expect(statSync(sheet).mode & 0o777).toBe(0o600);

    const list = run('hub', 'enrol', 'list', '--config', config, '--json');
    expect(list.status, list.stderr).toBe(0);
    const rows = JSON.parse(list.stdout) as { deviceId: string; state: string }[];
    expect(rows).toHaveLength(6);
    expect(rows.every((x) => x.state === 'pending')).toBe(true);
    for (const m of made) expect(list.stdout).not.toContain(parseEnrolmentCode(m.code).token);
    // A used code shows as used.
    const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
    try {
      await new EnrolmentBook(directory.sql).consume(parseEnrolmentCode(made[0]!.code).token);
    } finally {
      await directory.close();
    }
    expect(run('hub', 'enrol', 'list', '--config', config).stdout).toMatch(/^site-a-bus-0001\tused\t/m);
  });

  it('enrol cancel: named codes or all pending of a site; list shows them cancelled; devices revoke of a device with only a pending code cancels it', () => {
    const made = run('hub', 'enrol', 'create', '--config', config, '--checkpoint-kind', 'zone', '--site', 'site-c', '--count', '3', '--json');
    expect(made.status, made.stderr).toBe(0);
    const [a, b, c] = (JSON.parse(made.stdout) as { deviceId: string }[]).map((m) => m.deviceId);
    const one = run('hub', 'enrol', 'cancel', a!, 'site-c-zone-9999', '--config', config);
    expect(one.status).toBe(1);
    expect(one.stdout).toContain(`cancelled: the code of ${a!} enrols nothing now`);
    expect(one.stdout).toContain('site-c-zone-9999: no enrolment code for this device id');
    const revoked = run('hub', 'devices', 'revoke', b!, '--config', config);
    expect(revoked.status, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/never enrolled: its unused enrolment code is cancelled/);
    const site = run('hub', 'enrol', 'cancel', '--all-pending', '--site', 'site-c', '--config', config, '--json');
    expect(site.status, site.stderr).toBe(0);
    expect(JSON.parse(site.stdout)).toEqual({ cancelled: [c!], notPending: [] });
    const list = run('hub', 'enrol', 'list', '--config', config);
    for (const id of [a!, b!, c!]) expect(list.stdout).toMatch(new RegExp(`^${id}\\tcancelled\\t`, 'm'));
    // Other sites' pending codes are untouched.
    expect(list.stdout).toMatch(/^site-a-gate-0001\tpending\t/m);
    const bad = run('hub', 'enrol', 'cancel', '--config', config);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses in one line: an unknown site when the registry knows sites, a bad kind, an invalid or unknown GPIO profile, a reused device id, one a kiosk the hub heard from holds', async () => {
    const one = (...args: string[]) => {
      const r = run('hub', 'enrol', 'create', '--config', config, ...args);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      return r.stderr;
    };
    expect(one('--checkpoint-kind', 'door', '--site', 'site-a')).toMatch(/--checkpoint-kind "door": expected gate, zone/);
    expect(one('--checkpoint-kind', 'gate', '--site', 'site-a', '--gpio-profile', 'broken')).toMatch(/GPIO profile broken is not valid kiosk gate settings: gate\.relay\.pin/);
    expect(one('--checkpoint-kind', 'gate', '--site', 'site-a', '--gpio-profile', 'nope')).toMatch(/not in enrol\.gpioProfiles .*known: turnstile, broken/);
    expect(one('--checkpoint-kind', 'canteen', '--site', 'site-a', '--device-id', 'canteen-main')).toMatch(/never reused/);
    expect(one('--checkpoint-kind', 'gate', '--site', 'site-a', '--expires', 'soon')).toMatch(/--expires/);
    // A kiosk the hub has heard from (its event store) holds its id, though the directory never placed it.
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      await store.ingest('hand-kiosk-01', typicalEvents(1), Date.now());
    } finally {
      await store.close();
    }
    expect(one('--checkpoint-kind', 'gate', '--site', 'site-a', '--device-id', 'hand-kiosk-01')).toMatch(/device id hand-kiosk-01 is already used by a kiosk the hub knows/);
    const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
    try {
      await directory.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' });
      await directory.addSite({ id: 'site-b', orgId: 'org-a' });
      await directory.addCheckpoint({ id: 'gate-b', siteId: 'site-b', kind: 'gate' });
    } finally {
      await directory.close();
    }
    expect(one('--checkpoint-kind', 'gate', '--site', 'site-z')).toMatch(/unknown site "site-z"/);
    // A code for a host the hub's server certificate does not name would fail at every gate: refused here.
    const elsewhere = join(dir.path, 'hub-elsewhere.yaml');
    writeFileSync(elsewhere, stringify({ broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: 'directory.db' }, store: { path: 'hub.db' }, console: { enabled: false }, pki: { dir: 'pki' }, enrol: { publicUrl: 'https://other.example:8443' } }));
    const wrongHost = run('hub', 'enrol', 'create', '--config', elsewhere, '--checkpoint-kind', 'gate', '--site', 'site-b', '--checkpoint-id', 'gate-b');
    expect(wrongHost.status).not.toBe(0);
    expect(wrongHost.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrongHost.stderr).toMatch(/enrol\.publicUrl names other\.example, which the hub's server certificate does not \(it names hub\.example\.vn, 127\.0\.0\.1\)/);
    expect(one('--checkpoint-kind', 'bus', '--site', 'site-b', '--checkpoint-id', 'gate-b')).toMatch(/gate-b is a gate checkpoint, not bus/);
    const ok = run('hub', 'enrol', 'create', '--config', config, '--checkpoint-kind', 'gate', '--site', 'site-b', '--checkpoint-id', 'gate-b', '--json');
    expect(ok.status, ok.stderr).toBe(0);
  });

  it('hub run with enrol.enabled serves the endpoint: a code made by `enrol create` enrols a device over HTTPS, before the hub reaches its broker', async () => {
    const port = await freePort();
    const downlink = generateSigningKeyPair('EdDSA');
    const pass = generateSigningKeyPair('EdDSA');
    writeFileSync(join(dir.path, 'downlink.key'), downlink.privatePem, { mode: 0o600 });
    writeFileSync(join(dir.path, 'pass.key'), pass.privatePem, { mode: 0o600 });
    const runConfig = join(dir.path, 'hub-run.yaml');
    writeFileSync(
      runConfig,
      stringify({
        // No broker listens there: the endpoint is up before the hub reaches it.
        broker: { url: `mqtts://127.0.0.1:${await freePort()}`, ca: 'pki/ca.crt', cert: 'pki/hub.1.crt', key: 'pki/hub.1.key' },
        directory: { path: 'directory.db' },
        store: { path: 'hub.db' },
        console: { enabled: false },
        signingKey: 'downlink.key',
        passKey: 'pass.key',
        pki: { dir: 'pki' },
        enrol: { enabled: true, host: '127.0.0.1', port, publicUrl: `https://127.0.0.1:${port}`, brokerUrl: 'mqtts://127.0.0.1:8883' },
      }),
    );
    const made = run('hub', 'enrol', 'create', '--config', runConfig, '--checkpoint-kind', 'gate', '--site', 'site-b', '--checkpoint-id', 'gate-b', '--json');
    expect(made.status, made.stderr).toBe(0);
    const [code] = (JSON.parse(made.stdout) as { code: string }[]).map((m) => parseEnrolmentCode(m.code));
    const hub = safegateProcess(['hub', 'run', '--config', runConfig], undefined, { env });
    try {
      await waitFor(() => (hub.logs.some((l) => l.msg === 'enrolment endpoint listening') ? true : undefined), 'enrolment endpoint listening', 30_000);
      const csr = await createCsr(generateDeviceKey().privateKeyPem, code!.deviceId);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: EST_PATHS.simpleenroll, method: 'POST', ca: readFileSync(join(dir.path, 'pki', 'ca.crt')), agent: false, headers: { 'content-type': 'application/pkcs10', authorization: `Bearer ${code!.token}` } },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end(csr);
      });
      expect(answer.status, answer.body).toBe(200);
      const result = enrolmentResultSchema.parse(JSON.parse(answer.body));
      expect(readCertificate(result.certificate).commonName).toBe(code!.deviceId);
      expect(result.keys.pass).toEqual([pass.publicPem]);
      expect(JSON.stringify(hub.logs)).not.toContain(code!.token);
    } finally {
      // Still waiting for its broker, the hub ends at SIGTERM (its orderly shutdown starts once it is online).
      hub.child.kill('SIGTERM');
      await once(hub.child, 'exit');
    }
    expect(JSON.parse(run('hub', 'enrol', 'list', '--config', runConfig, '--json').stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ deviceId: code!.deviceId, state: 'used' })]),
    );
  });
});
