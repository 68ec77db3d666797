import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { createCsr, generateDeviceKey } from '../../../base/node/x509.js';
import { HubPki } from '../../../sync/hub/fleet/pki.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { EnrolmentBook } from '../../../sync/hub/fleet/enrolment-book.js';
import type { FleetDevice } from '../../../sync/hub/fleet/fleet-devices.js';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { HUB_STATUS_TOPIC, PROTOCOL_VERSION, topics, type Heartbeat } from '../../../sync/protocol.js';
import { SqliteHubStore, type HubStore } from '../../../sync/hub/store.js';
import { hubDirectoryAt, SAFEGATE_BIN, safegate, safegateProcess } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';
import { brokerPkiFilesIn, TestBroker } from '../../helpers/mosquitto.js';

const DAY_MS = 86_400_000;

function safegateOpenssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8' });
}

/** A certificate's serial as lower hex without leading zeros (as openssl prints it, lower-cased). */
function readCertificateSerial(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+/, '');
}

const devicesOf = (stdout: string) => new Map(stdout.trim().split('\n').map((l) => JSON.parse(l) as FleetDevice).map((d) => [d.deviceId, d]));

function heartbeat(atMs: number, fleet: Heartbeat['fleet']): Heartbeat {
  return { v: PROTOCOL_VERSION, atMs, software: '1.4.2', outboxDepth: 7, oldestUnsyncedAgeS: 12, scanner: 'ready', gpio: 'real', clockOffsetMs: 40, rosterAgeS: 300, policyVersion: 3, heldEvents: 0, disk: null, fleet };
}

/**
 * `safegate hub devices` (the compiled build) over a real hub directory and store: every device the
 * hub knows, enrolled or only heard from, with its last heartbeat's figures; silent ones marked by
 * the settings' threshold or --silent-after; on SQLite and PostgreSQL.
 */
describe.each(directoryBackends)('hub devices command on $name', (backend) => {
  const dir = tempDir('safegate-hubdevices-');
  const config = join(dir.path, 'hub.yaml');
  let env: NodeJS.ProcessEnv = {};
  const now = Date.now();
  const run = (...args: string[]) => safegate(['hub', 'devices', ...args, '--config', config], { env });

  beforeAll(async () => {
    const target = await backend.target();
    const where = hubDirectoryAt(target);
    env = where.env;
    const directory = await HubDirectory.open(target);
    const store: HubStore = target.kind === 'postgres' ? await PgHubStore.open(target.url) : new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      await directory.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' });
      await directory.addSite({ id: 'site-a', orgId: 'org-a' });
      await directory.assignSite('site-a', ['kiosk-a']);
      const book = new EnrolmentBook(directory.sql);
      await book.recordCertificate('kiosk-a', { serialHex: '0a1b', notAfterMs: now + 100 * DAY_MS, fingerprint: 'aa'.repeat(32) }, new Uint8Array([1]), now - 30 * DAY_MS);
      await book.recordCertificate('kiosk-b', { serialHex: '0c2d', notAfterMs: now + 200 * DAY_MS, fingerprint: 'bb'.repeat(32) }, new Uint8Array([2]), now - 20 * DAY_MS);
      await book.markRevoked('kiosk-b', now - DAY_MS);
      // kiosk-a reports its fleet block (a refused remote settings document among it); kiosk-c, never
      // enrolled here (provisioned by hand), was last heard 20 minutes ago.
      await store.recordHeartbeat('kiosk-a', heartbeat(now - 1_000, { enrolled: true, certDaysLeft: 99.5, settingsVersion: 3, settingsRefused: { version: 4, problems: ['gate.relay.pulseMs: too long'] } }), now - 1_000);
      await store.recordHeartbeat('kiosk-c', heartbeat(now - 20 * 60_000, null), now - 20 * 60_000);
    } finally {
      await store.close();
      await directory.close();
    }
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: where.path }, store: { path: 'hub.db' } }));
  }, 60_000);
  afterAll(() => dir.remove());

  it('lists every device the hub knows as JSON, with its heartbeat figures, certificate, settings and revocation; silent after the default 10 minutes', () => {
    const r = run('--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const devices = devicesOf(r.stdout);
    expect([...devices.keys()]).toEqual(['kiosk-a', 'kiosk-b', 'kiosk-c']);
    expect(devices.get('kiosk-a')).toMatchObject({
      siteId: 'site-a',
      enrolled: true,
      revoked: false,
      version: '1.4.2',
      outboxDepth: 7,
      rosterAgeS: 300,
      certDaysLeft: 99.5,
      settingsVersion: 3,
      settingsRefused: { version: 4, problems: ['gate.relay.pulseMs: too long'] },
      silent: false,
      lastSeenMs: now - 1_000,
    });
    // Never heard from: silent; its certificate's days from what the hub issued.
    expect(devices.get('kiosk-b')).toMatchObject({ enrolled: true, revoked: true, revokedAtMs: now - DAY_MS, version: null, lastSeenMs: null, silent: true });
    expect(devices.get('kiosk-b')!.certDaysLeft).toBeGreaterThan(199);
    expect(devices.get('kiosk-b')!.certDaysLeft).toBeLessThanOrEqual(200);
    expect(devices.get('kiosk-c')).toMatchObject({ enrolled: false, revoked: false, siteId: null, certDaysLeft: null, settingsVersion: null, silent: true });
  });

  it('takes the silence threshold from --silent-after, and refuses one that is not a duration', () => {
    expect(devicesOf(run('--json', '--silent-after', '30m').stdout).get('kiosk-c')?.silent).toBe(false);
    expect(devicesOf(run('--json', '--silent-after', '5m').stdout).get('kiosk-a')?.silent).toBe(false);
    expect(devicesOf(run('--json', '--silent-after', '19m').stdout).get('kiosk-c')?.silent).toBe(true);
    const bad = run('--silent-after', 'soon');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--silent-after: a duration such as 90s, 10m, 2h or 1d/);
  });

  it('prints one line per device for people, revoked and silent ones marked', () => {
    const r = run();
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^kiosk-a {2}site-a\/- {2}1\.4\.2 {2}heard \d+s ago {2}outbox 7 {2}roster 5m {2}cert 99\.5d {2}settings v3 \(REFUSED v4\) {2}enrolled$/);
    expect(lines[1]).toMatch(/^kiosk-b .* never heard .* REVOKED {2}SILENT$/);
    expect(lines[2]).toMatch(/^kiosk-c .* not enrolled {2}SILENT$/);
  });
});

