/**
 * The citizen ID card (CCCD) QR text, documented layout only (DOMAIN.md): seven fields separated by
 * `|`: 12-digit ID number, old 9-digit ID number or empty, full name, date of birth (ddmmyyyy, a real
 * date), sex (Nam | Nữ), permanent address, date of issue (ddmmyyyy, a real date).
 *
 * Anything else is refused with a CccdRefusal; the refusal's detail never repeats the input (it is
 * personal data). Never throws. New layouts are added when real samples have been checked.
 */
import type { CccdCard, CccdParse, CccdRefusal } from './visitor.js';

/** Longer than any real card's text (about 150-250 characters); bounds the work on hostile input. */
export const CCCD_TEXT_MAX = 512;
export const CCCD_NAME_MAX = 120;
const ADDRESS_MAX = 300;

/**
 * Whether a scanned text is an attempt at a CCCD code, so a malformed one is refused with the CCCD
 * reason rather than the pass reader's: it holds at least one `|` and its first field is 1 to 16 ASCII
 * digits. Pass codes (SG1..., base45, HC1:) never contain `|`.
 */
export function looksLikeCccd(text: string): boolean {
  if (typeof text !== 'string' || text.length === 0) return false;
  const bar = text.indexOf('|');
  if (bar < 1 || bar > 16) return false;
  for (let i = 0; i < bar; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function refuse(reason: CccdRefusal, detail: string): CccdParse {
  return { ok: false, reason, detail };
}

/** A real calendar date written ddmmyyyy, year 1900..2100. */
export function isDdmmyyyy(s: string): boolean {
  if (!/^[0-9]{8}$/.test(s)) return false;
  const d = Number(s.slice(0, 2));
  const m = Number(s.slice(2, 4));
  const y = Number(s.slice(4, 8));
  if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Letters (any script, with combining marks), spaces between words, and . ' - as in names. */
const NAME = /^[\p{L}\p{M}][\p{L}\p{M} .'-]*$/u;

export function parseCccd(text: string): CccdParse {
  if (typeof text !== 'string') return refuse('not-cccd', 'not a text');
  if (text.length > CCCD_TEXT_MAX) return refuse('too-long', `longer than ${CCCD_TEXT_MAX} characters`);
  if (!looksLikeCccd(text)) return refuse('not-cccd', 'not a citizen ID card code (fields separated by |, ID number first)');
  // Some readers add a trailing newline; nothing else is trimmed.
  const fields = text.replace(/\r?\n$/, '').split('|');
  if (fields.length !== 7) return refuse('field-count', `expected 7 fields separated by |, found ${fields.length}`);
  const [idNumber, oldIdNumber, rawName, dateOfBirth, sex, address, issuedOn] = fields as [
    string, string, string, string, string, string, string,
  ];
  if (!/^[0-9]{12}$/.test(idNumber)) return refuse('id-number', 'the ID number is not 12 digits');
  if (!/^([0-9]{9})?$/.test(oldIdNumber)) return refuse('old-id-number', 'the old ID number is neither empty nor 9 digits');
  const fullName = rawName.normalize('NFC').trim();
  if (
    fullName.length === 0 ||
    fullName.length > CCCD_NAME_MAX ||
    CONTROL.test(fullName) ||
    !NAME.test(fullName) ||
    /\s{2,}/.test(fullName)
  ) {
    return refuse('name', `the name is empty, longer than ${CCCD_NAME_MAX} characters or has characters a name does not`);
  }
  if (!isDdmmyyyy(dateOfBirth)) return refuse('date-of-birth', 'the date of birth is not a real date written ddmmyyyy');
  const sexNfc = sex.normalize('NFC');
  if (sexNfc !== 'Nam' && sexNfc !== 'Nữ') return refuse('sex', 'the sex field is neither Nam nor Nữ');
  if (address.length > ADDRESS_MAX || CONTROL.test(address)) {
    return refuse('not-cccd', 'the address field is too long or has control characters');
  }
  if (!isDdmmyyyy(issuedOn)) return refuse('issued-on', 'the date of issue is not a real date written ddmmyyyy');
  const card: CccdCard = { idNumber, oldIdNumber, fullName, dateOfBirth, sex: sexNfc, address, issuedOn };
  return { ok: true, card };
}
