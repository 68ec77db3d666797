import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { decode as cborDecode } from 'cborg';
import { z } from 'zod';
import { DENY_REASON_CODES, type DenyReason } from '../base/common/reasons.js';
import type { CredentialKind, Direction, ScanSource, VisitEventDetails, WireEvent } from '../base/common/types.js';
import { DEVICE_ID_PATTERN, IDENTIFIER_PATTERN, SUPERVISOR_ID_PATTERN, deviceIdSchema } from '../base/common/ids.js';
import { MAX_ANSWER_BITS } from '../base/common/declaration.js';
import { VISITOR_ID_PATTERN } from '../base/common/visitor.js';
import { TRIP_ID_PATTERN } from '../base/common/bus.js';
import { issuesText } from '../base/common/validation.js';

/**
 * The uplink batch: gate events as columns, compressed. Gate events are highly regular (the same
 * checkpoint, boot and policy; sequence numbers in order; people seconds apart), so what is left to
 * send is mostly who came and when.
 *
 * Format 2 (what encodeBatch writes for a gate kiosk's events):
 *
 *   byte 0            2
 *   varint            length R of the raw part
 *   bytes             Brotli(body), quality 5
 *   R bytes           the raw part: byte planes too random for Brotli to shrink, stored as they are
 *
 * The body holds, in this order (varints are LEB128; signed varints carry the sign in bit 6 of their
 * first byte; strings are a varint byte length and UTF-8):
 *
 *   - the event count, the device id, the batch id (empty when it is `<first seq>-<last seq>`, as the
 *     uplink names batches);
 *   - the strings (boot, checkpoint and zone ids) and the clock anchor if any (its boot as a string
 *     number);
 *   - the event classes: everything an event says except its sequence number, times and person
 *     (boot, checkpoint, zone, policy version, clock synchronised, direction, credential kind,
 *     decision, the deny reasons in their order, source). A batch holds a handful of classes, so
 *     each event carries just a small class number;
 *   - the people, in order of first appearance, each a worker id or the code hash of someone the
 *     kiosk could not identify: worker ids are split into a prefix and a trailing run of up to 15
 *     digits (`W012345`: `W`, 6 digits, 12345), with the distinct (prefix, digit count) shapes listed
 *     once and the numbers as a column (an id without digits is a shape of its own, so any id
 *     works); code hashes (32 lower-case hex digits) as 16 bytes;
 *   - the columns: sequence numbers, monotonic time (µs), wall time as wallMs - floor(monoUs / 1000)
 *     (both clocks run at the same pace, so this barely moves; wall time alone if it would leave
 *     safe integers), event class, and person (0: the next person not seen yet in this batch, k: the
 *     person seen k distinct people ago). Times are exact to the microsecond: the hub dates events
 *     of an unsynchronised kiosk from them (sync/hub/dating.ts).
 *
 * A column is stored as a frame of reference: its first value (for delta columns), the smallest
 * delta or value, and each value minus that smallest one as fixed-width unsigned numbers cut into byte
 * planes (the top bytes of all values, then the next...). Planes are what lets Brotli give each byte
 * position its own statistics; a plane whose bytes are nearly uniform (more than 7 bits of entropy
 * per byte) goes to the raw part instead, where it costs one byte per event and no time. Columns
 * whose deltas do not fit in a safe integer fall back to float64 values.
 *
 * Format 3 (what encodeBatch writes when any event of the batch is a bus unit's: it has a trip id, a
 * route id, a position or "no fix", a GPS clock source, or the source `trip` or `evdev`; issue 13) is
 * format 2 with byte 0 = 3 and three additions:
 *
 *   - each class also holds the trip id and the route id (a string number plus one; 0: none) and the
 *     clock source (a byte: 0 the system clock, 1 the GPS), so the events of one trip share a class
 *     as those of one boot do; the strings gain the trip and route ids;
 *   - sources 5 (`trip`) and 6 (`evdev`), in the same three bits;
 *   - after the people column: a position state per event (0: none, the unit has no GPS; 1: no fix;
 *     2: a fix) as a column, then the fixes' latitudes and longitudes in integer micro-degrees
 *     (GeoPoint's 6 decimals: exact both ways) as two delta columns, one value per fix in event order.
 *
 * A hub that predates format 3 refuses such a batch whole (unknown format) instead of dropping its
 * bus fields; gate kiosks keep writing format 2 and are read by hubs old and new.
 *
 * Format 4 (what encodeBatch writes when any event is of the gate for everyone, issue 14: a credential
 * kind `cccd` or `dcc`, a source `declaration` or `visitor`, a visitor id, declaration answers or visit
 * details) is format 3 with byte 0 = 4 and these changes:
 *
 *   - each class's flags byte keeps bits 3-7 (credential kind and source) zero and is followed by a
 *     byte holding the credential kind (bits 0-2, an index into KINDS) and the source (bits 3-6, an
 *     index into SOURCES), so the new kinds and sources fit;
 *   - a person may be a visitor (people kind 2): after the code hashes, each visitor person's id as a
 *     string number (VISITOR_ID_PATTERN), so an event names exactly one of a worker id, a code hash and
 *     a visitor id;
 *   - after the positions: the declaration answers (bits over DECLARATION_QUESTIONS, 0 to
 *     MAX_ANSWER_BITS) as a column, one value per event of source `declaration` (which always carries
 *     them, and no other event does); then per event of source `visitor`, a byte saying which visit
 *     details follow (bit 0 the visit itself, 1 name, 2 host, 3 purpose, 4 notice version, 5 decided by)
 *     and those details: name at most 120 characters (code points), host and purpose at most 80,
 *     decidedBy a supervisor id, the notice version a varint. No other event carries visit details.
 *
 * encodeBatch writes the lowest format that carries the batch (2, 3 or 4), so a hub that predates
 * visitors keeps reading kiosks that have none.
 *
 * Typical gate traffic (test/helpers/events.ts) takes 4.3 bytes an event in batches of 500, traffic
 * with real randomness about 6 (format 1: 8.3 and 10.2); `npm run bench:codec` measures both.
 *
 * Format 1 (still decoded, from kiosks not yet upgraded): byte 1 then Brotli(CBOR(columns)); it
 * carried reasons as a set (in code order).
 *
 * Decoding never trusts a length: every count is checked against the event count and the bytes left,
 * the body is decompressed into at most MAX_DECODED_BYTES, and every value is validated (identifiers
 * by base/common/ids.ts, code hashes, reasons each once, safe integers, trip ids by TRIP_ID_PATTERN,
 * route ids as identifiers, coordinates within ±90 and ±180 degrees); anything else is a
 * BatchFormatError. Every format is held to the same rules.
 */