/**
 * `safegate hub devices revoke` (the compiled build) end to end: a hub CA made by HubPki, the real
 * broker on its files, devices enrolled with certificates it signed. Revoking cuts the device off at
 * once, writes the CRL (refused at TLS from the broker's next start) and marks the directory; an
 * unknown id is refused; with the broker unreachable the mark and the CRL still happen and the
 * command says the immediate cut-off did not.
 */
describe('hub devices revoke command (real Mosquitto on the hub CA)', () => {
  const dir = tempDir('safegate-hubrevoke-');
  const config = join(dir.path, 'hub.yaml');
  const pkiDir = join(dir.path, 'pki');
  let broker: TestBroker;
  const device = new Map<string, { cert: string; key: string }>();
  const clients: mqtt.MqttClient[] = [];
  const run = (...args: string[]) => safegate(['hub', 'devices', ...args, '--config', config], { env: { DATABASE_URL: '' } });

  async function connect(id: string): Promise<mqtt.MqttClient> {
    const d = device.get(id)!;
    const c = await mqtt.connectAsync(broker.url, { ca: pki.caPem(), cert: d.cert, key: d.key, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3_000 });
    c.on('error', () => {});
    clients.push(c);
    return c;
  }
  let pki: HubPki;

  async function publishVerdict(client: mqtt.MqttClient, topic: string): Promise<number> {
    try {
      return ((await client.publishAsync(topic, 'x', { qos: 1 })) as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  }

  beforeAll(async () => {
    pki = await HubPki.init(pkiDir, { hosts: ['127.0.0.1'], hubIds: ['hub.1'] });
    broker = new TestBroker(dir.path, brokerPkiFilesIn(pkiDir));
    await broker.start();
    const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'hub-directory.db') });
    try {
      const book = new EnrolmentBook(directory.sql);
      // kiosk-h is provisioned by hand: a certificate of the same CA the book knows nothing of, placed in a site.
      const k = generateDeviceKey();
      device.set('kiosk-h', { cert: (await pki.signDevice(await createCsr(k.privateKeyPem, 'kiosk-h'), 'kiosk-h')).certificatePem, key: k.privateKeyPem });
      await directory.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' });
      await directory.addSite({ id: 'site-a', orgId: 'org-a' });
      await directory.assignSite('site-a', ['kiosk-h']);
      for (const id of ['kiosk-a', 'kiosk-b', 'kiosk-c', 'kiosk-d', 'kiosk-e', 'kiosk-f']) {
        const k = generateDeviceKey();
        const signed = await pki.signDevice(await createCsr(k.privateKeyPem, id), id);
        await book.recordCertificate(id, { serialHex: signed.info.serialHex, notAfterMs: signed.info.notAfterMs, fingerprint: signed.info.fingerprint }, new Uint8Array([1]));
        device.set(id, { cert: signed.certificatePem, key: k.privateKeyPem });
      }
    } finally {
      await directory.close();
    }
    writeFileSync(
      config,
      stringify({
        id: 'hub.1',
        broker: { url: broker.url, ca: 'pki/ca.crt', cert: 'pki/hub.1.crt', key: 'pki/hub.1.key' },
        directory: { path: 'hub-directory.db' },
        store: { path: 'hub.db' },
        pki: { dir: 'pki' },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();
    dir.remove();
  });

  it('cuts the device off at once, writes the CRL and marks it; after a broker restart its TLS connection is refused; the others are unaffected', async () => {
    const a = await connect('kiosk-a');
    const b = await connect('kiosk-b');
    expect(await publishVerdict(a, topics.heartbeat('kiosk-a'))).toBe(0);
    const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
    const crlBefore = pki.crlNumber();

    const r = run('revoke', 'kiosk-a', '--wait', '1s');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'ok   broker: immediate cut-off done (by this command as hub.1: no hub process was running to confirm it within 1 s): the broker disconnected the device and denies it every topic',
      `ok   crl: CRL written at ${join(pkiDir, 'crl.pem')} with 1 certificate(s) of the device (takes effect when the broker re-reads it: systemctl reload mosquitto)`,
      'ok   directory: marked revoked: hub processes refuse its messages, the enrolment server its renewal',
    ]);
    await closed;
    expect(pki.crlNumber()).toBe(crlBefore + 1);
    // Back with the same certificate before the broker re-reads the CRL: let in, but denied everything.
    const again = await connect('kiosk-a');
    expect(await publishVerdict(again, topics.heartbeat('kiosk-a'))).toBe(0x87);
    expect(await publishVerdict(b, topics.heartbeat('kiosk-b'))).toBe(0);
    expect(devicesOf(run('--json').stdout).get('kiosk-a')).toMatchObject({ enrolled: true, revoked: true });

    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();
    await broker.start();
    await expect(connect('kiosk-a')).rejects.toThrow();
    expect(await publishVerdict(await connect('kiosk-b'), topics.heartbeat('kiosk-b'))).toBe(0);
  });

  /** The serials crl.pem lists (openssl's reading of the file the broker loads). */
  function crlSerials(): string[] {
    const text = safegateOpenssl(['crl', '-in', join(pkiDir, 'crl.pem'), '-noout', '-text']);
    return [...text.matchAll(/Serial Number: ([0-9A-Fa-f]+)/g)].map((m) => m[1]!.toLowerCase().replace(/^0+/, ''));
  }
  const serialOf = (id: string) => readCertificateSerial(device.get(id)!.cert);
  const runAsync = (...args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(SAFEGATE_BIN, ['hub', 'devices', ...args, '--config', config], { env: { ...process.env, DATABASE_URL: '' } }, (err, stdout, stderr) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('with a hub process running (safegate hub run), the command leaves its session alone: the hub cuts the device off and confirms; two revokes at once both reach the CRL', async () => {
    const runConfig = join(dir.path, 'hub-run.yaml');
    writeFileSync(
      runConfig,
      stringify({
        id: 'hub.1',
        broker: { url: broker.url, ca: 'pki/ca.crt', cert: 'pki/hub.1.crt', key: 'pki/hub.1.key' },
        directory: { path: 'hub-directory.db' },
        store: { path: 'hub.db' },
        pki: { dir: 'pki' },
        console: { enabled: false },
        fleet: { revokedRefreshSeconds: 1 },
      }),
    );
    const hub = safegateProcess(['hub', 'run', '--config', runConfig], undefined, { env: { DATABASE_URL: '' } });
    try {
      await waitFor(() => (hub.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'hub online', 30_000);
      // A kiosk hears the hub's retained status: a take-over of hub.1's session would send its will (offline).
      const watcher = await connect('kiosk-b');
      const statuses: { online: boolean }[] = [];
      watcher.on('message', (topic, payload) => topic === HUB_STATUS_TOPIC && payload.length && statuses.push(JSON.parse(payload.toString()) as { online: boolean }));
      await watcher.subscribeAsync(HUB_STATUS_TOPIC, { qos: 1 });
      await waitFor(() => (statuses.length ? true : undefined), 'the retained hub status');
      expect(statuses).toEqual([expect.objectContaining({ online: true })]);

      const f = await connect('kiosk-f');
      expect(await publishVerdict(f, topics.heartbeat('kiosk-f'))).toBe(0);
      const closed = new Promise<void>((resolve) => f.once('close', () => resolve()));
      const r = await runAsync('revoke', 'kiosk-f');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.split('\n')[0]).toBe('ok   broker: immediate cut-off done (confirmed by a running hub process): the broker disconnected the device and denies it every topic');
      await closed;
      const again = await connect('kiosk-f');
      expect(await publishVerdict(again, topics.heartbeat('kiosk-f'))).toBe(0x87);

      // Two revokes at once (two shells): both devices' serials on the CRL, two new CRL numbers.
      const crlBefore = pki.crlNumber();
      const [d, e] = await Promise.all([runAsync('revoke', 'kiosk-d'), runAsync('revoke', 'kiosk-e')]);
      expect([d.status, e.status, d.stderr, e.stderr]).toEqual([0, 0, '', '']);
      expect(pki.crlNumber()).toBe(crlBefore + 2);
      expect(crlSerials()).toEqual(expect.arrayContaining(['kiosk-a', 'kiosk-d', 'kiosk-e', 'kiosk-f'].map(serialOf)));

      // The hub kept its session all along: no offline status reached the kiosk, its link never dropped.
      expect(statuses.every((s) => s.online)).toBe(true);
      expect(hub.logs.filter((l) => l.msg === 'hub online')).toHaveLength(1);
      expect(hub.logs.filter((l) => l.msg === 'hub link offline')).toEqual([]);
      expect(await publishVerdict(watcher, topics.heartbeat('kiosk-b'))).toBe(0);
    } finally {
      hub.child.kill('SIGTERM');
      await once(hub.child, 'exit');
    }
  }, 90_000);

  it('a device provisioned by hand (not enrolled here) is still cut off, marked and refused; the command says its certificate is not this hub\'s to put on the CRL', async () => {
    const h = await connect('kiosk-h');
    expect(await publishVerdict(h, topics.heartbeat('kiosk-h'))).toBe(0);
    const closed = new Promise<void>((resolve) => h.once('close', () => resolve()));
    const crlBefore = pki.crlNumber();
    const r = run('revoke', 'kiosk-h', '--wait', '1s');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^ok {3}broker: immediate cut-off done/),
      'FAIL crl: certificate NOT on the CRL: this hub did not issue it (the device was provisioned by hand); revoke it with the CA that did',
      'ok   directory: marked revoked: hub processes refuse its messages, the enrolment server its renewal',
    ]);
    await closed;
    expect(pki.crlNumber()).toBe(crlBefore);
    expect(await publishVerdict(await connect('kiosk-h'), topics.heartbeat('kiosk-h'))).toBe(0x87);
    expect(devicesOf(run('--json').stdout).get('kiosk-h')).toMatchObject({ enrolled: false, revoked: true, siteId: 'site-a' });
  });

  it('refuses an id the hub never enrolled, changing nothing', () => {
    const crlBefore = pki.crlNumber();
    const r = run('revoke', 'kiosk-zz', '--json');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot revoke: device kiosk-zz is not known at this hub \(never enrolled, placed or heard from\)/);
    expect(pki.crlNumber()).toBe(crlBefore);
  });

  it('with the broker unreachable, still writes the CRL and the mark, and says the immediate cut-off did not happen', async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();
    try {
      const r = run('revoke', 'kiosk-c', '--json', '--wait', '1s');
      expect(r.status).toBe(1);
      const report = JSON.parse(r.stdout) as { deviceId: string; steps: { step: string; ok: boolean; detail: string }[] };
      expect(report.deviceId).toBe('kiosk-c');
      expect(report.steps.map((s) => [s.step, s.ok])).toEqual([
        ['broker', false],
        ['crl', true],
        ['directory', true],
      ]);
      expect(report.steps[0]!.detail).toMatch(/^immediate cut-off NOT done: no hub process was running to confirm it within 1 s, and this command could not: broker mqtts:\/\/127\.0\.0\.1:\d+ unreachable/);
      expect(devicesOf(run('--json').stdout).get('kiosk-c')).toMatchObject({ revoked: true });
    } finally {
      await broker.start();
    }
    // The CRL names both revoked devices now: kiosk-c is refused at TLS, kiosk-b still connects.
    await expect(connect('kiosk-c')).rejects.toThrow();
    expect(await publishVerdict(await connect('kiosk-b'), topics.heartbeat('kiosk-b'))).toBe(0);
  });

  it('`systemctl reload mosquitto` (SIGHUP) makes the running broker refuse a newly revoked certificate at TLS, without a restart', async () => {
    // The broker runs with a CRL that does not list kiosk-b yet (read at its last start).
    expect(await publishVerdict(await connect('kiosk-b'), topics.heartbeat('kiosk-b'))).toBe(0);
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    const r = run('revoke', 'kiosk-b', '--wait', '1s');
    expect(r.status).toBe(0);
    expect(crlSerials()).toContain(serialOf('kiosk-b'));
    await broker.reload();
    await expect(connect('kiosk-b')).rejects.toThrow();
  });
});
