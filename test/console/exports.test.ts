import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, type ConsoleRole } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { createLogger } from '../../base/node/logger.js';
import { EXPORT_HEADERS, EXPORT_MAX_BYTES, EXPORT_UPLOAD_PATH, signExportUpload, type ExportDescription } from '../../base/node/export-upload.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { HubExports } from '../../sync/hub/exports.js';
import { PgHubStore } from '../../sync/hub/pg-store.js';
import { HubRetention } from '../../sync/hub/retention.js';
import { SqliteHubStore, type HubStore } from '../../sync/hub/store.js';
import { ExportError } from '../../src-main/core/supervisor/desk.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { freePort, TestCertificates } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/fixtures.js';
import { KioskUnderTest } from '../helpers/kiosk.js';

const PASSWORD = 'a long enough password';
const DEVICE = 'test-kiosk-01';
const PIN = '246810';

/** Signs in to the console as a browser would (session cookie) and reads or downloads. */
async function signIn(base: string, name: string): Promise<(path: string) => Promise<Response>> {
  const r = await fetch(`${base}/api/csrf`);
  const csrfCookie = r.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const { token } = (await r.json()) as { token: string };
  const login = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': token, cookie: csrfCookie.join('; ') },
    body: JSON.stringify({ name, password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  const cookie = [...csrfCookie, ...login.headers.getSetCookie().map((c) => c.split(';')[0]!)].join('; ');
  return (path) => fetch(base + path, { headers: { cookie } });
}

/**
 * A supervisor at a real kiosk (in process, its own settings file with hub.consoleUrl and the MQTT
 * client certificate the test CA issued it) sends an entry-log export to a running hub console over
 * real HTTP on loopback; the hub checks the device's signature against the CA, stores the export
 * once, and the console lists and serves it by role.
 */
describe.each(directoryBackends)('kiosk exports sent to the hub console on $name', (backend) => {
  const dir = tempDir('safegate-exports-');
  const certs = new TestCertificates(join(dir.path, 'certs'));
  const device = certs.issue(DEVICE);
  const stranger = certs.issue('other-kiosk-02');
  const otherCa = new TestCertificates(join(dir.path, 'other-ca'));
  const forged = otherCa.issue(DEVICE);
  let directory: HubDirectory;
  let hubStore: HubStore;
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let exports: HubExports;
  const kiosk = new KioskUnderTest();
  let port = 0;
  let server: ConsoleServer;
  let base = '';
  let token = '';

  const startConsole = async () => {
    server = new ConsoleServer({
      store: accounts,
      host: '127.0.0.1',
      port,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: createLogger({ level: 'fatal' }),
      hub: { directory, store: hubStore, zone: 'Asia/Ho_Chi_Minh', exports },
    });
    await server.start();
  };
  const today = () => ({ fromMs: Date.now() - 3_600_000, toMs: Date.now() + 60_000 });
  const desk = () => kiosk.kiosk.supervisor;

  beforeAll(async () => {
    const target = await backend.target();
    directory = await HubDirectory.open(target);
    // The hub store where `safegate hub run` keeps it: beside the directory in PostgreSQL, else its own SQLite file.
    hubStore = target.kind === 'postgres' ? await PgHubStore.open(target.url) : new SqliteHubStore(join(dir.path, 'hub.db'));
    exports = new HubExports({ sql: directory.sql, directory, caPem: certs.credentials(DEVICE).ca });
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
    await directory.addOrganisation({ id: 'ORG-B', name: 'B', kind: 'company' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.addCheckpoint({ id: 'cong-a1', siteId: 'xuong-a', kind: 'gate', orgIds: ['ORG-A'] });
    await directory.placeDevices('cong-a1', [DEVICE]);
    const hash = await hashPassword(PASSWORD);
    const people: [string, ConsoleRole, string?][] = [['op', 'operator'], ['man-a', 'manager', 'ORG-A'], ['man-b', 'manager', 'ORG-B'], ['doctor', 'health']];
    for (const [name, role, org] of people) await accounts.addAccount({ name, role, password: PASSWORD, ...(org ? { org } : {}) }, hash, Date.now());
    await startConsole();
    // The kiosk's broker is never reached here (nothing listens on port 9): its certificate is what matters.
    const files = { ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${DEVICE}.crt`), key: join(certs.dir, `${DEVICE}.key`) };
    await kiosk.start({ hub: { broker: { url: 'mqtts://127.0.0.1:9', ...files }, consoleUrl: base } });
    await desk().addSupervisor({ id: 'giam-sat-1', name: 'Trần Thị Giám Sát', pin: PIN });
    const login = await desk().login('giam-sat-1', PIN);
    if (!login.ok) throw new Error('no supervisor session');
    token = login.token;
    await kiosk.scan('NOT-A-PASS');
  }, 60_000);

  afterAll(async () => {
    await kiosk.stop();
    await server?.stop();
    await accounts.close();
    await hubStore?.close();
    await directory?.close();
    dir.remove();
  });

  it("a supervisor's export arrives at the hub whole, with the device's place, and leaves the kiosk's outbox", async () => {
    const sent = await desk().exportToHub(token, today(), 'csv', 'en');
    expect(sent.status).toBe('stored');
    expect(sent.rows).toBe(1);
    const [got] = await exports.list();
    expect(got).toMatchObject({ exportId: sent.exportId, deviceId: DEVICE, siteId: 'xuong-a', checkpointId: 'cong-a1', orgIds: ['ORG-A'], supervisorId: 'giam-sat-1', rows: 1, format: 'csv' });
    const file = (await exports.file(sent.exportId))!;
    expect(file.body.toString('utf8')).toContain('Denied');
    expect(desk().hubPending(token)).toEqual([]);
    const audit = (await accounts.auditTrail(50)).find((a) => a.action === 'export received');
    expect(audit).toMatchObject({ account: `device:${DEVICE}`, outcome: 'ok' });
    // The audit line names the device and the export, never the supervisor.
    expect(JSON.stringify(audit)).not.toMatch(/giam-sat|Giám Sát/);
  });

  it('the same upload sent again (a retry after a timeout) is answered as stored and kept once', async () => {
    const description: ExportDescription = { exportId: 'retry-0123456789abcdef', fileName: 'safegate-log-2026-11-27.csv', format: 'csv', rows: 2, supervisorId: 'giam-sat-1', supervisorName: 'GS', madeMs: Date.now() };
    const body = Buffer.from('\uFEFFEvent,Time\r\n1,x\r\n2,y\r\n');
    const headers = signExportUpload({ deviceId: DEVICE, description, body, certPem: device.cert, keyPem: device.key, nowMs: Date.now() });
    const first = await fetch(base + EXPORT_UPLOAD_PATH, { method: 'POST', headers, body });
    const again = await fetch(base + EXPORT_UPLOAD_PATH, { method: 'POST', headers, body });
    expect([first.status, await first.json()]).toEqual([201, { status: 'stored', exportId: description.exportId }]);
    expect([again.status, await again.json()]).toEqual([200, { status: 'already-stored', exportId: description.exportId }]);
    expect((await exports.list()).filter((e) => e.exportId === description.exportId)).toHaveLength(1);
    // The same id with another file is a conflict, not a second copy.
    const other = Buffer.from('something else');
    const h2 = signExportUpload({ deviceId: DEVICE, description, body: other, certPem: device.cert, keyPem: device.key, nowMs: Date.now() });
    const conflict = await fetch(base + EXPORT_UPLOAD_PATH, { method: 'POST', headers: h2, body: other });
    expect(conflict.status).toBe(409);
  });

  it('a retry racing its first try (four at once) stores the export once and answers the others as stored', async () => {
    const description: ExportDescription = { exportId: 'race-0123456789abcdef0', fileName: 'safegate-log-2026-11-27.csv', format: 'csv', rows: 1, supervisorId: 'giam-sat-1', supervisorName: 'GS', madeMs: Date.now() };
    const body = Buffer.from('\uFEFFEvent,Time\r\n1,x\r\n');
    const headers = signExportUpload({ deviceId: DEVICE, description, body, certPem: device.cert, keyPem: device.key, nowMs: Date.now() });
    const answers = await Promise.all(Array.from({ length: 4 }, () => fetch(base + EXPORT_UPLOAD_PATH, { method: 'POST', headers, body })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 201]);
    expect((await exports.list()).filter((e) => e.exportId === description.exportId)).toEqual([expect.objectContaining({ orgIds: ['ORG-A'], size: body.length })]);
  });

  it('a tampered body, another device signing, a foreign CA, a stale time and an oversized file are refused with the reason', async () => {
    const description: ExportDescription = { exportId: 'bad-0123456789abcdef00', fileName: 'x.csv', format: 'csv', rows: 1, supervisorId: 'giam-sat-1', supervisorName: 'GS', madeMs: Date.now() };
    const body = Buffer.from('a,b\r\n');
    const post = async (headers: Record<string, string>, b: Buffer<ArrayBuffer>) => {
      const r = await fetch(base + EXPORT_UPLOAD_PATH, { method: 'POST', headers, body: b });
      return [r.status, ((await r.json()) as { error?: string }).error ?? ''] as const;
    };
    const signed = (o: Partial<Parameters<typeof signExportUpload>[0]> = {}) =>
      signExportUpload({ deviceId: DEVICE, description, body, certPem: device.cert, keyPem: device.key, nowMs: Date.now(), ...o });

    expect(await post(signed(), Buffer.from('a,c\r\n'))).toEqual([401, expect.stringContaining('the signature does not match the file')]);
    // Another kiosk signs with its own certificate and claims to be this one.
    expect(await post({ ...signed({ certPem: stranger.cert, keyPem: stranger.key }), [EXPORT_HEADERS.device]: DEVICE }, body)).toEqual([401, `the certificate is not ${DEVICE}'s`]);
    // Another kiosk's own signature over this one's certificate.
    expect(await post(signed({ keyPem: stranger.key }), body)).toEqual([401, expect.stringContaining('signature does not match')]);
    // Its own, but it is not placed at the hub.
    expect(await post(signed({ deviceId: 'other-kiosk-02', certPem: stranger.cert, keyPem: stranger.key }), body)).toEqual([403, expect.stringContaining('not registered at the hub')]);
    expect(await post(signed({ certPem: forged.cert, keyPem: forged.key }), body)).toEqual([401, expect.stringContaining('not issued by the province CA')]);
    expect(await post(signed({ nowMs: Date.now() - 3_600_000 }), body)).toEqual([401, expect.stringContaining("the kiosk's clock is -60 min from the hub's")]);
    const big = Buffer.alloc(EXPORT_MAX_BYTES + 1, 0x41);
    expect(await post(signed({ body: big }), big)).toEqual([413, expect.stringContaining('larger than the hub takes (32 MiB)')]);
    expect(await exports.get(description.exportId)).toBeUndefined();
    const refused = (await accounts.auditTrail(100)).filter((a) => a.action === 'export upload' && a.outcome === 'refused');
    expect(refused.length).toBeGreaterThanOrEqual(7);
  }, 30_000);

  it("the console lists exports and serves the file to operators, health officers and the manager of an organisation the gate serves; another manager gets 404, on the record", async () => {
    const [latest] = await exports.list();
    const path = `/api/exports/${latest!.exportId}/file`;
    for (const name of ['op', 'man-a', 'doctor']) {
      const get = await signIn(base, name);
      const list = (await (await get('/api/exports')).json()) as { exportId: string }[];
      expect(list.map((e) => e.exportId)).toContain(latest!.exportId);
      const file = await get(path);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-disposition')).toContain(`${DEVICE}-`);
      expect(Buffer.from(await file.arrayBuffer())).toEqual((await exports.file(latest!.exportId))!.body);
    }
    const other = await signIn(base, 'man-b');
    expect(await (await other('/api/exports')).json()).toEqual([]);
    expect((await other(path)).status).toBe(404);
    const trail = await accounts.auditTrail(200);
    expect(trail.some((a) => a.account === 'man-b' && a.action === 'export download' && a.outcome === 'refused')).toBe(true);
  }, 30_000);

  it('a refusing or unreachable hub leaves the export on the kiosk with the reason, and it is sent once later', async () => {
    await directory.unassignSite([DEVICE]);
    const refused = desk().exportToHub(token, today(), 'xlsx', 'vi');
    await expect(refused).rejects.toThrow(ExportError);
    await expect(refused).rejects.toThrow(/the hub refused the export \(403: device test-kiosk-01 is not registered at the hub.*\); it is kept on this kiosk/);
    await directory.placeDevices('cong-a1', [DEVICE]);

    await server?.stop();
    await expect(desk().exportToHub(token, today(), 'csv', 'vi')).rejects.toThrow(/the hub could not be reached \(.*ECONNREFUSED.*\); the export is kept on this kiosk/);
    const waiting = desk().hubPending(token);
    expect(waiting.map((w) => w.fileName).sort()).toEqual([expect.stringMatching(/\.csv$/), expect.stringMatching(/\.xlsx$/)]);

    await startConsole();
    const before = (await exports.list()).length;
    for (const w of waiting) expect(await desk().resendToHub(token, w.exportId)).toEqual({ exportId: w.exportId, status: 'stored' });
    expect(desk().hubPending(token)).toEqual([]);
    expect((await exports.list()).length).toBe(before + 2);
    const trail = desk().auditTrail().filter((a) => a.action === 'export').map((a) => a.detail);
    expect(trail.some((d) => /to the hub as .*: failed \(the hub could not be reached/.test(d))).toBe(true);
  }, 30_000);

  it("an export that never reached the hub leaves the kiosk after the kiosk's retention, with the entry log it came from", async () => {
    await server!.stop();
    await expect(desk().exportToHub(token, today(), 'csv', 'en')).rejects.toThrow(/could not be reached/);
    expect(desk().hubPending(token)).toHaveLength(1);
    expect(desk().purgeHubOutboxBefore(Date.now() - 86_400_000)).toBe(0);
    expect(desk().hubPending(token)).toHaveLength(1);
    expect(desk().purgeHubOutboxBefore(Date.now() + 1)).toBe(1);
    expect(desk().hubPending(token)).toEqual([]);
    await startConsole();
  });

  it("exports older than the hub's retention are purged by the hub's retention", async () => {
    const n = (await exports.list()).length;
    const log = createLogger({ level: 'fatal' });
    const store = { purgeBefore: () => Promise.resolve({ events: 0, alerts: 0, heartbeats: 0 }) };
    await new HubRetention({ store, exports, retentionDays: 1, log }).purge();
    expect((await exports.list()).length).toBe(n);
    await new HubRetention({ store, exports, retentionDays: 1, log, now: () => Date.now() + 86_400_000 + 60_000 }).purge();
    expect(await exports.list()).toEqual([]);
  });
});