/** The newest format this codec reads and writes. */
export const BATCH_FORMAT = 4;
const FORMAT_1 = 1;
const FORMAT_2 = 2;
const FORMAT_3 = 3;
const FORMAT_4 = 4;
/** Visit details: at most this many characters (code points) in a name, a host and a purpose. */
const MAX_VISIT_NAME = 120;
const MAX_VISIT_TEXT = 80;
/** Upper bound on a decompressed batch: far above 256 KB of wire data, far below a memory problem. */
const MAX_DECODED_BYTES = 8 * 1024 * 1024;
export const MAX_BATCH_EVENTS = 5_000;
/** Boot ids: at most this many UTF-16 code units (as format 1). */
const MAX_STRING_LENGTH = 128;
/** Longest trailing digit run read as a number: 10^15 - 1 is a safe integer. */
const MAX_ID_DIGITS = 15;
/** A byte plane with more entropy than this (bits per byte) is stored raw. */
const RAW_PLANE_BITS = 7;
/** Qualities 6 to 9 are no smaller on this data; 10 and 11 save 1 to 2 % at 3 to 7 ms a batch. */
const BROTLI_QUALITY = 5;

export type { WireEvent };

/**
 * The kiosk's best link between its monotonic clock and true time: at monotonic `monoUs` of boot
 * `bootId` the hub's clock read `hubTimeMs` (taken from an acknowledgement). The hub dates events
 * of that boot from it, whatever the kiosk's wall clock said.
 */
export interface ClockAnchor {
  bootId: string;
  monoUs: number;
  hubTimeMs: number;
}

export interface EventBatch {
  deviceId: string;
  batchId: string;
  events: WireEvent[];
  anchor?: ClockAnchor | null;
}

export class BatchFormatError extends Error {
  override name = 'BatchFormatError';
}

const DIRECTIONS: Direction[] = ['entry', 'exit'];
/** The first three fit bits 3-4 of the flags (formats 1 to 3); `cccd` and `dcc` from format 4 (its extra byte). */
const KINDS: (CredentialKind | 'unknown')[] = ['pass', 'badge', 'unknown', 'cccd', 'dcc'];
const FORMAT_KINDS: Record<number, number> = { [FORMAT_1]: 3, [FORMAT_2]: 3, [FORMAT_3]: 3, [FORMAT_4]: 5 };
/**
 * The first four fit bits 5-6 of the flags; `input` (the gate's own inputs) takes bit 7 as the
 * source's third bit, from format 2; `trip` and `evdev` (bus units, issue 13) only in format 3, which
 * a hub that predates them refuses as a whole rather than misreading.
 */
const SOURCES: ScanSource[] = ['serial', 'stdin', 'camera', 'keyboard', 'input', 'trip', 'evdev', 'declaration', 'visitor'];
/** How many of SOURCES each format knows. */
const FORMAT_SOURCES: Record<number, number> = { [FORMAT_1]: 4, [FORMAT_2]: 5, [FORMAT_3]: 7, [FORMAT_4]: 9 };
/** Format 3's per-event position state. */
const POSITION_NONE = 0;
const POSITION_NO_FIX = 1;
const POSITION_FIX = 2;
/** Positions travel as integer micro-degrees (GeoPoint: 6 decimals). */
const MICRO = 1e6;
const DECISIONS = ['allow', 'deny'] as const;

// flags: bit0 clockSynced, bit1 direction, bit2 decision, bits3-4 credential kind, bits5-6 source,
// bit7 the source's third bit in format 2 (format 1 used bit7 for "who is a code hash rather than a
// worker id", and its sources fit in two bits). Batches written before `input` never set bit 7.
// Format 4: bits 3-7 zero, the kind and source in the byte after the flags (packKindSource).
function packFlags(e: WireEvent, format: number): number {
  const direction = DIRECTIONS.indexOf(e.direction);
  const decision = DECISIONS.indexOf(e.decision);
  const kind = KINDS.indexOf(e.credentialKind);
  const source = SOURCES.indexOf(e.source);
  if (direction < 0 || decision < 0 || kind < 0 || source < 0 || kind >= FORMAT_KINDS[format]! || source >= FORMAT_SOURCES[format]!) {
    throw new Error(`event ${e.seq}: a direction, decision, credential kind or source this format cannot carry`);
  }
  const base = (e.clockSynced ? 1 : 0) | (direction << 1) | (decision << 2);
  return format === FORMAT_4 ? base : base | (kind << 3) | ((source & 3) << 5) | ((source >> 2) << 7);
}

/** Format 4's byte after the flags: the credential kind in bits 0-2, the source in bits 3-6. */
function packKindSource(e: WireEvent): number {
  return KINDS.indexOf(e.credentialKind) | (SOURCES.indexOf(e.source) << 3);
}

const REASON_INDEX = new Map<DenyReason, number>(DENY_REASON_CODES.map((r, i) => [r, i]));

/** Decodes and validates a batch from the wire (format 1 to 4); throws BatchFormatError for anything malformed. */
export function decodeBatch(bytes: Uint8Array): EventBatch {
  if (bytes.length >= 2 && (bytes[0] === FORMAT_2 || bytes[0] === FORMAT_3 || bytes[0] === FORMAT_4)) return decodeColumns(bytes, bytes[0]);
  if (bytes.length >= 2 && bytes[0] === FORMAT_1) return decodeFormat1(bytes);
  throw new BatchFormatError(`unknown batch format ${bytes[0] ?? 'none'}`);
}

// ---------------------------------------------------------------------------------------------------
// Bytes

