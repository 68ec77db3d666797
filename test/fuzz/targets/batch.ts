import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { encode as cborEncode } from 'cborg';
import fc from 'fast-check';
import { TRIP_ID_PATTERN } from '../../../base/common/bus.js';
import { DEVICE_ID_PATTERN, IDENTIFIER_PATTERN } from '../../../base/common/ids.js';
import { DENY_REASON_CODES, type DenyReason } from '../../../base/common/reasons.js';
import type { WireEvent } from '../../../base/common/types.js';
import { VISITOR_ID_PATTERN } from '../../../base/common/visitor.js';
import { BatchFormatError, decodeBatch, encodeBatch, type EventBatch } from '../../../sync/batch-codec.js';
import { check, show, target, type AnyFuzzTarget } from '../harness.js';

// ---- valid batches, as a kiosk's uplink makes them -------------------------------------------------

const identifier = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const codeHash = fc.stringMatching(/^[0-9a-f]{32}$/);
const bootId = fc.oneof(fc.uuid(), fc.uuid().map((u) => `proc-${u}`), fc.string({ minLength: 1, maxLength: 64 }));
const DENIABLE = DENY_REASON_CODES.filter((r) => r !== 'SUPERVISOR_OVERRIDE');
/** Deny reasons in the order a policy lists them (any order), each once. */
const denyReasons = fc.uniqueArray(fc.constantFrom(...DENIABLE), { minLength: 1, maxLength: 4 }) as fc.Arbitrary<[DenyReason, ...DenyReason[]]>;

/** A bus unit's trip ids (base/common/bus.ts): `T` + start time in base 36 + 6 hex digits. */
export const tripId = fc.tuple(fc.integer({ min: 36 ** 5, max: Number.MAX_SAFE_INTEGER }), fc.stringMatching(/^[0-9a-f]{6}$/)).map(([t, h]) => `T${t.toString(36)}-${h}`);
/** A GeoPoint as the GPS gives it: 6 decimals, anywhere on Earth (poles and antimeridian included). */
export const geoPoint = fc
  .record({ lat: fc.integer({ min: -90_000_000, max: 90_000_000 }), lon: fc.integer({ min: -180_000_000, max: 180_000_000 }) }, { noNullPrototype: true })
  .map(({ lat, lon }) => ({ lat: lat / 1e6, lon: lon / 1e6 }));

/** What a bus unit adds to an event (GateEvent.tripId ... clockSource); absent fields absent, not undefined. */
type BusFields = Pick<WireEvent, 'tripId' | 'routeId' | 'position' | 'clockSource'>;
const busFields = (trips: string[], routes: string[]): fc.Arbitrary<BusFields> =>
  fc
    .record({
      tripId: fc.option(fc.constantFrom(...trips), { nil: undefined, freq: 6 }),
      routeId: fc.option(fc.constantFrom(...routes), { nil: undefined, freq: 2 }),
      position: fc.oneof({ weight: 5, arbitrary: geoPoint }, fc.constant(null), fc.constant(undefined)),
      clockSource: fc.option(fc.constant('gps' as const), { nil: undefined }),
    })
    .map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as BusFields);

/** A visitor's pseudonym (base/common/visitor.ts VISITOR_ID_PATTERN). */
export const visitorId = fc.tuple(fc.stringMatching(/^[a-z0-9]{1,8}$/), fc.stringMatching(/^[0-9a-f]{32}$/)).map(([k, h]) => `v${k}.${h}`);
/** Visit details as the kiosk writes them (issue 14): any subset, texts at their longest bounds too. */
export const visitDetails = fc
  .record(
    {
      name: fc.oneof(fc.string({ maxLength: 120, unit: 'binary' }), fc.string({ maxLength: 120, unit: fc.constantFrom('a', 'Ă', 'ễ', ' ', 'Đ') })),
      host: fc.string({ maxLength: 80, unit: 'grapheme-ascii' }),
      purpose: fc.string({ maxLength: 80, unit: fc.constantFrom('g', 'i', 'ả', 'o', ' ') }),
      noticeVersion: fc.nat(),
      decidedBy: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,31}$/),
    },
    { requiredKeys: [], noNullPrototype: true },
  );
