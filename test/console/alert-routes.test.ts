import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../base/node/logger.js';
import { hashPassword, type ConsoleRole } from '../../console/server/accounts.js';
import { STREAMS_PER_ACCOUNT } from '../../console/server/alert-routes.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { AlertBook, categoryOfKioskAlert, type RaisedAlert } from '../../sync/hub/notify/alert-book.js';
import { parseWorkerList } from '../../sync/hub/registry-upload.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import type { Alert } from '../../sync/protocol.js';
import { PROTOCOL_VERSION } from '../../sync/protocol.js';
import type { AlertKind } from '../../base/common/types.js';
import { tempDir } from '../helpers/fixtures.js';
import { directoryBackends } from '../helpers/directory-db.js';

const PASSWORD = 'a long enough password';
const ZONE = 'Asia/Ho_Chi_Minh';

/** A signed-in client: the session cookie, a CSRF token on changes, and a reader of the live stream. */
async function client(base: string, name: string) {
  const cookies = new Map<string, string>();
  const cookie = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const send = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (method !== 'GET') headers['x-csrf-token'] = ((await (await send('GET', '/api/csrf')).json()) as { token: string }).token;
    headers.cookie = cookie();
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const c of r.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0]!.split('=') as [string, string];
      cookies.set(k, v);
    }
    return r;
  };
  expect((await send('POST', '/api/login', { name, password: PASSWORD })).status).toBe(200);
  return {
    get: async <T>(path: string) => {
      const r = await send('GET', path);
      return { status: r.status, body: (await r.json()) as T };
    },
    change: async <T>(method: string, path: string, body?: unknown) => {
      const r = await send(method, path, body);
      return { status: r.status, body: (await r.json()) as T };
    },
    /** Opens the live stream; `next()` is the next event's data (or the status when refused). */
    live: async () => {
      const controller = new AbortController();
      const r = await fetch(`${base}/api/alerts/live`, { headers: { cookie: cookie() }, signal: controller.signal });
      const events: { alertId: string; change: string }[] = [];
      const raw: string[] = [];
      let waiting: (() => void) | undefined;
      let ended: Promise<void> = Promise.resolve();
      if (r.ok) {
        ended = (async () => {
          const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) return;
              buffer += value;
              raw.push(value);
              let end;
              while ((end = buffer.indexOf('\n\n')) >= 0) {
                const block = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                const data = block.split('\n').find((l) => l.startsWith('data: '));
                if (data) events.push(JSON.parse(data.slice(6)) as { alertId: string; change: string });
                waiting?.();
              }
            }
          } catch {
            // aborted
          }
        })();
      }
      return {
        status: r.status,
        type: r.headers.get('content-type'),
        events,
        raw,
        /** Resolves when the server ends the stream. */
        ended,
        /** Waits for the event about this alert and returns the events seen until then. */
        until: async (alertId: string) => {
          while (!events.some((e) => e.alertId === alertId)) await new Promise<void>((resolve) => (waiting = resolve));
          return [...events];
        },
        close: () => controller.abort(),
      };
    },
  };
}

interface ListedAlert {
  alertId: string;
  kind: string;
  category: string;
  orgId: string | null;
  workerId: string | null;
  workerName: string | null;
  reasons: string[];
  note: string | null;
  acknowledgedBy: string | null;
  acknowledgedAtMs: number | null;
  deliveries: { recipientId: string; channel: string; address: string; state: string; attempts: number; lastError: string | null; sentAtMs: number | null; undelivered: boolean }[];
}
interface Page {
  alerts: ListedAlert[];
  next: string | null;
}

/**
 * The console's alert routes against a real directory (SQLite and PostgreSQL) and hub store, in
 * process: who sees which alert of the book (a manager their organisation's and the gate and device
 * alerts of places serving it; health kinds and reasons hidden from operators), deliveries with
 * their states and masked addresses, acknowledgement once (audited), who is told (validated, scoped
 * to the manager's organisation, the webhook secret shown once), and the live stream (only ids, only
 * what the account may see, bounded per account).
 */