class ByteWriter {
  private buf = new Uint8Array(8192);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }

  /** An unsigned safe integer, 7 bits a byte, low bits first. */
  uvarint(v: number): void {
    // Anything else (Infinity above all: it never drops below 0x80) is a caller's bug, refused here.
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`not an unsigned safe integer: ${String(v)}`);
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  /** A safe integer: sign in bit 6 of the first byte, 6 bits of magnitude there, then a uvarint. */
  svarint(v: number): void {
    if (!Number.isSafeInteger(v)) throw new Error(`not a safe integer: ${String(v)}`);
    let m = Math.abs(v);
    this.room(1);
    this.buf[this.length++] = (m % 0x40) | (v < 0 ? 0x40 : 0) | (m >= 0x40 ? 0x80 : 0);
    m = Math.floor(m / 0x40);
    if (m > 0) this.uvarint(m);
  }

  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.uvarint(bytes.length);
    this.bytes(bytes);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  f64(v: number): void {
    this.room(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.length, 8).setFloat64(0, v, true);
    this.length += 8;
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads what ByteWriter wrote; any read past the end, or any value out of range, is a BatchFormatError. */
class ByteReader {
  pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get left(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n > this.buf.length - this.pos) throw new BatchFormatError(`${this.what} ends early`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  uvarint(what: string): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(v)) break;
        return v;
      }
      scale *= 0x80;
    }
    throw new BatchFormatError(`${what}: not a safe integer`);
  }

  svarint(what: string): number {
    const first = this.u8();
    let m = first & 0x3f;
    if (first & 0x80) {
      const rest = this.uvarint(what);
      m += rest * 0x40;
      if (rest === 0 || !Number.isSafeInteger(m)) throw new BatchFormatError(`${what}: not a safe integer`);
    }
    // -0 is never written.
    if (first & 0x40 && m === 0) throw new BatchFormatError(`${what}: not a safe integer`);
    return first & 0x40 ? -m : m;
  }

  /** A count that must lie in [min, max]. */
  count(what: string, min: number, max: number): number {
    const n = this.uvarint(what);
    if (n < min || n > max) throw new BatchFormatError(`${what}: ${n} is not within ${min} to ${max}`);
    return n;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    return this.buf.subarray(this.pos, (this.pos += n));
  }

  f64(): number {
    this.need(8);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** A UTF-8 string of at most maxChars UTF-16 code units (and at least minChars). */
  string(what: string, minChars: number, maxChars: number): string {
    const n = this.count(`${what} length`, minChars, maxChars * 3);
    let s: string;
    try {
      s = utf8.decode(this.bytes(n));
    } catch (err) {
      if (err instanceof BatchFormatError) throw err;
      throw new BatchFormatError(`${what}: not UTF-8`);
    }
    if (s.length < minChars || s.length > maxChars) throw new BatchFormatError(`${what}: length ${s.length} is not within ${minChars} to ${maxChars}`);
    return s;
  }

  end(): void {
    if (this.left !== 0) throw new BatchFormatError(`${this.what}: ${this.left} bytes left over`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Columns

/** Entropy of a byte plane in bits per byte (order 0). */
function bitsPerByte(plane: Uint8Array): number {
  const counts = new Uint32Array(256);
  for (let i = 0; i < plane.length; i++) counts[plane[i]!]!++;
  let bits = 0;
  for (let s = 0; s < 256; s++) {
    const c = counts[s]!;
    if (c !== 0) bits -= c * Math.log2(c / plane.length);
  }
  return bits / plane.length;
}

const COLUMN_F64 = 0x08;
const COLUMN_WIDTH = 0x07;

/**
 * Writes a column: a head byte (width in bytes 0-7, or COLUMN_F64), for a delta column its first
 * value, the smallest delta or value, a byte saying which planes are raw, then the planes that are
 * not raw (top byte first) into the body and the raw ones into `raw`.
 */
function writeColumn(body: ByteWriter, raw: ByteWriter, values: ArrayLike<number>, delta: boolean): void {
  const n = values.length;
  const first = delta ? 1 : 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = first; i < n; i++) {
    const d = delta ? values[i]! - values[i - 1]! : values[i]!;
    if (d < min) min = d;
    if (d > max) max = d;
  }
  if (n <= first) min = max = 0;
  const range = max - min;
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || !Number.isSafeInteger(range) || (delta && n > 0 && !Number.isSafeInteger(values[0]))) {
    body.u8(COLUMN_F64);
    for (let i = 0; i < n; i++) body.f64(values[i]!);
    return;
  }
  let width = 0;
  for (let r = range; r >= 1; r = Math.floor(r / 256)) width++;
  body.u8(width);
  if (delta) body.svarint(n > 0 ? values[0]! : 0);
  body.svarint(min);
  if (width === 0) return;
  const m = n - first;
  const planes: Uint8Array[] = [];
  for (let p = 0; p < width; p++) planes.push(new Uint8Array(m));
  for (let i = 0; i < m; i++) {
    let u = (delta ? values[i + 1]! - values[i]! : values[i]!) - min;
    for (let p = width - 1; p >= 0; p--) {
      if (u < 0x1_0000_0000) {
        planes[p]![i] = u & 0xff;
        u = u >>> 8;
      } else {
        planes[p]![i] = u % 256;
        u = Math.floor(u / 256);
      }
    }
  }
  let rawMask = 0;
  for (let p = 0; p < width; p++) if (m >= 64 && bitsPerByte(planes[p]!) > RAW_PLANE_BITS) rawMask |= 1 << p;
  body.u8(rawMask);
  for (let p = 0; p < width; p++) (rawMask & (1 << p) ? raw : body).bytes(planes[p]!);
}

/** Reads a column of n safe integers that writeColumn wrote. */
function readColumn(body: ByteReader, raw: ByteReader, n: number, delta: boolean, what: string): number[] {
  const head = body.u8();
  const out = new Array<number>(n);
  if (head === COLUMN_F64) {
    for (let i = 0; i < n; i++) {
      const v = body.f64();
      if (!Number.isSafeInteger(v)) throw new BatchFormatError(`${what}: not a safe integer`);
      out[i] = v;
    }
    return out;
  }
  if (head & ~COLUMN_WIDTH) throw new BatchFormatError(`${what}: unknown column encoding ${head}`);
  const width = head & COLUMN_WIDTH;
  const first = delta ? 1 : 0;
  const base = delta ? body.svarint(`${what} first value`) : 0;
  const min = body.svarint(`${what} offset`);
  const m = Math.max(0, n - first);
  const u = new Array<number>(m).fill(0);
  if (width > 0) {
    const rawMask = body.u8();
    if (rawMask >> width) throw new BatchFormatError(`${what}: raw planes beyond its width`);
    for (let p = 0; p < width; p++) {
      const plane = (rawMask & (1 << p) ? raw : body).bytes(m);
      for (let i = 0; i < m; i++) u[i] = u[i]! * 256 + plane[i]!;
    }
  }
  if (delta && n > 0) out[0] = base;
  for (let i = 0; i < m; i++) {
    if (u[i]! > Number.MAX_SAFE_INTEGER) throw new BatchFormatError(`${what}: not a safe integer`);
    const d = min + u[i]!;
    const v = delta ? out[i]! + d : d;
    if (!Number.isSafeInteger(d) || !Number.isSafeInteger(v)) throw new BatchFormatError(`${what}: not a safe integer`);
    out[i + first] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// What a decoded batch must be, whatever its format

const HEX32 = /^[0-9a-f]{32}$/;

function checkIdentifier(s: string, what: string): void {
  if (!IDENTIFIER_PATTERN.test(s)) throw new BatchFormatError(`${what}: not an identifier`);
}

function checkBootId(s: string, what: string): void {
  if (s.length < 1 || s.length > MAX_STRING_LENGTH) throw new BatchFormatError(`${what}: 1 to ${MAX_STRING_LENGTH} characters`);
}

/** Everything of an event but its sequence number, times and person. */
interface EventClass {
  bootId: string;
  checkpointId: string;
  zoneId: string;
  policyVersion: number;
  clockSynced: boolean;
  direction: Direction;
  credentialKind: CredentialKind | 'unknown';
  decision: 'allow' | 'deny';
  source: ScanSource;
  reasons: DenyReason[];
  // Format 3: a bus unit's events (absent otherwise).
  tripId?: string;
  routeId?: string;
  clockSource?: 'gps';
}

function checkClass(c: EventClass, what: string): void {
  if (c.tripId !== undefined && !TRIP_ID_PATTERN.test(c.tripId)) throw new BatchFormatError(`${what}: not a trip id`);
  if (c.routeId !== undefined) checkIdentifier(c.routeId, `${what}: route id`);
  checkBootId(c.bootId, `${what}: boot id`);
  checkIdentifier(c.checkpointId, `${what}: checkpoint id`);
  checkIdentifier(c.zoneId, `${what}: zone id`);
  if (!Number.isSafeInteger(c.policyVersion) || c.policyVersion < 0) throw new BatchFormatError(`${what}: policy version ${c.policyVersion}`);
  if (new Set(c.reasons).size !== c.reasons.length) throw new BatchFormatError(`${what}: a reason listed twice`);
}

/** A class's flags; in format 4 `kindSource` is the byte after them (else undefined). */
function classFlags(f: number, what: string, format: number, kindSource?: number): Pick<EventClass, 'clockSynced' | 'direction' | 'decision' | 'credentialKind' | 'source'> {
  if (kindSource !== undefined && (f >> 3 !== 0 || kindSource >> 7 !== 0)) throw new BatchFormatError(`${what}: bad flags ${f} ${kindSource}`);
  const kindIndex = kindSource === undefined ? (f >> 3) & 3 : kindSource & 7;
  const sourceIndex = kindSource === undefined ? ((f >> 5) & 3) | ((f >> 7) << 2) : kindSource >> 3;
  const credentialKind = kindIndex < FORMAT_KINDS[format]! ? KINDS[kindIndex] : undefined;
  const source = sourceIndex < FORMAT_SOURCES[format]! ? SOURCES[sourceIndex] : undefined;
  if (!credentialKind || !source) throw new BatchFormatError(`${what}: bad flags ${f}`);
  return {
    clockSynced: (f & 1) === 1,
    direction: DIRECTIONS[(f >> 1) & 1]!,
    decision: DECISIONS[(f >> 2) & 1]!,
    credentialKind,
    source,
  };
}

// ---------------------------------------------------------------------------------------------------
// Format 2

const PERSON_WORKER = 0;
const PERSON_CODE_HASH = 1;
/** Format 4: a visitor, by their pseudonym. */
const PERSON_VISITOR = 2;
/** Format 4: which visit details an event of source `visitor` carries. */
const VISIT_PRESENT = 1;
const VISIT_NAME = 2;
const VISIT_HOST = 4;
const VISIT_PURPOSE = 8;
const VISIT_NOTICE = 16;
const VISIT_DECIDED_BY = 32;
const TIME_WALL_FROM_MONO = 0;
const TIME_WALL_ALONE = 1;

/** Indexes keys in first-appearance order. */
class Dictionary<K> {
  readonly items: K[] = [];
  private readonly index = new Map<K, number>();
  id(key: K): number {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.items.length;
      this.items.push(key);
      this.index.set(key, i);
    }
    return i;
  }
}

/** A worker id's trailing run of at most MAX_ID_DIGITS digits: its length and its value. */
function trailingNumber(id: string): { digits: number; value: number } {
  let digits = 0;
  let value = 0;
  for (let scale = 1; digits < MAX_ID_DIGITS && digits < id.length; digits++, scale *= 10) {
    const c = id.charCodeAt(id.length - 1 - digits) - 48;
    if (c < 0 || c > 9) break;
    value += c * scale;
  }
  return { digits, value };
}

function derivedBatchId(events: readonly WireEvent[]): string {
  return `${events[0]!.seq}-${events.at(-1)!.seq}`;
}

/** Whether an event needs format 3: a bus unit's (trip, route, position, GPS clock, or a source format 2 does not know). */
function needsFormat3(e: WireEvent): boolean {
  return e.tripId !== undefined || e.routeId !== undefined || e.position !== undefined || e.clockSource !== undefined || e.source === 'trip' || e.source === 'evdev';
}

/** Whether an event needs format 4: anything of the gate for everyone (issue 14). */
function needsFormat4(e: WireEvent): boolean {
  return (
    e.credentialKind === 'cccd' || e.credentialKind === 'dcc' || e.source === 'declaration' || e.source === 'visitor' ||
    e.visitorId !== undefined || e.declaration !== undefined || e.visit !== undefined
  );
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** A visit detail text the encoder may write (a programming error otherwise). */
function checkVisitText(v: unknown, max: number, what: string, seq: number): string {
  if (typeof v !== 'string' || codePoints(v) > max || v.length > 2 * max) throw new Error(`event ${seq}: a visit's ${what} is a string of at most ${max} characters`);
  return v;
}

/** A latitude or longitude in micro-degrees, or a thrown programming error when it is not a coordinate. */
function microDegrees(v: number, limit: number, seq: number): number {
  if (!Number.isFinite(v) || Math.abs(v) > limit) throw new Error(`event ${seq}: a position is WGS 84 degrees (|lat| <= 90, |lon| <= 180)`);
  return Math.round(v * MICRO);
}

/**
 * Encodes a batch: in format 2 when no event has anything of a bus unit (so a gate kiosk keeps
 * talking to a hub that predates format 3), else format 3. Throws (a programming error, never a
 * kiosk's data) for an empty or oversized batch, an empty or over-long batch id, and an event the
 * format cannot carry: not exactly one of worker id and code hash, a code hash other than 32
 * lower-case hex digits, an unknown direction, decision, credential kind, source or reason, a policy
 * version or clock anchor that is not a safe integer, a trip id, route id or position that is not
 * one. Sequence numbers and times that are not safe integers are written as float64 and refused by
 * the decoder. It never loops on any input.
 */
export function encodeBatch(batch: EventBatch): Uint8Array {
  const ev = batch.events;
  const n = ev.length;
  if (n === 0 || n > MAX_BATCH_EVENTS) throw new Error(`a batch holds 1 to ${MAX_BATCH_EVENTS} events`);
  const format = ev.some(needsFormat4) ? FORMAT_4 : ev.some(needsFormat3) ? FORMAT_3 : FORMAT_2;
  const bus = format >= FORMAT_3;
  if (batch.batchId.length === 0 || batch.batchId.length > 64) throw new Error('a batch id has 1 to 64 characters');
  const body = new ByteWriter();
  const raw = new ByteWriter();
  body.uvarint(n);
  body.string(batch.deviceId);
  body.string(batch.batchId === derivedBatchId(ev) ? '' : batch.batchId);

  const anchor = batch.anchor;
  if (anchor && (!Number.isSafeInteger(anchor.monoUs) || !Number.isSafeInteger(anchor.hubTimeMs) || anchor.hubTimeMs < 0)) {
    throw new Error('a clock anchor holds safe integers (and a hub time not before 1970)');
  }
  const strings = new Dictionary<string>();
  // The anchor's boot is usually the events' boot: it comes first in the strings.
  const anchorBoot = batch.anchor ? strings.id(batch.anchor.bootId) : -1;
  // Boot, checkpoint, zone and policy (and a bus's trip, route and clock source) change rarely: looked up only when they differ from the previous event's.
  const places = new Dictionary<string>();
  const classes = new Dictionary<string | number>();
  const classEvents: WireEvent[] = [];
  const classColumn = new Array<number>(n);
  const workers = new Map<string, number>();
  const codeHashes = new Map<string, number>();
  const visitors = new Map<string, number>();
  const people: WireEvent[] = [];
  const personColumn = new Array<number>(n);
  let place = -1;
  for (let i = 0; i < n; i++) {
    const e = ev[i]!;
    const prev = ev[i - 1];
    if (
      !prev || e.bootId !== prev.bootId || e.checkpointId !== prev.checkpointId || e.zoneId !== prev.zoneId || e.policyVersion !== prev.policyVersion ||
      e.tripId !== prev.tripId || e.routeId !== prev.routeId || e.clockSource !== prev.clockSource
    ) {
      let key = `${strings.id(e.bootId)},${strings.id(e.checkpointId)},${strings.id(e.zoneId)},${e.policyVersion}`;
      if (bus) {
        if (e.tripId !== undefined && (typeof e.tripId !== 'string' || !TRIP_ID_PATTERN.test(e.tripId))) throw new Error(`event ${e.seq}: not a trip id`);
        if (e.routeId !== undefined && (typeof e.routeId !== 'string' || !IDENTIFIER_PATTERN.test(e.routeId))) throw new Error(`event ${e.seq}: a route id is an identifier`);
        if (e.clockSource !== undefined && e.clockSource !== 'gps') throw new Error(`event ${e.seq}: an unknown clock source`);
        key += `,${e.tripId === undefined ? '' : strings.id(e.tripId)},${e.routeId === undefined ? '' : strings.id(e.routeId)},${e.clockSource ?? ''}`;
      }
      place = places.id(key);
    }
    if (!Number.isSafeInteger(e.policyVersion)) throw new Error(`event ${e.seq}: the policy version is not a safe integer`);
    const flags = format === FORMAT_4 ? packFlags(e, format) | (packKindSource(e) << 8) : packFlags(e, format);
    const key = e.reasons.length === 0 ? place * 65536 + flags : `${place},${flags},${e.reasons.join(' ')}`;
    const c = classes.id(key);
    if (c === classEvents.length) classEvents.push(e);
    classColumn[i] = c;

    if ((e.workerId !== null ? 1 : 0) + (e.codeHash !== null ? 1 : 0) + (e.visitorId !== undefined ? 1 : 0) !== 1) {
      throw new Error(`event ${e.seq}: needs exactly one of a worker id, a code hash and a visitor id`);
    }
    if ((e.source === 'declaration') !== (e.declaration !== undefined)) throw new Error(`event ${e.seq}: declaration answers on, and only on, a declaration event`);
    if (e.declaration !== undefined && (!Number.isInteger(e.declaration.answers) || e.declaration.answers < 0 || e.declaration.answers > MAX_ANSWER_BITS)) {
      throw new Error(`event ${e.seq}: declaration answers are 0 to ${MAX_ANSWER_BITS}`);
    }
    if (e.visit !== undefined && e.source !== 'visitor') throw new Error(`event ${e.seq}: visit details only on a visitor event`);
    const byId = e.workerId !== null ? workers : e.codeHash !== null ? codeHashes : visitors;
    const key2 = e.workerId ?? e.codeHash ?? e.visitorId!;
    const seen = byId.get(key2);
    if (seen === undefined) {
      if (e.codeHash !== null && !HEX32.test(e.codeHash)) throw new Error(`event ${e.seq}: a code hash is 32 lower-case hex digits`);
      if (e.visitorId !== undefined) {
        if (typeof e.visitorId !== 'string' || !VISITOR_ID_PATTERN.test(e.visitorId)) throw new Error(`event ${e.seq}: not a visitor id`);
        strings.id(e.visitorId);
      }
      byId.set(key2, people.length);
      people.push(e);
      personColumn[i] = 0;
    } else {
      personColumn[i] = people.length - seen;
    }
  }

  body.uvarint(strings.items.length);
  for (const s of strings.items) body.string(s);
  if (batch.anchor) {
    body.u8(1);
    body.uvarint(anchorBoot);
    body.svarint(batch.anchor.monoUs);
    body.uvarint(batch.anchor.hubTimeMs);
  } else {
    body.u8(0);
  }
  body.uvarint(classEvents.length);
  for (const e of classEvents) {
    body.uvarint(strings.id(e.bootId));
    body.uvarint(strings.id(e.checkpointId));
    body.uvarint(strings.id(e.zoneId));
    body.svarint(e.policyVersion);
    body.u8(packFlags(e, format));
    if (format === FORMAT_4) body.u8(packKindSource(e));
    body.uvarint(e.reasons.length);
    for (const r of e.reasons) {
      const code = REASON_INDEX.get(r);
      if (code === undefined) throw new Error(`event ${e.seq}: unknown reason ${r}`);
      body.u8(code);
    }
    if (bus) {
      body.uvarint(e.tripId === undefined ? 0 : strings.id(e.tripId) + 1);
      body.uvarint(e.routeId === undefined ? 0 : strings.id(e.routeId) + 1);
      body.u8(e.clockSource === 'gps' ? 1 : 0);
    }
  }

  // People: worker ids as shapes and numbers, code hashes as bytes.
  body.uvarint(people.length);
  writeColumn(body, raw, people.map((p) => (p.workerId !== null ? PERSON_WORKER : p.codeHash !== null ? PERSON_CODE_HASH : PERSON_VISITOR)), false);
  const shapes = new Dictionary<string>();
  const shapeColumn: number[] = [];
  const numberColumn: number[] = [];
  let lastPrefix: string | undefined;
  let lastDigits = -1;
  let lastShape = -1;
  for (const p of people) {
    const id = p.workerId;
    if (id === null) continue;
    const { digits, value } = trailingNumber(id);
    const prefixLength = id.length - digits;
    // Ids of one roster share their shape: skip the lookup when it is the previous one's.
    if (digits !== lastDigits || prefixLength !== lastPrefix!.length || !id.startsWith(lastPrefix!)) {
      lastPrefix = id.slice(0, prefixLength);
      lastDigits = digits;
      lastShape = shapes.id(`${digits},${lastPrefix}`);
    }
    shapeColumn.push(lastShape);
    numberColumn.push(value);
  }
  body.uvarint(shapes.items.length);
  for (const s of shapes.items) {
    const comma = s.indexOf(',');
    body.u8(Number(s.slice(0, comma)));
    body.string(s.slice(comma + 1));
  }
  writeColumn(body, raw, shapeColumn, true);
  writeColumn(body, raw, numberColumn, false);
  for (const p of people) if (p.codeHash !== null) body.bytes(Buffer.from(p.codeHash, 'hex'));
  if (format === FORMAT_4) for (const p of people) if (p.visitorId !== undefined) body.uvarint(strings.id(p.visitorId));

  // Per-event columns. Wall time rides on monotonic time unless that would leave safe integers.
  const seq = new Array<number>(n);
  const mono = new Array<number>(n);
  const wall = new Array<number>(n);
  let wallFromMono = true;
  for (let i = 0; i < n; i++) {
    const e = ev[i]!;
    seq[i] = e.seq;
    mono[i] = e.monoUs;
    wall[i] = e.wallMs - Math.floor(e.monoUs / 1000);
    if (!Number.isSafeInteger(wall[i]) || !Number.isSafeInteger(e.monoUs)) wallFromMono = false;
  }
  if (!wallFromMono) for (let i = 0; i < n; i++) wall[i] = ev[i]!.wallMs;
  writeColumn(body, raw, seq, true);
  writeColumn(body, raw, mono, true);
  body.u8(wallFromMono ? TIME_WALL_FROM_MONO : TIME_WALL_ALONE);
  writeColumn(body, raw, wall, true);
  writeColumn(body, raw, classColumn, false);
  writeColumn(body, raw, personColumn, false);
  if (bus) {
    // Positions: a state per event, then the fixes' latitudes and longitudes (micro-degrees) as delta columns: a bus moves a little between scans.
    const states = new Array<number>(n);
    const lats: number[] = [];
    const lons: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = ev[i]!;
      if (e.position === undefined) states[i] = POSITION_NONE;
      else if (e.position === null) states[i] = POSITION_NO_FIX;
      else {
        states[i] = POSITION_FIX;
        lats.push(microDegrees(e.position.lat, 90, e.seq));
        lons.push(microDegrees(e.position.lon, 180, e.seq));
      }
    }
    writeColumn(body, raw, states, false);
    writeColumn(body, raw, lats, true);
    writeColumn(body, raw, lons, true);
  }
  if (format === FORMAT_4) {
    writeColumn(body, raw, ev.filter((e) => e.declaration !== undefined).map((e) => e.declaration!.answers), false);
    for (const e of ev) {
      if (e.source !== 'visitor') continue;
      const v = e.visit;
      if (v === undefined) {
        body.u8(0);
        continue;
      }
      if (v.noticeVersion !== undefined && (!Number.isSafeInteger(v.noticeVersion) || v.noticeVersion < 0)) throw new Error(`event ${e.seq}: a notice version is a safe integer`);
      if (v.decidedBy !== undefined && (typeof v.decidedBy !== 'string' || !SUPERVISOR_ID_PATTERN.test(v.decidedBy))) throw new Error(`event ${e.seq}: decidedBy is a supervisor id`);
      body.u8(
        VISIT_PRESENT | (v.name !== undefined ? VISIT_NAME : 0) | (v.host !== undefined ? VISIT_HOST : 0) | (v.purpose !== undefined ? VISIT_PURPOSE : 0) |
          (v.noticeVersion !== undefined ? VISIT_NOTICE : 0) | (v.decidedBy !== undefined ? VISIT_DECIDED_BY : 0),
      );
      if (v.name !== undefined) body.string(checkVisitText(v.name, MAX_VISIT_NAME, 'name', e.seq));
      if (v.host !== undefined) body.string(checkVisitText(v.host, MAX_VISIT_TEXT, 'host', e.seq));
      if (v.purpose !== undefined) body.string(checkVisitText(v.purpose, MAX_VISIT_TEXT, 'purpose', e.seq));
      if (v.noticeVersion !== undefined) body.uvarint(v.noticeVersion);
      if (v.decidedBy !== undefined) body.string(v.decidedBy);
    }
  }

  const plain = body.result();
  const compressed = brotliCompressSync(plain, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlibConstants.BROTLI_PARAM_LGWIN]: 16,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: plain.length,
    },
  });
  const rawPart = raw.result();
  const out = new ByteWriter();
  out.u8(format);
  out.uvarint(rawPart.length);
  out.bytes(compressed);
  out.bytes(rawPart);
  return out.result().slice();
}

