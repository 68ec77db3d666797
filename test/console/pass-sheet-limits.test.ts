import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import { createLogger } from '../../base/node/logger.js';
import { hashPassword } from '../../console/server/accounts.js';
import { SHEETS_PER_ACCOUNT_PER_MINUTE } from '../../console/server/pass-routes.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { MAX_CARDS_PER_SHEET } from '../../sync/hub/pass-sheet.js';
import { PassRegistry } from '../../sync/hub/passes.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { listedWorker } from '../helpers/listed-worker.js';
import { tempDir } from '../helpers/fixtures.js';
import { directoryBackends } from '../helpers/directory-db.js';

const PASSWORD = 'a long enough password';
const ZONE = 'Asia/Ho_Chi_Minh';

/** A signed-in client with the session cookie and a CSRF token on changes. */
async function client(base: string, name: string) {
  const cookies = new Map<string, string>();
  const send = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const headers: Record<string, string> = {};
    if (method !== 'GET') headers['x-csrf-token'] = ((await (await send('GET', '/api/csrf')).json()) as { token: string }).token;
    headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const c of r.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0]!.split('=') as [string, string];
      cookies.set(k, v);
    }
    return r;
  };
  expect((await send('POST', '/api/login', { name, password: PASSWORD })).status).toBe(200);
  return send;
}

/**
 * A team's sheet through the console: drawn off the event loop (the console answers while 200 cards
 * are drawn), a team over the cap printed in parts, and sheets rate limited per account.
 */
describe.each(directoryBackends)('console pass sheets: cap, worker thread, rate limit (the directory on $name)', (backend) => {
  const dir = tempDir('safegate-console-sheets-');
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let directory: HubDirectory;
  const store = new SqliteHubStore(join(dir.path, 'hub.db'));
  let server: ConsoleServer;
  let base: string;
  const team = MAX_CARDS_PER_SHEET + 1;

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    const passes = new PassRegistry({ sql: directory.sql, passKey: createPrivateKey(generateSigningKeyPair('EdDSA').privatePem), issuer: 'hub.1' });
    server = new ConsoleServer({ store: accounts, host: '127.0.0.1', port: 0, trustProxy: false, lockoutBaseMs: 1_000, log: createLogger({ level: 'fatal' }), hub: { directory, store, zone: ZONE, passes } });
    await directory.addOrganisation({ id: 'ORG-A', name: 'Công ty A', kind: 'company' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.uploadWorkers('ORG-A', Array.from({ length: team }, (_, i) => ({ ...listedWorker(`A${String(i).padStart(4, '0')}`, Date.now()), team: 'Tổ Lớn' })));
    const hash = await hashPassword(PASSWORD);
    await accounts.addAccount({ name: 'op', role: 'operator', password: PASSWORD }, hash, Date.now());
    await accounts.addAccount({ name: 'mgr-a', role: 'manager', org: 'ORG-A', password: PASSWORD }, hash, Date.now());
    await server.start();
    base = server.url;
  });
  afterAll(async () => {
    await server.stop();
    await accounts.close();
    await store.close();
    await directory.close();
    dir.remove();
  });

  it('a team over the cap is refused whole and printed in parts; the console answers while a part of 200 cards is drawn; then the account is rate limited, another is not', async () => {
    const mgr = await client(base, 'mgr-a');
    const sheet = (part?: number) => mgr('POST', '/api/organisations/ORG-A/sheet', { team: 'Tổ Lớn', ...(part ? { part } : {}) });

    const whole = await sheet();
    expect(whole.status).toBe(400);
    expect(((await whole.json()) as { error: string }).error).toBe(`team "Tổ Lớn" has ${team} workers and a sheet holds at most ${MAX_CARDS_PER_SHEET}: print it in 2 parts (part 1 to 2), or split the team`);

    // Pings to the console while the first part (200 cards) is drawn: each answered before the next is sent.
    let drawn = false;
    const answered: number[] = [];
    const pinging = (async () => {
      while (!drawn) {
        const r = await mgr('GET', '/api/me');
        if (!drawn) answered.push(r.status);
      }
    })();
    const first = await sheet(1);
    drawn = true;
    await pinging;
    expect(first.status).toBe(200);
    expect(first.headers.get('x-sheet-parts')).toBe('2');
    expect(first.headers.get('x-passes')).toBe(String(MAX_CARDS_PER_SHEET));
    expect(Buffer.from(await first.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
    // Drawn on the event loop, the console would answer at most the pings in flight when the drawing began.
    expect(answered.length).toBeGreaterThanOrEqual(5);
    expect(new Set(answered)).toEqual(new Set([200]));

    const second = await sheet(2);
    expect([second.status, second.headers.get('x-passes'), second.headers.get('x-sheet-part')]).toEqual([200, '1', '2']);
    expect((await sheet(3)).status).toBe(400);
    // Four sheet requests so far (refused ones count); the limit's worth more, then 429.
    for (let i = 4; i < SHEETS_PER_ACCOUNT_PER_MINUTE; i++) expect((await sheet(3)).status).toBe(400);
    const limited = await sheet(2);
    expect(limited.status).toBe(429);
    const op = await client(base, 'op');
    expect((await op('POST', '/api/organisations/ORG-A/sheet', { team: 'Tổ Lớn', part: 2 })).status).toBe(200);
  }, 90_000);
});
