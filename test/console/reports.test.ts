import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../base/node/logger.js';
import { dayKeyIn } from '../../base/common/time.js';
import { hashPassword, type ConsoleRole } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import type { WireEvent } from '../../sync/batch-codec.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { createMailer } from '../../sync/hub/notify/mailer.js';
import { parseWorkerList } from '../../sync/hub/registry-upload.js';
import { ReportScheduler } from '../../sync/hub/reports/scheduler.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { tempDir } from '../helpers/fixtures.js';

const PASSWORD = 'a long enough password';
const ZONE = 'Asia/Ho_Chi_Minh';

/** Signs in through the console's own routes (CSRF token and cookies as a browser keeps them). */
async function signIn(base: string, name: string): Promise<(path: string) => Promise<Response>> {
  const cookies = new Map<string, string>();
  const keep = (r: Response) => {
    for (const c of r.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0]!.split('=') as [string, string];
      cookies.set(k, v);
    }
    return r;
  };
  const jar = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const csrf = keep(await fetch(`${base}/api/csrf`));
  const { token } = (await csrf.json()) as { token: string };
  const login = keep(await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': token, cookie: jar() }, body: JSON.stringify({ name, password: PASSWORD }) }));
  expect(login.status).toBe(200);
  return (path) => fetch(base + path, { headers: { cookie: jar() } });
}

/**
 * The reports' API by role, on both directories: who sees which summary (health reasons by code for
 * health officers and managers, as one count for operators), who downloads which labour list (the
 * current one or the one the schedule kept), and clear refusals for bad or foreign requests.
 */
