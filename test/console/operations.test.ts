import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../base/node/logger.js';
import { hashPassword } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { parseWorkerList } from '../../sync/hub/registry-upload.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { organisationStamps } from '../../sync/hub/organisation-stamps.js';
import type { WireEvent } from '../../sync/batch-codec.js';
import { tempDir } from '../helpers/fixtures.js';
import { directoryBackends } from '../helpers/directory-db.js';

const PASSWORD = 'a long enough password';
const ZONE = 'Asia/Ho_Chi_Minh';
const HEADER = 'Mã NV,Họ và tên,Bộ phận/Tổ';
/** Noon today in the province zone, so every passage below falls on one day there. */
const NOON = (() => {
  const day = new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(new Date());
  return Date.parse(`${day}T12:00:00+07:00`);
})();
const DAY = new Date(NOON + 7 * 3_600_000).toISOString().slice(0, 10);

function passage(seq: number, workerId: string | null, decision: 'allow' | 'deny', reasons: string[]): WireEvent {
  return {
    seq,
    wallMs: NOON - 3_600_000 + seq * 60_000,
    monoUs: 1_000_000 + seq * 60_000_000,
    bootId: '3f1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c11',
    clockSynced: true,
    checkpointId: 'cong-chung',
    zoneId: 'kcn',
    direction: 'entry',
    credentialKind: workerId ? 'pass' : 'unknown',
    workerId,
    codeHash: workerId ? null : 'a3f9c0d1e2b4a5968778695a4b3c2d1e',
    decision,
    reasons,
    source: 'serial',
    policyVersion: 3,
  } as WireEvent;
}

/** A signed-in client with the session cookie and a CSRF token on changes (just enough of a browser). */
async function client(base: string, name: string) {
  const cookies = new Map<string, string>();
  const send = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    // The token first: its secret's cookie must travel with the request.
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
  return {
    get: async <T>(path: string) => {
      const r = await send('GET', path);
      return { status: r.status, body: (await r.json()) as T };
    },
    change: async (method: string, path: string, body?: unknown) => (await send(method, path, body)).status,
    /** Sends raw bytes with a content type (a worker list file). */
    upload: async (path: string, bytes: Uint8Array, type: string) => {
      const token = ((await (await send('GET', '/api/csrf')).json()) as { token: string }).token;
      const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const r = await fetch(base + path, { method: 'POST', headers: { cookie, 'x-csrf-token': token, 'content-type': type }, body: new Blob([Buffer.from(bytes)]) });
      return { status: r.status, body: (await r.json()) as { error?: string; problems?: { line: number; code: string; params: Record<string, string | number>; message: string }[]; workers?: number } };
    },
  };
}

interface Day {
  total: number;
  allowed: number;
  denied: number;
  deniedByReason: Record<string, number>;
  entries: { workerId: string | null; reasons: string[]; orgId: string | null }[];
}

/**
 * Devices, entries and notices against a real directory and hub store (SQLite files), in process:
 * a manager sees the devices at the checkpoints that serve their organisation and only their own
 * workers' passages; health reasons are shown to health officers and the worker's own manager, and
 * hidden from everyone else; operators publish and withdraw notices.
 */
