import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, type ConsoleRole } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { createLogger } from '../../base/node/logger.js';
import { tempDir } from '../helpers/fixtures.js';

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
describe('console routes by role (in process, real SQLite file)', () => {
  const dir = tempDir('safegate-console-roles-');
  const store = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const server = new ConsoleServer({ store, host: '127.0.0.1', port: 0, trustProxy: false, lockoutBaseMs: 1_000, log: createLogger({ level: 'fatal' }) });

  beforeAll(async () => {
    const hash = await hashPassword(PASSWORD);
    for (const role of ROLES) await store.addAccount({ name: role, role, password: PASSWORD, ...(role === 'manager' ? { org: 'ORG-A' } : {}) }, hash, Date.now());
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
    await store.close();
    dir.remove();
  });

  it('every API route declares who may call it', () => {
    const api = server.routes.filter((r) => r.url.startsWith('/api/'));
    expect(api.length).toBeGreaterThan(5);
    expect(api.filter((r) => r.access === undefined)).toEqual([]);
  });

  it.each(['nobody', ...ROLES] as const)('as %s, each route answers exactly as its access says', async (who) => {
    const client = new Client(server.url);
    if (who !== 'nobody') expect(await client.request('POST', '/api/login', { name: who, password: PASSWORD })).toBe(200);
    // Logging out ends the session the other routes need: it goes last.
    const routes = [...server.routes.filter((r) => r.url.startsWith('/api/') && r.url !== '/api/logout'), ...server.routes.filter((r) => r.url === '/api/logout')];
    const wrong: string[] = [];
    for (const route of routes) {
      const status = await client.request(route.method, route.url, route.method === 'GET' ? undefined : {});
      const access = route.access!;
      const expected = access === 'public' ? 'allowed' : who === 'nobody' ? 401 : access.includes(who) ? 'allowed' : 403;
      const ok = expected === 'allowed' ? status !== 401 && status !== 403 : status === expected;
      if (!ok) wrong.push(`${route.method} ${route.url}: ${status}, expected ${expected}`);
    }
    expect(wrong).toEqual([]);
  });

  it('an unknown API path answers 404 (not the pages), signed in or not', async () => {
    const client = new Client(server.url);
    expect(await client.request('GET', '/api/nothing-here')).toBe(404);
    await client.request('POST', '/api/login', { name: 'operator', password: PASSWORD });
    expect(await client.request('GET', '/api/nothing-here')).toBe(404);
  });
});