describe.each(directoryBackends)('console reports API on $name', (backend) => {
  const dir = tempDir('safegate-reports-api-');
  let directory: HubDirectory;
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let server: ConsoleServer;
  const as: Record<string, (path: string) => Promise<Response>> = {};

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    server = new ConsoleServer({ store: accounts, host: '127.0.0.1', port: 0, trustProxy: false, lockoutBaseMs: 1_000, log: createLogger({ level: 'fatal' }), hub: { directory, store: hubStore, zone: ZONE, reports: { silentAfterMs: 15 * 60_000 } } });
    await directory.addOrganisation({ id: 'ORG-A', name: 'Công ty May A', kind: 'company' });
    await directory.addOrganisation({ id: 'ORG-B', name: 'Công ty B', kind: 'company' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.uploadWorkers('ORG-A', await parseWorkerList(Buffer.from('Mã nhân viên,Họ và tên,Số CCCD\nW-1,Nguyễn Thị Lan,079190000001\n'), ZONE, Date.now()));
    const event = { seq: 1, wallMs: Date.now() - 60_000, monoUs: 1, bootId: '3f1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c11', clockSynced: true, checkpointId: 'cong-a', zoneId: 'xuong-a', direction: 'entry', credentialKind: 'pass', workerId: 'W-1', codeHash: null, decision: 'deny', reasons: ['QUARANTINE_ACTIVE'], source: 'serial', policyVersion: 3 } as WireEvent;
    await hubStore.ingestMany([{ deviceId: 'kiosk-a', receivedMs: Date.now(), orgOf: new Map([['W-1', 'ORG-A']]), events: [event] }]);
    const hash = await hashPassword(PASSWORD);
    const people: [string, ConsoleRole, string?][] = [['op', 'operator'], ['doctor', 'health'], ['man-a', 'manager', 'ORG-A'], ['man-b', 'manager', 'ORG-B']];
    for (const [name, role, org] of people) await accounts.addAccount({ name, role, password: PASSWORD, ...(org ? { org } : {}) }, hash, Date.now());
    await server.start();
    for (const [name] of people) as[name] = await signIn(server.url, name);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await accounts.close();
    await hubStore.close();
    await directory?.close();
    dir.remove();
  });

  const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> });

  it('summaries: health reasons by code for health officers and managers, counted as one for operators; a manager their own organisation only; bad requests refused', async () => {
    const today = dayKeyIn(Date.now(), ZONE);
    const doctor = await json(await as.doctor!('/api/reports/summary?org=ORG-A'));
    expect(doctor).toMatchObject({ status: 200, body: { day: today, orgId: 'ORG-A', orgName: 'Công ty May A', zone: ZONE, passages: { total: 1, denied: 1 }, deniedByReason: { QUARANTINE_ACTIVE: 1 } } });
    expect((await json(await as.op!('/api/reports/summary?org=ORG-A'))).body.deniedByReason).toEqual({ HEALTH: 1 });
    // The province's, for operators and health officers.
    expect((await json(await as.op!('/api/reports/summary'))).body).toMatchObject({ orgId: null, passages: { total: 1 }, deniedByReason: { HEALTH: 1 } });
    // A manager: their own by default, with the reasons; another's refused.
    expect((await json(await as['man-a']!('/api/reports/summary'))).body).toMatchObject({ orgId: 'ORG-A', deniedByReason: { QUARANTINE_ACTIVE: 1 } });
    expect((await json(await as['man-b']!('/api/reports/summary'))).body).toMatchObject({ orgId: 'ORG-B', passages: { total: 0 } });
    expect((await as['man-b']!('/api/reports/summary?org=ORG-A')).status).toBe(403);
    expect((await json(await as.op!('/api/reports/summary?date=2026-02-30'))).status).toBe(400);
    expect((await json(await as.op!('/api/reports/summary?date=27-11-2026'))).status).toBe(400);
    expect((await json(await as.op!('/api/reports/summary?date=2099-01-01'))).body.error).toMatch(/has not begun/);
    expect(await json(await as.op!('/api/reports/summary?org=NOBODY'))).toMatchObject({ status: 404, body: { error: 'no organisation NOBODY' } });
    expect((await as.op!('/api/reports/summary?org=ORG-A&extra=1')).status).toBe(400);
  });

  it('labour lists: current or kept, to the organisation\'s manager and health officers, audited; refused to another manager and to operators (no health data for them)', async () => {
    const now = await as.doctor!('/api/reports/labour-list.xlsx?org=ORG-A');
    expect(now.status).toBe(200);
    expect(now.headers.get('content-disposition')).toBe(`attachment; filename="danh-sach-nld-ORG-A-${dayKeyIn(Date.now(), ZONE)}.xlsx"`);
    expect((await parseWorkerList(Buffer.from(await now.arrayBuffer()), ZONE, Date.now())).map((w) => [w.workerId, w.idNumber])).toEqual([['W-1', '079190000001']]);
    expect((await as['man-b']!('/api/reports/labour-list.xlsx?org=ORG-A')).status).toBe(403);
    // An operator: refused every list, current or kept, and the index of kept ones.
    for (const path of ['/api/reports/labour-list.xlsx?org=ORG-A', '/api/reports/labour-list.xlsx?org=ORG-A&kept=true', '/api/reports/labour-lists']) {
      expect(await json(await as.op!(path))).toEqual({ status: 403, body: { error: 'your role may not do this' } });
    }
    expect((await as.doctor!('/api/reports/labour-list.xlsx')).status).toBe(400);
    expect((await as.doctor!('/api/reports/labour-list.xlsx?org=NOBODY')).status).toBe(404);
    expect((await as['man-a']!('/api/reports/labour-list.xlsx?org=ORG-A&kept=true')).status).toBe(404);

    // The schedule keeps today's (made here with no mail server: the lists do not wait for e-mail).
    const scheduler = new ReportScheduler({ directory, store: hubStore, zone: ZONE, silentAfterMs: 15 * 60_000, mailer: createMailer(undefined, 'x <x@x.vn>'), recipients: async () => [], consoleUrl: 'http://127.0.0.1', summaryTime: '23:59', labourListTime: '00:00', log: silentLogger });
    expect((await scheduler.runDue(Date.now())).labourLists).toBe(1);
    expect((await json(await as['man-a']!('/api/reports/labour-lists'))).body).toMatchObject([{ orgId: 'ORG-A', workers: 1 }]);
    expect(await (await as['man-b']!('/api/reports/labour-lists')).json()).toEqual([]);
    const kept = await as['man-a']!('/api/reports/labour-list.xlsx?org=ORG-A&kept=true');
    expect(kept.status).toBe(200);
    expect((await parseWorkerList(Buffer.from(await kept.arrayBuffer()), ZONE, Date.now())).map((w) => w.workerId)).toEqual(['W-1']);

    const trail = (await accounts.auditTrail(100)).filter((e) => e.action === 'labour list download');
    expect(trail.map((e) => [e.account, e.target, e.outcome]).sort()).toEqual([
      ['doctor', 'organisation ORG-A: 1 workers', 'ok'],
      ['man-a', 'organisation ORG-A: 1 workers (kept list)', 'ok'],
      ['man-b', "organisation ORG-A: not this account's", 'refused'],
    ]);
  });
});
