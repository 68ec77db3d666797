import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { brotliCompressSync, brotliDecompressSync, createBrotliCompress, constants as zlibConstants } from 'node:zlib';
import { encode as cborEncode } from 'cborg';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DENY_REASON_CODES, type DenyReason } from '../../base/common/reasons.js';
import { BATCH_FORMAT, BatchFormatError, MAX_BATCH_EVENTS, decodeBatch, encodeBatch, type EventBatch, type WireEvent } from '../../sync/batch-codec.js';
import { dateEvent } from '../../sync/hub/dating.js';
import { typicalEvents } from '../helpers/events.js';

// ---- helpers -------------------------------------------------------------------------------------

/** Format 1 as kiosks before format 2 sent it (the encoder as it shipped), to prove the hub still reads them. */
function encodeFormat1(batch: EventBatch): Uint8Array {
  const ev = batch.events;
  const strings: string[] = [];
  const index = new Map<string, number>();
  const id = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) index.set(s, (i = strings.push(s) - 1));
    return i;
  };
  const deltas = (values: number[]): number[] => values.map((v, i) => (i === 0 ? v : v - values[i - 1]!));
  const flags = (e: WireEvent): number =>
    (e.clockSynced ? 1 : 0) |
    (['entry', 'exit'].indexOf(e.direction) << 1) |
    (['allow', 'deny'].indexOf(e.decision) << 2) |
    (['pass', 'badge', 'unknown'].indexOf(e.credentialKind) << 3) |
    (['serial', 'stdin', 'camera', 'keyboard'].indexOf(e.source) << 5) |
    (e.workerId === null ? 1 << 7 : 0);
  const doc = {
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
  return new Uint8Array([1, ...brotliCompressSync(cborEncode(doc), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } })]);
}

function uvarint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** Splits a format 2 batch into its body (decompressed) and its raw part. */
function openFormat2(wire: Uint8Array): { body: Uint8Array; raw: Uint8Array } {
  let rawLength = 0;
  let pos = 1;
  for (let scale = 1; ; scale *= 0x80) {
    const b = wire[pos++]!;
    rawLength += (b & 0x7f) * scale;
    if (b < 0x80) break;
  }
  return { body: new Uint8Array(brotliDecompressSync(wire.subarray(pos, wire.length - rawLength))), raw: wire.subarray(wire.length - rawLength) };
}

/** Seals a (possibly hostile) body and raw part as a format 2 batch. */
function sealFormat2(body: Uint8Array | number[], raw: Uint8Array | number[] = [], claimedRawLength = raw.length): Uint8Array {
  const compressed = brotliCompressSync(new Uint8Array(body), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } });
  return new Uint8Array(Buffer.concat([Buffer.from([2, ...uvarint(claimedRawLength)]), compressed, Buffer.from(raw)]));
}

/** decodeBatch must refuse with a BatchFormatError that says why, and nothing else. */
function expectRefused(bytes: Uint8Array, why?: RegExp): void {
  let error: unknown;
  try {
    decodeBatch(bytes);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(BatchFormatError);
  expect((error as Error).message).not.toBe('');
  if (why) expect((error as Error).message).toMatch(why);
}

/** Either a batch or a BatchFormatError: never another error. */
function decodeOrRefuse(bytes: Uint8Array): EventBatch | undefined {
  try {
    return decodeBatch(bytes);
  } catch (err) {
    if (!(err instanceof BatchFormatError)) throw err;
    return undefined;
  }
}

function roundTrips(batch: EventBatch): void {
  const back = decodeBatch(encodeBatch(batch));
  // isDeepStrictEqual is fast on 5,000 events; toEqual says what differs.
  if (!isDeepStrictEqual(back, batch)) expect(back).toEqual(batch);
}

const batchOf = (events: WireEvent[], anchor: EventBatch['anchor'] = null): EventBatch => ({
  deviceId: 'kiosk-hcm-0001',
  batchId: `${events[0]!.seq}-${events.at(-1)!.seq}`,
  events,
  anchor,
});

/** A small deterministic generator (mulberry32), so traffic patterns are the same on every run. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const hex32 = (r: () => number): string => Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join('');

interface Traffic {
  gapMs: (r: () => number, i: number) => number;
  worker?: (r: () => number, i: number) => string;
  checkpoint?: (i: number) => string;
  boot?: (i: number) => string;
  clockSynced?: boolean;
  /** Wall clock steps (ms) applied before event i. */
  wallStep?: (i: number) => number;
  /** Monotonic clock restarts (a reboot) before event i. */
  reboot?: (i: number) => boolean;
}