interface Person {
  workerId: string | null;
  codeHash: string | null;
  visitorId?: string;
}

/** Formats 2, 3 and 4 (3: format 2 with a bus unit's trip, route, clock source and positions; 4: format 3 with visitors, declarations and visits). */
function decodeColumns(bytes: Uint8Array, format: number): EventBatch {
  const bus = format >= FORMAT_3;
  const v4 = format === FORMAT_4;
  const wire = new ByteReader(bytes, 'batch');
  wire.u8();
  const rawLength = wire.uvarint('raw part length');
  if (rawLength > wire.left - 1) throw new BatchFormatError('raw part longer than the batch');
  let plain: Uint8Array;
  try {
    plain = brotliDecompressSync(wire.bytes(wire.left - rawLength), { maxOutputLength: MAX_DECODED_BYTES });
  } catch (err) {
    throw new BatchFormatError(`cannot decode: ${(err as Error).message}`);
  }
  const body = new ByteReader(plain, 'batch body');
  const raw = new ByteReader(wire.bytes(rawLength), 'raw part');

  const n = body.count('event count', 1, MAX_BATCH_EVENTS);
  const deviceId = body.string('device id', 2, 63);
  if (!DEVICE_ID_PATTERN.test(deviceId)) throw new BatchFormatError('device id: not a device id');
  const batchId = body.string('batch id', 0, 64);

  const strings: string[] = [];
  // Format 3 adds a trip and a route id per class (and a class per event at most).
  // Format 4 adds a visitor id per person (a person per event at most).
  const stringCount = body.count('string count', 1, (v4 ? 6 : bus ? 5 : 3) * n + 1);
  for (let i = 0; i < stringCount; i++) strings.push(body.string('string', 0, MAX_STRING_LENGTH));
  const str = (what: string): string => {
    const s = strings[body.uvarint(what)];
    if (s === undefined) throw new BatchFormatError(`${what}: string number out of range`);
    return s;
  };
  /** A string number plus one (0 standing for none, read by the caller). */
  const str1 = (k: number, what: string): string => {
    const s = strings[k - 1];
    if (s === undefined) throw new BatchFormatError(`${what}: string number out of range`);
    return s;
  };
  let anchor: ClockAnchor | null = null;
  const hasAnchor = body.u8();
  if (hasAnchor > 1) throw new BatchFormatError('anchor: bad marker');
  if (hasAnchor) {
    const bootId = str('anchor boot');
    if (bootId.length < 1 || bootId.length > 64) throw new BatchFormatError('anchor boot id: 1 to 64 characters');
    const monoUs = body.svarint('anchor monotonic time');
    const hubTimeMs = body.uvarint('anchor hub time');
    if (hubTimeMs <= 0) throw new BatchFormatError('anchor hub time must be positive');
    anchor = { bootId, monoUs, hubTimeMs };
  }

  const classes: EventClass[] = [];
  const classCount = body.count('class count', 1, n);
  for (let c = 0; c < classCount; c++) {
    const what = `class ${c}`;
    const bootId = str(`${what}: boot`);
    const checkpointId = str(`${what}: checkpoint`);
    const zoneId = str(`${what}: zone`);
    const policyVersion = body.svarint(`${what}: policy version`);
    const flagByte = body.u8();
    const flags = classFlags(flagByte, what, format, v4 ? body.u8() : undefined);
    const reasons: DenyReason[] = [];
    const reasonCount = body.count(`${what}: reason count`, 0, DENY_REASON_CODES.length);
    for (let k = 0; k < reasonCount; k++) {
      const r = DENY_REASON_CODES[body.u8()];
      if (!r) throw new BatchFormatError(`${what}: unknown reason`);
      reasons.push(r);
    }
    const cls: EventClass = { bootId, checkpointId, zoneId, policyVersion, ...flags, reasons };
    if (bus) {
      const trip = body.uvarint(`${what}: trip`);
      if (trip > 0) cls.tripId = str1(trip, `${what}: trip`);
      const route = body.uvarint(`${what}: route`);
      if (route > 0) cls.routeId = str1(route, `${what}: route`);
      const clockSource = body.u8();
      if (clockSource > 1) throw new BatchFormatError(`${what}: unknown clock source ${clockSource}`);
      if (clockSource === 1) cls.clockSource = 'gps';
    }
    checkClass(cls, what);
    classes.push(cls);
  }

  const peopleCount = body.count('people count', 1, n);
  const kinds = readColumn(body, raw, peopleCount, false, 'people kinds');
  let workerCount = 0;
  for (const k of kinds) {
    if (k !== PERSON_WORKER && k !== PERSON_CODE_HASH && !(v4 && k === PERSON_VISITOR)) throw new BatchFormatError(`people kinds: ${k}`);
    if (k === PERSON_WORKER) workerCount++;
  }
  const shapes: { prefix: string; digits: number }[] = [];
  const shapeCount = body.count('worker id shape count', 0, workerCount);
  for (let s = 0; s < shapeCount; s++) {
    const digits = body.u8();
    if (digits > MAX_ID_DIGITS) throw new BatchFormatError(`worker id shape ${s}: ${digits} digits`);
    shapes.push({ digits, prefix: body.string('worker id prefix', 0, 64) });
  }
  const shapeColumn = readColumn(body, raw, workerCount, true, 'worker id shapes');
  const numberColumn = readColumn(body, raw, workerCount, false, 'worker id numbers');
  const people: Person[] = new Array<Person>(peopleCount);
  let w = 0;
  for (let p = 0; p < peopleCount; p++) {
    if (kinds[p] === PERSON_CODE_HASH) {
      people[p] = { workerId: null, codeHash: Buffer.from(body.bytes(16)).toString('hex') };
      continue;
    }
    if (kinds[p] === PERSON_VISITOR) continue; // read after the code hashes
    const shape = shapes[shapeColumn[w]!];
    const num = numberColumn[w++]!;
    if (!shape) throw new BatchFormatError(`person ${p}: worker id shape out of range`);
    if (num < 0 || (shape.digits === 0 ? num !== 0 : num >= 10 ** shape.digits)) throw new BatchFormatError(`person ${p}: worker id number out of range`);
    const workerId = shape.digits === 0 ? shape.prefix : shape.prefix + String(num).padStart(shape.digits, '0');
    checkIdentifier(workerId, `person ${p}: worker id`);
    people[p] = { workerId, codeHash: null };
  }
  for (let p = 0; p < peopleCount; p++) {
    if (kinds[p] !== PERSON_VISITOR) continue;
    const visitorId = str(`person ${p}: visitor id`);
    if (!VISITOR_ID_PATTERN.test(visitorId)) throw new BatchFormatError(`person ${p}: not a visitor id`);
    people[p] = { workerId: null, codeHash: null, visitorId };
  }

  const seqs = readColumn(body, raw, n, true, 'sequence numbers');
  const monos = readColumn(body, raw, n, true, 'monotonic times');
  const timeMode = body.u8();
  if (timeMode !== TIME_WALL_FROM_MONO && timeMode !== TIME_WALL_ALONE) throw new BatchFormatError(`unknown time encoding ${timeMode}`);
  const walls = readColumn(body, raw, n, true, 'wall times');
  const classColumn = readColumn(body, raw, n, false, 'classes');
  const personColumn = readColumn(body, raw, n, false, 'people');
  let states: number[] | null = null;
  let lats: number[] = [];
  let lons: number[] = [];
  if (bus) {
    states = readColumn(body, raw, n, false, 'position states');
    let fixes = 0;
    for (const st of states) {
      if (st !== POSITION_NONE && st !== POSITION_NO_FIX && st !== POSITION_FIX) throw new BatchFormatError(`position states: ${st}`);
      if (st === POSITION_FIX) fixes++;
    }
    lats = readColumn(body, raw, fixes, true, 'latitudes');
    lons = readColumn(body, raw, fixes, true, 'longitudes');
    for (let k = 0; k < fixes; k++) {
      if (Math.abs(lats[k]!) > 90 * MICRO || Math.abs(lons[k]!) > 180 * MICRO) throw new BatchFormatError(`position ${k}: not a coordinate`);
    }
  }
  let answers: number[] = [];
  const visits: (VisitEventDetails | undefined)[] = [];
  if (v4) {
    let declarations = 0;
    let visitorEvents = 0;
    for (let i = 0; i < n; i++) {
      const c = classes[classColumn[i]!];
      if (!c) throw new BatchFormatError(`event ${i}: class out of range`);
      if (c.source === 'declaration') declarations++;
      if (c.source === 'visitor') visitorEvents++;
    }
    answers = readColumn(body, raw, declarations, false, 'declaration answers');
    for (const a of answers) if (a < 0 || a > MAX_ANSWER_BITS) throw new BatchFormatError(`declaration answers: ${a} is not 0 to ${MAX_ANSWER_BITS}`);
    for (let k = 0; k < visitorEvents; k++) {
      const what = `visit ${k}`;
      const mask = body.u8();
      if (mask === 0) {
        visits.push(undefined);
        continue;
      }
      if ((mask & VISIT_PRESENT) === 0 || mask >= 64) throw new BatchFormatError(`${what}: bad details mask ${mask}`);
      const v: VisitEventDetails = {};
      if (mask & VISIT_NAME) v.name = visitText(body, MAX_VISIT_NAME, `${what}: name`);
      if (mask & VISIT_HOST) v.host = visitText(body, MAX_VISIT_TEXT, `${what}: host`);
      if (mask & VISIT_PURPOSE) v.purpose = visitText(body, MAX_VISIT_TEXT, `${what}: purpose`);
      if (mask & VISIT_NOTICE) v.noticeVersion = body.uvarint(`${what}: notice version`);
      if (mask & VISIT_DECIDED_BY) {
        v.decidedBy = body.string(`${what}: decided by`, 1, 32);
        if (!SUPERVISOR_ID_PATTERN.test(v.decidedBy)) throw new BatchFormatError(`${what}: decided by: not a supervisor id`);
      }
      visits.push(v);
    }
  }
  body.end();
  raw.end();

  const events: WireEvent[] = new Array<WireEvent>(n);
  let nextPerson = 0;
  let nextFix = 0;
  let nextAnswers = 0;
  let nextVisit = 0;
  for (let i = 0; i < n; i++) {
    const seq = seqs[i]!;
    if (seq <= 0 || (i > 0 && seq <= seqs[i - 1]!)) throw new BatchFormatError(`event ${i}: sequence numbers must increase`);
    const monoUs = monos[i]!;
    const wallMs = timeMode === TIME_WALL_FROM_MONO ? walls[i]! + Math.floor(monoUs / 1000) : walls[i]!;
    if (!Number.isSafeInteger(wallMs)) throw new BatchFormatError(`event ${i}: wall time not a safe integer`);
    const c = classes[classColumn[i]!];
    if (!c) throw new BatchFormatError(`event ${i}: class out of range`);
    const back = personColumn[i]!;
    const person = back === 0 ? people[nextPerson++] : people[nextPerson - back];
    if (!person) throw new BatchFormatError(`event ${i}: person out of range`);
    events[i] = {
      seq,
      wallMs,
      monoUs,
      bootId: c.bootId,
      clockSynced: c.clockSynced,
      checkpointId: c.checkpointId,
      zoneId: c.zoneId,
      direction: c.direction,
      credentialKind: c.credentialKind,
      workerId: person.workerId,
      codeHash: person.codeHash,
      decision: c.decision,
      reasons: c.reasons.slice(),
      source: c.source,
      policyVersion: c.policyVersion,
    };
    if (bus) {
      const e = events[i]!;
      if (c.tripId !== undefined) e.tripId = c.tripId;
      if (c.routeId !== undefined) e.routeId = c.routeId;
      const st = states![i];
      if (st === POSITION_NO_FIX) e.position = null;
      else if (st === POSITION_FIX) {
        e.position = { lat: lats[nextFix]! / MICRO, lon: lons[nextFix]! / MICRO };
        nextFix++;
      }
      if (c.clockSource !== undefined) e.clockSource = c.clockSource;
    }
    if (v4) {
      const e = events[i]!;
      if (person.visitorId !== undefined) e.visitorId = person.visitorId;
      if (c.source === 'declaration') e.declaration = { answers: answers[nextAnswers++]! };
      if (c.source === 'visitor') {
        const v = visits[nextVisit++];
        if (v !== undefined) e.visit = { ...v };
      }
    }
  }
  if (nextPerson !== people.length) throw new BatchFormatError('people listed but never seen');
  return { deviceId, batchId: batchId === '' ? derivedBatchId(events) : batchId, events, anchor };
}

