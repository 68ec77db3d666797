import { parse as parseCsv } from 'csv-parse/sync';
import type { CellValue } from 'exceljs';
import { z } from 'zod';
import { identifierSchema, workerIdSchema } from '../../base/common/ids.js';
import { parseInstant } from '../../base/common/time.js';
import { unguardCell } from '../../base/common/cell-guard.js';

/**
 * An organisation's worker list on the CV 2242 labour-list form (official letter 2242/LĐTBXH-TLĐ-PTM):
 * one row per worker with full name, year of birth, sex, ID card number, phone, current residence,
 * department or team, test date and result and vaccine doses, plus the worker id their badge or pass
 * carries. Headers may be Vietnamese (with or without diacritics) or English.
 */
export interface ListedWorker {
  /** Where the worker is in the file, for refusals that need the registry (a site of another organisation). */
  line: number;
  workerId: string;
  fullName: string;
  birthYear: number | null;
  sex: 'male' | 'female' | null;
  idNumber: string | null;
  phone: string | null;
  residence: string | null;
  team: string;
  /** The site the worker works at when the list names one; otherwise the upload's site. */
  siteId: string | null;
  testResult: 'negative' | 'positive' | null;
  testedAtMs: number | null;
  vaccineDoses: number;
}

/**
 * What is wrong, as a stable code the console translates with its parameters (a field is named by
 * its key, e.g. fullName); `message` says the same in English for the CLI and logs.
 */
export type ListProblemCode =
  | 'file.tooLarge'
  | 'file.tooManyRows'
  | 'file.empty'
  | 'file.noWorker'
  | 'file.notCsv'
  | 'file.notXlsx'
  | 'file.inflatedTooLarge'
  | 'file.noWorksheet'
  | 'header.unknownColumn'
  | 'header.repeatedColumn'
  | 'header.missingColumn'
  | 'row.valueWithoutHeader'
  | 'row.duplicateWorker'
  | 'field.required'
  | 'field.tooLong'
  | 'field.identifier'
  | 'field.birthYear'
  | 'field.sex'
  | 'field.idNumber'
  | 'field.phone'
  | 'field.date'
  | 'field.dateFuture'
  | 'field.testResult'
  | 'field.doses'
  | 'field.invalid'
  | 'registry.siteNeeded'
  | 'registry.noSite'
  | 'registry.foreignSite'
  | 'registry.otherOrganisation'
  | 'registry.provinceList';

export type ListProblemParams = Record<string, string | number>;

export interface ListProblem {
  /** The line of the file (the header is line 1), or 0 for the file as a whole. */
  line: number;
  code: ListProblemCode;
  params: ListProblemParams;
  /** The problem in English (the CLI's text). */
  message: string;
}

export function listProblem(line: number, code: ListProblemCode, message: string, params: ListProblemParams = {}): ListProblem {
  return { line, code, params, message };
}

export class WorkerListError extends Error {
  constructor(readonly problems: ListProblem[]) {
    const shown = problems.slice(0, 50).map((p) => (p.line > 0 ? `line ${p.line}: ${p.message}` : p.message));
    const more = problems.length > 50 ? `\n... and ${problems.length - 50} more` : '';
    super(`worker list refused, nothing changed:\n${shown.join('\n')}${more}`);
    this.name = 'WorkerListError';
  }
}

type Field = Exclude<keyof ListedWorker, 'testedAtMs' | 'line'> | 'testedAt';