/** What the gate for everyone adds to an event (issue 14, format 4): a declaration or visitor source and their fields. */
const everyoneFields = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  fc.nat({ max: 2047 }).map((answers) => ({ source: 'declaration' as const, declaration: { answers } })),
  fc.option(visitDetails, { nil: undefined }).map((visit) => (visit === undefined ? { source: 'visitor' as const } : { source: 'visitor' as const, visit })),
);

type EventShape = Omit<WireEvent, 'seq' | 'wallMs' | 'monoUs' | 'policyVersion'>;
const eventShape = (boots: string[], checkpoints: string[], bus: { trips: string[]; routes: string[] } | null, everyone = false): fc.Arbitrary<EventShape> =>
  fc
    .record({
      bootId: fc.constantFrom(...boots),
      clockSynced: fc.boolean(),
      checkpointId: fc.constantFrom(...checkpoints),
      zoneId: fc.constantFrom('factory-1', 'Z.2', 'canteen_3'),
      direction: fc.constantFrom('entry' as const, 'exit' as const),
      source: bus
        ? fc.constantFrom('serial' as const, 'trip' as const, 'evdev' as const, 'input' as const)
        : fc.constantFrom('serial' as const, 'stdin' as const, 'camera' as const, 'keyboard' as const),
      who: fc.oneof(
        fc.record({ workerId: identifier, codeHash: fc.constant(null), credentialKind: fc.constantFrom('pass' as const, 'badge' as const) }),
        fc.record({ workerId: fc.constant(null), codeHash, credentialKind: fc.constantFrom('pass' as const, 'badge' as const, 'unknown' as const) }),
        ...(everyone
          ? [fc.record({ workerId: fc.constant(null), codeHash: fc.constant(null), visitorId, credentialKind: fc.constantFrom('cccd' as const, 'dcc' as const) }, { noNullPrototype: true })]
          : []),
      ),
      everyone: everyone ? everyoneFields : fc.constant({}),
      outcome: fc.oneof(
        fc.record({ decision: fc.constant('allow' as const), reasons: fc.constantFrom<DenyReason[]>([], ['SUPERVISOR_OVERRIDE']) }),
        fc.record({ decision: fc.constant('deny' as const), reasons: denyReasons }),
      ),
      bus: bus ? busFields(bus.trips, bus.routes) : fc.constant({}),
    })
    .map(({ who, outcome, bus: b, everyone: g, ...rest }) => ({ ...rest, ...who, ...outcome, ...b, ...g }));

const WALL_MIN = Date.parse('2000-01-01T00:00:00Z');
const WALL_MAX = Date.parse('2100-01-01T00:00:00Z');

