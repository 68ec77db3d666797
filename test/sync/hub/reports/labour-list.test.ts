import ExcelJS from 'exceljs';
import fc from 'fast-check';
import { sql } from 'kysely';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { PassRegistry } from '../../../../sync/hub/passes.js';
import { erasePerson } from '../../../../sync/hub/person-data.js';
import { parseWorkerList } from '../../../../sync/hub/registry-upload.js';
import { keptLabourLists } from '../../../../sync/hub/reports/scheduler.js';
import { SqliteHubStore } from '../../../../sync/hub/store.js';
import { LabourListBusyError, labourListFileName, labourListXlsx, makeLabourListXlsx, readLabourList } from '../../../../sync/hub/reports/labour-list.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { tempDir } from '../../../helpers/fixtures.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const NOW = Date.parse('2026-11-27T09:30:00Z'); // 16:30 in the province

/** A CV 2242 list as a company uploads it: Vietnamese headers, dd/mm/yyyy dates, two sites, a name a spreadsheet would take for a formula. */
const UPLOAD = Buffer.from(
  `\uFEFF${[
    'STT,Mã nhân viên,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Mã cơ sở,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin',
    '1,W-001,Nguyễn Thị Lan,1990,Nữ,079190000001,0912345601,"12 Lê Lợi, Thủ Đức",Tổ May 1,site-a,26/11/2026,Âm tính,2',
    '2,W-002,Trần Văn Bình,1985,Nam,079185000002,+84912345602,Dĩ An,Tổ May 2,site-b,27/11/2026,Dương tính,3',
    '3,W-003,"=HYPERLINK(""http://x"")",,,,,,Kho,site-a,,,0',
  ].join('\r\n')}\r\n`,
);

async function rowsOf(xlsx: Buffer): Promise<string[][]> {
  const book = new ExcelJS.Workbook();
  await book.xlsx.load(xlsx as unknown as ArrayBuffer);
  const out: string[][] = [];
  book.worksheets[0]!.eachRow((row) => out.push(Array.from((row.values as unknown[]).slice(1), (v) => (v === null || v === undefined ? '' : String(v)))));
  return out;
}