/** Accepted headers per field, written as {@link headerKey} makes them (no diacritics, lower case, single spaces). */
const HEADERS: Record<Field, readonly string[]> = {
  workerId: ['worker id', 'worker_id', 'employee id', 'ma nhan vien', 'ma nv', 'ma so nhan vien', 'ma cong nhan'],
  fullName: ['full name', 'name', 'ho va ten', 'ho ten'],
  birthYear: ['year of birth', 'birth year', 'nam sinh'],
  sex: ['sex', 'gender', 'gioi tinh'],
  idNumber: ['id card number', 'id number', 'so cccd', 'cccd', 'cmnd', 'so cmnd', 'so cccd cmnd', 'so cmnd cccd', 'cccd cmnd', 'cmnd cccd', 'so dinh danh'],
  phone: ['phone', 'phone number', 'so dien thoai', 'dien thoai', 'sdt'],
  residence: ['current residence', 'residence', 'noi o hien tai', 'cho o hien tai', 'dia chi noi o hien tai', 'dia chi cho o hien tai'],
  team: ['team', 'department', 'department team', 'department or team', 'bo phan', 'to', 'bo phan to', 'to doi', 'phong ban', 'bo phan to doi'],
  siteId: ['site', 'site id', 'co so', 'ma co so'],
  testedAt: ['test date', 'ngay xet nghiem', 'ngay lay mau'],
  testResult: ['test result', 'ket qua xet nghiem', 'ket qua'],
  vaccineDoses: ['vaccine doses', 'doses', 'so mui vac xin', 'so mui vaccine', 'so mui tiem', 'so mui'],
};
/** Columns the form has that the hub does not keep (the row number, notes). */
const IGNORED = new Set(['stt', 'no', 'tt', 'ghi chu', 'notes', 'note']);
const REQUIRED: readonly Field[] = ['workerId', 'fullName'];

export function headerKey(header: string): string {
  return header
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, ' ')
    .trim();
}

const FIELD_BY_HEADER = new Map<string, Field>(Object.entries(HEADERS).flatMap(([field, names]) => names.map((n) => [n, field as Field] as const)));

const optional = (s: string): string | null => (s === '' ? null : s);

/** A date as the form writes it (dd/mm/yyyy) or ISO 8601; plain dates are in the province zone. */
function parseListDate(text: string, zone: string): number | string {
  const vn = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(text);
  const iso = vn ? `${vn[3]}-${vn[2]!.padStart(2, '0')}-${vn[1]!.padStart(2, '0')}` : text;
  const ms = parseInstant(iso, zone);
  return ms instanceof Error ? `expected a date such as 25/11/2026 or 2026-11-25, got "${text}"` : ms;
}

function rowSchema(zone: string, nowMs: number) {
  const thisYear = new Date(nowMs).getUTCFullYear();
  // Control characters (NUL among them, which PostgreSQL cannot store in text) are no part of a name or an address.
  // eslint-disable-next-line no-control-regex
  const text = (max: number) => z.string().trim().max(max, `at most ${max} characters`).refine((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s), 'control characters are not allowed');
  return z.object({
    workerId: z.string().trim().min(1, 'required').pipe(workerIdSchema),
    fullName: text(120).min(1, 'required'),
    birthYear: z
      .string()
      .trim()
      .transform((s, ctx) => {
        if (s === '') return null;
        const y = /^\d{4}$/.test(s) ? Number(s) : NaN;
        if (!(y >= thisYear - 100 && y <= thisYear - 14)) {
          ctx.addIssue({ code: 'custom', message: `expected a year from ${thisYear - 100} to ${thisYear - 14}, got "${s}"`, params: { code: 'field.birthYear', min: thisYear - 100, max: thisYear - 14, value: s } });
          return z.NEVER;
        }
        return y;
      }),
    sex: z
      .string()
      .trim()
      .transform((s, ctx) => {
        const k = headerKey(s);
        if (k === '') return null;
        if (['nam', 'male', 'm'].includes(k)) return 'male' as const;
        if (['nu', 'female', 'f'].includes(k)) return 'female' as const;
        ctx.addIssue({ code: 'custom', message: `expected Nam/Nữ (male/female), got "${s}"`, params: { code: 'field.sex', value: s } });
        return z.NEVER;
      }),
    idNumber: z
      .string()
      .trim()
      .refine((s) => s === '' || /^(\d{9}|\d{12})$/.test(s), { message: 'expected 12 digits (CCCD) or 9 digits (CMND)', params: { code: 'field.idNumber' } })
      .transform(optional),
    phone: z
      .string()
      .transform((s) => s.replace(/[\s.()-]/g, ''))
      .refine((s) => s === '' || /^(\+84|0)\d{9,10}$/.test(s), { message: 'expected a Vietnamese phone number, e.g. 0912345678 or +84912345678', params: { code: 'field.phone' } })
      .transform(optional),
    residence: text(300).transform(optional),
    team: text(120),
    siteId: z
      .string()
      .trim()
      .refine((s) => s === '' || identifierSchema.safeParse(s).success, { message: 'site id: 1 to 64 characters: letters, digits, dot, underscore and dash', params: { code: 'field.identifier' } })
      .transform(optional),
    testedAt: z
      .string()
      .trim()
      .transform((s, ctx) => {
        if (s === '') return null;
        const r = parseListDate(s, zone);
        if (typeof r === 'string') {
          ctx.addIssue({ code: 'custom', message: r, params: { code: 'field.date', value: s } });
          return z.NEVER;
        }
        if (r > nowMs) {
          ctx.addIssue({ code: 'custom', message: `test date ${s} is in the future`, params: { code: 'field.dateFuture', value: s } });
          return z.NEVER;
        }
        return r;
      }),
    testResult: z
      .string()
      .trim()
      .transform((s, ctx) => {
        const k = headerKey(s);
        if (k === '') return null;
        if (['negative', 'am tinh', 'am', 'neg'].includes(k)) return 'negative' as const;
        if (['positive', 'duong tinh', 'duong', 'pos'].includes(k)) return 'positive' as const;
        ctx.addIssue({ code: 'custom', message: `expected âm tính/dương tính (negative/positive), got "${s}"`, params: { code: 'field.testResult', value: s } });
        return z.NEVER;
      }),
    vaccineDoses: z
      .string()
      .trim()
      .refine((s) => /^\d{0,2}$/.test(s), { message: 'expected a whole number from 0 to 99', params: { code: 'field.doses' } })
      .transform((s) => (s === '' ? 0 : Number(s))),
  });
}

