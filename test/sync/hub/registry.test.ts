import Database from 'better-sqlite3';
import ExcelJS from 'exceljs';
import JSZip from 'jszip';
import { sql } from 'kysely';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../base/node/sqlite.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { rosterCodec } from '../../../sync/downlink-codec.js';
import { DIRECTORY_MIGRATIONS, HubDirectory } from '../../../sync/hub/directory.js';
import { MAX_LIST_BYTES, parseWorkerList, WorkerListError } from '../../../sync/hub/registry-upload.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { healthyWorker, tempDir } from '../../helpers/fixtures.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const NOW = Date.parse('2026-11-27T06:00:00Z'); // 13:00 in the province

/** A CV 2242 labour list as a company keeps it: Vietnamese headers, dd/mm/yyyy dates, the STT column. */
const VI_HEADER = 'STT,Mã nhân viên,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';
const row = (n: number, id: string, name: string, extra: Partial<{ year: string; sex: string; cccd: string; phone: string; home: string; team: string; date: string; result: string; doses: string }> = {}) =>
  [n, id, name, extra.year ?? '1990', extra.sex ?? 'Nữ', extra.cccd ?? `0791900000${String(n).padStart(2, '0')}`, extra.phone ?? `09123456${String(n).padStart(2, '0')}`, extra.home ?? `${n} Đường Lê Lợi, Thủ Đức`, extra.team ?? 'Tổ May 1', extra.date ?? '26/11/2026', extra.result ?? 'Âm tính', extra.doses ?? '2'].map((c) => `"${String(c).replace(/"/g, '""')}"`).join(',');
const csv = (...rows: string[]) => Buffer.from(`\uFEFF${[VI_HEADER, ...rows].join('\r\n')}\r\n`);

async function rosterRecords(d: HubDirectory) {
  return (await d.respond({ v: PROTOCOL_VERSION, stream: 'roster', cursor: 0 }, NOW)).flatMap((p) => p.body.map((b) => rosterCodec.fromWire(b)));
}

/** Migrations of a SQLite directory made by an earlier SafeGate (PostgreSQL starts at the whole schema, DIRECTORY_PG_MIGRATIONS step 1). */
describe('hub registry: SQLite directories from before', () => {
  const dir = tempDir('safegate-registry-');
  afterEach(() => dir.remove());

  it('keeps sites named before the registry (migration 0004) and lets an organisation claim them, devices included', async () => {
    const file = join(dir.path, 'directory.db');
    const old = openDatabase(file, { migrations: DIRECTORY_MIGRATIONS.slice(0, 3) });
    old.prepare('INSERT INTO device_sites (device_id, site_id, since_ms) VALUES (?, ?, ?)').run('kiosk-a', 'kcn-1', 1);
    old.prepare('INSERT INTO device_sites (device_id, site_id, since_ms) VALUES (?, ?, ?)').run('kiosk-b', 'kcn-1', 2);
    old.close();

    const d = await HubDirectory.open({ kind: 'sqlite', path: file });
    try {
      expect(await d.registeredSites()).toEqual([{ id: 'kcn-1', orgId: null, name: 'kcn-1', devices: 2, checkpoints: 0 }]);
      await d.addOrganisation({ id: 'pouyuen', name: 'Công ty TNHH PouYuen Việt Nam', kind: 'company' }, NOW);
      expect(await d.addSite({ id: 'kcn-1', orgId: 'pouyuen', name: 'Xưởng Tân Tạo' })).toBe('claimed');
      expect(await d.registeredSites('pouyuen')).toEqual([{ id: 'kcn-1', orgId: 'pouyuen', name: 'Xưởng Tân Tạo', devices: 2, checkpoints: 0 }]);
      expect(await d.siteMembers('kcn-1')).toEqual(['kiosk-a', 'kiosk-b']);
      // A site first named by `hub device assign` is registered, without an organisation.
      await d.assignSite('market-2', ['kiosk-c']);
      expect((await d.registeredSites()).map((s) => [s.id, s.orgId])).toEqual([['kcn-1', 'pouyuen'], ['market-2', null]]);
    } finally {
      await d.close();
    }
  });

  it('keeps the last list upload of each organisation through migration 0005 (the upload log)', async () => {
    const file = join(dir.path, 'directory.db');
    const old = openDatabase(file, { migrations: DIRECTORY_MIGRATIONS.slice(0, 4) });
    old.prepare("INSERT INTO organisations (org_id, name, kind, created_ms) VALUES ('org-a', 'A', 'company', 1)").run();
    old.prepare("INSERT INTO org_uploads (org_id, uploaded_ms, workers) VALUES ('org-a', ?, 3)").run(NOW - 3_600_000);
    old.close();
    const d = await HubDirectory.open({ kind: 'sqlite', path: file });
    try {
      expect(await d.listCompliance(NOW, ZONE)).toEqual([{ orgId: 'org-a', listAgeMs: 3_600_000, todaysList: 'before-deadline', outOfCompliance: false }]);
    } finally {
      await d.close();
    }
  });

  it("finds an organisation's workers, sites and uploads by index (EXPLAIN QUERY PLAN)", async () => {
    const file = join(dir.path, 'directory.db');
    await (await HubDirectory.open({ kind: 'sqlite', path: file })).close();
    const db = new Database(file, { readonly: true });
    try {
      const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
      expect(plan("SELECT worker_id FROM hub_workers WHERE org_id = 'o'")).toMatch(/USING (COVERING )?INDEX hub_workers_org/);
      expect(plan("SELECT max(uploaded_ms) FROM org_list_uploads WHERE org_id = 'o' AND uploaded_ms <= 5")).toMatch(/USING (COVERING )?INDEX org_list_uploads_org/);
      expect(plan("SELECT count(*) FROM sites WHERE org_id = 'o'")).toMatch(/USING (COVERING )?INDEX sites_org/);
      expect(plan("SELECT org_id FROM checkpoint_orgs WHERE checkpoint_id = 'c'")).toMatch(/USING (COVERING )?(PRIMARY KEY|INDEX)/);
    } finally {
      db.close();
    }
  });

});