/** Valid batches of up to `maxEvents` events (mostly a few dozen). */
export const batchOf = (maxEvents: number): fc.Arbitrary<EventBatch> =>
  fc
    .record({
      deviceId: fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,62}$/),
      batchId: fc.oneof(fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}-${a + b}`), fc.string({ minLength: 1, maxLength: 64 })),
      boots: fc.uniqueArray(bootId, { minLength: 1, maxLength: 3 }),
      checkpoints: fc.uniqueArray(identifier, { minLength: 1, maxLength: 3 }),
      firstSeq: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 2 ** 40 })),
      firstWall: fc.integer({ min: WALL_MIN, max: WALL_MAX }),
      firstMono: fc.oneof(fc.integer({ min: 0, max: 10 ** 7 }), fc.integer({ min: 0, max: 4 * 10 ** 13 })),
      firstPolicy: fc.integer({ min: 0, max: 10 ** 6 }),
      n: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: Math.min(40, maxEvents) }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: maxEvents }) }),
      anchor: fc.option(fc.record({ bootId: fc.string({ minLength: 1, maxLength: 64 }), monoUs: fc.integer({ min: 0, max: 4 * 10 ** 13 }), hubTimeMs: fc.integer({ min: 1, max: WALL_MAX }) }, { noNullPrototype: true }), { nil: null }),
      // A bus unit's batch (format 3) one time in three.
      bus: fc.option(fc.record({ trips: fc.uniqueArray(tripId, { minLength: 1, maxLength: 3 }), routes: fc.uniqueArray(identifier, { minLength: 1, maxLength: 2 }) }), { nil: null, freq: 2 }),
      // Events of the gate for everyone (format 4) one time in three.
      everyone: fc.integer({ min: 0, max: 2 }).map((k) => k === 0),
      seed: fc.nat(),
    })
    .chain((b) =>
      fc
        .array(
          fc.tuple(
            eventShape(b.boots, b.checkpoints, b.bus, b.everyone),
            fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, fc.integer({ min: 2, max: 100_000 })),
            fc.integer({ min: -3_600_000, max: 86_400_000 }),
            fc.integer({ min: 0, max: 86_400_000_000 }),
            fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, fc.integer({ min: -3, max: 3 })),
          ),
          { minLength: b.n, maxLength: b.n },
        )
        .map((steps) => {
          let seq = b.firstSeq;
          let wall = b.firstWall;
          let mono = b.firstMono;
          let policy = b.firstPolicy;
          const events: WireEvent[] = steps.map(([shape, dSeq, dWall, dMono, dPolicy], i) => {
            if (i > 0) {
              seq += dSeq;
              wall = Math.min(WALL_MAX, Math.max(WALL_MIN, wall + dWall));
              mono += dMono;
              policy = Math.max(0, policy + dPolicy);
            }
            return { seq, wallMs: wall, monoUs: mono, policyVersion: policy, ...shape };
          });
          return { deviceId: b.deviceId, batchId: b.batchId, events, anchor: b.anchor };
        }),
    );
export const validBatch = batchOf(700);

// ---- what a decoded batch must be --------------------------------------------------------------

const isSafe = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * A batch as the hub may store and acknowledge it: the WireEvent contract (base/common/types.ts) with
 * identifiers by base/common/ids.ts. (Whether a decision's reasons fit it, as decide() makes them, is
 * not part of that contract.) Returns the first problem, or undefined.
 */
export function batchProblem(b: EventBatch): string | undefined {
  if (!DEVICE_ID_PATTERN.test(b.deviceId)) return `device id ${show(b.deviceId)}`;
  if (typeof b.batchId !== 'string' || b.batchId.length < 1 || b.batchId.length > 64) return `batch id ${show(b.batchId)}`;
  if (!Array.isArray(b.events) || b.events.length < 1 || b.events.length > 5000) return `${b.events.length} events`;
  if (b.anchor != null && !(typeof b.anchor.bootId === 'string' && b.anchor.bootId.length > 0 && isSafe(b.anchor.monoUs) && isSafe(b.anchor.hubTimeMs) && b.anchor.hubTimeMs > 0)) {
    return `anchor ${show(b.anchor)}`;
  }
  let last = 0;
  for (const [i, e] of b.events.entries()) {
    const at = `event ${i}`;
    if (!isSafe(e.seq) || e.seq <= last) return `${at}: seq ${show(e.seq)} after ${last}`;
    last = e.seq;
    for (const f of ['wallMs', 'monoUs', 'policyVersion'] as const) if (!isSafe(e[f])) return `${at}: ${f} ${show(e[f])} is not a safe integer`;
    if (e.policyVersion < 0) return `${at}: policy version ${e.policyVersion}`;
    if (typeof e.bootId !== 'string' || e.bootId.length === 0) return `${at}: boot id ${show(e.bootId)}`;
    if (!IDENTIFIER_PATTERN.test(e.checkpointId)) return `${at}: checkpoint id ${show(e.checkpointId)}`;
    if (!IDENTIFIER_PATTERN.test(e.zoneId)) return `${at}: zone id ${show(e.zoneId)}`;
    if ((e.workerId !== null ? 1 : 0) + (e.codeHash !== null ? 1 : 0) + ('visitorId' in e ? 1 : 0) !== 1) return `${at}: worker ${show(e.workerId)}, code hash ${show(e.codeHash)}, visitor ${show(e.visitorId)}`;
    if ('visitorId' in e && !(typeof e.visitorId === 'string' && VISITOR_ID_PATTERN.test(e.visitorId))) return `${at}: visitor id ${show(e.visitorId)}`;
    if ((e.source === 'declaration') !== ('declaration' in e)) return `${at}: declaration ${show(e.declaration)} on source ${e.source}`;
    if ('declaration' in e && !(Object.keys(e.declaration!).length === 1 && Number.isInteger(e.declaration!.answers) && e.declaration!.answers >= 0 && e.declaration!.answers <= 2047)) {
      return `${at}: declaration ${show(e.declaration)}`;
    }
    if ('visit' in e && (e.source !== 'visitor' || visitProblem(e.visit))) return `${at}: visit ${show(e.visit)}`;
    if (e.workerId !== null && !IDENTIFIER_PATTERN.test(e.workerId)) return `${at}: worker id ${show(e.workerId)}`;
    if (e.codeHash !== null && !/^[0-9a-f]{32}$/.test(e.codeHash)) return `${at}: code hash ${show(e.codeHash)}`;
    if (!['entry', 'exit'].includes(e.direction) || !['pass', 'badge', 'unknown', 'cccd', 'dcc'].includes(e.credentialKind)) return `${at}: ${e.direction}/${e.credentialKind}`;
    if (!['serial', 'stdin', 'camera', 'keyboard', 'input', 'trip', 'evdev', 'declaration', 'visitor'].includes(e.source) || typeof e.clockSynced !== 'boolean') return `${at}: ${e.source}/${String(e.clockSynced)}`;
    if (new Set(e.reasons).size !== e.reasons.length || !e.reasons.every((r) => DENY_REASON_CODES.includes(r))) return `${at}: reasons ${show(e.reasons)}`;
    if (e.decision !== 'allow' && e.decision !== 'deny') return `${at}: decision ${show(e.decision)}`;
    // A bus unit's fields: absent, or what base/common/types.ts says.
    if ('tripId' in e && !(typeof e.tripId === 'string' && TRIP_ID_PATTERN.test(e.tripId))) return `${at}: trip id ${show(e.tripId)}`;
    if ('routeId' in e && !(typeof e.routeId === 'string' && IDENTIFIER_PATTERN.test(e.routeId))) return `${at}: route id ${show(e.routeId)}`;
    if ('clockSource' in e && e.clockSource !== 'gps') return `${at}: clock source ${show(e.clockSource)}`;
    if ('position' in e && e.position !== null) {
      const p = e.position;
      const ok = typeof p === 'object' && Object.keys(p).length === 2 && Number.isFinite(p.lat) && Number.isFinite(p.lon) && Math.abs(p.lat) <= 90 && Math.abs(p.lon) <= 180 &&
        Number.isInteger(Math.round(p.lat * 1e6)) && Math.round(p.lat * 1e6) / 1e6 === p.lat && Math.round(p.lon * 1e6) / 1e6 === p.lon;
      if (!ok) return `${at}: position ${show(p)}`;
    }
  }
  return undefined;
}

/** Visit details as base/common/types.ts says (bounded texts, a supervisor id, a notice version): true when not. */
function visitProblem(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  const text = (x: unknown, max: number) => x === undefined || (typeof x === 'string' && [...x].length <= max);
  const o = v as Record<string, unknown>;
  if (Object.keys(o).some((k) => !['name', 'host', 'purpose', 'noticeVersion', 'decidedBy'].includes(k))) return true;
  return !(
    text(o.name, 120) && text(o.host, 80) && text(o.purpose, 80) && (o.noticeVersion === undefined || isSafe(o.noticeVersion)) &&
    (o.decidedBy === undefined || (typeof o.decidedBy === 'string' && /^[a-z0-9][a-z0-9._-]{0,31}$/.test(o.decidedBy)))
  );
}

/** decodeBatch either refuses with BatchFormatError or returns a batch that meets the contract. */
export function decodeOrRefuse(bytes: Uint8Array): EventBatch | undefined {
  let batch: EventBatch;
  try {
    batch = decodeBatch(bytes);
  } catch (err) {
    check(err instanceof BatchFormatError, () => `decodeBatch threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
    check(err.message.length > 0, 'a refusal without its reason');
    return undefined;
  }
  const problem = batchProblem(batch);
  check(problem === undefined, () => `decodeBatch accepted an invalid batch: ${problem}`);
  return batch;
}

