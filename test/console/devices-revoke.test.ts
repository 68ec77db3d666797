import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { silentLogger } from '../../base/node/logger.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { EnrolmentBook } from '../../sync/hub/fleet/enrolment-book.js';
import { HubPki } from '../../sync/hub/fleet/pki.js';
import { revokeDevice } from '../../sync/hub/fleet/revocation.js';
import { PROTOCOL_VERSION } from '../../sync/protocol.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { tempDir } from '../helpers/fixtures.js';

const PASSWORD = 'a long enough password';
const DAY_MS = 86_400_000;

/** A signed-in browser: the session cookie, and a CSRF token on every change. */
class Browser {
  private cookie = '';
  constructor(private readonly base: string) {}
  async call(method: string, path: string, body?: unknown, csrf = true): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string> = {};
    if (method !== 'GET' && csrf) headers['x-csrf-token'] = ((await (await this.send('GET', '/api/csrf', {})).json()) as { token: string }).token;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await this.send(method, path, headers, body);
    return { status: r.status, json: await r.json().catch(() => undefined) };
  }
  private async send(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
    const r = await fetch(this.base + path, { method, headers: { ...headers, ...(this.cookie ? { cookie: this.cookie } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const jar = new Map(this.cookie ? this.cookie.split('; ').map((c) => c.split('=') as [string, string]) : []);
    for (const c of r.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0]!.split('=') as [string, string];
      if (v === '') jar.delete(k);
      else jar.set(k, v);
    }
    this.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    return r;
  }
}

/**
 * The console's Devices page data and its revoke action, through the real server: enrolment,
 * revocation, certificate days and a refused settings document shown per device; an operator
 * revokes (CSRF token required, on the audit trail), a manager may not; an unknown device is a 404.
 */
describe('console devices: enrolment, certificate, settings, and revoking', () => {
  const dir = tempDir('safegate-console-devices-');
  const store = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  let directory: HubDirectory;
  let server: ConsoleServer;
  let pki: HubPki;

  beforeAll(async () => {
    directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
    pki = await HubPki.init(join(dir.path, 'pki'), { hosts: ['127.0.0.1'], hubIds: ['hub.1'] });
    const book = new EnrolmentBook(directory.sql);
    const now = Date.now();
    await book.recordCertificate('kiosk-a', { serialHex: '0a1b', notAfterMs: now + 100 * DAY_MS, fingerprint: 'aa'.repeat(32) }, new Uint8Array([1]));
    await book.recordCertificate('kiosk-b', { serialHex: '0c2d', notAfterMs: now + 50 * DAY_MS, fingerprint: 'bb'.repeat(32) }, new Uint8Array([2]));
    await hubStore.recordHeartbeat(
      'kiosk-a',
      { v: PROTOCOL_VERSION, atMs: now, software: '1.4.2', outboxDepth: 0, oldestUnsyncedAgeS: null, scanner: 'ready', gpio: 'real', clockOffsetMs: null, rosterAgeS: 60, policyVersion: 2, heldEvents: 0, disk: null, fleet: { enrolled: true, certDaysLeft: 99.9, settingsVersion: 3, settingsRefused: { version: 4, problems: ['gate.relay.pulseMs: too long'] } } },
      now,
    );
    server = new ConsoleServer({
      store,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: silentLogger,
      hub: {
        directory,
        store: hubStore,
        zone: 'Asia/Ho_Chi_Minh',
        fleet: {
          book,
          // As `hub run` wires it, with no broker here: the cut-off fails and says so.
          revoke: (id) =>
            revokeDevice(id, {
              markRevoked: (d, atMs) => book.markRevoked(d, atMs),
              writeCrl: async () => pki.writeCrl(await book.revokedSerials()),
              cutOff: () => Promise.resolve({ ok: false, reason: 'no broker in this test' }),
            }),
        },
      },
    });
    await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
    const hash = await hashPassword(PASSWORD);
    await store.addAccount({ name: 'op', role: 'operator', password: PASSWORD }, hash, now);
    await store.addAccount({ name: 'mgr', role: 'manager', password: PASSWORD, org: 'ORG-A' }, hash, now);
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
    await store.close();
    await hubStore.close();
    await directory.close();
    dir.remove();
  });

  async function signIn(name: string): Promise<Browser> {
    const b = new Browser(server.url);
    expect((await b.call('POST', '/api/login', { name, password: PASSWORD })).status).toBe(200);
    return b;
  }

  it('shows enrolled devices with their certificate days and a refused settings document; an operator revokes one with a CSRF token, on the audit trail', async () => {
    const op = await signIn('op');
    const before = (await op.call('GET', '/api/devices')).json as Record<string, unknown>[];
    expect(before.map((d) => d.deviceId)).toEqual(['kiosk-a', 'kiosk-b']);
    expect(before[0]).toMatchObject({ enrolled: true, revoked: false, certDaysLeft: 99.9, settingsVersion: 3, settingsRefused: { version: 4, problems: ['gate.relay.pulseMs: too long'] }, software: '1.4.2', silent: false });
    expect(before[1]).toMatchObject({ enrolled: true, revoked: false, settingsVersion: null, silent: true });
    expect(before[1]!.certDaysLeft).toBeGreaterThan(49);

    expect((await op.call('POST', '/api/devices/kiosk-b/revoke', {}, false)).status).toBe(403);
    const crl = pki.crlNumber();
    const r = await op.call('POST', '/api/devices/kiosk-b/revoke', {});
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ deviceId: 'kiosk-b', steps: [{ step: 'broker', ok: false, detail: expect.stringContaining('no broker in this test') as unknown }, { step: 'crl', ok: true }, { step: 'directory', ok: true }] });
    expect(pki.crlNumber()).toBe(crl + 1);
    const after = (await op.call('GET', '/api/devices')).json as Record<string, unknown>[];
    expect(after.find((d) => d.deviceId === 'kiosk-b')).toMatchObject({ revoked: true });
    const audit = (await op.call('GET', '/api/audit')).json as { target?: string; account?: string }[];
    expect(JSON.stringify(audit)).toContain('/api/devices/kiosk-b/revoke');

    expect((await op.call('POST', '/api/devices/kiosk-zz/revoke', {})).status).toBe(404);
  });

  it('a manager may not revoke', async () => {
    const mgr = await signIn('mgr');
    expect((await mgr.call('POST', '/api/devices/kiosk-a/revoke', {})).status).toBe(403);
  });
});