describe.each(directoryBackends)('hub registry on $name: organisations, sites, checkpoints', (backend) => {
  it('registers checkpoints serving one or several organisations and refuses in plain words', async () => {
    const d = await HubDirectory.open(await backend.target());
    try {
      await d.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' });
      await d.addOrganisation({ id: 'org-b', name: 'Chợ Bình Điền', kind: 'market' });
      await d.addSite({ id: 'site-a', orgId: 'org-a' });
      await d.addCheckpoint({ id: 'gate-1', siteId: 'site-a', kind: 'gate', name: 'Cổng chính' });
      await d.addCheckpoint({ id: 'bus-7', siteId: 'site-a', kind: 'bus', orgIds: ['org-b', 'org-a'] });
      await d.assignSite('other-site', ['kiosk-2']);
      expect(await d.placeDevices('gate-1', ['kiosk-1', 'kiosk-2'])).toBe(2);
      expect(await d.placeDevices('gate-1', ['kiosk-1'])).toBe(0); // already there
      expect(await d.checkpoints()).toEqual([
        { id: 'bus-7', siteId: 'site-a', name: 'bus-7', kind: 'bus', orgIds: ['org-a', 'org-b'], devices: [] },
        { id: 'gate-1', siteId: 'site-a', name: 'Cổng chính', kind: 'gate', orgIds: ['org-a'], devices: ['kiosk-1', 'kiosk-2'] },
      ]);
      expect(await d.siteMembers('site-a')).toEqual(['kiosk-1', 'kiosk-2']); // placed at the gate, in its site's live stream
      await d.assignSite('other-site', ['kiosk-2']); // moved to another site: no longer at the gate
      expect((await d.checkpoints('site-a')).find((c) => c.id === 'gate-1')?.devices).toEqual(['kiosk-1']);
      await expect(d.placeDevices('gate-9', ['kiosk-1'])).rejects.toThrow('no checkpoint gate-9 (add it with `safegate hub checkpoint add`)');
      await expect(d.placeDevices('gate-1', ['Kiosk_1'])).rejects.toThrow(/device id "Kiosk_1": lower-case letters/);
      expect((await d.organisations()).map((o) => [o.id, o.sites, o.workers, o.listUploadedAtMs])).toEqual([['org-a', 1, 0, null], ['org-b', 0, 0, null]]);

      await expect(d.addOrganisation({ id: 'org-a', name: 'again', kind: 'company' })).rejects.toThrow('organisation org-a already exists');
      await expect(d.addOrganisation({ id: 'org c', name: 'C', kind: 'company' })).rejects.toThrow(/organisation id "org c": 1 to 64 characters/);
      await expect(d.addOrganisation({ id: 'org-c', name: 'C', kind: 'bank' as 'company' })).rejects.toThrow('organisation kind "bank": expected company, agency, market');
      await expect(d.addSite({ id: 'site-x', orgId: 'org-z' })).rejects.toThrow('no organisation org-z (add it with `safegate hub org add`)');
      await expect(d.addSite({ id: 'site-a', orgId: 'org-b' })).rejects.toThrow('site site-a belongs to another organisation (org-a)');
      await expect(d.addCheckpoint({ id: 'gate-2', siteId: 'site-q', kind: 'gate' })).rejects.toThrow('no site site-q');
      await expect(d.addCheckpoint({ id: 'gate-1', siteId: 'site-a', kind: 'gate' })).rejects.toThrow('checkpoint gate-1 already exists');
      await expect(d.addCheckpoint({ id: 'gate-3', siteId: 'site-a', kind: 'door' as 'gate' })).rejects.toThrow(/checkpoint kind "door": expected gate, zone, team, canteen, dormitory, bus/);
      expect(await d.checkpoints('site-a')).toHaveLength(2);
    } finally {
      await d.close();
    }
  });
});