// ---- documents that almost match the schema --------------------------------------------------------

const FIELDS = ['v', 'device', 'batch', 'n', 'seq', 'wall', 'mono', 'flags', 'boot', 'cp', 'zone', 'who', 'reasons', 'policy', 'strings', 'anchor'] as const;

const oddNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -1, 1, 255, 256, 2 ** 31, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 2 ** 63, 1e300, -1e300, 0.5, -0, Number.NaN, Infinity, 4_000_000_000_000_000),
  fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
  fc.double(),
);
const oddValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    oddNumber,
    fc.string({ maxLength: 10 }),
    fc.string({ minLength: 120, maxLength: 140 }),
    fc.constantFrom('', 'kiosk-1', '__proto__', 'x y', '\u0000'),
    fc.uint8Array({ maxLength: 8 }),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(oddNumber, { maxLength: 6 }),
    fc.dictionary(fc.string({ maxLength: 5 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

type DocMutation =
  | { op: 'set'; field: (typeof FIELDS)[number] | string; value: unknown }
  | { op: 'delete'; field: (typeof FIELDS)[number] }
  | { op: 'element'; field: (typeof FIELDS)[number]; at: number; value: unknown }
  | { op: 'push' | 'pop'; field: (typeof FIELDS)[number]; value: unknown };

const docMutation: fc.Arbitrary<DocMutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), field: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...FIELDS) }, fc.string({ maxLength: 6 })), value: oddValue }),
  fc.record({ op: fc.constant('delete' as const), field: fc.constantFrom(...FIELDS) }),
  fc.record({ op: fc.constant('element' as const), field: fc.constantFrom(...FIELDS), at: fc.nat(), value: fc.oneof({ weight: 3, arbitrary: oddNumber }, oddValue) }),
  fc.record({ op: fc.constantFrom('push' as const, 'pop' as const), field: fc.constantFrom(...FIELDS), value: fc.oneof(oddNumber, oddValue) }),
);