/** A visit's name, host or purpose: at most `max` characters (code points). */
function visitText(body: ByteReader, max: number, what: string): string {
  const s = body.string(what, 0, 2 * max);
  if (codePoints(s) > max) throw new BatchFormatError(`${what}: more than ${max} characters`);
  return s;
}

// ---------------------------------------------------------------------------------------------------
// Format 1 (decode only)

function reasonsOf(mask: number): DenyReason[] {
  // Arithmetic, not bitwise: there are more than 32 codes (a bitwise test wraps code 32 onto code 0).
  return DENY_REASON_CODES.filter((_, i) => Math.floor(mask / 2 ** i) % 2 === 1);
}

function undelta(values: number[]): number[] {
  const out: number[] = [];
  let acc = 0;
  for (let i = 0; i < values.length; i++) out.push((acc = i === 0 ? values[0]! : acc + values[i]!));
  return out;
}

// zod 4: .int() admits only safe integers.
const int = z.number().int();
const format1Schema = z
  .object({
    v: z.literal(FORMAT_1),
    device: deviceIdSchema,
    batch: z.string().min(1).max(64),
    n: z.number().int().min(1).max(MAX_BATCH_EVENTS),
    seq: z.array(int),
    wall: z.array(int),
    mono: z.array(int),
    flags: z.array(z.number().int().min(0).max(255)),
    boot: z.array(z.number().int().nonnegative()),
    cp: z.array(z.number().int().nonnegative()),
    zone: z.array(z.number().int().nonnegative()),
    who: z.array(z.number().int().nonnegative()),
    reasons: z.array(z.number().int().min(0).max(2 ** DENY_REASON_CODES.length - 1)),
    policy: z.array(int),
    strings: z.array(z.string().max(MAX_STRING_LENGTH)).max(3 * MAX_BATCH_EVENTS + 10),
    anchor: z.tuple([z.string().min(1).max(64), int, z.number().int().positive()]).nullable().default(null),
  })
  .strict();