describe.each(directoryBackends)('CV 2242 labour list on $name', (backend) => {
  let d: HubDirectory | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  async function seeded(): Promise<HubDirectory> {
    d = await HubDirectory.open(await backend.target());
    await d.addOrganisation({ id: 'org-a', name: 'Công ty May Tây Ninh', kind: 'company' }, NOW);
    await d.addOrganisation({ id: 'org-b', name: 'Other', kind: 'company' }, NOW);
    await d.addSite({ id: 'site-a', orgId: 'org-a' });
    await d.addSite({ id: 'site-b', orgId: 'org-a' });
    await d.addSite({ id: 'site-c', orgId: 'org-b' });
    await d.uploadWorkers('org-a', await parseWorkerList(UPLOAD, ZONE, NOW), { nowMs: NOW });
    return d;
  }

  it('is the form with a title row, and re-uploads unchanged: every field the same, nothing changed on the roster', async () => {
    const dir = await seeded();
    const list = (await readLabourList(dir.sql, 'org-a', NOW))!;
    const xlsx = await labourListXlsx(list, ZONE);
    const rows = await rowsOf(xlsx);
    expect(rows[0]![0]).toBe('DANH SÁCH NGƯỜI LAO ĐỘNG (CV 2242) — Công ty May Tây Ninh (org-a) — ngày 27/11/2026');
    expect(rows[1]).toEqual(['STT', 'Mã nhân viên', 'Họ và tên', 'Năm sinh', 'Giới tính', 'Số CCCD/CMND', 'Số điện thoại', 'Nơi ở hiện tại', 'Bộ phận/Tổ', 'Mã cơ sở', 'Ngày xét nghiệm', 'Kết quả xét nghiệm', 'Số mũi vắc xin', 'Ghi chú']);
    // By team, then name; what a spreadsheet would run as a formula (a name, a +84 phone) guarded with an apostrophe.
    expect(rows.slice(2)).toEqual([
      ['1', 'W-003', `'=HYPERLINK("http://x")`, '', '', '', '', '', 'Kho', 'site-a', '', '', '0'],
      ['2', 'W-001', 'Nguyễn Thị Lan', '1990', 'Nữ', '079190000001', '0912345601', '12 Lê Lợi, Thủ Đức', 'Tổ May 1', 'site-a', '26/11/2026', 'Âm tính', '2'],
      ['3', 'W-002', 'Trần Văn Bình', '1985', 'Nam', '079185000002', `'+84912345602`, 'Dĩ An', 'Tổ May 2', 'site-b', '27/11/2026', 'Dương tính', '3'],
    ]);

    const original = await parseWorkerList(UPLOAD, ZONE, NOW);
    const again = await parseWorkerList(xlsx, ZONE, NOW + 60_000);
    const fields = (ws: typeof original) => ws.map(({ line: _line, ...w }) => w).sort((a, b) => a.workerId.localeCompare(b.workerId));
    expect(fields(again)).toEqual(fields(original));
    const r = await dir.uploadWorkers('org-a', again, { nowMs: NOW + 60_000 });
    expect(r).toMatchObject({ changed: 0, removed: 0, workers: 3 });
    expect((await readLabourList(dir.sql, 'org-a', NOW + 60_000))!.rows).toEqual(list.rows);
  });

  it("is taken out of the kept lists when a worker on it is erased (Decree 13): the kept list goes, the next one is made without them", async () => {
    const dir = await seeded();
    await dir.sql.write((tx) => tx.run(sql`INSERT INTO labour_lists (org_id, day, made_ms, workers, body) VALUES ('org-a', '2026-11-27', ${NOW}, 3, ${Buffer.from('xlsx')})`));
    await dir.sql.write((tx) => tx.run(sql`INSERT INTO labour_lists (org_id, day, made_ms, workers, body) VALUES ('org-b', '2026-11-27', ${NOW}, 0, ${Buffer.from('xlsx')})`));
    const files = tempDir('safegate-labour-erase-');
    const store = new SqliteHubStore(join(files.path, 'hub.db'));
    try {
      const erased = await erasePerson({ directory: dir, passes: new PassRegistry({ sql: dir.sql }), store, audit: () => {}, now: () => NOW }, 'W-002', 'op');
      expect(erased.keptLabourListsDeleted).toBe(1);
      expect((await keptLabourLists(dir.sql)).map((l) => l.orgId)).toEqual(['org-b']);
      expect((await readLabourList(dir.sql, 'org-a', NOW))!.rows.map((r) => r.workerId)).toEqual(['W-003', 'W-001']);
    } finally {
      await store.close();
      files.remove();
    }
  });

  it("holds one organisation's workers only; an unknown organisation has no list; the file is named by organisation and province day", async () => {
    const dir = await seeded();
    await dir.uploadWorkers('org-b', await parseWorkerList(Buffer.from('Mã nhân viên,Họ và tên\nW-900,Người Khác\n'), ZONE, NOW), { nowMs: NOW });
    expect((await readLabourList(dir.sql, 'org-a', NOW))!.rows.map((r) => r.workerId)).toEqual(['W-003', 'W-001', 'W-002']);
    expect((await readLabourList(dir.sql, 'org-b', NOW))!.rows.map((r) => r.workerId)).toEqual(['W-900']);
    expect(await readLabourList(dir.sql, 'nobody', NOW)).toBeUndefined();
    // 23:30 UTC on the 27th is already the 28th in the province.
    expect(labourListFileName('org-a', Date.parse('2026-11-27T23:30:00Z'), ZONE)).toBe('danh-sach-nld-org-a-2026-11-28.xlsx');
  });
});

