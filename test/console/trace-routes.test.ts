import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../base/node/logger.js';
import { hashPassword } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { periodOf } from '../../sync/hub/trace.js';
import { openHubConsole } from '../../console/server/hub-console.js';
import { createPrivateKey } from 'node:crypto';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import { freePort } from '../helpers/mosquitto.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { Tracer, type TraceRequest } from '../../sync/hub/trace.js';
import { SavedTraces } from '../../sync/hub/traces.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { tempDir } from '../helpers/fixtures.js';
import { at, buildTraceScenario, EXPECTED, FORMULA_NAME, NAMES, SCENARIO_NOW, ZONE } from './trace-scenario.js';

const PASSWORD = 'a long enough password';
const DAY = 86_400_000;

/** A browser's cookie jar, just enough for one origin; sends the CSRF token with every change. */
class Client {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async login(name: string): Promise<void> {
    const r = await this.send('POST', '/api/login', { name, password: PASSWORD });
    if (r.status !== 200) throw new Error(`${name} could not sign in: ${r.status}`);
  }

  async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (method !== 'GET') headers['x-csrf-token'] = ((await (await this.send('GET', '/api/csrf')).json()) as { token: string }).token;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(this.base + path, { method, headers: { ...headers, ...(cookie ? { cookie } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, v] = pair!.split('=') as [string, string];
      if (v === '') this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    return r;
  }

  async json<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const r = await this.send(method, path, body);
    return { status: r.status, body: (await r.json()) as T };
  }
}

interface ContactOut {
  workerId: string;
  rank: number;
  degree: number;
  orgId: string | null;
  fullName: string | null;
  team: string | null;
  overlapMinutes: number;
  unverifiedClock: boolean;
  notified: { by: string; atMs: number } | null;
  exposures: { place: { name: string; kind: string }; fromMs: number; toMs: number; overlapMinutes: number; source: string; unverifiedClock: boolean; viaWorkerId?: string }[];
}
interface TraceOut {
  trace: { traceId: string; contacts: number; notified: number; fromMs: number; toMs: number };
  case: { workerId: string; fullName: string | null };
  contacts: ContactOut[];
  contactsElsewhere: number;
}

describe('the period of a trace', () => {
  const now = at('2026-11-25 10:00');
  it('defaults to the 14 days before now; a plain date is a whole day in the province zone; never past now; at most 60 days', () => {
    expect(periodOf(undefined, undefined, now, ZONE)).toEqual({ fromMs: now - 14 * DAY, toMs: now });
    expect(periodOf('2026-11-01', '2026-11-20', now, ZONE)).toEqual({ fromMs: at('2026-11-01 00:00'), toMs: at('2026-11-21 00:00') });
    expect(periodOf('2026-11-20', '2026-12-31', now, ZONE)).toEqual({ fromMs: at('2026-11-20 00:00'), toMs: now });
    expect(periodOf('2026-11-20T08:00', undefined, now, ZONE)).toEqual({ fromMs: at('2026-11-20 08:00'), toMs: now });
    expect(periodOf('2026-09-01', undefined, now, ZONE)).toMatch(/longer than 60 days/);
    expect(periodOf('2026-11-20', '2026-11-10', now, ZONE)).toBe('from must be before to');
    expect(periodOf('2026-11-26', undefined, now, ZONE)).toMatch(/before now/);
    expect(periodOf('yesterday', undefined, now, ZONE)).toMatch(/^from: expected an ISO 8601/);
    expect(periodOf(undefined, '2026-02-30', now, ZONE)).toMatch(/^to: not a real date/);
  });
});

describe.each(directoryBackends)('trace routes (the directory on $name)', (backend) => {
  const dir = tempDir('safegate-trace-routes-');
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  let directory: HubDirectory;
  let server: ConsoleServer;
  const as: Record<string, Client> = {};

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    const { visits } = await buildTraceScenario(directory, hubStore);
    server = new ConsoleServer({
      store: accounts,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: createLogger({ level: 'fatal' }),
      now: () => SCENARIO_NOW,
      hub: { directory, store: hubStore, zone: ZONE, tracing: { tracer: new Tracer({ store: hubStore, directory, visits }), saved: new SavedTraces({ sql: directory.sql, now: () => SCENARIO_NOW }) } },
    });
    const hash = await hashPassword(PASSWORD);
    const people = [
      { name: 'bs-lan', role: 'health' },
      { name: 'ql-a', role: 'manager', org: 'may-a' },
      { name: 'ql-b', role: 'manager', org: 'may-b' },
      { name: 'op', role: 'operator' },
    ] as const;
    for (const p of people) await accounts.addAccount({ ...p, password: PASSWORD }, hash, Date.now());
    await server.start();
    for (const p of people) {
      as[p.name] = new Client(server.url);
      await as[p.name]!.login(p.name);
    }
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    await accounts.close();
    await hubStore.close();
    await directory.close();
    dir.remove();
  });