function decodeFormat1(bytes: Uint8Array): EventBatch {
  let raw: unknown;
  try {
    const cbor = brotliDecompressSync(bytes.subarray(1), { maxOutputLength: MAX_DECODED_BYTES });
    raw = cborDecode(cbor, { useMaps: false, rejectDuplicateMapKeys: true, allowIndefinite: false, allowUndefined: false });
  } catch (err) {
    throw new BatchFormatError(`cannot decode: ${(err as Error).message}`);
  }
  const parsed = format1Schema.safeParse(raw);
  if (!parsed.success) throw new BatchFormatError(issuesText(parsed.error));
  const d = parsed.data;
  const columns = [d.seq, d.wall, d.mono, d.flags, d.boot, d.cp, d.zone, d.who, d.reasons, d.policy];
  if (columns.some((c) => c.length !== d.n)) throw new BatchFormatError('column lengths differ from the event count');
  const str = (i: number, what: string): string => {
    const s = d.strings[i];
    if (s === undefined) throw new BatchFormatError(`${what}: string index ${i} out of range`);
    return s;
  };
  const seqs = undelta(d.seq);
  const walls = undelta(d.wall);
  const monos = undelta(d.mono);
  const policies = undelta(d.policy);
  const events: WireEvent[] = [];
  for (let i = 0; i < d.n; i++) {
    const what = `event ${i}`;
    const f = d.flags[i]!;
    const who = str(d.who[i]!, 'who');
    const seq = seqs[i]!;
    if (seq <= 0 || (i > 0 && seq <= seqs[i - 1]!)) throw new BatchFormatError(`${what}: sequence numbers must increase`);
    const wallMs = walls[i]!;
    const monoUs = monos[i]! + wallMs * 1000;
    if (![seq, wallMs, monoUs, policies[i]!].every(Number.isSafeInteger)) throw new BatchFormatError(`${what}: not a safe integer`);
    const cls: EventClass = {
      bootId: str(d.boot[i]!, 'boot'),
      checkpointId: str(d.cp[i]!, 'checkpoint'),
      zoneId: str(d.zone[i]!, 'zone'),
      policyVersion: policies[i]!,
      ...classFlags(f & 0x7f, what, FORMAT_1),
      reasons: reasonsOf(d.reasons[i]!),
    };
    checkClass(cls, what);
    const isHash = (f & 0x80) !== 0;
    if (isHash && !HEX32.test(who)) throw new BatchFormatError(`${what}: code hash is not 32 lower-case hex digits`);
    if (!isHash) checkIdentifier(who, `${what}: worker id`);
    events.push({
      seq,
      wallMs,
      monoUs,
      bootId: cls.bootId,
      clockSynced: cls.clockSynced,
      checkpointId: cls.checkpointId,
      zoneId: cls.zoneId,
      direction: cls.direction,
      credentialKind: cls.credentialKind,
      workerId: isHash ? null : who,
      codeHash: isHash ? who : null,
      decision: cls.decision,
      reasons: cls.reasons,
      source: cls.source,
      policyVersion: cls.policyVersion,
    });
  }
  const anchor = d.anchor ? { bootId: d.anchor[0], monoUs: d.anchor[1], hubTimeMs: d.anchor[2] } : null;
  return { deviceId: d.device, batchId: d.batch, events, anchor };
}
