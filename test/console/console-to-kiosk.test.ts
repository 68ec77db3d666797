import { createPrivateKey, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../base/common/policy/policy.js';
import { generateSigningKeyPair, HubKeyring } from '../../base/node/keys.js';
import { createLogger, silentLogger } from '../../base/node/logger.js';
import { checkPass } from '../../base/node/pass.js';
import { hashPassword } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { decide } from '../../src-main/core/decide.js';
import { openStore } from '../../src-main/core/store/database.js';
import { DownlinkState } from '../../src-main/core/store/downlink-state.js';
import { EventLog } from '../../src-main/core/store/event-log.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../src-main/core/store/hub-data.js';
import { Notices } from '../../src-main/core/store/notices.js';
import { DownloadedPlacement } from '../../src-main/core/store/placement.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { Downlink } from '../../sync/downlink.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { Hub } from '../../sync/hub/hub.js';
import { PassRegistry } from '../../sync/hub/passes.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { Uplink } from '../../sync/uplink.js';
import { healthyWorker, tempDir, waitFor } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';
import { directoryBackends } from '../helpers/directory-db.js';

const PASSWORD = 'a long enough password';
const LIST = 'Mã NV,Họ và tên,Bộ phận/Tổ\nA001,Trần Thị Mai,Tổ May 1\nA002,Lê Văn Hùng,Tổ May 1\n';

/**
 * Done means, for the console: what a manager does in the console reaches the kiosk at their gate
 * and decides there. The manager uploads the list and issues a team's passes through the console's
 * API; the hub sends the kiosk (placed at the organisation's gate) its signed roster through a real
 * Mosquitto; the code printed on the sheet opens the gate; the manager revokes the worker in the
 * console, and after its next download the kiosk refuses that code.
 */
describe.each(directoryBackends)('console to kiosk: a manager\'s list and passes decide at their gate (real broker, the directory on $name)', (backend) => {
  const dir = tempDir('safegate-console-kiosk-');
  let broker: TestBroker;
  let certs: TestCertificates;
  let hub: Hub | undefined;
  const downlinkPair = generateSigningKeyPair();
  const passPair = generateSigningKeyPair();
  let directory: HubDirectory;
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  let passes: PassRegistry;
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let server: ConsoleServer;
  const kioskDb = openStore(join(dir.path, 'kiosk.db'));
  const ring = new HubKeyring();
  ring.add(createPublicKey(downlinkPair.publicPem), { role: 'downlink', source: 'test' });
  ring.add(createPublicKey(passPair.publicPem), { role: 'pass', source: 'test' });
  const roster = new Roster(kioskDb);
  const revocations = new Revocations(kioskDb);
  const placement = new DownloadedPlacement(kioskDb, 'kiosk-a');
  let uplink: Uplink | undefined;

  const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const });

  /** A fresh hub process per step: it answers a device a few times at once, then once per 15 s. */
  async function startHub(): Promise<void> {
    await hub?.stop();
    hub = new Hub({ broker: tls('hub.1'), clientId: 'hub.1', downlink: { directory, signingKey: createPrivateKey(downlinkPair.privatePem) } }, hubStore, silentLogger);
    await hub.start();
  }

  /** The manager's browser, as far as the API sees it: the session cookie and a CSRF token on each change. */
  async function signIn(name: string) {
    const cookies = new Map<string, string>();
    const send = async (method: string, path: string, body?: string, type = 'application/json') => {
      const headers: Record<string, string> = {};
      if (method !== 'GET') headers['x-csrf-token'] = ((await (await send('GET', '/api/csrf')).json()) as { token: string }).token;
      headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      if (body !== undefined) headers['content-type'] = type;
      const r = await fetch(server.url + path, { method, headers, body });
      for (const c of r.headers.getSetCookie()) {
        const [k, v] = c.split(';')[0]!.split('=') as [string, string];
        cookies.set(k, v);
      }
      return r;
    };
    expect((await send('POST', '/api/login', JSON.stringify({ name, password: PASSWORD }))).status).toBe(200);
    return send;
  }

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    passes = new PassRegistry({ sql: directory.sql, passKey: createPrivateKey(passPair.privatePem), issuer: 'hub.1' });
    server = new ConsoleServer({
      store: accounts,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: createLogger({ level: 'fatal' }),
      hub: { directory, store: hubStore, zone: 'Asia/Ho_Chi_Minh', passes },
    });
    certs = new TestCertificates(join(dir.path, 'pki'));
    for (const n of ['hub.1', 'kiosk-a']) certs.issue(n);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    await accounts.addAccount({ name: 'op', role: 'operator', password: PASSWORD }, await hashPassword(PASSWORD), Date.now());
    await server.start();
  });
  afterAll(async () => {
    await uplink?.stop();
    kioskDb.close();
    await hub?.stop();
    await server.stop();
    await accounts.close();
    await hubStore.close();
    await directory.close();
    await broker.stop();
    dir.remove();
  });

  it("opens the gate with a pass issued in the console, and refuses it once the manager revokes the worker there", async () => {
    const op = await signIn('op');
    expect((await op('POST', '/api/organisations', JSON.stringify({ id: 'ORG-A', name: 'Công ty May A', kind: 'company' }))).status).toBe(201);
    expect((await op('POST', '/api/sites', JSON.stringify({ id: 'xuong-a', orgId: 'ORG-A' }))).status).toBe(201);
    expect((await op('POST', '/api/checkpoints', JSON.stringify({ id: 'cong-a', siteId: 'xuong-a', kind: 'gate' }))).status).toBe(201);
    expect((await op('POST', '/api/checkpoints/cong-a/devices', JSON.stringify({ deviceIds: ['kiosk-a'] }))).status).toBe(200);
    expect((await op('POST', '/api/checkpoints/cong-x/devices', JSON.stringify({ deviceIds: ['kiosk-a'] }))).status).toBe(404);
    expect((await op('POST', '/api/checkpoints/cong-a/devices', JSON.stringify({ deviceIds: ['Not A Device'] }))).status).toBe(400);
    await accounts.addAccount({ name: 'mgr-a', role: 'manager', org: 'ORG-A', password: PASSWORD }, await hashPassword(PASSWORD), Date.now());
    const mgr = await signIn('mgr-a');
    expect((await mgr('POST', '/api/organisations/ORG-A/workers', LIST, 'text/csv')).status).toBe(200);
    const issued = (await (await mgr('POST', '/api/organisations/ORG-A/passes', JSON.stringify({ team: 'Tổ May 1', expiresAtMs: Date.now() + 30 * 86_400_000 }))).json()) as {
      passes: { passId: string; workerId: string }[];
    };
    const passId = issued.passes.find((p) => p.workerId === 'A001')!.passId;
    // The code the team's sheet prints for A001.
    const code = (await passes.printedCode(passId))!;
    // The health side records today's declaration (the list carries none).
    await directory.importRoster([healthyWorker('A001')], false);

    await startHub();
    const state = new DownlinkState(kioskDb);
    const downlink = new Downlink(
      'kiosk-a',
      state,
      () => ring,
      {
        roster: (k, c) => roster.applyChanges(k, c),
        notices: (k, c) => new Notices(kioskDb).applyChanges(k, c),
        revocations: (k, c) => revocations.applyChanges(k, c),
        policy: (k, c) => new DownloadedPolicy(kioskDb).applyChanges(k, c),
        keys: (k, c) => new DownloadedKeys(kioskDb).applyChanges(k, c, ring),
        placement: (k, c) => placement.applyChanges(k, c),
      },
      silentLogger,
      { refreshMs: 400 },
    );
    uplink = new Uplink(
      { deviceId: 'kiosk-a', broker: tls('kiosk-a'), batch: { maxEvents: 50, maxBytes: 64 * 1024, maxAgeMs: 200 }, ackTimeoutMs: 5_000, reconnect: { initialMs: 100, maxMs: 1_000 }, authRetryMs: 60_000, extensions: [downlink] },
      new EventLog(kioskDb),
      silentLogger,
    );
    uplink.start();
    await waitFor(() => (roster.get('A001') && roster.get('A002') && placement.current()?.checkpointId === 'cong-a' ? true : undefined), "the gate's roster and placement", 20_000);

    const gate = { id: 'cong-a', name: 'Cổng A', kind: 'gate', zone: 'xuong-a', direction: 'entry' } as const;
    const atGate = () => {
      const check = checkPass(code, ring, Date.now(), (id) => revocations.isRevoked(id));
      if (!check.ok) return { outcome: 'deny', reasons: [check.failure] };
      return decide({
        reading: { status: 'valid', kind: 'pass', workerId: check.pass.claims.workerId },
        worker: roster.get(check.pass.claims.workerId),
        policy: defaultPolicy(),
        checkpoint: gate,
        recent: { sameCodeSecondsAgo: null, lastPassage: null },
        nowMs: Date.now(),
        placement: placement.current(),
      });
    };
    expect(atGate()).toMatchObject({ outcome: 'allow' });

    expect((await mgr('POST', '/api/organisations/ORG-A/workers/A001/revoke', '{}')).status).toBe(200);
    await startHub();
    await waitFor(() => (revocations.isRevoked(passId) ? true : undefined), 'the revocation at the kiosk', 20_000);
    expect(atGate()).toEqual({ outcome: 'deny', reasons: ['PASS_REVOKED'] });
  }, 60_000);
});