  it('refuses what is out of shape with a reason, before any trace runs', async () => {
    const health = as['bs-lan']!;
    const cases: [unknown, RegExp][] = [
      [{}, /workerId/],
      [{ workerId: 'c 1' }, /workerId/],
      [{ workerId: 'c1', from: 'last week' }, /^from: expected an ISO 8601/],
      [{ workerId: 'c1', from: '2026-08-01' }, /longer than 60 days/],
      [{ workerId: 'c1', from: '2026-11-20', to: '2026-11-19' }, /from must be before to/],
      [{ workerId: 'c1', secondDegree: 'yes' }, /secondDegree/],
      [{ workerId: 'c1', orgId: 'may-b' }, /additional properties/],
    ];
    for (const [body, error] of cases) {
      const r = await health.json<{ error: string }>('POST', '/api/traces', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error, JSON.stringify(body)).toMatch(error);
    }
    const unknown = await health.json<{ error: string }>('POST', '/api/traces', { workerId: 'nobody-at-all' });
    expect(unknown).toEqual({ status: 404, body: { error: 'no worker nobody-at-all is known to this hub (on no list, no passage)' } });
    expect((await health.json('GET', '/api/traces/not-a-trace')).status).toBe(400);
    expect((await health.json('GET', '/api/traces/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await health.json('GET', '/api/traces/00000000-0000-4000-8000-000000000000/export.csv?lang=fr')).status).toBe(400);
    expect((await health.json('POST', '/api/traces/00000000-0000-4000-8000-000000000000/contacts/a1/notified')).status).toBe(404);
    expect(await accounts.auditTrail(1000)).not.toContainEqual(expect.objectContaining({ action: 'trace start', outcome: 'ok' }));
  });

  it('operators have no access to tracing (health data), nor does anyone signed out', async () => {
    for (const [method, path] of [['GET', '/api/traces'], ['POST', '/api/traces'], ['GET', '/api/traces/00000000-0000-4000-8000-000000000000'], ['GET', '/api/traces/00000000-0000-4000-8000-000000000000/export.xlsx']] as const) {
      expect((await as['op']!.send(method, path, method === 'POST' ? { workerId: 'c1' } : undefined)).status, path).toBe(403);
      expect((await new Client(server.url).send(method, path)).status, path).toBe(401);
    }
  });

  it("a manager cannot trace another organisation's worker: 403 with a reason, on the audit trail as refused", async () => {
    const r = await as['ql-b']!.json<{ error: string }>('POST', '/api/traces', { workerId: 'c1' });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe("worker c1 is not on your organisation's list: a health officer traces workers of other organisations");
    expect((await as['ql-b']!.json('POST', '/api/traces', { workerId: 'nobody-at-all' })).status).toBe(403);
    expect(await accounts.auditTrail(1000)).toContainEqual(expect.objectContaining({ account: 'ql-b', action: 'trace start', outcome: 'refused' }));
  });

  it('a health officer traces the case and finds exactly its contacts; managers see their own; marks and exports follow; the audit trail names no worker', async () => {
    const started = await as['bs-lan']!.json<TraceOut>('POST', '/api/traces', { workerId: 'c1' });
    expect(started.status).toBe(201);
    const trace = started.body;
    expect(trace.trace).toMatchObject({ fromMs: SCENARIO_NOW - 14 * DAY, toMs: SCENARIO_NOW, contacts: 4, notified: 0 });
    expect(trace.case).toMatchObject({ workerId: 'c1', fullName: NAMES['c1'] });
    expect(trace.contactsElsewhere).toBe(0);
    expect(
      trace.contacts.map((c) => ({ workerId: c.workerId, rank: c.rank, degree: c.degree, orgId: c.orgId, fullName: c.fullName, minutes: c.overlapMinutes, unverified: c.unverifiedClock, exposures: c.exposures.length })),
    ).toEqual(EXPECTED.map((e) => ({ workerId: e.workerId, rank: e.rank, degree: 1, orgId: e.orgId, fullName: NAMES[e.workerId], minutes: e.minutes, unverified: e.unverified, exposures: 1 })));
    for (const e of EXPECTED) {
      const x = trace.contacts.find((c) => c.workerId === e.workerId)!.exposures[0]!;
      expect(x, e.workerId).toMatchObject({ place: { name: e.place, kind: e.kind }, fromMs: at(`${e.day} ${e.from}`), toMs: at(`${e.day} ${e.to}`), overlapMinutes: e.minutes, source: e.source, unverifiedClock: e.unverified });
    }
    const id = trace.trace.traceId;
    expect((await as['bs-lan']!.json('GET', '/api/traces')).body).toEqual({ zone: ZONE, nowMs: SCENARIO_NOW, traces: [expect.objectContaining({ traceId: id, caseWorkerId: 'c1', caseName: NAMES['c1'], startedBy: 'bs-lan', contacts: 4 })] });

    // The case is may-a's: its managers see the trace, with their own contacts only; may-b's do not.
    const mine = await as['ql-a']!.json<TraceOut>('GET', `/api/traces/${id}`);
    expect(mine.body.contacts.map((c) => c.workerId)).toEqual(['a2', 'a3', 'a1']);
    expect(mine.body.contactsElsewhere).toBe(1);
    expect(JSON.stringify(mine.body)).not.toContain(NAMES['b1']);
    expect((await as['ql-b']!.json('GET', `/api/traces/${id}`)).status).toBe(404);
    expect((await as['ql-b']!.json('GET', '/api/traces')).body).toEqual({ zone: ZONE, nowMs: SCENARIO_NOW, traces: [] });

    // Marks: a manager marks their own contact; another's is no contact of theirs; the first mark stays.
    const marked = await as['ql-a']!.json('POST', `/api/traces/${id}/contacts/a2/notified`);
    expect(marked).toEqual({ status: 200, body: { workerId: 'a2', by: 'ql-a', atMs: SCENARIO_NOW } });
    expect((await as['ql-a']!.json('POST', `/api/traces/${id}/contacts/b1/notified`)).status).toBe(404);
    expect((await as['bs-lan']!.json('POST', `/api/traces/${id}/contacts/b1/notified`)).body).toMatchObject({ workerId: 'b1', by: 'bs-lan' });
    expect((await as['bs-lan']!.json('POST', `/api/traces/${id}/contacts/a2/notified`)).body).toMatchObject({ by: 'ql-a' });
    const after = await as['bs-lan']!.json<TraceOut>('GET', `/api/traces/${id}`);
    expect(after.body.contacts.map((c) => c.notified?.by ?? null)).toEqual(['ql-a', null, 'bs-lan', null]);
    // The lists count what each viewer may see: every contact and mark for the health officer; may-a's manager their 3 contacts and the 1 mark among them.
    const listed = async (name: string) => ((await as[name]!.json<{ traces: { traceId: string; contacts: number; notified: number }[] }>('GET', '/api/traces')).body.traces.map((t) => [t.traceId, t.contacts, t.notified]));
    expect(await listed('bs-lan')).toEqual([[id, 4, 2]]);
    expect(await listed('ql-a')).toEqual([[id, 3, 1]]);

    // CSV: BOM, Vietnamese header, one row per exposure, the formula-looking name guarded.
    const csv = await as['bs-lan']!.send('GET', `/api/traces/${id}/export.csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('cache-control')).toBe('no-store');
    const bytes = Buffer.from(await csv.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.toString('utf8').slice(1).trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^Hạng,Mức,Mã người lao động,Họ tên,Tổ,/);
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(/^1,F1,a2,Trần Thị Hai,Tổ Cắt,may-a,Khu cắt,Khu vực,khu-cat,2026-11-21,2026-11-21 10:00:00,2026-11-21 12:00:00,120,Máy kiểm soát,,,ql-a,/);
    expect(lines[4]).toContain(`"'${FORMULA_NAME.replaceAll('"', '""')}"`);
    expect(lines[4]).toContain(',Có,');
    const english = Buffer.from(await (await as['bs-lan']!.send('GET', `/api/traces/${id}/export.csv?lang=en`)).arrayBuffer()).toString('utf8');
    expect(english).toMatch(/^\uFEFFRank,Degree,Worker id,Name,Team,/);

    // XLSX for a manager: their organisation's contacts only, the same guard.
    const xlsx = await as['ql-a']!.send('GET', `/api/traces/${id}/export.xlsx`);
    expect(xlsx.status).toBe(200);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(await xlsx.arrayBuffer());
    const sheet = book.worksheets[0]!;
    expect(sheet.name).toBe('Truy vết');
    const ids = sheet.getColumn(3).values.slice(2);
    expect(ids).toEqual(['a2', 'a3', 'a1']);
    expect(sheet.getRow(4).getCell(4).value).toBe(`'${FORMULA_NAME}`);
    expect(sheet.getRow(4).getCell(4).formula).toBeUndefined();

    // Every start, view, mark and export is on the audit trail, by trace id and counts, never a worker.
    const trail = (await accounts.auditTrail(1000)).filter((e) => e.action.startsWith('trace') || e.action.includes('/api/traces'));
    for (const action of ['trace start', 'trace view', 'trace contact notified', 'trace export']) expect(trail, action).toContainEqual(expect.objectContaining({ action, outcome: 'ok' }));
    expect(trail).toContainEqual(expect.objectContaining({ account: 'ql-b', action: 'trace view', target: `trace ${id}: not this organisation's`, outcome: 'refused' }));
    const text = JSON.stringify(trail);
    expect(text).not.toMatch(/\b(c1|a1|a2|a3|b1)\b/);
    expect(text).not.toContain(NAMES['a2']);
  });

  it('F2 on request: the contacts of each F1 (not the case, not an F1), with the F1 they met, ranked after every F1, in the sheet too', async () => {
    const r = await as['bs-lan']!.json<TraceOut & { contacts: (ContactOut & { exposures: { viaWorkerId?: string }[] })[] }>('POST', '/api/traces', { workerId: 'c1', from: '2026-11-19', to: '2026-11-22', secondDegree: true });
    expect(r.status).toBe(201);
    expect(r.body.trace).toMatchObject({ fromMs: at('2026-11-19 00:00'), toMs: at('2026-11-23 00:00'), secondDegree: true });
    const f2 = r.body.contacts.filter((c) => c.degree === 2);
    expect(r.body.contacts.filter((c) => c.degree === 1).map((c) => c.workerId)).toEqual(['a2', 'a3', 'b1', 'a1']);
    // A5 shared the zone with A2 12:30-13:30; A4 sat in the canteen 25 minutes after A1 (whose clock is unverified).
    expect(f2.map((c) => ({ workerId: c.workerId, rank: c.rank, minutes: c.overlapMinutes, unverified: c.unverifiedClock, via: c.exposures.map((e) => e.viaWorkerId) }))).toEqual([
      { workerId: 'a5', rank: 5, minutes: 60, unverified: false, via: ['a2'] },
      { workerId: 'a4', rank: 6, minutes: 5, unverified: true, via: ['a1'] },
    ]);
    const csv = Buffer.from(await (await as['bs-lan']!.send('GET', `/api/traces/${r.body.trace.traceId}/export.csv`)).arrayBuffer()).toString('utf8').trimEnd().split('\r\n');
    expect(csv.slice(5).map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['5,F2,a5', '6,F2,a4']);
    expect(csv[5]).toContain(',a2,');
  });
});

describe('traces running at once', () => {
  it('runs at most two traces at once per hub process: a third is refused as busy (503, Retry-After), and taken once one ends', async () => {
    const dir = tempDir('safegate-trace-busy-');
    const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
    const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
    const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'hub-directory.db') });
    const { visits } = await buildTraceScenario(directory, hubStore);
    const real = new Tracer({ store: hubStore, directory, visits });
    // Each trace waits for the test to let it go, so the test knows how many are running.
    const waiting: (() => void)[] = [];
    let started = 0;
    const tracer = {
      trace: async (request: TraceRequest) => {
        started++;
        await new Promise<void>((resolve) => waiting.push(resolve));
        return real.trace(request);
      },
    };
    const server = new ConsoleServer({
      store: accounts,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: createLogger({ level: 'fatal' }),
      now: () => SCENARIO_NOW,
      hub: { directory, store: hubStore, zone: ZONE, tracing: { tracer, saved: new SavedTraces({ sql: directory.sql, now: () => SCENARIO_NOW }) } },
    });
    try {
      await accounts.addAccount({ name: 'bs-lan', role: 'health', password: PASSWORD }, await hashPassword(PASSWORD), Date.now());
      await server.start();
      const health = new Client(server.url);
      await health.login('bs-lan');
      const body = { workerId: 'c1', from: '2026-11-19', to: '2026-11-22' };
      const first = health.json('POST', '/api/traces', body);
      const second = health.json('POST', '/api/traces', body);
      await expect.poll(() => started).toBe(2);
      const third = await health.send('POST', '/api/traces', body);
      expect(third.status).toBe(503);
      expect(third.headers.get('retry-after')).toBe('5');
      expect(((await third.json()) as { error: string }).error).toBe('2 traces are running: busy, try again in a moment');
      expect(started).toBe(2);
      // One ends: the next is taken.
      waiting.shift()!();
      expect((await first).status).toBe(201);
      const fourth = health.json('POST', '/api/traces', body);
      await expect.poll(() => started).toBe(3);
      for (const go of waiting.splice(0)) go();
      expect((await second).status).toBe(201);
      expect((await fourth).status).toBe(201);
      const trail = await accounts.auditTrail(100);
      expect(trail.filter((e) => e.action === 'trace start' && e.outcome === 'refused').map((e) => e.target)).toEqual(['busy: 2 traces running']);
    } finally {
      for (const go of waiting.splice(0)) go();
      await server.stop();
      await accounts.close();
      await hubStore.close();
      await directory.close();
      dir.remove();
    }
  }, 60_000);
});