const FIELD_LABEL: Record<Field, string> = {
  workerId: 'worker id',
  fullName: 'full name',
  birthYear: 'year of birth',
  sex: 'sex',
  idNumber: 'ID card number',
  phone: 'phone',
  residence: 'current residence',
  team: 'team',
  siteId: 'site',
  testedAt: 'test date',
  testResult: 'test result',
  vaccineDoses: 'vaccine doses',
};

/** A row's field refused by the schema, with the code its check gave (or one read from zod's own issue). */
function fieldProblem(line: number, issue: z.core.$ZodIssue): ListProblem {
  const field = String(issue.path[0]);
  const message = `${FIELD_LABEL[field as Field] ?? field}: ${issue.message}`;
  const given = issue.code === 'custom' ? (issue.params as { code?: ListProblemCode } | undefined) : undefined;
  if (given?.code) {
    const { code, ...params } = given as ListProblemParams & { code: ListProblemCode };
    return listProblem(line, code, message, { field, ...params });
  }
  if (issue.code === 'too_small') return listProblem(line, 'field.required', message, { field });
  if (issue.code === 'too_big') return listProblem(line, 'field.tooLong', message, { field, max: Number(issue.maximum) });
  if (field === 'workerId' || field === 'siteId') return listProblem(line, 'field.identifier', message, { field });
  return listProblem(line, 'field.invalid', message, { field, detail: issue.message });
}

const notXlsx = (err: Error) => listProblem(0, 'file.notXlsx', `not a readable XLSX workbook (${err.message})`, { detail: err.message });

/** Title rows a form may have above its table (the hub's own labour list has one: sync/hub/reports/labour-list.ts). */
const MAX_TITLE_ROWS = 5;

/**
 * Where the table starts: the first of the first few rows that names both required columns (rows
 * above it are the form's title); when none does, the first row, whose problems are then reported.
 */
function headerRowIndex(rows: readonly { cells: readonly string[] }[]): number {
  for (let i = 0; i < Math.min(rows.length, MAX_TITLE_ROWS + 1); i++) {
    const named = new Set(rows[i]!.cells.map((c) => FIELD_BY_HEADER.get(headerKey(c))));
    if (REQUIRED.every((f) => named.has(f))) return i;
  }
  return 0;
}

/**
 * Reads a worker list from its rows (the header is the first, after the form's title rows if any);
 * a cell the formula guard marked (base/common/cell-guard.ts) is read without the guard's
 * apostrophe. Every bad row is reported with its line; with any problem, WorkerListError is thrown
 * and nothing is returned, so a caller can never apply half a list.
 */
