import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import type { WorkerRecord } from '../../../base/common/types.js';
import { guardCell } from '../../../base/common/cell-guard.js';
import { dayKeyIn } from '../../../base/common/time.js';
import type { HubSqlExecutor } from '../hub-sql.js';

/**
 * The CV 2242 labour list (official letter 2242/LĐTBXH-TLĐ-PTM) of one organisation as the hub holds
 * it now: every worker on its uploaded list with what the form asks (name, year of birth, sex, ID
 * number, phone, current residence, team, latest test date and result, vaccine doses), as an XLSX
 * workbook an organisation can hand to the authorities and upload again unchanged. The columns and
 * their Vietnamese headers are ones the worker-list upload reads (sync/hub/registry-upload.ts), so a
 * list exported and re-uploaded round-trips; the title row above the table is skipped on upload.
 *
 * Where the data comes from: the hub-only columns from `hub_workers`, the decision fields (test
 * result and date, doses) from the worker's live roster record, which the upload wrote and the
 * health side keeps current. It holds ID numbers, phones and health data: it leaves the hub only
 * through the console (a manager's own organisation, audited) or the operator's CLI, never by e-mail.
 */

/** One row of the form. */
export interface LabourListRow {
  workerId: string;
  fullName: string;
  birthYear: number | null;
  sex: 'male' | 'female' | null;
  idNumber: string | null;
  phone: string | null;
  residence: string | null;
  team: string;
  siteId: string;
  testResult: 'negative' | 'positive' | null;
  testedAtMs: number | null;
  vaccineDoses: number;
}

export interface LabourList {
  orgId: string;
  orgName: string;
  /** When it was read from the directory (epoch ms). */
  madeMs: number;
  rows: LabourListRow[];
}

/** The form's columns, in order: header (Vietnamese, as the upload reads it) and how a row fills it. */
const COLUMNS: readonly { header: string; width: number; cell: (r: LabourListRow, n: number, zone: string) => string | number | null }[] = [
  { header: 'STT', width: 6, cell: (_r, n) => n },
  { header: 'Mã nhân viên', width: 14, cell: (r) => r.workerId },
  { header: 'Họ và tên', width: 28, cell: (r) => r.fullName },
  { header: 'Năm sinh', width: 10, cell: (r) => r.birthYear },
  { header: 'Giới tính', width: 10, cell: (r) => (r.sex === 'male' ? 'Nam' : r.sex === 'female' ? 'Nữ' : null) },
  { header: 'Số CCCD/CMND', width: 16, cell: (r) => r.idNumber },
  { header: 'Số điện thoại', width: 14, cell: (r) => r.phone },
  { header: 'Nơi ở hiện tại', width: 36, cell: (r) => r.residence },
  { header: 'Bộ phận/Tổ', width: 18, cell: (r) => r.team },
  { header: 'Mã cơ sở', width: 14, cell: (r) => r.siteId },
  { header: 'Ngày xét nghiệm', width: 16, cell: (r, _n, zone) => (r.testedAtMs === null ? null : formDate(r.testedAtMs, zone)) },
  { header: 'Kết quả xét nghiệm', width: 18, cell: (r) => (r.testResult === 'negative' ? 'Âm tính' : r.testResult === 'positive' ? 'Dương tính' : null) },
  { header: 'Số mũi vắc xin', width: 14, cell: (r) => r.vaccineDoses },
  { header: 'Ghi chú', width: 20, cell: () => null },
];

/** The form's date (dd/mm/yyyy) of the day that holds `ms` in the province zone. */
export function formDate(ms: number, zone: string): string {
  const [y, m, d] = dayKeyIn(ms, zone).split('-');
  return `${d}/${m}/${y}`;
}

/** The organisation's list as the directory holds it now, by team then name then id; undefined for an unknown organisation. */
export async function readLabourList(db: HubSqlExecutor, orgId: string, nowMs: number): Promise<LabourList | undefined> {
  const org = await db.get<{ name: string }>(sql`SELECT name FROM organisations WHERE org_id = ${orgId}`);
  if (!org) return undefined;
  const rows = await db.all<{
    workerId: string;
    fullName: string;
    birthYear: number | null;
    sex: string | null;
    idNumber: string | null;
    phone: string | null;
    residence: string | null;
    team: string;
    siteId: string;
    record: string | null;
  }>(
    sql`SELECT w.worker_id AS "workerId", w.full_name AS "fullName", w.birth_year AS "birthYear", w.sex, w.id_number AS "idNumber", w.phone, w.residence, w.team,
               w.site_id AS "siteId", r.value AS record
        FROM hub_workers w LEFT JOIN records r ON r.stream = 'roster' AND r.key = w.worker_id AND r.deleted = 0
        WHERE w.org_id = ${orgId}`,
  );
  const list = rows.map((w): LabourListRow => {
    const record = w.record ? (JSON.parse(w.record) as WorkerRecord) : undefined;
    return {
      workerId: w.workerId,
      fullName: w.fullName,
      birthYear: w.birthYear,
      sex: w.sex === 'male' || w.sex === 'female' ? w.sex : null,
      idNumber: w.idNumber,
      phone: w.phone,
      residence: w.residence,
      team: w.team,
      siteId: w.siteId,
      testResult: record?.testResult ?? null,
      testedAtMs: record?.testedAt ?? null,
      vaccineDoses: record?.vaccineDoses ?? 0,
    };
  });
  const byText = (a: string, b: string) => a.localeCompare(b, 'vi');
  list.sort((a, b) => byText(a.team, b.team) || byText(a.fullName, b.fullName) || (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));
  return { orgId, orgName: org.name, madeMs: nowMs, rows: list };
}