/** decode(encode(x)) == x for the labour list: any list the upload accepts comes back from its XLSX field for field. */
describe('CV 2242 labour list as a codec', () => {
  const text = (max: number) =>
    fc
      .string({ unit: fc.constantFrom(...'aăâbcdđeêghiklmnoôơpqrstuưvxyAĐÊỄỨ ắằẳẵặếềểễệốồổỗộớờởỡợứừửữự0123456789=+-@\'",;.()/'), maxLength: max })
      .map((s) => s.trim());
  const day = fc.integer({ min: 0, max: 3_000 }).map((n) => Date.parse('2018-01-01T00:00:00+07:00') + n * 86_400_000);
  const row = fc.record({
    workerId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/),
    fullName: text(120).filter((s) => s.length > 0),
    birthYear: fc.option(fc.integer({ min: 1950, max: 2005 }), { nil: null }),
    sex: fc.constantFrom('male' as const, 'female' as const, null),
    idNumber: fc.option(fc.oneof(fc.stringMatching(/^\d{12}$/), fc.stringMatching(/^\d{9}$/)), { nil: null }),
    phone: fc.option(fc.oneof(fc.stringMatching(/^0\d{9}$/), fc.stringMatching(/^\+84\d{9}$/)), { nil: null }),
    residence: fc.option(text(300).filter((s) => s.length > 0), { nil: null }),
    team: text(120),
    siteId: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
    testResult: fc.constantFrom('negative' as const, 'positive' as const, null),
    testedAtMs: fc.option(day, { nil: null }),
    vaccineDoses: fc.integer({ min: 0, max: 99 }),
  });

  it("keeps a value that itself starts with an apostrophe before a formula character (the guard's own mark)", async () => {
    const base = { birthYear: null, sex: null, idNumber: null, phone: null, residence: null, team: '', siteId: 'site-a', testResult: null, testedAtMs: null, vaccineDoses: 0 };
    const rows = [
      { ...base, workerId: 'W-1', fullName: "'=x" },
      { ...base, workerId: 'W-2', fullName: "''-1", residence: "'@home" },
      { ...base, workerId: 'W-3', fullName: '=x', team: "'" },
    ];
    const back = await parseWorkerList(await labourListXlsx({ orgId: 'org-a', orgName: 'A', madeMs: NOW, rows }, ZONE), ZONE, NOW);
    expect(back.map(({ line: _line, ...w }) => w)).toEqual(rows);
  });

  it('reads back every field of every row', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(row, { selector: (r) => r.workerId, minLength: 1, maxLength: 6 }), async (rows) => {
        const xlsx = await labourListXlsx({ orgId: 'org-a', orgName: '=Công ty "A"', madeMs: NOW, rows }, ZONE);
        const back = await parseWorkerList(xlsx, ZONE, NOW);
        expect(back.map(({ line: _line, ...w }) => w)).toEqual(rows);
      }),
      { numRuns: 40 },
    );
  });
});

describe('CV 2242 labour list made off the event loop', () => {
  const list = {
    orgId: 'org-a',
    orgName: 'A',
    madeMs: NOW,
    rows: [{ workerId: 'W-1', fullName: '=Lan', birthYear: 1990, sex: 'female' as const, idNumber: '079190000001', phone: '0912345601', residence: null, team: 'Tổ 1', siteId: 'site-a', testResult: 'negative' as const, testedAtMs: Date.parse('2026-11-26T00:00:00+07:00'), vaccineDoses: 2 }],
  };

  it('writes the same workbook in a worker thread, two at a time; a third at once is refused as busy, and one not done in time too', async () => {
    const [a, b, c] = [makeLabourListXlsx(list, ZONE), makeLabourListXlsx(list, ZONE), makeLabourListXlsx(list, ZONE)];
    await expect(c).rejects.toThrow(LabourListBusyError);
    for (const xlsx of await Promise.all([a, b])) {
      expect((await parseWorkerList(xlsx, ZONE, NOW)).map(({ line: _line, ...w }) => w)).toEqual(list.rows);
    }
    await expect(makeLabourListXlsx(list, ZONE, { timeoutMs: 1 })).rejects.toThrow(/was not made within/);
    // Once those are done, the next is made again.
    expect((await parseWorkerList(await makeLabourListXlsx(list, ZONE), ZONE, NOW)).map((w) => w.workerId)).toEqual(['W-1']);
  });
});
