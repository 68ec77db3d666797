import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../base/node/logger.js';
import { hashPassword } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { Tracer } from '../../sync/hub/trace.js';
import { SavedTraces } from '../../sync/hub/traces.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { tempDir } from '../helpers/fixtures.js';
import { addVisitors, at, buildTraceScenario, EXPECTED, SCENARIO_NOW, VISITOR_A, VISITOR_B, ZONE } from './trace-scenario.js';

const PASSWORD = 'a long enough password';

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

interface TraceOut {
  trace: { traceId: string };
  contacts: { workerId: string; kind?: string; orgId: string | null; fullName: string | null; team: string | null; overlapMinutes: number; visitor?: { name: string; host: string; purpose: string } | null }[];
  contactsElsewhere: number;
  visitorsOnSite: { visitorId: string; siteId: string; visitor: { name: string; host: string; purpose: string } | null; enteredMs: number; leftMs: number | null; overlapMinutes: number }[];
}

/** The console's trace with visitors (issue 14), over test/console/trace-scenario.ts and its visitors. */
describe.each(directoryBackends)('trace routes with visitors (the directory on $name)', (backend) => {
  const dir = tempDir('safegate-trace-visitor-routes-');
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  let directory: HubDirectory;
  let server: ConsoleServer;
  const as: Record<string, Client> = {};

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    const { visits } = await buildTraceScenario(directory, hubStore);
    await addVisitors(directory, hubStore);
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

  it("shows a visitor contact by their name and visit, and the visitors on site, to the health officer and the site's organisation's manager; the audit trail names no visitor", async () => {
    const health = await as['bs-lan']!.json<TraceOut>('POST', '/api/traces', { workerId: 'c1' });
    expect(health.status).toBe(201);
    expect(health.body.contacts.filter((c) => c.kind === 'worker').map((c) => c.workerId)).toEqual(EXPECTED.map((c) => c.workerId));
    expect(health.body.contacts.find((c) => c.kind === 'visitor')).toMatchObject({
      workerId: VISITOR_A, orgId: 'may-a', fullName: 'Khách A', team: null, overlapMinutes: 30, visitor: { name: 'Khách A', host: 'Tổ Cắt', purpose: 'Kiểm hàng' },
    });
    const onSite = (t: TraceOut) => t.visitorsOnSite.map((v) => [v.visitorId, v.siteId, v.enteredMs, v.leftMs, v.overlapMinutes, v.visitor?.name]);
    expect(onSite(health.body)).toEqual([
      [VISITOR_A, 'xuong-1', at('2026-11-21 08:55'), at('2026-11-21 10:00'), 65, 'Khách A'],
      [VISITOR_B, 'xuong-1', at('2026-11-20 06:00'), at('2026-11-20 08:00'), 30, 'Khách Bê'],
    ]);
    // Reopened: the same.
    expect(onSite((await as['bs-lan']!.json<TraceOut>('GET', `/api/traces/${health.body.trace.traceId}`)).body)).toEqual(onSite(health.body));

    const managerA = await as['ql-a']!.json<TraceOut>('POST', '/api/traces', { workerId: 'c1' });
    expect(managerA.body.contacts.map((c) => c.workerId)).toContain(VISITOR_A);
    expect(onSite(managerA.body)).toEqual(onSite(health.body));

    // The health authority's sheet names the visitor by their visit.
    const csv = (await (await as['bs-lan']!.send('GET', `/api/traces/${health.body.trace.traceId}/export.csv?lang=vi`)).text()).split('\r\n');
    expect(csv.find((line) => line.includes(VISITOR_A))).toContain(`,${VISITOR_A},Khách A,Khách thăm Tổ Cắt (Kiểm hàng),may-a,Khu cắt,`);

    const audit = JSON.stringify(await accounts.auditTrail(1000));
    for (const word of ['Khách', VISITOR_A, VISITOR_B]) expect(audit).not.toContain(word);
  });

  it("a manager of another organisation sees no visitor of a site not theirs, even in a trace of their own worker", async () => {
    // B1 (may-b) rode the bus at may-a's site while VISITOR_B was on it.
    const health = await as['bs-lan']!.json<TraceOut>('POST', '/api/traces', { workerId: 'b1' });
    expect(health.body.visitorsOnSite.map((v) => [v.visitorId, v.overlapMinutes])).toEqual([[VISITOR_B, 30]]);
    const managerB = await as['ql-b']!.json<TraceOut>('POST', '/api/traces', { workerId: 'b1' });
    expect(managerB.status).toBe(201);
    expect(managerB.body.visitorsOnSite).toEqual([]);
    expect(managerB.body.contacts.map((c) => c.workerId)).not.toContain(VISITOR_A);
  });
});