export function parseWorkerRows(rows: readonly { line: number; cells: readonly string[] }[], zone: string, nowMs: number): ListedWorker[] {
  if (rows.length > MAX_LIST_ROWS + 1) throw new WorkerListError([listProblem(0, 'file.tooManyRows', `the list has more than ${MAX_LIST_ROWS} rows`, { max: MAX_LIST_ROWS })]);
  const start = headerRowIndex(rows);
  const header = rows[start];
  const body = rows.slice(start + 1);
  if (!header) throw new WorkerListError([listProblem(0, 'file.empty', 'the file is empty (expected a header row and one row per worker)')]);
  const fields: (Field | null)[] = [];
  const headerProblems: ListProblem[] = [];
  const headerProblem = (code: ListProblemCode, message: string, params: ListProblemParams) => headerProblems.push(listProblem(header.line, code, `header: ${message}`, params));
  for (const raw of header.cells) {
    const key = headerKey(raw);
    if (key === '' || IGNORED.has(key)) {
      fields.push(null);
      continue;
    }
    const field = FIELD_BY_HEADER.get(key);
    if (!field) headerProblem('header.unknownColumn', `unknown column "${raw.trim()}"`, { column: raw.trim() });
    else if (fields.includes(field)) headerProblem('header.repeatedColumn', `column "${raw.trim()}" repeats ${FIELD_LABEL[field]}`, { column: raw.trim(), field });
    fields.push(field ?? null);
  }
  for (const f of REQUIRED) {
    const [first, last] = [HEADERS[f][0]!, HEADERS[f].at(-1)!];
    if (!fields.includes(f)) headerProblem('header.missingColumn', `missing column ${FIELD_LABEL[f]} (e.g. "${first}" or "${last}")`, { field: f, example: first, otherExample: last });
  }
  if (headerProblems.length) throw new WorkerListError(headerProblems);

  const schema = rowSchema(zone, nowMs);
  const problems: ListProblem[] = [];
  const seen = new Map<string, number>();
  const out: ListedWorker[] = [];
  for (const { line, cells } of body) {
    if (cells.every((c) => c.trim() === '')) continue;
    const record: Record<string, string> = Object.fromEntries(Object.keys(HEADERS).map((f) => [f, '']));
    fields.forEach((f, i) => {
      if (f) record[f] = unguardCell(cells[i] ?? '');
    });
    for (let i = fields.length; i < cells.length; i++) if (cells[i]!.trim() !== '') problems.push(listProblem(line, 'row.valueWithoutHeader', `a value in column ${i + 1}, which has no header`, { column: i + 1 }));
    const parsed = schema.safeParse(record);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(fieldProblem(line, issue));
      continue;
    }
    const { testedAt, ...w } = parsed.data;
    const first = seen.get(w.workerId);
    if (first !== undefined) {
      problems.push(listProblem(line, 'row.duplicateWorker', `worker id ${w.workerId} already appears on line ${first}`, { workerId: w.workerId, firstLine: first }));
      continue;
    }
    seen.set(w.workerId, line);
    out.push({ line, ...w, testedAtMs: testedAt });
  }
  if (problems.length) throw new WorkerListError(problems);
  if (out.length === 0) throw new WorkerListError([listProblem(0, 'file.noWorker', 'the list has no worker (an organisation with no workers left is removed with `safegate hub roster remove`)')]);
  return out;
}

/** CSV (UTF-8, optional BOM, comma or semicolon) into rows with their line numbers. */
export function csvRows(content: Buffer | string): { line: number; cells: string[] }[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const delimiter = (firstLine.match(/;/g)?.length ?? 0) > (firstLine.match(/,/g)?.length ?? 0) ? ';' : ',';
  try {
    const rows = parseCsv(text, { bom: true, delimiter, relax_column_count: true, info: true, skip_empty_lines: false }) as unknown as { record: string[]; info: { lines: number } }[];
    return rows.map((r) => ({ line: r.info.lines, cells: r.record }));
  } catch (err) {
    const e = err as Error & { lines?: number };
    const detail = e.message.replace(/^[A-Za-z_]+: /, '');
    throw new WorkerListError([listProblem(e.lines ?? 0, 'file.notCsv', `not a readable CSV file (${detail})`, { detail })]);
  }
}