/**
 * The list as an XLSX workbook: a title row (organisation, date in the province zone), the form's
 * header, one row per worker. Every text cell goes through the kiosk export's formula guard (a name
 * is the organisation's own text; a spreadsheet must never run it). Written with ExcelJS's streaming
 * writer, row by row (a 100,000-worker list does not hold a whole workbook model in memory); the hub
 * calls it through `makeLabourListXlsx`, off its event loop.
 */
export async function labourListXlsx(list: LabourList, zone: string): Promise<Buffer> {
  // Loaded when a list is made: a hub process that never makes one need not carry ExcelJS.
  const { default: ExcelJS } = await import('exceljs');
  const { PassThrough } = await import('node:stream');
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const book = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  book.creator = 'SafeGate';
  book.created = new Date(list.madeMs);
  const sheet = book.addWorksheet('Danh sách NLĐ', { views: [{ state: 'frozen', ySplit: 2 }] });
  // Phone and ID numbers stay text (a leading 0 is part of them), whatever a spreadsheet would guess.
  const asText = new Set(['Số CCCD/CMND', 'Số điện thoại']);
  sheet.columns = COLUMNS.map((c) => ({ width: c.width, ...(asText.has(c.header) ? { style: { numFmt: '@' } } : {}) }));
  const title = sheet.addRow([guardCell(`DANH SÁCH NGƯỜI LAO ĐỘNG (CV 2242) — ${list.orgName} (${list.orgId}) — ngày ${formDate(list.madeMs, zone)}`)]);
  title.font = { bold: true, size: 13 };
  sheet.mergeCells(1, 1, 1, COLUMNS.length);
  title.commit();
  const header = sheet.addRow(COLUMNS.map((c) => c.header));
  header.font = { bold: true };
  header.commit();
  list.rows.forEach((r, i) => {
    sheet
      .addRow(
        COLUMNS.map((c) => {
          const v = c.cell(r, i + 1, zone);
          return typeof v === 'string' ? guardCell(v) : v;
        }),
      )
      .commit();
  });
  sheet.commit();
  await book.commit();
  return Buffer.concat(chunks);
}

/** A labour list that could not be made now (too many at once, or not within the time). */
export class LabourListBusyError extends Error {
  override name = 'LabourListBusyError';
}

/** Workbooks written at once by one hub process; another asks again later. */
const MAX_AT_ONCE = 2;
const MAKE_TIMEOUT_MS = 5 * 60_000;
let making = 0;

/**
 * `labourListXlsx` in a worker thread, so the hub's event loop (the broker link, the console, the
 * kiosks' downloads) keeps answering while a large list is written (100,000 workers take seconds of
 * CPU). At most two at a time per process; a third, or one not done in five minutes, is a
 * LabourListBusyError, never a crash of the hub.
 */
export async function makeLabourListXlsx(list: LabourList, zone: string, limits: { timeoutMs?: number } = {}): Promise<Buffer> {
  if (making >= MAX_AT_ONCE) throw new LabourListBusyError(`${making} labour lists are being made: try again in a minute`);
  making++;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const workerOptions = { workerData: { list, zone }, resourceLimits: { maxOldGenerationSizeMb: 1024 } };
      // Run from the sources (tests, tsx), the worker is the .ts file: the thread registers tsx's loader first.
      const fromSource = import.meta.url.endsWith('.ts');
      const file = new URL(fromSource ? './labour-list-worker.ts' : './labour-list-worker.js', import.meta.url);
      const worker = fromSource
        ? new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(file.href)}); });`, { ...workerOptions, eval: true })
        : new Worker(file, workerOptions);
      let settled = false;
      const settle = (err: Error | undefined, xlsx?: Buffer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        if (err) reject(err);
        else resolve(xlsx!);
      };
      const timeoutMs = limits.timeoutMs ?? MAKE_TIMEOUT_MS;
      const timer = setTimeout(() => settle(new LabourListBusyError(`the labour list was not made within ${Math.round(timeoutMs / 1000)} s: try again later`)), timeoutMs);
      worker.once('message', (m: { ok: true; xlsx: Uint8Array } | { ok: false; error: string }) =>
        m.ok ? settle(undefined, Buffer.from(m.xlsx.buffer, m.xlsx.byteOffset, m.xlsx.byteLength)) : settle(new Error(`the labour list could not be made: ${m.error}`)),
      );
      worker.once('error', (err) => settle(new Error(`the labour list could not be made: ${err.message}`)));
      worker.once('exit', (code) => settle(new Error(`the labour list could not be made (its worker thread ended with code ${code})`)));
    });
  } finally {
    making--;
  }
}

/** The file name a download or the CLI suggests: the organisation and the day in the province zone. */
export function labourListFileName(orgId: string, madeMs: number, zone: string): string {
  return `danh-sach-nld-${orgId}-${dayKeyIn(madeMs, zone)}.xlsx`;
}