describe.each(directoryBackends)('console alert routes (the directory on $name)', (backend) => {
  const dir = tempDir('safegate-console-alerts-');
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const store = new SqliteHubStore(join(dir.path, 'hub.db'));
  let directory: HubDirectory;
  let book: AlertBook;
  let server: ConsoleServer;
  const now = Date.now();
  let seq = 0;
  const ids = {} as Record<'mailA' | 'hook' | 'health' | 'gate' | 'silentB', string>;

  /** As the hub does with a kiosk's alert: the store's row (worker, reasons), then the book's entry. */
  async function kioskAlert(deviceId: string, kind: AlertKind, o: { checkpointId: string; siteId: string; orgId: string | null; workerId?: string; reasons?: string[]; note?: string }, into = book, raisedMs = now + seq) {
    const a: Alert = { v: PROTOCOL_VERSION, kind, seq: ++seq, atMs: now - 60_000 + seq, checkpointId: o.checkpointId, reasons: o.reasons ?? [], ...(o.workerId ? { workerId: o.workerId } : {}), ...(o.note ? { note: o.note } : {}) };
    await store.recordAlert(deviceId, a, now, o.orgId ?? undefined);
    const raised: RaisedAlert = { dedupKey: `kiosk:${deviceId}:${a.seq}`, source: 'kiosk', kind, category: categoryOfKioskAlert(kind), orgId: o.orgId, siteId: o.siteId, checkpointId: o.checkpointId, deviceId, seq: a.seq, atMs: a.atMs };
    return (await into.raise(raised, raisedMs)).alertId;
  }

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    book = new AlertBook({ sql: directory.sql, undeliveredAfterAttempts: 3 });
    server = new ConsoleServer({ store: accounts, host: '127.0.0.1', port: 0, trustProxy: false, lockoutBaseMs: 1_000, log: createLogger({ level: 'fatal' }), hub: { directory, store, zone: ZONE, alerts: book } });
    await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
    await directory.addOrganisation({ id: 'ORG-B', name: 'B', kind: 'company' });
    await directory.addOrganisation({ id: 'KCN', name: 'Khu công nghiệp', kind: 'agency' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.addSite({ id: 'xuong-b', orgId: 'ORG-B' });
    await directory.addSite({ id: 'kcn', orgId: 'KCN' });
    await directory.addCheckpoint({ id: 'cong-a', siteId: 'xuong-a', kind: 'gate' });
    await directory.addCheckpoint({ id: 'cong-chung', siteId: 'kcn', kind: 'gate', orgIds: ['ORG-A', 'ORG-B'] });
    await directory.placeDevices('cong-a', ['kiosk-a']);
    await directory.placeDevices('cong-chung', ['kiosk-gate']);
    await directory.assignSite('xuong-b', ['kiosk-b']);
    await directory.uploadWorkers('ORG-A', await parseWorkerList(Buffer.from('Mã NV,Họ và tên,Bộ phận/Tổ\nA001,Trần Thị Mai,Tổ 1\n'), ZONE, now));
    const hash = await hashPassword(PASSWORD);
    const people: [string, ConsoleRole, string?][] = [['op', 'operator'], ['man-a', 'manager', 'ORG-A'], ['man-b', 'manager', 'ORG-B'], ['doctor', 'health']];
    for (const [name, role, org] of people) await accounts.addAccount({ name, role, password: PASSWORD, ...(org ? { org } : {}) }, hash, now);
    await server.start();

    const mailA = await book.addRecipient({ orgId: 'ORG-A', siteId: null, channel: 'email', address: 'quanly@org-a.vn' }, now);
    const hook = await book.addRecipient({ orgId: null, siteId: null, channel: 'webhook', address: 'https://sms.tinh.gov.vn/hooks/safegate?k=1' }, now);
    ids.mailA = mailA.recipientId;
    ids.hook = hook.recipientId;
    ids.health = await kioskAlert('kiosk-a', 'quarantined-entry-attempt', { checkpointId: 'cong-a', siteId: 'xuong-a', orgId: 'ORG-A', workerId: 'A001', reasons: ['QUARANTINE_ACTIVE'] });
    ids.gate = await kioskAlert('kiosk-gate', 'emergency-open', { checkpointId: 'cong-chung', siteId: 'kcn', orgId: null });
    ids.silentB = (await book.raise({ dedupKey: 'hub:kiosk-silent:kiosk-b:1', source: 'hub', kind: 'kiosk-silent', category: 'device', orgId: null, siteId: 'xuong-b', checkpointId: null, deviceId: 'kiosk-b', seq: null, atMs: now }, now + 100)).alertId;
    // The dispatcher's record: the e-mail went, the webhook failed and waits for its next attempt.
    // The shared gate's alert names no organisation: it reaches the province-wide webhook and ORG-A's
    // organisation-wide e-mail (the gate serves ORG-A, as its manager sees it); ORG-B has no recipient.
    const due = await book.dueDeliveries(now + 1_000, 10);
    expect(due.map((d) => `${d.alert.alertId} ${d.recipient.recipientId}`).sort()).toEqual(
      [`${ids.health} ${ids.mailA}`, `${ids.health} ${ids.hook}`, `${ids.gate} ${ids.mailA}`, `${ids.gate} ${ids.hook}`, `${ids.silentB} ${ids.hook}`].sort(),
    );
    await book.markSent(ids.health, ids.mailA, now + 1_000);
    await book.markFailed(ids.health, ids.hook, 'HTTP 503', now + 60_000, now + 1_000);
  });

  afterAll(async () => {
    await server.stop();
    await accounts.close();
    await store.close();
    await directory.close();
    dir.remove();
  });

  it("each role sees what it may: a manager their organisation's alerts and those of the gates and devices serving it, health kinds and reasons hidden from operators", async () => {
    const op = await client(server.url, 'op');
    const manA = await client(server.url, 'man-a');
    const manB = await client(server.url, 'man-b');
    const doctor = await client(server.url, 'doctor');
    const list = async (c: typeof op) => (await c.get<Page>('/api/alerts/book')).body.alerts;

    const seenByOp = await list(op);
    expect(seenByOp.map((a) => a.alertId)).toEqual([ids.silentB, ids.gate, ids.health]);
    const healthForOp = seenByOp.find((a) => a.alertId === ids.health)!;
    expect(healthForOp).toMatchObject({ kind: 'health-entry-attempt', category: 'health', workerId: 'A001', workerName: 'Trần Thị Mai', reasons: ['HEALTH'], note: null });

    const seenByA = await list(manA);
    expect(seenByA.map((a) => a.alertId)).toEqual([ids.gate, ids.health]);
    expect(seenByA.find((a) => a.alertId === ids.health)).toMatchObject({ kind: 'quarantined-entry-attempt', workerId: 'A001', workerName: 'Trần Thị Mai', reasons: ['QUARANTINE_ACTIVE'] });

    expect((await list(manB)).map((a) => a.alertId)).toEqual([ids.silentB, ids.gate]);
    expect((await manB.get(`/api/alerts/book/${ids.health}`)).status).toBe(404);
    expect((await manA.get(`/api/alerts/book/${ids.silentB}`)).status).toBe(404);
    expect((await manA.get<ListedAlert>(`/api/alerts/book/${ids.health}`)).body.alertId).toBe(ids.health);

    const seenByDoctor = await list(doctor);
    expect(seenByDoctor.map((a) => a.alertId)).toEqual([ids.silentB, ids.gate, ids.health]);
    expect(seenByDoctor.find((a) => a.alertId === ids.health)).toMatchObject({ kind: 'quarantined-entry-attempt', reasons: ['QUARANTINE_ACTIVE'] });

    expect((await manA.get<{ unacknowledged: number }>('/api/alerts/summary')).body.unacknowledged).toBe(2);
    expect((await manB.get<{ unacknowledged: number }>('/api/alerts/summary')).body.unacknowledged).toBe(2);
  });

  it("each alert carries its deliveries' states; an address is shown whole to operators and to the recipient's own manager, masked to others", async () => {
    const byAddress = async (name: string) => {
      const a = (await (await client(server.url, name)).get<ListedAlert>(`/api/alerts/book/${ids.health}`)).body;
      return Object.fromEntries(a.deliveries.map((d) => [d.recipientId, d]));
    };
    const op = await byAddress('op');
    expect(op[ids.mailA]).toMatchObject({ channel: 'email', address: 'quanly@org-a.vn', state: 'sent', attempts: 1, undelivered: false });
    expect(op[ids.mailA]!.sentAtMs).toBe(now + 1_000);
    expect(op[ids.hook]).toMatchObject({ channel: 'webhook', address: 'https://sms.tinh.gov.vn/hooks/safegate?k=1', state: 'failed', attempts: 1, lastError: 'HTTP 503', sentAtMs: null });
    const manA = await byAddress('man-a');
    expect(manA[ids.mailA]!.address).toBe('quanly@org-a.vn');
    expect(manA[ids.hook]!.address).toBe('https://sms.tinh.gov.vn/…');
    const doctor = await byAddress('doctor');
    expect(doctor[ids.mailA]!.address).toBe('q***@org-a.vn');
  });

  it('a manager acknowledges their alert once (audited); another organisation\'s manager cannot, a health officer only reads', async () => {
    const manA = await client(server.url, 'man-a');
    const manB = await client(server.url, 'man-b');
    const doctor = await client(server.url, 'doctor');
    expect((await manB.change('POST', `/api/alerts/${ids.health}/ack`)).status).toBe(404);
    expect((await doctor.change('POST', `/api/alerts/${ids.health}/ack`)).status).toBe(403);
    const first = await manA.change<{ acknowledged: boolean; acknowledgedBy: string }>('POST', `/api/alerts/${ids.health}/ack`);
    expect(first).toMatchObject({ status: 200, body: { acknowledged: true, acknowledgedBy: 'man-a' } });
    expect((await manA.change<{ acknowledged: boolean }>('POST', `/api/alerts/${ids.health}/ack`)).body.acknowledged).toBe(false);
    expect((await book.get(ids.health))?.acknowledgedBy).toBe('man-a');
    const unacknowledged = (await manA.get<Page>('/api/alerts/book?unacknowledged=true')).body.alerts.map((a) => a.alertId);
    expect(unacknowledged).toEqual([ids.gate]);
    expect((await manA.get<{ unacknowledged: number }>('/api/alerts/summary')).body.unacknowledged).toBe(1);
    const trail = await accounts.auditTrail(100);
    const acks = trail.filter((e) => e.action === 'POST /api/alerts/:id/ack' && e.target === `/api/alerts/${ids.health}/ack`);
    expect(acks.map((e) => `${e.account} ${e.outcome}`).sort()).toEqual(['doctor refused', 'man-a ok', 'man-a ok', 'man-b failed']);
  });

  it('refuses malformed requests with a reason', async () => {
    const op = await client(server.url, 'op');
    for (const path of ['/api/alerts/book?limit=0', '/api/alerts/book?limit=501', '/api/alerts/book?before=yesterday', '/api/alerts/book?org=ORG-A', '/api/alerts/book/..%2Fx']) {
      const r = await op.get<{ error: string }>(path);
      expect(r.status, path).toBe(400);
      expect(r.body.error, path).toBeTruthy();
    }
    expect((await op.change('POST', '/api/alerts/a-0000000000/ack')).status).toBe(404);
    expect((await op.change('POST', '/api/alerts/DROP%20TABLE/ack')).status).toBe(400);
  });

  it('pages the book with `before`', async () => {
    const op = await client(server.url, 'op');
    const first = (await op.get<Page>('/api/alerts/book?limit=2')).body;
    expect(first.alerts.map((a) => a.alertId)).toEqual([ids.silentB, ids.gate]);
    const second = (await op.get<Page>(`/api/alerts/book?limit=2&before=${first.next}`)).body;
    expect(second.alerts.map((a) => a.alertId)).toEqual([ids.health]);
    expect(second.next).toBeNull();
  });

  it("who is told: an operator names recipients for any organisation or the province, a manager for their own organisation and sites only; addresses validated; a webhook's secret shown once", async () => {
    const op = await client(server.url, 'op');
    const manA = await client(server.url, 'man-a');
    const doctor = await client(server.url, 'doctor');
    const hook = await op.change<{ recipientId: string; secret: string; orgId: string | null }>('POST', '/api/alert-recipients', { orgId: 'ORG-B', channel: 'webhook', address: 'https://zalo.example.vn/in' });
    expect(hook.status).toBe(201);
    expect(hook.body.secret.length).toBeGreaterThanOrEqual(16);
    const listed = (await op.get<Record<string, unknown>[]>('/api/alert-recipients')).body;
    expect(listed.find((r) => r.recipientId === hook.body.recipientId)).toMatchObject({ orgId: 'ORG-B', channel: 'webhook', address: 'https://zalo.example.vn/in' });
    expect(listed.every((r) => !('secret' in r))).toBe(true);

    const own = await manA.change<{ recipientId: string; orgId: string; siteId: string }>('POST', '/api/alert-recipients', { siteId: 'xuong-a', channel: 'email', address: 'to-truong@org-a.vn', categories: ['health', 'override'] });
    expect(own).toMatchObject({ status: 201, body: { orgId: 'ORG-A', siteId: 'xuong-a' } });
    expect((await manA.get<{ recipientId: string }[]>('/api/alert-recipients')).body.map((r) => r.recipientId).sort()).toEqual([ids.mailA, own.body.recipientId].sort());

    const refusals: [typeof op, unknown, number][] = [
      [manA, { orgId: 'ORG-B', channel: 'email', address: 'x@org-b.vn' }, 403],
      [manA, { siteId: 'xuong-b', channel: 'email', address: 'x@org-b.vn' }, 403],
      [manA, { orgId: null, channel: 'email', address: 'x@org-a.vn' }, 201], // a manager's recipient is their organisation's, whatever they send
      [op, { orgId: 'ORG-A', channel: 'email', address: 'not an address' }, 400],
      [op, { orgId: 'ORG-A', channel: 'webhook', address: 'ftp://files.example.vn/in' }, 400],
      [op, { orgId: 'ORG-A', channel: 'webhook', address: 'https://user:pw@sms.example.vn/in' }, 400],
      [op, { orgId: 'ORG-A', channel: 'email', address: 'a@org-a.vn', secret: 'a secret long enough' }, 400],
      [op, { orgId: 'ORG-X', channel: 'email', address: 'a@org-x.vn' }, 400],
      [op, { orgId: 'ORG-A', siteId: 'xuong-b', channel: 'email', address: 'a@org-a.vn' }, 400],
      [op, { orgId: 'ORG-A', channel: 'sms', address: '0901234567' }, 400],
      [op, { orgId: 'ORG-A', channel: 'email', address: 'a@org-a.vn', categories: ['weather'] }, 400],
      [op, { orgId: 'ORG-A', channel: 'email', address: 'a@org-a.vn', extra: 1 }, 400],
    ];
    for (const [who, body, status] of refusals) {
      const r = await who.change<{ error?: string; orgId?: string }>('POST', '/api/alert-recipients', body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      if (status === 201) expect(r.body.orgId).toBe('ORG-A');
      else expect(r.body.error).toBeTruthy();
    }
    expect((await doctor.get('/api/alert-recipients')).status).toBe(403);
    expect((await doctor.change('POST', '/api/alert-recipients', { channel: 'email', address: 'd@tinh.gov.vn' })).status).toBe(403);

    // Another organisation's recipient is not there for a manager; their own goes.
    expect((await manA.change('DELETE', `/api/alert-recipients/${hook.body.recipientId}`)).status).toBe(404);
    expect((await manA.change('DELETE', `/api/alert-recipients/${own.body.recipientId}`)).status).toBe(200);
    expect((await manA.change('DELETE', `/api/alert-recipients/${own.body.recipientId}`)).status).toBe(404);
    expect((await op.change('DELETE', `/api/alert-recipients/${hook.body.recipientId}`)).status).toBe(200);
  });

  it("the live stream pushes only ids, only of alerts the account may see, whichever process raised them; at most a few streams per account, each audited, and none outlives its session", async () => {
    const manA = await client(server.url, 'man-a');
    const manB = await client(server.url, 'man-b');
    const streamA = await manA.live();
    const streamB = await manB.live();
    expect(streamA.status).toBe(200);
    expect(streamA.type).toMatch(/^text\/event-stream/);
    // Raised by another process's book on the same database: the console hears of it by polling.
    const otherProcess = new AlertBook({ sql: directory.sql });
    const forA = await kioskAlert('kiosk-a', 'confirmed-case-entry-attempt', { checkpointId: 'cong-a', siteId: 'xuong-a', orgId: 'ORG-A', workerId: 'A001', reasons: ['CASE_F0'] }, otherProcess, Date.now());
    // Raised in this process: the console is woken at once.
    const forB = (await book.raise({ dedupKey: 'hub:kiosk-silent:kiosk-b:2', source: 'hub', kind: 'kiosk-silent', category: 'device', orgId: null, siteId: 'xuong-b', checkpointId: null, deviceId: 'kiosk-b', seq: null, atMs: now }, Date.now())).alertId;
    expect((await streamA.until(forA)).find((e) => e.alertId === forA)).toEqual({ alertId: forA, change: 'raised' });
    // B's stream got its own alert after A's was raised, and never A's.
    const seenByB = await streamB.until(forB);
    expect(seenByB.map((e) => e.alertId)).not.toContain(forA);
    expect(streamA.raw.join('')).not.toMatch(/A001|Trần|CASE_F0/);

    // An acknowledgement is a change the stream tells too.
    await manA.change('POST', `/api/alerts/${forA}/ack`);
    await new Promise<void>((resolve) => {
      const check = () => (streamA.events.some((e) => e.alertId === forA && e.change === 'changed') ? resolve() : setTimeout(check, 50));
      check();
    });

    const more = [];
    for (let i = 1; i < STREAMS_PER_ACCOUNT; i++) more.push(await manA.live());
    expect(more.every((s) => s.status === 200)).toBe(true);
    const tooMany = await manA.live();
    expect(tooMany.status).toBe(429);
    for (const s of [streamA, streamB, ...more]) s.close();
    // Signed out, an open stream ends (its session is checked again every few seconds).
    const last = await manB.live();
    expect(last.status).toBe(200);
    expect((await manB.change('POST', '/api/logout')).status).toBe(200);
    await last.ended;
    // Each stream opened is in the audit trail, and the one refused too.
    await expect.poll(async () => (await accounts.auditTrail(200)).filter((e) => e.account === 'man-a' && e.action === 'GET /api/alerts/live').map((e) => e.outcome).sort()).toEqual([...Array(STREAMS_PER_ACCOUNT).fill('ok'), 'refused']);
  });
});