function cellText(value: CellValue): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString().slice(0, 10); // Excel dates are day serials, read as UTC midnight
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((r) => r.text).join('');
    if ('text' in value && typeof value.text === 'string') return value.text;
    if ('result' in value) return cellText(value.result as CellValue);
    if ('error' in value) return String(value.error);
    return '';
  }
  return String(value);
}

/**
 * How much a workbook may unpack to. A real 200,000-row list unpacks to about 100 MB of XML; a
 * crafted one (a "zip bomb") can unpack a few kilobytes into gigabytes and take the hub down.
 */
export const MAX_WORKBOOK_INFLATED_BYTES = 256 * 1024 * 1024;

/**
 * Unpacks every part of the workbook once, counting bytes as they come out, and refuses it as soon
 * as the total passes `limit`. The sizes a ZIP declares are not trusted: they are what a bomb lies about.
 */
export async function checkWorkbookSize(content: Buffer, limit = MAX_WORKBOOK_INFLATED_BYTES): Promise<void> {
  const { default: JSZip } = await import('jszip');
  let zip: InstanceType<typeof JSZip>;
  try {
    zip = await JSZip.loadAsync(content);
  } catch (err) {
    throw new WorkerListError([notXlsx(err as Error)]);
  }
  const tooLarge = () => new WorkerListError([listProblem(0, 'file.inflatedTooLarge', `the workbook unpacks to more than ${limit / 1024 / 1024} MB; save it again from a spreadsheet program or send it as CSV`, { mb: limit / 1024 / 1024 })]);
  let total = 0;
  for (const file of Object.values(zip.files)) {
    if (file.dir) continue;
    await new Promise<void>((resolve, reject) => {
      const stream = file.nodeStream('nodebuffer');
      stream
        .on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (total > limit) {
            stream.pause(); // nothing more is unpacked
            reject(tooLarge());
          }
        })
        .on('error', (err: Error) => reject(new WorkerListError([notXlsx(err)])))
        .on('end', () => resolve());
    });
  }
}

/** The first worksheet of an XLSX workbook into rows with their line (row) numbers. */
export async function xlsxRows(content: Buffer, inflatedLimit = MAX_WORKBOOK_INFLATED_BYTES): Promise<{ line: number; cells: string[] }[]> {
  await checkWorkbookSize(content, inflatedLimit);
  // Loaded when a workbook comes: the hub's directory (and so every hub process) need not carry it.
  const { default: ExcelJS } = await import('exceljs');
  const book = new ExcelJS.Workbook();
  try {
    await book.xlsx.load(content as unknown as ArrayBuffer);
  } catch (err) {
    throw new WorkerListError([notXlsx(err as Error)]);
  }
  const sheet = book.worksheets[0];
  if (!sheet) throw new WorkerListError([listProblem(0, 'file.noWorksheet', 'the workbook has no worksheet')]);
  const out: { line: number; cells: string[] }[] = [];
  sheet.eachRow({ includeEmpty: false }, (row, line) => {
    const cells: string[] = [];
    for (let c = 1; c <= row.cellCount; c++) cells.push(cellText(row.getCell(c).value));
    out.push({ line, cells });
  });
  return out;
}

/** Far above a province's largest employer (a list of 100,000 workers is about 15 MB as CSV). */
export const MAX_LIST_BYTES = 32 * 1024 * 1024;
export const MAX_LIST_ROWS = 200_000;

/** Reads a CSV or XLSX worker list (told apart by the file's first bytes: an XLSX is a ZIP). */
export async function parseWorkerList(content: Buffer, zone: string, nowMs: number, limits: { inflatedBytes?: number } = {}): Promise<ListedWorker[]> {
  if (content.length > MAX_LIST_BYTES) throw new WorkerListError([listProblem(0, 'file.tooLarge', `the file is larger than ${MAX_LIST_BYTES / 1024 / 1024} MB; split the list or remove what is not a worker row`, { mb: MAX_LIST_BYTES / 1024 / 1024 })]);
  const isZip = content.length >= 4 && content.readUInt32LE(0) === 0x04034b50;
  return parseWorkerRows(isZip ? await xlsxRows(content, limits.inflatedBytes) : csvRows(content), zone, nowMs);
}
