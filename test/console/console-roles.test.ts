import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, type ConsoleRole } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { createLogger } from '../../base/node/logger.js';
import { tempDir } from '../helpers/fixtures.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { PassRegistry } from '../../sync/hub/passes.js';
import { PhoneLinks } from '../../sync/hub/phone-links.js';
import { HubExports } from '../../sync/hub/exports.js';
import { AlertBook } from '../../sync/hub/notify/alert-book.js';
import { TestCertificates } from '../helpers/mosquitto.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { Tracer } from '../../sync/hub/trace.js';
import { SavedTraces } from '../../sync/hub/traces.js';

const PASSWORD = 'a long enough password';
const ROLES: ConsoleRole[] = ['operator', 'manager', 'health'];

/** A browser's cookie jar, just enough for one origin. */
class Client {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async request(method: string, path: string, body?: unknown): Promise<number> {
    const headers: Record<string, string> = {};
    if (method !== 'GET') headers['x-csrf-token'] = ((await this.json('GET', '/api/csrf')) as { token: string }).token;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await this.send(method, path, headers, body);
    return r.status;
  }

  private async json(method: string, path: string): Promise<unknown> {
    return (await this.send(method, path, {})).json();
  }

  private async send(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
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
}

/**
 * Every route the console serves, called as nobody and as every role (session cookie and CSRF
 * token included): a route allows exactly the roles it declares, and an API route that declares
 * none is refused to all.
 */
describe.each(directoryBackends)('console routes by role (in process, the directory on $name)', (backend) => {
  const dir = tempDir('safegate-console-roles-');
  const store = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  let directory: HubDirectory;
  let server: ConsoleServer;

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    const { sql } = directory;
    const passes = new PassRegistry({ sql });
    const links = new PhoneLinks({ sql });
    const exports = new HubExports({ sql, directory, caPem: new TestCertificates(join(dir.path, 'certs')).credentials('server').ca });
    server = new ConsoleServer({
      store,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: createLogger({ level: 'fatal' }),
      hub: { directory, store: hubStore, zone: 'Asia/Ho_Chi_Minh', passes, phone: { links }, exports, alerts: new AlertBook({ sql }), tracing: { tracer: new Tracer({ store: hubStore, directory }), saved: new SavedTraces({ sql }) } },
    });
    await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
    const hash = await hashPassword(PASSWORD);
    for (const role of ROLES) await store.addAccount({ name: role, role, password: PASSWORD, ...(role === 'manager' ? { org: 'ORG-A' } : {}) }, hash, Date.now());
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
    await store.close();
    await hubStore.close();
    await directory.close();
    dir.remove();
  });

  it('every API route declares who may call it', () => {
    const api = server.routes.filter((r) => r.url.startsWith('/api/'));
    expect(api.length).toBeGreaterThan(5);
    expect(api.filter((r) => r.access === undefined)).toEqual([]);
  });

  it('labour lists (named test results, ID numbers, phones) are for managers and health officers, never operators', () => {
    const lists = server.routes.filter((r) => r.url.startsWith('/api/reports/labour-list'));
    expect(lists.map((r) => r.url).sort()).toEqual(['/api/reports/labour-list.xlsx', '/api/reports/labour-lists']);
    for (const r of lists) expect([...(r.access as string[])].sort()).toEqual(['health', 'manager']);
  });

  it.each(['nobody', ...ROLES] as const)('as %s, each route answers exactly as its access says', async (who) => {
    const client = new Client(server.url);
    if (who !== 'nobody') expect(await client.request('POST', '/api/login', { name: who, password: PASSWORD })).toBe(200);
    // Logging out ends the session the other routes need: it goes last.
    const routes = [...server.routes.filter((r) => r.url.startsWith('/api/') && r.url !== '/api/logout'), ...server.routes.filter((r) => r.url === '/api/logout')];
    const wrong: string[] = [];
    for (const route of routes) {
      // Path parameters name the manager's own organisation, so what decides is the role alone.
      const path = route.url.replace(':org', 'ORG-A').replace(/:\w+/g, 'x');
      const status = await client.request(route.method, path, route.method === 'GET' ? undefined : {});
      const access = route.access!;
      // A kiosk's signed upload ('device') takes no session: it answers by the signature, whoever calls.
      const expected = access === 'public' || access === 'device' ? 'allowed' : who === 'nobody' ? 401 : access.includes(who) ? 'allowed' : 403;
      const ok = expected === 'allowed' ? status !== 401 && status !== 403 : status === expected;
      if (!ok) wrong.push(`${route.method} ${route.url}: ${status}, expected ${expected}`);
    }
    expect(wrong).toEqual([]);
  });

  it('a second console on a port already taken is refused with a reason naming the setting', async () => {
    const port = Number(new URL(server.url).port);
    const second = new ConsoleServer({ store, host: '127.0.0.1', port, trustProxy: false, lockoutBaseMs: 1_000, log: createLogger({ level: 'fatal' }) });
    await expect(second.start()).rejects.toThrow(`the console cannot listen on 127.0.0.1:${port} (EADDRINUSE); change console.host or console.port in the hub settings`);
  });

  it('an unknown API path answers 404 (not the pages), signed in or not', async () => {
    const client = new Client(server.url);
    expect(await client.request('GET', '/api/nothing-here')).toBe(404);
    await client.request('POST', '/api/login', { name: 'operator', password: PASSWORD });
    expect(await client.request('GET', '/api/nothing-here')).toBe(404);
  });
});

describe('console session cookie behind a TLS reverse proxy', () => {
  const dir = tempDir('safegate-console-proxy-');
  const store = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const log = createLogger({ level: 'fatal' });
  const servers = [true, false].map((trustProxy) => new ConsoleServer({ store, host: '127.0.0.1', port: 0, trustProxy, lockoutBaseMs: 1_000, log }));

  beforeAll(async () => {
    await store.addAccount({ name: 'op', role: 'operator', password: PASSWORD }, await hashPassword(PASSWORD), Date.now());
    for (const s of servers) await s.start();
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await store.close();
    dir.remove();
  });

  /** Signs in as the proxy would forward an HTTPS request, and returns the session cookie's attributes. */
  async function sessionCookie(server: ConsoleServer): Promise<string> {
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };
    const csrf = await fetch(`${server.url}/api/csrf`, { headers });
    const token = ((await csrf.json()) as { token: string }).token;
    const secret = csrf.headers.getSetCookie()[0]!.split(';')[0]!;
    const r = await fetch(`${server.url}/api/login`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'x-csrf-token': token, cookie: secret },
      body: JSON.stringify({ name: 'op', password: PASSWORD }),
    });
    expect(r.status).toBe(200);
    return r.headers.getSetCookie().find((c) => c.startsWith('sg_session='))!;
  }

  it('with trustProxy, an HTTPS request gets a Secure cookie and the audit trail names the forwarded client; without it, the forwarded headers are not believed', async () => {
    const [behindProxy, direct] = servers as [ConsoleServer, ConsoleServer];
    expect(await sessionCookie(behindProxy)).toMatch(/; Secure/);
    expect(await sessionCookie(direct)).not.toMatch(/; Secure/);
    const logins = (await store.auditTrail(10)).filter((e) => e.action === 'login' && e.outcome === 'ok').map((e) => e.ip);
    expect(logins).toEqual(['203.0.113.7', '127.0.0.1']);
  });
});

