import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { decode as cborDecode, encode as cborEncode } from 'cborg';
import { z } from 'zod';
import { DENY_REASON_CODES, type DenyReason } from '../base/common/reasons.js';
import type { CredentialKind, Direction, ScanSource, WireEvent } from '../base/common/types.js';
import { deviceIdSchema } from '../base/common/ids.js';
import { issuesText } from '../base/common/validation.js';

/**
 * The uplink batch: a columnar, delta-encoded CBOR document compressed with Brotli. Gate events are
 * highly regular (the same checkpoint, boot and policy; sequence numbers in order; seconds apart), so
 * columns of small deltas compress to a few bytes an event. See docs/hub-protocol.md.
 *
 * Wire format: one byte format version (1), then Brotli( CBOR( BatchDocument ) ).
 */
export const BATCH_FORMAT = 1;
/** Upper bound on a decompressed batch: far above 256 KB of wire data, far below a memory problem. */
const MAX_DECODED_BYTES = 8 * 1024 * 1024;
export const MAX_BATCH_EVENTS = 5_000;

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

const DIRECTIONS: Direction[] = ['entry', 'exit'];
const KINDS: (CredentialKind | 'unknown')[] = ['pass', 'badge', 'unknown'];
const SOURCES: ScanSource[] = ['serial', 'stdin', 'camera', 'keyboard'];
const DECISIONS = ['allow', 'deny'] as const;

// flags: bit0 clockSynced, bit1 direction, bit2 decision, bits3-4 credential kind, bits5-6 source,
// bit7 "who" is a code hash rather than a worker id.
function packFlags(e: WireEvent): number {
  return (
    (e.clockSynced ? 1 : 0) |
    (DIRECTIONS.indexOf(e.direction) << 1) |
    (DECISIONS.indexOf(e.decision) << 2) |
    (KINDS.indexOf(e.credentialKind) << 3) |
    (SOURCES.indexOf(e.source) << 5) |
    (e.workerId === null ? 1 << 7 : 0)
  );
}

function reasonMask(reasons: readonly DenyReason[]): number {
  let mask = 0;
  for (const r of reasons) mask |= 1 << DENY_REASON_CODES.indexOf(r);
  return mask;
}

function reasonsOf(mask: number): DenyReason[] {
  return DENY_REASON_CODES.filter((_, i) => (mask & (1 << i)) !== 0);
}

/** Delta-encodes a column: the first value as is, then differences. */
function deltas(values: number[]): number[] {
  return values.map((v, i) => (i === 0 ? v : v - values[i - 1]!));
}

function undelta(values: number[]): number[] {
  const out: number[] = [];
  let acc = 0;
  for (let i = 0; i < values.length; i++) out.push((acc = i === 0 ? values[0]! : acc + values[i]!));
  return out;
}

class Dictionary {
  readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  id(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

export function encodeBatch(batch: EventBatch): Uint8Array {
  const ev = batch.events;
  if (ev.length === 0 || ev.length > MAX_BATCH_EVENTS) throw new Error(`a batch holds 1 to ${MAX_BATCH_EVENTS} events`);
  const dict = new Dictionary();
  const doc = {
    v: BATCH_FORMAT,
    device: batch.deviceId,
    batch: batch.batchId,
    n: ev.length,
    seq: deltas(ev.map((e) => e.seq)),
    wall: deltas(ev.map((e) => e.wallMs)),
    // Monotonic time relative to wall time changes little from one event to the next.
    mono: deltas(ev.map((e) => e.monoUs - e.wallMs * 1000)),
    flags: ev.map(packFlags),
    boot: ev.map((e) => dict.id(e.bootId)),
    cp: ev.map((e) => dict.id(e.checkpointId)),
    zone: ev.map((e) => dict.id(e.zoneId)),
    who: ev.map((e) => dict.id(e.workerId ?? e.codeHash ?? '')),
    reasons: ev.map((e) => reasonMask(e.reasons)),
    policy: deltas(ev.map((e) => e.policyVersion)),
    strings: dict.strings,
    anchor: batch.anchor ? [batch.anchor.bootId, batch.anchor.monoUs, batch.anchor.hubTimeMs] : null,
  };
  const cbor = cborEncode(doc);
  // Quality 5 is within 1% of the best size on this data at a hundredth of quality 9's time.
  const body = brotliCompressSync(cbor, {
    params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: cbor.length },
  });
  const out = new Uint8Array(body.length + 1);
  out[0] = BATCH_FORMAT;
  out.set(body, 1);
  return out;
}

// zod 4: .int() admits only safe integers.
const int = z.number().int();
const docSchema = z
  .object({
    v: z.literal(BATCH_FORMAT),
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
    strings: z.array(z.string().max(128)).max(3 * MAX_BATCH_EVENTS + 10),
    anchor: z.tuple([z.string().min(1).max(64), int, z.number().int().positive()]).nullable().default(null),
  })
  .strict();

export class BatchFormatError extends Error {
  override name = 'BatchFormatError';
}

/** Decodes and validates a batch from the wire; throws BatchFormatError for anything malformed. */
export function decodeBatch(bytes: Uint8Array): EventBatch {
  if (bytes.length < 2 || bytes[0] !== BATCH_FORMAT) throw new BatchFormatError(`unknown batch format ${bytes[0] ?? 'none'}`);
  let raw: unknown;
  try {
    const cbor = brotliDecompressSync(bytes.subarray(1), { maxOutputLength: MAX_DECODED_BYTES });
    raw = cborDecode(cbor, { useMaps: false, rejectDuplicateMapKeys: true, allowIndefinite: false, allowUndefined: false });
  } catch (err) {
    throw new BatchFormatError(`cannot decode: ${(err as Error).message}`);
  }
  const parsed = docSchema.safeParse(raw);
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
    const f = d.flags[i]!;
    const direction = DIRECTIONS[(f >> 1) & 1]!;
    const kind = KINDS[(f >> 3) & 3];
    const source = SOURCES[(f >> 5) & 3];
    if (!kind || !source) throw new BatchFormatError(`event ${i}: bad flags ${f}`);
    const who = str(d.who[i]!, 'who');
    const seq = seqs[i]!;
    if (seq <= 0 || (i > 0 && seq <= seqs[i - 1]!)) throw new BatchFormatError(`event ${i}: sequence numbers must increase`);
    events.push({
      seq,
      wallMs: walls[i]!,
      monoUs: monos[i]! + walls[i]! * 1000,
      bootId: str(d.boot[i]!, 'boot'),
      clockSynced: (f & 1) === 1,
      checkpointId: str(d.cp[i]!, 'checkpoint'),
      zoneId: str(d.zone[i]!, 'zone'),
      direction,
      credentialKind: kind,
      workerId: f & 0x80 ? null : who,
      codeHash: f & 0x80 ? who : null,
      decision: DECISIONS[(f >> 2) & 1]!,
      reasons: reasonsOf(d.reasons[i]!),
      source,
      policyVersion: policies[i]!,
    });
  }
  const anchor = d.anchor ? { bootId: d.anchor[0], monoUs: d.anchor[1], hubTimeMs: d.anchor[2] } : null;
  return { deviceId: d.device, batchId: d.batch, events, anchor };
}