describe.each(directoryBackends)('hub registry on $name: an organisation uploads its CV 2242 worker list', (backend) => {
  async function registry(): Promise<HubDirectory> {
    const d = await HubDirectory.open(await backend.target());
    await d.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' }, NOW);
    await d.addOrganisation({ id: 'org-b', name: 'Công ty B', kind: 'company' }, NOW);
    await d.addSite({ id: 'site-a', orgId: 'org-a' });
    await d.addSite({ id: 'site-b', orgId: 'org-b' });
    return d;
  }

  it('sends kiosks the decision fields only (organisation and site ids included); residence, phone and ID number stay in hub-only storage', async () => {
    const d = await registry();
    try {
      const list = await parseWorkerList(csv(row(1, 'A001', 'Trần Thị Mai', { home: 'Phòng 12 KTX Tân Tạo', phone: '0912 345 601' }), row(2, 'A002', 'Lê Văn Hùng', { sex: 'Nam', result: '', date: '' })), ZONE, NOW);
      expect(await d.uploadWorkers('org-a', list, { nowMs: NOW })).toMatchObject({ changed: 2, removed: 0, workers: 2 });
      const down = await rosterRecords(d);
      expect(down.map((c) => (c.deleted ? c.key : c.value))).toEqual([
        { workerId: 'A001', displayName: 'Trần Thị Mai', company: 'Công ty A', team: 'Tổ May 1', declaredAt: null, declarationFlagged: false, testResult: 'negative', testedAt: Date.parse('2026-11-25T17:00:00Z'), vaccineDoses: 2, quarantineUntil: null, caseStatus: 'none', orgId: 'org-a', siteId: 'site-a' },
        { workerId: 'A002', displayName: 'Lê Văn Hùng', company: 'Công ty A', team: 'Tổ May 1', declaredAt: null, declarationFlagged: false, testResult: null, testedAt: null, vaccineDoses: 2, quarantineUntil: null, caseStatus: 'none', orgId: 'org-a', siteId: 'site-a' },
      ]);
      expect(await d.hubOnlyWorker('A001')).toEqual({ orgId: 'org-a', siteId: 'site-a', team: 'Tổ May 1', fullName: 'Trần Thị Mai', birthYear: 1990, sex: 'female', idNumber: '079190000001', phone: '0912345601', residence: 'Phòng 12 KTX Tân Tạo' });
      // Nothing a kiosk downloads is built from anything holding them: the published records never contain them.
      const published = JSON.stringify(await d.sql.all(sql`SELECT * FROM records`));
      expect(published).toContain('Trần Thị Mai');
      for (const secret of ['KTX', '0912345601', '079190000001', '1990']) expect(published).not.toContain(secret);
    } finally {
      await d.close();
    }
  });

  it("replaces that organisation's workers only: the missing ones become tombstones, another organisation's stay", async () => {
    const d = await registry();
    try {
      await d.uploadWorkers('org-a', await parseWorkerList(csv(row(1, 'A001', 'Trần Thị Mai'), row(2, 'A002', 'Lê Văn Hùng')), ZONE, NOW), { nowMs: NOW });
      await d.uploadWorkers('org-b', await parseWorkerList(csv(row(1, 'B001', 'Phạm Thu Hà')), ZONE, NOW), { nowMs: NOW });
      await d.importRoster([healthyWorker('A001', NOW, { caseStatus: 'F1', quarantineUntil: NOW + 86_400_000 })], false); // the health side marks A001 as F1
      const second = await d.uploadWorkers('org-a', await parseWorkerList(csv(row(1, 'A001', 'Trần Thị Mai'), row(3, 'A003', 'Đỗ Minh Tuấn')), ZONE, NOW + 1000), { nowMs: NOW + 1000 });
      expect(second).toMatchObject({ removed: 1, workers: 2 });
      const down = new Map((await rosterRecords(d)).map((c) => [c.key, c]));
      expect([...down.keys()].sort()).toEqual(['A001', 'A003', 'B001']);
      expect(down.get('A001')).toMatchObject({ value: { caseStatus: 'F1', quarantineUntil: NOW + 86_400_000, company: 'Công ty A' } }); // a re-upload does not lift a quarantine
      const delta = (await d.respond({ v: PROTOCOL_VERSION, stream: 'roster', cursor: await d.revision('roster') - 1 }, NOW)).flatMap((p) => p.body.map((b) => rosterCodec.fromWire(b)));
      expect(delta).toContainEqual({ deleted: true, key: 'A002' });
      expect(delta.map((c) => c.key)).toEqual(['A001', 'A002', 'A003']); // one upload, one revision: changes and removals together
      expect(await d.hubOnlyWorker('A002')).toBeUndefined();
      expect(await d.hubOnlyWorker('B001')).toMatchObject({ orgId: 'org-b' });
      expect((await d.organisations()).map((o) => [o.id, o.workers, o.listUploadedAtMs])).toEqual([['org-a', 2, NOW + 1000], ['org-b', 1, NOW]]);
    } finally {
      await d.close();
    }
  });

  it("a replacing province import (`hub roster import --replace`) removes no organisation's uploaded workers", async () => {
    const d = await registry();
    try {
      await d.uploadWorkers('org-a', await parseWorkerList(csv(row(1, 'A001', 'Trần Thị Mai')), ZONE, NOW), { nowMs: NOW });
      await d.importRoster([healthyWorker('P1', NOW), healthyWorker('P2', NOW)], false);
      expect(await d.importRoster([healthyWorker('P2', NOW)], true)).toMatchObject({ removed: 1 });
      expect((await rosterRecords(d)).map((c) => c.key)).toEqual(['A001', 'P2']);
      expect(await d.hubOnlyWorker('A001')).toMatchObject({ orgId: 'org-a' });
    } finally {
      await d.close();
    }
  });

  it('finds uploaded workers by part of their name, team or id in either case, % and _ as themselves, within an organisation when given, by name', async () => {
    const d = await registry();
    try {
      await d.uploadWorkers('org-a', await parseWorkerList(csv(row(1, 'A001', 'Trần Thị Mai'), row(2, 'A_02', 'Lê Văn Hùng', { team: 'Tổ Cắt 100%' }), row(3, 'A003', 'Đỗ Minh Tuấn')), ZONE, NOW), { nowMs: NOW });
      await d.uploadWorkers('org-b', await parseWorkerList(csv(row(1, 'B001', 'Trần Văn Bình')), ZONE, NOW), { nowMs: NOW });
      const ids = async (orgId: string | undefined, text: string, limit = 10) => (await d.searchWorkers(orgId, text, limit)).map((w) => w.workerId);
      expect(await ids(undefined, 'trần')).toEqual(['A001', 'B001']);
      expect(await ids('org-b', 'TRầN')).toEqual(['B001']);
      expect(await ids(undefined, 'cắt')).toEqual(['A_02']);
      expect(await ids(undefined, 'Đỗ Minh')).toEqual(['A003']);
      expect(await ids(undefined, 'a_0')).toEqual(['A_02']);
      expect(await ids(undefined, '%')).toEqual(['A_02']);
      expect(await ids(undefined, 'a0')).toEqual(['A001', 'A003']);
      expect(await ids(undefined, 'a0', 1)).toEqual(['A001']);
      expect(Object.keys((await d.searchWorkers('org-a', 'mai', 10))[0]!).sort()).toEqual(['fullName', 'orgId', 'siteId', 'team', 'workerId']);
    } finally {
      await d.close();
    }
  });

  it("takes a worker's declaration into their roster record (a later one only) and names the sites whose kiosks serve them", async () => {
    const d = await registry();
    try {
      await d.uploadWorkers('org-a', await parseWorkerList(csv(row(1, 'A001', 'Trần Thị Mai')), ZONE, NOW), { nowMs: NOW });
      await d.addCheckpoint({ id: 'gate-b', siteId: 'site-b', kind: 'gate', orgIds: ['org-a', 'org-b'] }, NOW);
      expect(await d.recordDeclaration('A001', NOW, true)).toEqual({ changed: true, sites: ['site-a', 'site-b'] });
      expect((await rosterRecords(d)).find((c) => c.key === 'A001')).toMatchObject({ value: { declaredAt: NOW, declarationFlagged: true } });
      expect(await d.recordDeclaration('A001', NOW - 1_000, false)).toEqual({ changed: false, sites: ['site-a', 'site-b'] });
      expect(await d.recordDeclaration('P9', NOW, false)).toBeUndefined();
      // A worker on the province list: every site with kiosks.
      await d.importRoster([healthyWorker('P1', NOW)], false);
      await d.assignSite('market-1', ['kiosk-m'], NOW);
      expect(await d.recordDeclaration('P1', NOW, false)).toEqual({ changed: true, sites: ['market-1'] });
    } finally {
      await d.close();
    }
  });

  it("refuses the whole list when a row names another organisation's worker or site, each by line", async () => {
    const d = await registry();
    try {
      await d.uploadWorkers('org-b', await parseWorkerList(csv(row(1, 'B001', 'Phạm Thu Hà')), ZONE, NOW), { nowMs: NOW });
      const before = await d.revision('roster');
      const header = 'Worker ID,Full name,Site';
      const list = await parseWorkerList(Buffer.from(`${header}\nA001,Trần Thị Mai,site-a\nB001,Phạm Thu Hà,site-a\nA002,Lê Văn Hùng,site-b\n`), ZONE, NOW);
      const err = await (async () => {
        try {
          await d.uploadWorkers('org-a', list, { nowMs: NOW });
        } catch (e) {
          return e as WorkerListError;
        }
      })();
      expect(err).toBeInstanceOf(WorkerListError);
      expect(err?.problems).toEqual([
        { line: 3, code: 'registry.otherOrganisation', params: { workerId: 'B001' }, message: "worker id B001 is on another organisation's list" },
        { line: 4, code: 'registry.foreignSite', params: { site: 'site-b', org: 'org-a' }, message: 'site: site-b is not a site of org-a' },
      ]);
      expect(await d.revision('roster')).toBe(before);
      expect((await d.organisations())[0]).toMatchObject({ id: 'org-a', workers: 0, listUploadedAtMs: null });
    } finally {
      await d.close();
    }
  });
});