export interface DocInput {
  batch: EventBatch;
  mutations: DocMutation[];
}

export const mutatedDoc: fc.Arbitrary<DocInput> = fc.record({
  batch: batchOf(24),
  mutations: fc.array(docMutation, { minLength: 1, maxLength: 4 }),
});

/**
 * Format 1 of the uplink batch (byte 1, then Brotli(CBOR(columns))), written out here as the kiosks
 * that still send it do, so its documents can be mutated field by field whatever format encodeBatch
 * writes today.
 */
export function format1Doc(batch: EventBatch): Record<string, unknown> {
  const ev = batch.events;
  const strings: string[] = [];
  const index = new Map<string, number>();
  const id = (x: string) => {
    if (!index.has(x)) index.set(x, strings.push(x) - 1);
    return index.get(x)!;
  };
  const deltas = (v: number[]) => v.map((x, i) => (i === 0 ? x : x - v[i - 1]!));
  const flags = (e: WireEvent) =>
    (e.clockSynced ? 1 : 0) |
    (['entry', 'exit'].indexOf(e.direction) << 1) |
    (['allow', 'deny'].indexOf(e.decision) << 2) |
    (['pass', 'badge', 'unknown'].indexOf(e.credentialKind) << 3) |
    (['serial', 'stdin', 'camera', 'keyboard'].indexOf(e.source) << 5) |
    (e.workerId === null ? 0x80 : 0);
  return {
    v: 1,
    device: batch.deviceId,
    batch: batch.batchId,
    n: ev.length,
    seq: deltas(ev.map((e) => e.seq)),
    wall: deltas(ev.map((e) => e.wallMs)),
    mono: deltas(ev.map((e) => e.monoUs - e.wallMs * 1000)),
    flags: ev.map(flags),
    boot: ev.map((e) => id(e.bootId)),
    cp: ev.map((e) => id(e.checkpointId)),
    zone: ev.map((e) => id(e.zoneId)),
    who: ev.map((e) => id(e.workerId ?? e.codeHash ?? '')),
    reasons: ev.map((e) => e.reasons.reduce((m, r) => m + 2 ** DENY_REASON_CODES.indexOf(r), 0)),
    policy: deltas(ev.map((e) => e.policyVersion)),
    strings,
    anchor: batch.anchor ? [batch.anchor.bootId, batch.anchor.monoUs, batch.anchor.hubTimeMs] : null,
  };
}