describe('the console a hub process serves (openHubConsole, as `safegate hub run` composes it)', () => {
  it("traces with the hub settings' canteen window: at 45 minutes the canteen near miss is a contact", async () => {
    const dir = tempDir('safegate-trace-hub-console-');
    const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
    const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'hub-directory.db') });
    await buildTraceScenario(directory, hubStore);
    const key = () => createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
    const hubConsole = await openHubConsole({
      settings: { enabled: true, host: '127.0.0.1', port: await freePort(), database: 'console.db', trustProxy: false, lockoutSeconds: 1 },
      databasePath: join(dir.path, 'console.db'),
      directory,
      phonePassKey: key(),
      checkpointCodeKey: key(),
      issuer: 'hub.1',
      store: hubStore,
      zone: ZONE,
      trace: { canteenWindowMinutes: 45 },
      log: createLogger({ level: 'fatal' }),
    });
    try {
      await hubConsole!.start();
      await hubConsole!.store.addAccount({ name: 'bs-lan', role: 'health', password: PASSWORD }, await hashPassword(PASSWORD), Date.now());
      const health = new Client(hubConsole!.server.url);
      await health.login('bs-lan');
      const r = await health.json<TraceOut & { trace: { options: { canteenWindowMinutes: number; resetHours: number } } }>('POST', '/api/traces', { workerId: 'c1', from: '2026-11-19', to: '2026-11-22' });
      expect(r.status).toBe(201);
      expect(r.body.trace.options).toEqual({ canteenWindowMinutes: 45, resetHours: 16 });
      // 45-minute sittings: A1's overlaps the case's for 30 minutes, A4's (from 12:10) for 5; the phone check-in (A3) is read too.
      expect(r.body.contacts.map((c) => [c.workerId, c.overlapMinutes])).toEqual([['a2', 120], ['a3', 60], ['a1', 30], ['b1', 20], ['a4', 5]]);
      expect((await hubConsole!.traces.list()).map((t) => t.traceId)).toEqual([r.body.trace.traceId]);
    } finally {
      await hubConsole?.stop();
      await hubStore.close();
      await directory.close();
      dir.remove();
    }
  }, 60_000);
});
