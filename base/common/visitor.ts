/**
 * Visitors (issue 14): people who are not on a roster, registered at a kiosk by the QR on their
 * chip-based citizen ID card (CCCD, DOMAIN.md) or by an EU-format health certificate (HC1).
 *
 * What is kept (Decree 13/2023): a keyed hash of the ID number (the visitor id below: a pseudonym,
 * searchable by whoever holds the key, so the key is root-only), the name and the visit (whom, why,
 * when, consent, approval) for the trace period; the address and date of birth never, and nothing
 * at all before the visitor agreed to the notice on the screen.
 */

/**
 * A visitor's pseudonym: `v` + the key id (1-8 lowercase letters/digits) + `.` + 32 lowercase hex
 * (the first 128 bits of HMAC-SHA256(key, 'cccd:' + 12-digit number), or 'dcc:' + the certificate
 * identifier). Keys rotate no faster than the retention period; retired keys are kept for matching
 * so a visitor scans out (and is traced) across a rotation.
 */
export const VISITOR_ID_PATTERN = /^v[a-z0-9]{1,8}\.[0-9a-f]{32}$/;

/** What a CCCD QR holds (the documented layout); only `idNumber` (hashed) and `name` are ever kept. */
export interface CccdCard {
  /** 12 digits. */
  idNumber: string;
  /** 9 digits or empty. */
  oldIdNumber: string;
  fullName: string;
  /** ddmmyyyy as printed; validated as a real date, never kept. */
  dateOfBirth: string;
  sex: 'Nam' | 'Nữ';
  /** Never kept. */
  address: string;
  /** ddmmyyyy. */
  issuedOn: string;
}

/** Why a text is not a CCCD code of the documented layout (MALFORMED_CODE with this as its detail). */
export type CccdRefusal =
  | 'not-cccd'
  | 'field-count'
  | 'id-number'
  | 'old-id-number'
  | 'name'
  | 'date-of-birth'
  | 'sex'
  | 'issued-on'
  | 'too-long';

export type CccdParse = { ok: true; card: CccdCard } | { ok: false; reason: CccdRefusal; detail: string };

/** A visit's details as the visitor gave them (the purpose and host from the settings' lists, or free words). */
export interface VisitDetails {
  /** Whom they visit (a name or department from `visitors.hosts`, or free words), at most 80 characters. */
  host: string;
  /** Why (a purpose from `visitors.purposes`, or free words), at most 80 characters. */
  purpose: string;
}

export const VISIT_TEXT_MAX = 80;

/** The notice's version the visitor agreed to (logged with the consent); bump it when the words change. */
export const VISITOR_NOTICE_VERSION = 1;

/** How long after the scan of their card a visitor may finish registering (memory only, then forgotten). */
export const VISITOR_TOKEN_TTL_MS = 5 * 60_000;

export type VisitorState = 'pending-approval' | 'approved' | 'refused' | 'inside' | 'left';

/** A registered visitor as the supervisor screen lists them (waiting, approved, inside). */
export interface VisitorView {
  visitorId: string;
  name: string;
  host: string;
  purpose: string;
  registeredAtMs: number;
  state: VisitorState;
  /** The named supervisor who approved (or refused) them, and when. */
  decidedBy: { supervisorId: string; name: string | null; atMs: number } | null;
  /** How they identified themselves. */
  credentialKind: 'cccd' | 'dcc';
}
