import { stringify } from 'csv-stringify/sync';

/**
 * A spreadsheet opening a CSV runs any cell that starts with = + - @ (or a tab or CR before one) as
 * a formula; names and reasons come from outside, so such cells are prefixed with an apostrophe
 * (OWASP "CSV injection"). Every file the kiosk or the hub writes for a spreadsheet uses this one
 * guard (the kiosk's entry-log export, the hub's labour list).
 */
export function guardCell(value: string): string {
  // A value that already starts with apostrophes before such a character gets one more, so that
  // unguardCell (which takes exactly one off) gives it back as it was.
  return /^'*[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/**
 * A cell read back from a file this guard wrote: the apostrophe it added is not part of the value
 * (as a spreadsheet, too, treats a leading apostrophe as "text follows").
 */
export function unguardCell(value: string): string {
  return /^'+[=+\-@\t\r]/.test(value) ? value.slice(1) : value;
}

/**
 * Rows as a CSV file for a spreadsheet: every cell through the guard above, CRLF line ends, UTF-8
 * with a BOM (without it Excel reads Vietnamese as mojibake). The one writer of such files (the
 * kiosk's entry-log export, the hub's trace export).
 */
export function spreadsheetCsv(rows: readonly (readonly string[])[]): Uint8Array {
  return new TextEncoder().encode('\uFEFF' + stringify(rows.map((row) => row.map(guardCell)), { record_delimiter: 'windows' }));
}