/** A valid batch's format-1 document, mutated, as wire bytes. */
export function mutatedDocBytes({ batch, mutations }: DocInput): Uint8Array {
  const doc = format1Doc(batch);
  for (const m of mutations) {
    const cur = doc[m.field];
    if (m.op === 'set') Object.defineProperty(doc, m.field, { value: m.value, enumerable: true, configurable: true, writable: true });
    else if (m.op === 'delete') delete doc[m.field];
    else if (Array.isArray(cur)) {
      const copy = [...(cur as unknown[])];
      if (m.op === 'element' && copy.length) copy[m.at % copy.length] = m.value;
      else if (m.op === 'push') copy.push(m.value);
      else if (m.op === 'pop') copy.pop();
      doc[m.field] = copy;
    }
  }
  return sealDoc(doc);
}

/** Byte-level damage to what encodeBatch writes today (whatever its format). */
export interface WireMutationInput {
  batch: EventBatch;
  edits: { op: 'flip' | 'insert' | 'delete' | 'truncate'; at: number; byte: number }[];
}
export const mutatedWire: fc.Arbitrary<WireMutationInput> = fc.record({
  batch: batchOf(60),
  edits: fc.array(fc.record({ op: fc.constantFrom('flip' as const, 'insert' as const, 'delete' as const, 'truncate' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
});
export function mutatedWireBytes({ batch, edits }: WireMutationInput): Uint8Array {
  let b = [...encodeBatch(batch)];
  for (const e of edits) {
    const at = e.at % (b.length + 1);
    if (e.op === 'flip' && at < b.length) b[at] = b[at]! ^ (e.byte || 1);
    else if (e.op === 'insert') b.splice(at, 0, e.byte);
    else if (e.op === 'delete') b.splice(at, 1);
    else if (e.op === 'truncate') b = b.slice(0, at);
  }
  return new Uint8Array(b);
}

/** Brotli at a low quality: any quality decodes the same, and quality 11 would dominate the fuzzers' time. */
const brotli = (b: Uint8Array) => brotliCompressSync(b, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 2 } });

/** A CBOR array holding an array holding ... `depth` times. */
export function deeplyNested(depth: number, open = 0x81): Uint8Array {
  return new Uint8Array([...new Uint8Array(depth).fill(open), 0]);
}

export function sealDoc(doc: unknown): Uint8Array {
  return new Uint8Array([1, ...brotli(cborEncode(doc))]);
}

/**
 * A valid batch with one event field (or the batch's own) set to something the contract forbids, put
 * through encodeBatch: the encoder may refuse it (a programming error at the kiosk), but whatever
 * it writes the decoder must refuse or decode into a valid batch, whatever the format.
 */
export interface OddBatchInput {
  batch: EventBatch;
  event: number;
  field: string;
  value: unknown;
}
const EVENT_FIELDS = ['seq', 'wallMs', 'monoUs', 'bootId', 'clockSynced', 'checkpointId', 'zoneId', 'direction', 'credentialKind', 'workerId', 'codeHash', 'decision', 'reasons', 'source', 'policyVersion',
  'tripId', 'routeId', 'position', 'clockSource'];
export const oddBatch: fc.Arbitrary<OddBatchInput> = fc.record({
  batch: batchOf(30),
  event: fc.nat(),
  field: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...EVENT_FIELDS) }, fc.constantFrom('deviceId', 'batchId', 'anchor')),
  value: fc.oneof(
    oddValue,
    fc.constantFrom('', 'a b', 'x'.repeat(65), 'x'.repeat(129), 'W-1\n', 'ABCDEF0123456789abcdef0123456789', 'é', null, -1, 0, 2 ** 53, -(2 ** 53) + 1, 1.5, ['DEAD_REASON'], ['MALFORMED_CODE', 'MALFORMED_CODE'], 'maybe'),
    // A bus unit's fields gone wrong.
    fc.constantFrom('Tabc-123456', 'T0000000-ABCDEF', 'gps', 'ntp', 'trip', 'evdev', { lat: 90.000001, lon: 0 }, { lat: 0, lon: -180.5 }, { lat: Number.NaN, lon: 1 }, { lat: 1e-7, lon: 1e-7 }, { lat: 10 }, {}),
  ),
});
const isInfinite = (v: unknown): boolean =>
  v === Infinity || v === -Infinity || (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && Object.values(v).some(isInfinite));