describe.each(directoryBackends)("hub registry on $name: each organisation's list against CV 2242 (every 3 days, today's results before 15:00)", (backend) => {
  const at = (iso: string) => Date.parse(iso);

  it('reads the list age, the 15:00 deadline in the province zone and the 3-day flag', async () => {
    const d = await HubDirectory.open(await backend.target());
    try {
      const list = await parseWorkerList(csv(row(1, 'X001', 'Trần Thị Mai')), ZONE, NOW);
      for (const id of ['early', 'old', 'twice', 'late', 'never']) {
        await d.addOrganisation({ id, name: id, kind: 'company' });
        await d.addSite({ id: `${id}-site`, orgId: id });
      }
      const upload = (org: string, iso: string) => d.uploadWorkers(org, list.map((w) => ({ ...w, workerId: `${org}-1` })), { nowMs: at(iso) });
      await upload('old', '2026-11-23T05:00:00Z'); // 23 Nov, 12:00 in the province: 4 days before
      await upload('early', '2026-11-27T03:00:00Z'); // 10:00
      await upload('twice', '2026-11-27T03:30:00Z'); // 10:30, and again at 16:30 below
      await upload('twice', '2026-11-27T09:30:00Z');
      await upload('late', '2026-11-27T08:01:00Z'); // 15:01
      const standing = async (iso: string) => Object.fromEntries((await d.listCompliance(at(iso), ZONE)).map((c) => [c.orgId, [c.todaysList, c.outOfCompliance, c.listAgeMs]]));

      // 13:00: the deadline has not passed, and uploads after the moment asked about do not count.
      expect(await standing('2026-11-27T06:00:00Z')).toEqual({
        early: ['before-deadline', false, 3 * 3_600_000],
        late: ['not-yet', true, null],
        never: ['not-yet', true, null],
        old: ['not-yet', true, 4 * 86_400_000 + 3_600_000],
        twice: ['before-deadline', false, 2.5 * 3_600_000],
      });
      // 17:00: a list only after 15:00 is late, none at all is missing; an upload in the morning still counts after a later one.
      expect(Object.fromEntries(Object.entries(await standing('2026-11-27T10:00:00Z')).map(([org, [today, out]]) => [org, [today, out]]))).toEqual({
        early: ['before-deadline', false],
        late: ['late', false],
        never: ['missing', true],
        old: ['missing', true],
        twice: ['before-deadline', false],
      });
      // Just under 3 days after its upload a list is still current; the next province day starts at 17:00 UTC.
      expect((await standing('2026-11-26T04:59:00Z')).old).toEqual(['not-yet', false, 3 * 86_400_000 - 60_000]);
      expect((await standing('2026-11-27T17:00:00Z')).early).toEqual(['not-yet', false, 14 * 3_600_000]);
    } finally {
      await d.close();
    }
  });
});