/**
 * Gate traffic with real randomness (typicalEvents is deterministic and regular): true time in µs,
 * a wall clock that reads it in ms and a monotonic clock with its own origin, people from a
 * 100,000-worker roster, a third of scans exits, 1 in 17 denied, 1 in 97 unknown codes.
 */
function traffic(n: number, seed: number, t: Traffic): WireEvent[] {
  const r = random(seed);
  let trueUs = Date.parse('2026-11-26T06:00:00Z') * 1000 + Math.floor(r() * 1e6);
  let monoOrigin = trueUs - 3_600_000_000;
  let wallOffset = 0;
  const reasons: DenyReason[][] = [['DECLARATION_MISSING'], ['VACCINATION_INSUFFICIENT', 'DECLARATION_MISSING'], ['ANTI_PASSBACK'], ['F1_TEST_REQUIRED']];
  return Array.from({ length: n }, (_, i) => {
    trueUs += Math.floor(t.gapMs(r, i) * 1000);
    if (t.reboot?.(i)) monoOrigin = trueUs - 20_000_000 - Math.floor(r() * 1e6);
    wallOffset += t.wallStep?.(i) ?? 0;
    const unknown = r() < 1 / 97;
    const denied = !unknown && r() < 1 / 17;
    const checkpointId = t.checkpoint?.(i) ?? 'gate-a';
    return {
      seq: 1 + i,
      wallMs: Math.floor(trueUs / 1000) + wallOffset,
      monoUs: trueUs - monoOrigin,
      bootId: t.boot?.(i) ?? '3f1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c11',
      clockSynced: t.clockSynced ?? true,
      checkpointId,
      zoneId: checkpointId === 'gate-a' ? 'factory-1' : 'factory-2',
      direction: r() < 1 / 3 ? 'exit' : 'entry',
      credentialKind: unknown ? 'unknown' : 'pass',
      workerId: unknown ? null : (t.worker?.(r, i) ?? `W${String(Math.floor(r() * 100_000)).padStart(6, '0')}`),
      codeHash: unknown ? hex32(r) : null,
      decision: unknown || denied ? 'deny' : 'allow',
      reasons: unknown ? ['MALFORMED_CODE'] : denied ? reasons[Math.floor(r() * reasons.length)]! : [],
      source: 'serial',
      policyVersion: checkpointId === 'gate-a' ? 3 : 4,
    } satisfies WireEvent;
  });
}

const smallSite = Array.from({ length: 250 }, (_, i) => `W${String((i * 7_919 + 17) % 100_000).padStart(6, '0')}`);
/** Real gate traffic typicalEvents does not have; each must round-trip and be smaller than in format 1. */
const PATTERNS: Record<string, WireEvent[]> = {
  'people seconds apart': traffic(500, 1, { gapMs: (r) => 1000 + r() * 6000 }),
  'a burst at shift change, sub-second gaps': traffic(500, 2, { gapMs: (r) => 150 + r() * 700 }),
  'entries, then the same people leaving hours later': traffic(500, 3, {
    gapMs: (r, i) => (i === 250 ? 8 * 3_600_000 : 200 + r() * 3000),
    worker: (r, i) => smallSite[i < 250 ? i : Math.floor(r() * 250)]!,
  }),
  'two checkpoints after a configuration change': traffic(500, 4, { gapMs: (r) => 1000 + r() * 6000, checkpoint: (i) => (i < 220 ? 'gate-a' : 'gate-b') }),
  'a kiosk clock never synchronised, stepped back an hour': traffic(500, 5, { gapMs: (r) => 1000 + r() * 6000, clockSynced: false, wallStep: (i) => (i === 300 ? -3_600_000 : 0) }),
  'a reboot in the middle': traffic(500, 6, { gapMs: (r) => 1000 + r() * 6000, boot: (i) => (i < 250 ? 'boot-a' : 'boot-b'), reboot: (i) => i === 250 }),
  'a quiet gate, one scan an hour': traffic(500, 7, { gapMs: (r) => r() * 7_200_000 }),
};