/** An event any kiosk could log, with its policy version set to `policyVersion` (a literal in the child's code). */
const ENCODE_IN_A_CHILD = (policyVersion: string) => `
  const { encodeBatch } = await import('./sync/batch-codec.ts');
  const event = { seq: 1, wallMs: 1, monoUs: 1, bootId: 'b', clockSynced: true, checkpointId: 'gate-a', zoneId: 'z', direction: 'entry',
    credentialKind: 'pass', workerId: 'W1', codeHash: null, decision: 'allow', reasons: [], source: 'serial', policyVersion: ${policyVersion} };
  try { encodeBatch({ deviceId: 'kiosk-1', batchId: '1-1', events: [event], anchor: null }); console.log('encoded'); } catch { console.log('refused'); }`;

/**
 * encodeBatch on an event with an infinite number, in a child process with a time limit: its output
 * ('encoded' or 'refused'), or 'hung'. (This fuzzer found the encoder's varint writer dividing
 * Infinity forever; see regressions.test.ts.)
 */
export function encodeInfinityInAChild(policyVersion = 'Infinity', timeoutMs = 5_000): string {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', ENCODE_IN_A_CHILD(policyVersion)], { cwd: root, timeout: timeoutMs, encoding: 'utf8' });
  return r.error || r.signal ? 'hung' : r.stdout.trim();
}

export function oddBatchBytes({ batch, event, field, value }: OddBatchInput): Uint8Array | undefined {
  const b: Record<string, unknown> = { ...batch, events: batch.events.map((e) => ({ ...e })) };
  if (['deviceId', 'batchId', 'anchor'].includes(field)) b[field] = value;
  else (b.events as Record<string, unknown>[])[event % batch.events.length]![field] = value;
  try {
    return encodeBatch(b as unknown as EventBatch);
  } catch {
    return undefined;
  }
}

/**
 * Damage inside the compressed body of format 2 or 3 ([2 or 3, varint raw length, Brotli(body), raw part], see
 * sync/batch-codec.ts): decompress, change bytes, compress again, so the decoder's own checks are
 * reached instead of Brotli's. Other formats get the damage on the wire bytes.
 */