describe('CV 2242 worker list files', () => {
  it('reports every bad row by line with what is wrong, and returns nothing', async () => {
    const file = csv(
      row(1, 'A001', 'Trần Thị Mai'),
      row(2, 'A 002', '', { year: '1890' }),
      row(3, 'A003', 'Lê Văn Hùng', { sex: 'X', cccd: '12345', phone: '12', result: 'maybe' }),
      row(4, 'A001', 'Đỗ Minh Tuấn', { date: '31/02/2026' }),
      row(5, 'A005', 'Ngô Thị Lan', { date: '01/12/2026', doses: 'two' }),
    );
    await expect(parseWorkerList(file, ZONE, NOW)).rejects.toSatisfy((e: WorkerListError) => {
      expect(e.problems).toEqual([
        { line: 3, code: 'field.identifier', params: { field: 'workerId' }, message: 'worker id: 1 to 64 characters: letters, digits, dot, underscore and dash' },
        { line: 3, code: 'field.required', params: { field: 'fullName' }, message: 'full name: required' },
        { line: 3, code: 'field.birthYear', params: { field: 'birthYear', min: 1926, max: 2012, value: '1890' }, message: 'year of birth: expected a year from 1926 to 2012, got "1890"' },
        { line: 4, code: 'field.sex', params: { field: 'sex', value: 'X' }, message: 'sex: expected Nam/Nữ (male/female), got "X"' },
        { line: 4, code: 'field.idNumber', params: { field: 'idNumber' }, message: 'ID card number: expected 12 digits (CCCD) or 9 digits (CMND)' },
        { line: 4, code: 'field.phone', params: { field: 'phone' }, message: 'phone: expected a Vietnamese phone number, e.g. 0912345678 or +84912345678' },
        { line: 4, code: 'field.testResult', params: { field: 'testResult', value: 'maybe' }, message: 'test result: expected âm tính/dương tính (negative/positive), got "maybe"' },
        { line: 5, code: 'field.date', params: { field: 'testedAt', value: '31/02/2026' }, message: 'test date: expected a date such as 25/11/2026 or 2026-11-25, got "31/02/2026"' },
        { line: 6, code: 'field.dateFuture', params: { field: 'testedAt', value: '01/12/2026' }, message: 'test date: test date 01/12/2026 is in the future' },
        { line: 6, code: 'field.doses', params: { field: 'vaccineDoses' }, message: 'vaccine doses: expected a whole number from 0 to 99' },
      ]);
      expect(e.message).toMatch(/^worker list refused, nothing changed:\nline 3: worker id/);
      return true;
    });
    // The duplicate id on line 5 is reported once its row is otherwise valid.
    await expect(parseWorkerList(csv(row(1, 'A001', 'Trần Thị Mai'), row(2, 'A001', 'Đỗ Minh Tuấn')), ZONE, NOW)).rejects.toThrow('line 3: worker id A001 already appears on line 2');
  });

  it('refuses a header it does not know or one missing the worker id or name', async () => {
    await expect(parseWorkerList(Buffer.from('Họ và tên,Lương\nMai,100\n'), ZONE, NOW)).rejects.toThrow(/line 1: header: unknown column "Lương"\nline 1: header: missing column worker id/);
    await expect(parseWorkerList(Buffer.from(''), ZONE, NOW)).rejects.toThrow('the file is empty');
    await expect(parseWorkerList(Buffer.from('PK\u0003\u0004broken'), ZONE, NOW)).rejects.toThrow(/not a readable XLSX workbook/);
    await expect(parseWorkerList(Buffer.alloc(MAX_LIST_BYTES + 1, 0x41), ZONE, NOW)).rejects.toThrow('the file is larger than 32 MB');
  });

  it('reads the same list from an XLSX workbook with English headers (dates as Excel dates, numbers as numbers)', async () => {
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('Danh sách');
    sheet.addRow(['No.', 'Worker ID', 'Full name', 'Year of birth', 'Sex', 'ID card number', 'Phone', 'Current residence', 'Department/Team', 'Test date', 'Test result', 'Vaccine doses']);
    sheet.addRow([1, 'A001', 'Trần Thị Mai', 1990, 'Female', '079190000001', '0912345601', 'KTX Tân Tạo', 'Tổ May 1', new Date(Date.UTC(2026, 10, 26)), 'negative', 3]);
    sheet.addRow([2, 'A002', 'Lê Văn Hùng', 1985, 'male', '', '', '', 'Tổ Cắt', null, null, 0]);
    sheet.addRow([3, 'A003', '', 1985, 'male']);
    const bad = Buffer.from(await book.xlsx.writeBuffer());
    await expect(parseWorkerList(bad, ZONE, NOW)).rejects.toThrow('line 4: full name: required');
    sheet.spliceRows(4, 1);
    const list = await parseWorkerList(Buffer.from(await book.xlsx.writeBuffer()), ZONE, NOW);
    expect(list).toEqual([
      { line: 2, workerId: 'A001', fullName: 'Trần Thị Mai', birthYear: 1990, sex: 'female', idNumber: '079190000001', phone: '0912345601', residence: 'KTX Tân Tạo', team: 'Tổ May 1', siteId: null, testResult: 'negative', testedAtMs: Date.parse('2026-11-25T17:00:00Z'), vaccineDoses: 3 },
      { line: 3, workerId: 'A002', fullName: 'Lê Văn Hùng', birthYear: 1985, sex: 'male', idNumber: null, phone: null, residence: null, team: 'Tổ Cắt', siteId: null, testResult: null, testedAtMs: null, vaccineDoses: 0 },
    ]);
  });

  it('refuses a workbook that unpacks to more than the limit, counting what comes out rather than what the ZIP declares', async () => {
    const book = new ExcelJS.Workbook();
    book.addWorksheet('Danh sách').addRows([
      ['Mã NV', 'Họ và tên'],
      ['A001', 'Trần Thị Mai'],
    ]);
    const zip = await JSZip.loadAsync(await book.xlsx.writeBuffer());
    // A part of zeros: 8 MB unpacked from a few kilobytes, as a zip bomb is (only larger).
    zip.file('xl/media/padding.bin', new Uint8Array(8 * 1024 * 1024));
    const padded = Buffer.from(await zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE' }));
    expect(padded.length).toBeLessThan(200 * 1024);
    await expect(parseWorkerList(padded, ZONE, NOW, { inflatedBytes: 4 * 1024 * 1024 })).rejects.toThrow('the workbook unpacks to more than 4 MB');
    // The same workbook under the real limit is read.
    expect((await parseWorkerList(padded, ZONE, NOW)).map((w) => w.workerId)).toEqual(['A001']);
    // A part that claims to be small but is not: the count, not the declared size, refuses it.
    const lying = Buffer.from(padded);
    let patched = 0;
    for (let i = 0; i + 46 < lying.length; i++) {
      const sig = lying.readUInt32LE(i);
      const nameAt = sig === 0x02014b50 ? i + 46 : sig === 0x04034b50 ? i + 30 : -1;
      if (nameAt < 0) continue;
      const nameLength = lying.readUInt16LE(i + (sig === 0x02014b50 ? 28 : 26));
      if (lying.toString('latin1', nameAt, nameAt + nameLength) !== 'xl/media/padding.bin') continue;
      lying.writeUInt32LE(1024, i + (sig === 0x02014b50 ? 24 : 22)); // uncompressed size
      patched++;
    }
    expect(patched).toBe(2);
    await expect(parseWorkerList(lying, ZONE, NOW, { inflatedBytes: 4 * 1024 * 1024 })).rejects.toThrow('the workbook unpacks to more than 4 MB');
  });
});