describe.each(directoryBackends)('console devices, entries and notices by role (the directory on $name)', (backend) => {
  const dir = tempDir('safegate-console-ops-');
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let directory: HubDirectory;
  const store = new SqliteHubStore(join(dir.path, 'hub.db'));
  let server: ConsoleServer;

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    server = new ConsoleServer({ store: accounts, host: '127.0.0.1', port: 0, trustProxy: false, lockoutBaseMs: 1_000, log: createLogger({ level: 'fatal' }), hub: { directory, store, zone: ZONE } });
    await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
    await directory.addOrganisation({ id: 'ORG-B', name: 'B', kind: 'company' });
    await directory.addOrganisation({ id: 'KCN', name: 'Khu công nghiệp', kind: 'agency' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.addSite({ id: 'xuong-b', orgId: 'ORG-B' });
    await directory.addSite({ id: 'kcn', orgId: 'KCN' });
    // A shared gate of the industrial zone serves both companies; each company has its own canteen.
    await directory.addCheckpoint({ id: 'cong-chung', siteId: 'kcn', kind: 'gate', orgIds: ['ORG-A', 'ORG-B'] });
    await directory.addCheckpoint({ id: 'nha-an-b', siteId: 'xuong-b', kind: 'canteen' });
    await directory.assignSite('kcn', ['kiosk-gate']);
    await directory.placeDevices('cong-chung', ['kiosk-gate']);
    await directory.assignSite('xuong-b', ['kiosk-canteen-b']);
    await directory.placeDevices('nha-an-b', ['kiosk-canteen-b']);
    await directory.uploadWorkers('ORG-A', await parseWorkerList(Buffer.from(`${HEADER}\nA001,Trần Thị Mai,Tổ 1\nA002,Lê Văn Hùng,Tổ 1\n`), ZONE, Date.now()));
    await directory.uploadWorkers('ORG-B', await parseWorkerList(Buffer.from(`${HEADER}\nB001,Phạm Văn Bình,Tổ Hàn\n`), ZONE, Date.now()));
    // As the hub receives them: each stamped with its worker's organisation then.
    const received = [
      passage(1, 'A001', 'allow', []),
      passage(2, 'A002', 'deny', ['CASE_F0']),
      passage(3, 'B001', 'deny', ['QUARANTINE_ACTIVE', 'PASS_EXPIRED']),
      passage(4, null, 'deny', ['MALFORMED_CODE']),
    ];
    await store.ingest('kiosk-gate', received, Date.now());
    await store.stampOrganisations(await organisationStamps(directory, 'kiosk-gate', received));
    await store.recordHeartbeat(
      'kiosk-gate',
      { v: 1, atMs: Date.now(), software: '0.9.0', outboxDepth: 3, oldestUnsyncedAgeS: 12, scanner: 'ready', gpio: 'real', clockOffsetMs: 5, rosterAgeS: 40, policyVersion: 3, heldEvents: 0, disk: null, fleet: null },
      Date.now(),
    );
    const t = Date.now();
    await store.recordAlert('kiosk-gate', { v: 1, kind: 'quarantined-entry-attempt', seq: 3, atMs: t - 3_000, checkpointId: 'cong-chung', workerId: 'B001', reasons: ['QUARANTINE_ACTIVE'] }, t, 'ORG-B');
    await store.recordAlert('kiosk-gate', { v: 1, kind: 'supervisor-override', seq: 5, atMs: t - 2_000, checkpointId: 'cong-chung', workerId: 'A002', reasons: ['CASE_F0'], note: 'đã có kết quả âm tính' }, t, 'ORG-A');
    await store.recordAlert('kiosk-canteen-b', { v: 1, kind: 'emergency-open', seq: 1, atMs: t - 1_000, checkpointId: 'nha-an-b', reasons: [] }, t);
    const hash = await hashPassword(PASSWORD);
    await accounts.addAccount({ name: 'op', role: 'operator', password: PASSWORD }, hash, Date.now());
    await accounts.addAccount({ name: 'mgr-a', role: 'manager', org: 'ORG-A', password: PASSWORD }, hash, Date.now());
    await accounts.addAccount({ name: 'mgr-b', role: 'manager', org: 'ORG-B', password: PASSWORD }, hash, Date.now());
    await accounts.addAccount({ name: 'med', role: 'health', password: PASSWORD }, hash, Date.now());
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
    await accounts.close();
    await store.close();
    await directory.close();
    dir.remove();
  });

  it('lists devices with their heartbeat; a never-heard one is silent; a manager sees only the devices of checkpoints serving them', async () => {
    const op = await client(server.url, 'op');
    const all = (await op.get<{ deviceId: string; online: boolean; silent: boolean; outboxDepth: number | null; software: string | null; checkpointId: string }[]>('/api/devices')).body;
    expect(all.map((d) => [d.deviceId, d.checkpointId, d.online, d.silent, d.outboxDepth, d.software])).toEqual([
      ['kiosk-canteen-b', 'nha-an-b', false, true, null, null],
      ['kiosk-gate', 'cong-chung', true, false, 3, '0.9.0'],
    ]);
    const a = (await (await client(server.url, 'mgr-a')).get<{ deviceId: string }[]>('/api/devices')).body;
    expect(a.map((d) => d.deviceId)).toEqual(['kiosk-gate']);
    const b = (await (await client(server.url, 'mgr-b')).get<{ deviceId: string }[]>('/api/devices')).body;
    expect(b.map((d) => d.deviceId)).toEqual(['kiosk-canteen-b', 'kiosk-gate']);
  });

  it("counts a day's entries at a site and their denials by reason; health reasons only to health officers and the worker's own manager", async () => {
    const path = `/api/entries?day=${DAY}&site=kcn`;
    const op = (await (await client(server.url, 'op')).get<Day>(path)).body;
    expect([op.total, op.allowed, op.denied]).toEqual([4, 1, 3]);
    expect(op.deniedByReason).toEqual({ HEALTH: 2, PASS_EXPIRED: 1, MALFORMED_CODE: 1 });
    expect(JSON.stringify(op)).not.toMatch(/CASE_F0|QUARANTINE_ACTIVE/);

    const med = (await (await client(server.url, 'med')).get<Day>(path)).body;
    expect(med.deniedByReason).toEqual({ CASE_F0: 1, QUARANTINE_ACTIVE: 1, PASS_EXPIRED: 1, MALFORMED_CODE: 1 });

    const a = (await (await client(server.url, 'mgr-a')).get<Day>(path)).body;
    expect(a.entries.map((e) => [e.workerId, e.reasons])).toEqual([
      ['A002', ['CASE_F0']],
      ['A001', []],
    ]);
    expect(a.deniedByReason).toEqual({ CASE_F0: 1 });
    expect(JSON.stringify(a)).not.toMatch(/B001|QUARANTINE_ACTIVE|MALFORMED_CODE/);

    const searched = (await (await client(server.url, 'op')).get<Day>(`/api/entries?day=${DAY}&worker=b00`)).body;
    expect(searched.entries.map((e) => [e.workerId, e.orgId])).toEqual([['B001', 'ORG-B']]);
    const byName = (await (await client(server.url, 'op')).get<Day>(`/api/entries?day=${DAY}&worker=${encodeURIComponent('Văn Hùng')}`)).body;
    expect(byName.entries.map((e) => e.workerId)).toEqual(['A002']);
    const otherDay = (await (await client(server.url, 'op')).get<Day>('/api/entries?day=2020-01-01')).body;
    expect(otherDay.total).toBe(0);
  });

  it("lists a day's entries in pages, newest first, each page's counts covering the whole day; a malformed page cursor is refused", async () => {
    const op = await client(server.url, 'op');
    const first = (await op.get<Day & { next: string | null }>(`/api/entries?day=${DAY}&limit=3`)).body;
    expect([first.total, first.allowed, first.denied, first.entries.length]).toEqual([4, 1, 3, 3]);
    expect(first.entries.map((e) => e.workerId)).toEqual([null, 'B001', 'A002']);
    expect(first.next).toEqual(expect.any(String));
    const second = (await op.get<Day & { next: string | null }>(`/api/entries?day=${DAY}&limit=3&before=${encodeURIComponent(first.next!)}`)).body;
    expect(second.entries.map((e) => e.workerId)).toEqual(['A001']);
    expect([second.total, second.next]).toEqual([4, null]);
    expect((await op.get(`/api/entries?day=${DAY}&before=x`)).status).toBe(400);
    expect((await op.get(`/api/entries?day=${DAY}&limit=100000`)).status).toBe(400);
  });

  it('refuses bad input clearly: a day that is not a date, an unknown query key', async () => {
    const op = await client(server.url, 'op');
    const bad = await op.get<{ error: string }>('/api/entries?day=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/day/);
    expect((await op.get<{ error: string }>('/api/entries?day=2026-02-30')).status).toBe(400);
    expect((await op.get<{ error: string }>('/api/entries')).status).toBe(400);
    expect((await op.get<{ error: string }>(`/api/entries?day=${DAY}&device=x`)).status).toBe(400);
  });

  it('operators publish and withdraw notices; everyone reads them; a manager and a health officer cannot publish', async () => {
    const op = await client(server.url, 'op');
    expect(await op.change('POST', '/api/notices', { id: 'n-mask', vi: 'Đeo khẩu trang', priority: 'important', expiresAtMs: Date.now() + 86_400_000 })).toBe(201);
    expect(await op.change('POST', '/api/notices', { id: 'n-old', vi: 'Cũ', priority: 'info', expiresAtMs: Date.now() - 1 })).toBe(400);
    expect(await op.change('POST', '/api/notices', { id: 'n-x', vi: '', priority: 'info', expiresAtMs: Date.now() + 1 })).toBe(400);
    const mgr = await client(server.url, 'mgr-a');
    expect((await mgr.get<{ id: string }[]>('/api/notices')).body.map((n) => n.id)).toEqual(['n-mask']);
    expect(await mgr.change('POST', '/api/notices', { id: 'n-mgr', vi: 'x', priority: 'info', expiresAtMs: Date.now() + 86_400_000 })).toBe(403);
    expect(await (await client(server.url, 'med')).change('DELETE', '/api/notices/n-mask')).toBe(403);
    expect(await op.change('DELETE', '/api/notices/n-mask')).toBe(200);
    expect(await op.change('DELETE', '/api/notices/n-mask')).toBe(404);
    expect((await mgr.get<unknown[]>('/api/notices')).body).toEqual([]);
  });

  it('takes a list as an XLSX workbook, refuses a body that is not a list, and keeps its bad rows by line', async () => {
    const mgr = await client(server.url, 'mgr-a');
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('Danh sách');
    sheet.addRow(['Mã NV', 'Họ và tên', 'Bộ phận/Tổ']);
    sheet.addRow(['A001', 'Trần Thị Mai', 'Tổ 1']);
    sheet.addRow(['A002', 'Lê Văn Hùng', 'Tổ 1']);
    sheet.addRow(['A003', 'Ngô Văn Tài', 'Tổ 2']);
    const xlsx = new Uint8Array(await book.xlsx.writeBuffer());
    const taken = await mgr.upload('/api/organisations/ORG-A/workers', xlsx, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect([taken.status, taken.body.workers]).toEqual([200, 3]);
    sheet.addRow(['', 'Không mã', 'Tổ 2']);
    const bad = await mgr.upload('/api/organisations/ORG-A/workers', new Uint8Array(await book.xlsx.writeBuffer()), 'application/octet-stream');
    expect(bad.status).toBe(422);
    // The console gets each problem's code and parameters for the page to translate, with the English text.
    expect(bad.body.problems).toEqual([{ line: 5, code: 'field.required', params: { field: 'workerId' }, message: expect.stringMatching(/worker id/) }]);
    const junk = await mgr.upload('/api/organisations/ORG-A/workers', new TextEncoder().encode('\u0000\u0001 not a list'), 'text/csv');
    expect(junk.status).toBe(422);
    expect(await mgr.change('POST', '/api/organisations/ORG-A/workers', { workers: [] })).toBe(415);
    // Only the upload route takes a large body: elsewhere a file is refused at the server's 64 KB.
    const big = new TextEncoder().encode(`${'x,'.repeat(40_000)}\n`);
    expect((await mgr.upload('/api/organisations/ORG-A/workers', big, 'text/csv')).status).toBe(422);
    expect((await mgr.upload('/api/logout', big, 'text/csv')).status).toBe(413);
    const names = (await mgr.get<{ workerId: string }[]>('/api/organisations/ORG-A/workers')).body.map((w) => w.workerId);
    expect(names.sort()).toEqual(['A001', 'A002', 'A003']);
  });

  it("shows alerts by role: a manager their own workers' and their gates', health kinds and reasons only to health officers and the worker's own manager", async () => {
    type Row = { kind: string; workerId: string | null; reasons: string[]; note: string | null };
    const view = async (name: string) => (await (await client(server.url, name)).get<Row[]>('/api/alerts')).body.map((a) => [a.kind, a.workerId, a.reasons, a.note]);
    expect(await view('op')).toEqual([
      ['emergency-open', null, [], null],
      ['supervisor-override', 'A002', ['HEALTH'], null],
      ['health-entry-attempt', 'B001', ['HEALTH'], null],
    ]);
    expect(await view('med')).toEqual([
      ['emergency-open', null, [], null],
      ['supervisor-override', 'A002', ['CASE_F0'], 'đã có kết quả âm tính'],
      ['quarantined-entry-attempt', 'B001', ['QUARANTINE_ACTIVE'], null],
    ]);
    expect(await view('mgr-a')).toEqual([['supervisor-override', 'A002', ['CASE_F0'], 'đã có kết quả âm tính']]);
    expect(await view('mgr-b')).toEqual([
      ['emergency-open', null, [], null],
      ['quarantined-entry-attempt', 'B001', ['QUARANTINE_ACTIVE'], null],
    ]);
  });
  it("keeps a worker's history with the organisation that held them then: a manager who lists a departed worker's id does not see their past refusals or alerts", async () => {
    // ORG-A lets A002 go (keeping the others); ORG-B lists the same id.
    await directory.uploadWorkers('ORG-A', await parseWorkerList(Buffer.from(`${HEADER}\nA001,Trần Thị Mai,Tổ 1\nA003,Ngô Văn Tài,Tổ 2\n`), ZONE, Date.now()));
    await directory.uploadWorkers('ORG-B', await parseWorkerList(Buffer.from(`${HEADER}\nB001,Phạm Văn Bình,Tổ Hàn\nA002,Người khác,Tổ X\n`), ZONE, Date.now()));
    const b = await client(server.url, 'mgr-b');
    const day = (await b.get<Day>(`/api/entries?day=${DAY}`)).body;
    expect(day.entries.map((e) => e.workerId)).toEqual(['B001']);
    expect(JSON.stringify(day)).not.toMatch(/CASE_F0/);
    expect((await b.get<Day>(`/api/entries?day=${DAY}&worker=A002`)).body.entries).toEqual([]);
    const alerts = (await b.get<{ workerId: string | null }[]>('/api/alerts')).body.map((x) => x.workerId);
    expect(alerts).not.toContain('A002');
    // ORG-A's manager still sees what happened at their gate while A002 was theirs.
    const a = (await (await client(server.url, 'mgr-a')).get<Day>(`/api/entries?day=${DAY}`)).body;
    expect(a.entries.map((e) => [e.workerId, e.reasons])).toContainEqual(['A002', ['CASE_F0']]);
  });
});
