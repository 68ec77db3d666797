import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import { createLogger } from '../../base/node/logger.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { PhoneLinks } from '../../sync/hub/phone-links.js';
import { parseWorkerList } from '../../sync/hub/registry-upload.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { tempDir } from '../helpers/fixtures.js';
import { directoryBackends } from '../helpers/directory-db.js';

const ZONE = 'Asia/Ho_Chi_Minh';

/** A phone without a page: the CSRF cookie and token as the page's script gets them. */
async function phoneClient(base: string) {
  let cookie = '';
  const csrf = async () => {
    const r = await fetch(`${base}/api/csrf`);
    cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    return ((await r.json()) as { token: string }).token;
  };
  return async (path: string, body: unknown, o: { csrf?: boolean; raw?: string } = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (o.csrf !== false) headers['x-csrf-token'] = await csrf();
    if (cookie) headers.cookie = cookie;
    const r = await fetch(base + path, { method: 'POST', headers, body: o.raw ?? JSON.stringify(body) });
    return { status: r.status, body: (await r.json().catch(() => null)) as Record<string, unknown> };
  };
}

/**
 * The phone page's two public calls, validated like the console's API: the link's token is their
 * only authentication; a CSRF token is required; every field is checked by the route's schema; a
 * refusal says why without a stack or the token; an address that floods them is slowed down.
 */
describe.each(directoryBackends)('phone routes at the console server (the directory on $name)', (backend) => {
  const dir = tempDir('safegate-phone-routes-');
  let directory: HubDirectory;
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const store = new SqliteHubStore(join(dir.path, 'hub.db'));
  let server: ConsoleServer;
  let base = '';
  const tokens: string[] = [];

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    const links = new PhoneLinks({ sql: directory.sql, phonePassKey: createPrivateKey(generateSigningKeyPair('EdDSA').privatePem), issuer: 'hub.1' });
    server = new ConsoleServer({
      store: accounts,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: createLogger({ level: 'fatal' }),
      hub: { directory, store, zone: ZONE, phone: { links, uiFolder: join(dir.path, 'no-page') } },
    });
    await directory.addOrganisation({ id: 'ORG-A', name: 'Công ty A', kind: 'company' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.uploadWorkers('ORG-A', await parseWorkerList(Buffer.from('Mã NV,Họ và tên,Bộ phận/Tổ\nA001,Trần Thị Mai,Tổ 1\nA002,Lê Văn Hùng,Tổ 1\n'), ZONE, Date.now()));
    tokens.push(...(await links.make({ orgId: 'ORG-A', team: 'Tổ 1', madeBy: 'op' })).map((l) => l.token));
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

  it('answers whose a link is, then binds once; a second use is 410 with its reason', async () => {
    const post = await phoneClient(base);
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    expect(await post('/phone/api/link', { token: tokens[0] })).toMatchObject({ status: 200, body: { fullName: expect.any(String), orgName: 'Công ty A' } });
    const bound = await post('/phone/api/redeem', { token: tokens[0], key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } });
    expect(bound.status).toBe(200);
    expect(bound.body).toMatchObject({ passId: expect.stringMatching(/^[0-9a-f]{16}$/), pass: expect.stringMatching(/^[A-Za-z0-9_-]+$/) });
    expect(await post('/phone/api/redeem', { token: tokens[0], key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } })).toMatchObject({ status: 410, body: { refusal: 'used' } });
    expect(await post('/phone/api/link', { token: 'A'.repeat(43) })).toMatchObject({ status: 404, body: { refusal: 'unknown' } });
  });

  it('refuses without a CSRF token, and any body out of shape, before touching a link', async () => {
    const post = await phoneClient(base);
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = publicKey.export({ format: 'jwk' });
    const token = tokens[1]!;
    expect((await post('/phone/api/link', { token }, { csrf: false })).status).toBe(403);
    const bad: [string, unknown][] = [
      ['no token', {}],
      ['short token', { token: 'abc' }],
      ['token with other characters', { token: `${'A'.repeat(42)}=` }],
      ['an extra field', { token, who: 'x' }],
    ];
    for (const [what, body] of bad) expect({ what, status: (await post('/phone/api/link', body)).status }).toEqual({ what, status: 400 });
    const badKeys: [string, unknown][] = [
      ['a private key', privateKey.export({ format: 'jwk' })],
      ['another curve', generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' })],
      ['an RSA key', { kty: 'RSA', n: 'x', e: 'AQAB' }],
      ['no key', undefined],
      ['a string', 'key'],
    ];
    for (const [what, key] of badKeys) expect({ what, status: (await post('/phone/api/redeem', { token, key })).status }).toEqual({ what, status: 400 });
    const offCurve = await post('/phone/api/redeem', { token, key: { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'B'.repeat(43) } });
    expect(offCurve).toMatchObject({ status: 400, body: { error: 'the phone key is not a point on P-256' } });
    expect((await post('/phone/api/link', null, { raw: '{"token":' })).status).toBe(400);
    // None of that spent the link.
    expect((await post('/phone/api/redeem', { token, key: { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y } })).status).toBe(200);
  });

  it('an address that floods the link lookup is slowed down (429)', async () => {
    const post = await phoneClient(base);
    const statuses: number[] = [];
    for (let i = 0; i < 125; i++) statuses.push((await post('/phone/api/link', { token: 'B'.repeat(43) })).status);
    expect(statuses).toContain(429);
  });
});