// ---- round trips ---------------------------------------------------------------------------------

describe('event batch codec', () => {
  it("writes a gate kiosk's events in format 2 (hubs that predate format 3 read them) and round-trips every field", () => {
    const events = typicalEvents(500, 1001);
    events[10] = { ...events[10]!, clockSynced: false, source: 'camera', credentialKind: 'badge', policyVersion: 4 };
    events[11] = { ...events[11]!, source: 'keyboard', direction: 'exit', decision: 'allow', reasons: ['SUPERVISOR_OVERRIDE'] };
    events[12] = { ...events[12]!, source: 'stdin', credentialKind: 'unknown', workerId: null, codeHash: 'ffffffffffffffffffffffffffffffff' };
    const batch = { deviceId: 'kiosk-0001', batchId: 'b-1001-1500', events, anchor: { bootId: 'boot-1', monoUs: 123_456_789, hubTimeMs: 1_795_000_000_000 } };
    const wire = encodeBatch(batch);
    expect(BATCH_FORMAT).toBe(4);
    expect(wire[0]).toBe(2);
    expect(decodeBatch(wire)).toEqual(batch);
    expect(decodeBatch(encodeBatch({ ...batch, anchor: null })).anchor).toBeNull();
  });

  it('keeps typical events within 6 bytes each at batch size 500', () => {
    const events = typicalEvents(5_000);
    let bytes = 0;
    for (let i = 0; i < events.length; i += 500) bytes += encodeBatch(batchOf(events.slice(i, i + 500))).length;
    expect(bytes / events.length).toBeLessThanOrEqual(6);
  });

  it.each(Object.entries(PATTERNS))('round-trips %s, in fewer bytes than format 1', (_name, events) => {
    const batch = batchOf(events, { bootId: events[0]!.bootId, monoUs: events[0]!.monoUs - 1_500_250, hubTimeMs: events[0]!.wallMs - 1_500 });
    const wire = encodeBatch(batch);
    expect(decodeBatch(wire)).toEqual(batch);
    expect(wire.length).toBeLessThan(encodeFormat1(batch).length);
  });

  it('round-trips batches of one event (live traffic), in fewer bytes than format 1', () => {
    for (const e of PATTERNS['people seconds apart']!.slice(0, 50)) {
      const batch = batchOf([e], { bootId: e.bootId, monoUs: e.monoUs - 2_000_000, hubTimeMs: e.wallMs - 2_000 });
      const wire = encodeBatch(batch);
      expect(decodeBatch(wire)).toEqual(batch);
      expect(wire.length).toBeLessThan(encodeFormat1(batch).length);
    }
  });

  it('carries every set of reasons, in the order the policy gave them, with either decision', () => {
    // Every subset of 18 bits (the first 18 codes); a code past the 18th rides on the bit of the code
    // 18 places before it, so each code is carried too without doubling the run for every new one.
    const BITS = Math.min(18, DENY_REASON_CODES.length);
    const all = 2 ** BITS;
    for (let first = 0; first < all; first += MAX_BATCH_EVENTS) {
      const events = typicalEvents(Math.min(MAX_BATCH_EVENTS, all - first), first + 1).map((e, i) => {
        const mask = first + i;
        const reasons = DENY_REASON_CODES.filter((_, code) => mask & (1 << code % BITS));
        return { ...e, decision: mask % 2 ? ('deny' as const) : ('allow' as const), reasons: mask % 3 ? reasons : reasons.reverse() };
      });
      roundTrips(batchOf(events));
    }
  });

  it('round-trips times at the edges: negative and huge monotonic jumps, wall times near the safe-integer limit', () => {
    const base = typicalEvents(6);
    const edges: [number, number][] = [
      [1, -Number.MAX_SAFE_INTEGER],
      [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
      [0, 0],
      [-Number.MAX_SAFE_INTEGER, 12_345],
      [Number.MAX_SAFE_INTEGER - 1, -1],
      [1_795_000_000_000, 3_600_000_000],
    ];
    roundTrips(batchOf(base.map((e, i) => ({ ...e, wallMs: edges[i]![0], monoUs: edges[i]![1] }))));
    roundTrips(batchOf(base.map((e, i) => ({ ...e, monoUs: edges[i]![1] }))));
    roundTrips(batchOf(base.map((e, i) => ({ ...e, seq: i === 5 ? Number.MAX_SAFE_INTEGER : i + 1 }))));
    roundTrips(batchOf(base.map((e, i) => ({ ...e, policyVersion: i === 2 ? Number.MAX_SAFE_INTEGER : i }))));
  });

  it('round-trips worker ids of any shape: leading zeros, digits only, no digits, long digit runs, several shapes at once', () => {
    const ids = ['W000000', 'W000001', 'W99999', '0', '007', '1234567890123456789', 'nguyen.van.an', 'EMP-2024-00123', 'ct_12', 'x', 'A'.repeat(64), `a${'9'.repeat(63)}`];
    roundTrips(batchOf(typicalEvents(ids.length * 3).map((e, i) => ({ ...e, workerId: ids[i % ids.length]!, codeHash: null, credentialKind: 'pass' as const }))));
  });

  it('round-trips batches with only unknown codes, and one person seen again and again', () => {
    const hashes = ['a3f9c0d1e2b4a5968778695a4b3c2d1e', '0123456789abcdef0123456789abcdef'];
    roundTrips(batchOf(typicalEvents(5).map((e, i) => ({ ...e, workerId: null, codeHash: hashes[i % 2]!, credentialKind: 'unknown' as const }))));
    roundTrips(batchOf(typicalEvents(300).map((e) => ({ ...e, workerId: 'W000042', codeHash: null }))));
  });

  it('dates unsynchronised events at the hub exactly as before encoding', () => {
    const events = PATTERNS['a kiosk clock never synchronised, stepped back an hour']!.map((e, i) => ({ ...e, monoUs: e.monoUs + (i % 2 ? 499 : 500) }));
    const anchor = { bootId: events[0]!.bootId, monoUs: events[0]!.monoUs - 1_000_500, hubTimeMs: 1_795_000_000_000 };
    const back = decodeBatch(encodeBatch(batchOf(events, anchor)));
    expect(back.events.map((e) => dateEvent(e, back.anchor))).toEqual(events.map((e) => dateEvent(e, anchor)));
  });

  it('round-trips the largest batch', () => {
    roundTrips(batchOf(traffic(MAX_BATCH_EVENTS, 9, { gapMs: (r) => 1000 + r() * 6000 })));
  });

  it('round-trips any valid batch (property)', () => {
    fc.assert(fc.property(validBatch, (batch) => void roundTrips(batch)), { numRuns: 300, seed: 2_611 });
  });

  it('still reads format 1 from kiosks not yet upgraded', () => {
    const events = typicalEvents(500, 1);
    events[3] = { ...events[3]!, clockSynced: false, source: 'camera', credentialKind: 'badge', policyVersion: 4 };
    const batch = batchOf(events, { bootId: 'boot-1', monoUs: 123_456_789, hubTimeMs: 1_795_000_000_000 });
    expect(decodeBatch(encodeFormat1(batch))).toEqual(batch);
    // Format 1 sent monotonic time as its difference from wall time × 1000, in doubles: exact only for times of this world.
    const format1Exact = (b: EventBatch) => b.events.every((e) => Math.abs(e.wallMs) <= 2e12 && Math.abs(e.monoUs) <= 2e15);
    fc.assert(
      fc.property(validBatch.filter(format1Exact), (b) => {
        // Format 1 carried reasons as a set, in code order.
        const canonical = { ...b, events: b.events.map((e) => ({ ...e, reasons: DENY_REASON_CODES.filter((r) => e.reasons.includes(r)) })) };
        expect(decodeBatch(encodeFormat1(canonical))).toEqual(canonical);
      }),
      { numRuns: 100, seed: 2_612 },
    );
  });

  it('refuses numbers that are not safe integers, in a bounded time, never looping on Infinity', () => {
    // In a child process with a time limit: a writer that loops forever must fail this test, not hang it.
    const script = `
      const { encodeBatch } = await import('./sync/batch-codec.ts');
      const { typicalEvents } = await import('./test/helpers/events.ts');
      const e = typicalEvents(2)[1];
      const odd = [Infinity, -Infinity, NaN, 1.5, 2 ** 53];
      const tries = [
        ...odd.map((v) => ({ events: [{ ...e, policyVersion: v }], anchor: null })),
        ...odd.map((v) => ({ events: [e], anchor: { bootId: 'b', monoUs: v, hubTimeMs: 1 } })),
        ...odd.map((v) => ({ events: [e], anchor: { bootId: 'b', monoUs: 1, hubTimeMs: v } })),
        ...odd.flatMap((v) => ['seq', 'wallMs', 'monoUs'].map((f) => ({ events: [e, { ...e, seq: e.seq + 1, [f]: v }], anchor: null }))),
      ];
      const results = tries.map((t) => {
        try {
          return encodeBatch({ deviceId: 'kiosk-1', batchId: 'b', ...t }).length > 0 ? 'encoded' : 'empty';
        } catch {
          return 'refused';
        }
      });
      console.log(JSON.stringify(results));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../../', import.meta.url)), timeout: 20_000, encoding: 'utf8' });
    expect(child.error, child.stderr).toBeUndefined();
    const results = JSON.parse(child.stdout) as string[];
    // Policy versions and anchors are refused by the encoder; odd sequence numbers and times are written as float64 ...
    expect(results.slice(0, 15)).toEqual(new Array(15).fill('refused'));
    expect(results.slice(15)).toEqual(new Array(15).fill('encoded'));
  });

  it('the decoder refuses sequence numbers and times that are not safe integers', () => {
    const [, e] = typicalEvents(2);
    for (const v of [Infinity, -Infinity, NaN, 1.5, 2 ** 53]) {
      for (const f of ['seq', 'wallMs', 'monoUs'] as const) expectRefused(encodeBatch(batchOf([e!, { ...e!, seq: e!.seq + 1, [f]: v }])), /safe integer|must increase/);
    }
  });

  it('refuses to encode what the format cannot carry', () => {
    const e = typicalEvents(2)[1];
    expect(() => encodeBatch(batchOf([{ ...e!, workerId: null, codeHash: null }]))).toThrow(/exactly one of a worker id, a code hash/);
    expect(() => encodeBatch(batchOf([{ ...e!, codeHash: 'a3f9c0d1e2b4a5968778695a4b3c2d1e' }]))).toThrow(/exactly one of a worker id, a code hash/);
    expect(() => encodeBatch(batchOf([{ ...e!, workerId: null, codeHash: 'A3F9' }]))).toThrow(/32 lower-case hex/);
    expect(() => encodeBatch(batchOf([{ ...e!, reasons: ['NO_SUCH_REASON' as DenyReason] }]))).toThrow(/unknown reason/);
    expect(() => encodeBatch({ ...batchOf([e!]), events: [] })).toThrow(/1 to 5000 events/);
    expect(() => encodeBatch({ ...batchOf([e!]), batchId: '' })).toThrow(/batch id/);
  });
});

// ---- what the hub refuses ------------------------------------------------------------------------

describe('event batch decoding of hostile input', () => {
  const small = batchOf(PATTERNS['people seconds apart']!.slice(0, 3), { bootId: 'boot-1', monoUs: 5, hubTimeMs: 1_795_000_000_000 });
  const big = batchOf(PATTERNS['people seconds apart']!);

  it.each([
    ['empty', new Uint8Array()],
    ['a version byte alone', new Uint8Array([2])],
    ['an unknown format', new Uint8Array([9, 1, 2])],
    ['format 0', new Uint8Array([0, ...encodeBatch(small).subarray(1)])],
    ['format 5', new Uint8Array([5, ...encodeBatch(small).subarray(1)])],
    ['format 255', new Uint8Array([255, ...encodeBatch(small).subarray(1)])],
    ['format 1 that is not Brotli', new Uint8Array([1, 0xff, 0xff, 0xff])],
    ['format 2 that is not Brotli', new Uint8Array([2, 0, 0xff, 0xff, 0xff])],
    ['format 1 that is not the batch document', new Uint8Array([1, ...brotliCompressSync(cborEncode({ hello: 'world' }))])],
    ['a format 2 body in format 1', new Uint8Array([1, ...encodeBatch(small).subarray(1)])],
  ])('refuses %s with BatchFormatError', (_n, bytes) => {
    expectRefused(bytes);
  });

  it('refuses every truncation of a batch, on the wire and in its body', () => {
    for (const batch of [small, big]) {
      const wire = encodeBatch(batch);
      for (let k = 0; k < wire.length; k++) expectRefused(wire.subarray(0, k));
      const { body, raw } = openFormat2(wire);
      for (let k = 0; k < body.length; k++) expectRefused(sealFormat2(body.subarray(0, k), raw));
    }
  });

  it('refuses bytes left over after the columns, in the body or the raw part', () => {
    const { body, raw } = openFormat2(encodeBatch(big));
    expect(raw.length).toBeGreaterThan(0);
    expectRefused(sealFormat2([...body, 0], raw), /left over/);
    expectRefused(sealFormat2(body, [...raw, 0]), /left over/);
  });

  it('refuses columns whose lengths disagree with the event count', () => {
    const { body, raw } = openFormat2(encodeBatch(small));
    expect(body[0]).toBe(3);
    expectRefused(sealFormat2([4, ...body.subarray(1)], raw));
    expectRefused(sealFormat2([2, ...body.subarray(1)], raw));
    // Format 1 too.
    const wire1 = encodeFormat1(small);
    const doc = { v: 1, device: 'kiosk-1', batch: 'b', n: 2, seq: [1, 1], wall: [1, 1], mono: [0, 0], flags: [0, 0], boot: [0, 0], cp: [0, 0], zone: [0, 0], who: [0, 0], reasons: [0, 0], policy: [1, 0], strings: ['x'] };
    const seal1 = (d: object) => new Uint8Array([1, ...brotliCompressSync(cborEncode(d))]);
    expect(decodeBatch(seal1(doc)).events).toHaveLength(2);
    expect(decodeBatch(wire1).events).toHaveLength(3);
    expectRefused(seal1({ ...doc, wall: [1] }), /column lengths/);
    expectRefused(seal1({ ...doc, who: [0, 5] }), /string index 5/);
    expectRefused(seal1({ ...doc, seq: [5, -1] }), /must increase/);
  });

  it('never trusts a claimed length or count', () => {
    const wire = encodeBatch(small);
    const { body, raw } = openFormat2(wire);
    const huge = [2 ** 20, 2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER];
    for (const h of huge) {
      expectRefused(sealFormat2(body, raw, h), /raw part/);
      expectRefused(sealFormat2([...uvarint(h), ...body.subarray(1)], raw), /event count/);
      // The device id's length, right after the count.
      expectRefused(sealFormat2([3, ...uvarint(h), ...body.subarray(2)], raw));
    }
    // A varint that never ends.
    expectRefused(sealFormat2(new Array<number>(20).fill(0xff), raw), /safe integer/);
  });

  it('refuses a Brotli bomb without inflating it', async () => {
    const bomb = brotliCompressSync(Buffer.alloc(64 << 20), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } });
    expectRefused(new Uint8Array([2, 0, ...bomb]), /cannot decode/);
    expectRefused(new Uint8Array([1, ...bomb]), /cannot decode/);
    // 1 GiB of zeros, streamed into about 200 KB.
    const parts: Buffer[] = [];
    const stream = createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } });
    stream.on('data', (d: Buffer) => parts.push(d));
    const done = new Promise((resolve) => stream.on('end', resolve));
    const zeros = Buffer.alloc(16 << 20);
    for (let i = 0; i < 64; i++) stream.write(zeros);
    stream.end();
    await done;
    expectRefused(new Uint8Array([2, 0, ...Buffer.concat(parts)]), /cannot decode/);
  });

  it('refuses batches outside the event contract, in either format', () => {
    const e = typicalEvents(2)[1];
    const bad: [string, Partial<WireEvent>][] = [
      ['an empty checkpoint id', { checkpointId: '' }],
      ['a zone id with a space', { zoneId: 'zone 1' }],
      ['a worker id longer than 64 characters', { workerId: `W${'1'.repeat(64)}` }],
      ['a worker id with a slash', { workerId: 'W/1' }],
      ['an empty boot id', { bootId: '' }],
      ['a negative policy version', { policyVersion: -1 }],
    ];
    for (const [name, change] of bad) {
      const batch = batchOf([{ ...e!, ...change }]);
      expect(() => decodeBatch(encodeBatch(batch)), name).toThrow(BatchFormatError);
      expect(() => decodeBatch(encodeFormat1(batch)), name).toThrow(BatchFormatError);
    }
    expect(() => decodeBatch(encodeBatch(batchOf([{ ...e!, reasons: ['ANTI_PASSBACK', 'ANTI_PASSBACK'] }])))).toThrow(/twice/);
    expect(() => decodeBatch(encodeBatch({ ...batchOf([e!]), deviceId: 'Kiosk 1' }))).toThrow(BatchFormatError);
    expect(() => decodeBatch(encodeFormat1(batchOf([{ ...e!, workerId: null, codeHash: 'not-a-hash' }])))).toThrow(/code hash/);
  });

  it('answers any corruption of a body with a batch or a BatchFormatError (property)', () => {
    const sealed = [small, big, batchOf(PATTERNS['a reboot in the middle']!)].map((b) => openFormat2(encodeBatch(b)));
    fc.assert(
      fc.property(
        fc.nat({ max: sealed.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (which, edits, inRaw) => {
          const { body, raw } = sealed[which]!;
          const target = new Uint8Array(inRaw && raw.length ? raw : body);
          for (const [at, value] of edits) target[at % target.length] = value;
          decodeOrRefuse(inRaw && raw.length ? sealFormat2(body, target) : sealFormat2(target, raw));
        },
      ),
      { numRuns: 2_000, seed: 2_613 },
    );
  });

  it('answers any bytes with a batch or a BatchFormatError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(1, 2), fc.boolean(), (bytes, format, compress) => {
        const payload = compress ? brotliCompressSync(bytes) : bytes;
        decodeOrRefuse(new Uint8Array([format, ...(format === 2 ? uvarint(0) : []), ...payload]));
        decodeOrRefuse(bytes);
      }),
      { numRuns: 1_000, seed: 2_614 },
    );
  });
});

// ---- valid batches for the properties ------------------------------------------------------------

const MAX_STRING = 128;
const identifier = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const workerId = fc.oneof(
  identifier,
  fc.tuple(fc.constantFrom('W', 'CT-', 'EMP-2024-', ''), fc.integer({ min: 0, max: 999_999 }), fc.integer({ min: 1, max: 8 })).map(([p, n, w]) => `${p}${String(n).padStart(w, '0')}`),
);
const codeHash = fc.stringMatching(/^[0-9a-f]{32}$/);
const reasonList = fc.shuffledSubarray([...DENY_REASON_CODES]);
const safe = fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });

const validBatch: fc.Arbitrary<EventBatch> = fc
  .record({
    deviceId: fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,62}$/),
    ownBatchId: fc.option(fc.string({ minLength: 1, maxLength: 64 }), { nil: null }),
    boots: fc.uniqueArray(fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: MAX_STRING })), { minLength: 1, maxLength: 3 }),
    checkpoints: fc.uniqueArray(identifier, { minLength: 1, maxLength: 3 }),
    zones: fc.uniqueArray(identifier, { minLength: 1, maxLength: 3 }),
    people: fc.uniqueArray(fc.oneof({ weight: 5, arbitrary: workerId.map((w) => ({ workerId: w, codeHash: null })) }, codeHash.map((h) => ({ workerId: null, codeHash: h }))), {
      minLength: 1,
      maxLength: 80,
      selector: (p) => `${p.workerId}/${p.codeHash}`,
    }),
    firstSeq: fc.integer({ min: 1, max: 2 ** 40 }),
    anchor: fc.option(fc.record({ bootId: fc.string({ minLength: 1, maxLength: 64 }), monoUs: safe, hubTimeMs: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) }), { nil: null }),
    // Times: realistic steps, or anything a safe integer can be.
    wild: fc.boolean(),
    n: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 30 }) }, fc.integer({ min: 31, max: 400 })),
  })
  .chain((b) =>
    fc
      .array(
        fc.record({
          dSeq: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, fc.integer({ min: 2, max: 1_000_000 })),
          wall: b.wild ? safe : fc.integer({ min: 0, max: 20_000 }),
          mono: b.wild ? safe : fc.integer({ min: -2_000, max: 20_000_000 }),
          bootId: fc.constantFrom(...b.boots),
          checkpointId: fc.constantFrom(...b.checkpoints),
          zoneId: fc.constantFrom(...b.zones),
          person: fc.constantFrom(...b.people),
          clockSynced: fc.boolean(),
          direction: fc.constantFrom('entry' as const, 'exit' as const),
          credentialKind: fc.constantFrom('pass' as const, 'badge' as const, 'unknown' as const),
          decision: fc.constantFrom('allow' as const, 'deny' as const),
          reasons: fc.oneof({ weight: 3, arbitrary: fc.constant<DenyReason[]>([]) }, reasonList),
          source: fc.constantFrom('serial' as const, 'stdin' as const, 'camera' as const, 'keyboard' as const),
          policyVersion: fc.oneof({ weight: 5, arbitrary: fc.constant(3) }, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        }),
        { minLength: b.n, maxLength: b.n },
      )
      .map((steps) => {
        let seq = b.firstSeq;
        let wall = 1_795_000_000_000;
        let mono = 3_600_000_000;
        const events = steps.map(({ dSeq, wall: w, mono: m, person, ...rest }, i): WireEvent => {
          if (i > 0) seq = Math.min(Number.MAX_SAFE_INTEGER - (steps.length - i), seq + dSeq);
          wall = b.wild ? w : wall + w;
          mono = b.wild ? m : mono + m;
          return { seq, wallMs: wall, monoUs: mono, ...person, ...rest };
        });
        return { deviceId: b.deviceId, batchId: b.ownBatchId ?? `${events[0]!.seq}-${events.at(-1)!.seq}`, events, anchor: b.anchor };
      }),
  );