export function damagedBody({ batch, edits }: WireMutationInput): Uint8Array {
  const wire = encodeBatch(batch);
  if (wire[0] !== 2 && wire[0] !== 3 && wire[0] !== 4) return mutatedWireBytes({ batch, edits });
  let pos = 1;
  let rawLength = 0;
  for (let scale = 1; pos < wire.length; scale *= 128) {
    const byte = wire[pos++]!;
    rawLength += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
  }
  const body = brotliDecompressSync(wire.subarray(pos, wire.length - rawLength));
  let b = [...body];
  for (const e of edits) {
    const at = e.at % (b.length + 1);
    if (e.op === 'flip' && at < b.length) b[at] = b[at]! ^ (e.byte || 1);
    else if (e.op === 'insert') b.splice(at, 0, e.byte);
    else if (e.op === 'delete') b.splice(at, 1);
    else if (e.op === 'truncate') b = b.slice(0, at);
  }
  return new Uint8Array([...wire.subarray(0, pos), ...brotli(new Uint8Array(b)), ...wire.subarray(wire.length - rawLength)]);
}

/** Arbitrary CBOR documents (any shape) in the batch wire format. */
export const anyDoc: fc.Arbitrary<unknown> = fc.oneof(oddValue, fc.dictionary(fc.constantFrom(...FIELDS), oddValue, { maxKeys: 16 }));

export const wireBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((b) => new Uint8Array([1, ...b])),
  fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([1, ...brotli(b)])),
  // CBOR nested deeper than the decoder's stack.
  fc.integer({ min: 1, max: 30_000 }).map((n) => new Uint8Array([1, ...brotli(deeplyNested(n))])),
);

export function batchTargets(): AnyFuzzTarget[] {
  // The odd-batch target reaches the decoder through the encoder: while the encoder hangs on an
  // infinite number (a known bug, asked once here), such values stay away from it, and it is said.
  const encoderHangs = encodeInfinityInAChild('Infinity', 3_000) === 'hung';
  if (encoderHangs) console.log('fuzz: encodeBatch still loops forever on an infinite number (see regressions.test.ts); the encoded odd batches leave infinities out');
  return [
    target({ name: 'batch decode: bytes', weight: 100, smallRuns: 600, arbitrary: wireBytes, run: (bytes: Uint8Array) => void decodeOrRefuse(bytes) }),
    target({ name: 'batch decode: CBOR documents', weight: 40, smallRuns: 400, arbitrary: anyDoc, run: (doc: unknown) => void decodeOrRefuse(sealDoc(doc)) }),
    target({ name: 'batch decode: mutated format-1 documents', weight: 40, smallRuns: 400, arbitrary: mutatedDoc, run: (input: DocInput) => void decodeOrRefuse(mutatedDocBytes(input)) }),
    target({ name: 'batch decode: damaged wire bytes', weight: 25, smallRuns: 200, arbitrary: mutatedWire, run: (input: WireMutationInput) => void decodeOrRefuse(mutatedWireBytes(input)) }),
    target({ name: 'batch decode: damaged format-2/3/4 body', weight: 25, smallRuns: 300, arbitrary: mutatedWire, run: (input: WireMutationInput) => void decodeOrRefuse(damagedBody(input)) }),
    target({
      name: 'batch decode: encoded odd batches',
      weight: 20,
      smallRuns: 300,
      arbitrary: encoderHangs ? oddBatch.filter((b) => !isInfinite(b.value)) : oddBatch,
      run(input: OddBatchInput) {
        const bytes = oddBatchBytes(input);
        if (bytes) decodeOrRefuse(bytes);
      },
    }),
    target({
      name: 'batch round trip',
      weight: 30,
      smallRuns: 200,
      arbitrary: validBatch,
      run(batch: EventBatch) {
        check(batchProblem(batch) === undefined, () => `generator made an invalid batch: ${batchProblem(batch)}`);
        const back = decodeBatch(encodeBatch(batch));
        const i = back.events.findIndex((e, k) => !isDeepStrictEqual(e, batch.events[k]));
        check(i === -1, () => `round trip changed event ${i}: ${show(batch.events[i])} came back as ${show(back.events[i])}`);
        check(isDeepStrictEqual(back, batch), () => `round trip changed the batch: ${show({ ...back, events: back.events.length })}, sent ${show({ ...batch, events: batch.events.length })}`);
      },
    }),
  ];
}
