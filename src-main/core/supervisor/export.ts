import { DENY_REASONS } from '../../../base/common/reasons.js';
import type { EntryLogRow } from './entry-log.js';
import { localTimeIn } from '../../../base/common/time.js';
import { guardCell, spreadsheetCsv } from '../../../base/common/cell-guard.js';
import { OVERRIDE_REASONS, OVERRIDE_REASON_CODES, type OverrideReasonCode } from '../../../base/common/policy/override.js';

export type ExportFormat = 'csv' | 'xlsx';
export type ExportLanguage = 'vi' | 'en';

const HEADERS: Record<ExportLanguage, string[]> = {
  vi: [
    'Số sự kiện', 'Thời gian', 'Chiều', 'Kết quả', 'Mã người lao động', 'Họ tên', 'Tổ', 'Lý do', 'Nguồn quét',
    'Cho qua bởi quản lý (sự kiện)', 'Quản lý cho qua', 'Lý do cho qua', 'Ghi chú cho qua',
  ],
  en: [
    'Event', 'Time', 'Direction', 'Outcome', 'Worker id', 'Name', 'Team', 'Reasons', 'Scanned by',
    'Let through by supervisor (event)', 'Overridden by', 'Override reason', 'Override note',
  ],
};
const WORDS: Record<ExportLanguage, Record<string, string>> = {
  vi: { entry: 'Vào', exit: 'Ra', allow: 'Cho phép', deny: 'Từ chối' },
  en: { entry: 'Entry', exit: 'Exit', allow: 'Allowed', deny: 'Denied' },
};

function cells(r: EntryLogRow, lang: ExportLanguage, zone: string): string[] {
  return [
    String(r.seq),
    // Province time, e.g. 2026-11-26 07:58:03, whatever zone the kiosk itself is set to.
    localTimeIn(r.atMs, zone),
    WORDS[lang][r.direction]!,
    WORDS[lang][r.decision]!,
    r.workerId ?? '',
    r.displayName ?? '',
    r.team ?? '',
    r.reasons.map((c) => DENY_REASONS[c][lang]).join('; '),
    r.source,
    r.overriddenBySeq === null ? '' : String(r.overriddenBySeq),
    // Who and why, on both rows of an override (the deny and the allow it made).
    r.override === null ? '' : r.override.supervisorId === null ? (lang === 'vi' ? '(trước khi có tên quản lý)' : '(before named supervisors)') : `${r.override.supervisorName ?? ''} (${r.override.supervisorId})`,
    r.override === null ? '' : overrideReasonWords(r.override.reasonCode, lang),
    r.override?.note ?? '',
  ];
}

function overrideReasonWords(code: string, lang: ExportLanguage): string {
  return (OVERRIDE_REASON_CODES as readonly string[]).includes(code) ? OVERRIDE_REASONS[code as OverrideReasonCode][lang] : code;
}

/** The one formula guard (base/common/cell-guard.ts), re-exported where the kiosk's callers look for it. */
export { guardCell };

/** The log as a file: CSV in UTF-8 with a BOM (so Excel shows Vietnamese), or XLSX. */
export async function exportEntryLog(rows: Iterable<EntryLogRow>, format: ExportFormat, lang: ExportLanguage, zone: string): Promise<Uint8Array> {
  const data = [...rows].map((r) => cells(r, lang, zone));
  if (format === 'csv') {
    return spreadsheetCsv([HEADERS[lang], ...data]);
  }
  // Loaded on first export only: ExcelJS is large, and a screenless unit never exports.
  const { default: ExcelJS } = await import('exceljs');
  const book = new ExcelJS.Workbook();
  book.creator = 'SafeGate';
  const sheet = book.addWorksheet(lang === 'vi' ? 'Nhật ký ra vào' : 'Entry log', { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.addRow(HEADERS[lang]).font = { bold: true };
  // ExcelJS writes strings as text cells (never formulas), so no guard is needed here.
  for (const row of data) sheet.addRow(row);
  sheet.columns.forEach((c, i) => (c.width = [10, 20, 8, 10, 14, 26, 16, 40, 10, 14, 24, 30, 40][i] ?? 14));
  return new Uint8Array(await book.xlsx.writeBuffer());
}
