/**
 * A spreadsheet opening a CSV runs any cell that starts with = + - @ (or a tab or CR before one) as
 * a formula; names and reasons come from outside, so such cells are prefixed with an apostrophe
 * (OWASP "CSV injection"). Every file the kiosk or the hub writes for a spreadsheet uses this one
 * guard (the kiosk's entry-log export, the hub's labour list).
 */
export function guardCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/**
 * A cell read back from a file this guard wrote: the apostrophe it added is not part of the value
 * (as a spreadsheet, too, treats a leading apostrophe as "text follows").
 */
export function unguardCell(value: string): string {
  return /^'[=+\-@\t\r]/.test(value) ? value.slice(1) : value;
}
