import { isDeepStrictEqual } from 'node:util';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchFormatError, decodeBatch, encodeBatch, type EventBatch, type WireEvent } from '../../sync/batch-codec.js';
import { dateEvent } from '../../sync/hub/dating.js';
import { batchOf as generatedBatch, batchProblem } from '../fuzz/targets/batch.js';
import { busTripEvents } from '../helpers/bus-events.js';
import { typicalEvents } from '../helpers/events.js';

// Format 3 of the uplink batch (sync/batch-codec.ts): a bus unit's trips, routes, positions and GPS time.

function uvarint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** Splits a format 2 or 3 batch into its format byte, body (decompressed) and raw part. */
function open(wire: Uint8Array): { format: number; body: Uint8Array; raw: Uint8Array } {
  let rawLength = 0;
  let pos = 1;
  for (let scale = 1; ; scale *= 0x80) {
    const b = wire[pos++]!;
    rawLength += (b & 0x7f) * scale;
    if (b < 0x80) break;
  }
  return { format: wire[0]!, body: new Uint8Array(brotliDecompressSync(wire.subarray(pos, wire.length - rawLength))), raw: wire.subarray(wire.length - rawLength) };
}

function seal(format: number, body: Uint8Array | number[], raw: Uint8Array | number[] = []): Uint8Array {
  const compressed = brotliCompressSync(new Uint8Array(body), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } });
  return new Uint8Array(Buffer.concat([Buffer.from([format, ...uvarint(raw.length)]), compressed, Buffer.from(raw)]));
}

function expectRefused(bytes: Uint8Array, why?: RegExp): void {
  let error: unknown;
  try {
    decodeBatch(bytes);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(BatchFormatError);
  if (why) expect((error as Error).message).toMatch(why);
}

/** Either a batch that meets the event contract (bus fields included) or a BatchFormatError: never another error. */
function decodeOrRefuse(bytes: Uint8Array): void {
  let batch: EventBatch;
  try {
    batch = decodeBatch(bytes);
  } catch (err) {
    if (!(err instanceof BatchFormatError)) throw err;
    return;
  }
  expect(batchProblem(batch)).toBeUndefined();
}

/** The body with the first occurrence of `from` replaced by `to` (same length). */
function patched(body: Uint8Array, from: Uint8Array | number[], to: Uint8Array | number[]): Uint8Array {
  const at = Buffer.from(body).indexOf(Buffer.from(from));
  expect(at).toBeGreaterThanOrEqual(0);
  const out = new Uint8Array(body);
  out.set(to, at);
  return out;
}

const batchOf = (events: WireEvent[], anchor: EventBatch['anchor'] = null): EventBatch => ({
  deviceId: 'bus-51b',
  batchId: `${events[0]!.seq}-${events.at(-1)!.seq}`,
  events,
  anchor,
});

const isEveryone = (e: WireEvent) =>
  'visitorId' in e || 'declaration' in e || 'visit' in e || e.credentialKind === 'cccd' || e.credentialKind === 'dcc' || e.source === 'declaration' || e.source === 'visitor';
const isBus = (e: WireEvent) => 'tripId' in e || 'routeId' in e || 'position' in e || 'clockSource' in e || e.source === 'trip' || e.source === 'evdev';

describe('event batch format 3 (bus units)', () => {
  it("writes a bus unit's trips in format 3 and round-trips every field exactly: trip markers, riders, positions and no fix, routes, GPS time", () => {
    const first = busTripEvents({ routeId: 'route-2', riders: 30 });
    const second = busTripEvents({ firstSeq: first.length + 1, startMs: first.at(-1)!.wallMs + 900_000, tripId: 'Tmi0abcde-00ff11', gpsClock: true });
    // A unit whose GPS was unplugged for a while: no position field at all.
    const events = [...first, ...second].map((e, i) => (i >= 40 && i < 45 ? (({ position: _p, ...rest }) => rest)(e) : e));
    const batch = batchOf(events, { bootId: events[0]!.bootId, monoUs: 99_000_000, hubTimeMs: 1_795_000_000_000 });
    const wire = encodeBatch(batch);
    expect(wire[0]).toBe(3);
    const back = decodeBatch(wire);
    // Deep and strict: positions come back as the very numbers sent, and absent fields stay absent.
    expect(isDeepStrictEqual(back, batch)).toBe(true);
    expect(back.events.filter((e) => e.position === null)).toHaveLength(2);
    expect(back.events.filter((e) => !('position' in e))).toHaveLength(5);
    expect(new Set(back.events.map((e) => e.source))).toEqual(new Set(['trip', 'serial', 'evdev']));
  });

  it('dates GPS-timed events at the hub as synchronised, after the wire as before it', () => {
    const events = busTripEvents({ gpsClock: true, riders: 3 }).map((e) => ({ ...e, clockSynced: false }));
    const back = decodeBatch(encodeBatch(batchOf(events)));
    expect(back.events.map((e) => dateEvent(e, null))).toEqual(events.map((e) => ({ clock: 'synced', correctedWallMs: e.wallMs })));
  });

  it("a GPS-dated event the hub's anchor of the same boot puts more than a minute away is dated by the anchor (a spoofed or broken receiver); within it, as synchronised", () => {
    const [e] = busTripEvents({ gpsClock: true, riders: 1 });
    const anchorAt = (offsetMs: number) => ({ bootId: e!.bootId, monoUs: e!.monoUs, hubTimeMs: e!.wallMs + offsetMs });
    expect(dateEvent(e!, anchorAt(30_000))).toEqual({ clock: 'synced', correctedWallMs: e!.wallMs });
    expect(dateEvent(e!, anchorAt(-5 * 86_400_000))).toEqual({ clock: 'corrected', correctedWallMs: e!.wallMs - 5 * 86_400_000 });
    expect(dateEvent(e!, { ...anchorAt(-5 * 86_400_000), bootId: 'another-boot' })).toEqual({ clock: 'synced', correctedWallMs: e!.wallMs });
  });

  it('writes format 3 for the sources `trip` and `evdev` alone, which format 2 cannot carry, and a format-2 batch holding them is refused', () => {
    const [gate] = typicalEvents(1);
    for (const source of ['trip', 'evdev'] as const) {
      const batch = batchOf([{ ...gate!, source }]);
      const wire = encodeBatch(batch);
      expect(wire[0]).toBe(3);
      expect(decodeBatch(wire)).toEqual(batch);
    }
    // The same event in format 2, its source's three bits set to `evdev` (6) by hand: an older hub would misread it; this one refuses it.
    const serial = open(encodeBatch(batchOf([{ ...gate!, source: 'serial' }])));
    const input = open(encodeBatch(batchOf([{ ...gate!, source: 'input' }])));
    expect(serial.format).toBe(2);
    const differ = [...serial.body.keys()].filter((k) => serial.body[k] !== input.body[k]);
    expect(differ).toHaveLength(1);
    const flags = serial.body[differ[0]!]!;
    expect(input.body[differ[0]!]).toBe(flags | 0x80);
    const evdev = new Uint8Array(serial.body);
    evdev[differ[0]!] = flags | (2 << 5) | 0x80;
    expectRefused(seal(2, evdev, serial.raw), /bad flags/);
    expect(decodeBatch(seal(2, input.body, input.raw)).events[0]!.source).toBe('input');
  });

  it('keeps writing format 2 for a batch without anything of a bus (or of the gate for everyone: format 4)', () => {
    expect(encodeBatch(batchOf(typicalEvents(200)))[0]).toBe(2);
    fc.assert(
      fc.property(generatedBatch(60), (batch) => {
        expect(encodeBatch(batch)[0]).toBe(batch.events.some(isEveryone) ? 4 : batch.events.some(isBus) ? 3 : 2);
      }),
      { numRuns: 300, seed: 1_301 },
    );
  });

  it('round-trips any valid bus batch (property)', () => {
    fc.assert(
      fc.property(
        generatedBatch(300).filter((b) => b.events.some(isBus)),
        (batch) => {
          const back = decodeBatch(encodeBatch(batch));
          if (!isDeepStrictEqual(back, batch)) expect(back).toEqual(batch);
        },
      ),
      { numRuns: 300, seed: 1_302 },
    );
  });

  it('refuses to encode a trip id, route id, position or clock source that is not one', () => {
    const [e] = busTripEvents({ riders: 1 });
    const bad: [string, Partial<WireEvent>, RegExp][] = [
      ['a trip id without its hex tail', { tripId: 'Tmi0abcde' }, /trip id/],
      ['a route id with a space', { routeId: 'route 2' }, /route id/],
      ['a latitude past the pole', { position: { lat: 90.000001, lon: 0 } }, /WGS 84/],
      ['a longitude of NaN', { position: { lat: 0, lon: Number.NaN } }, /WGS 84/],
      ['an infinite latitude', { position: { lat: Infinity, lon: 0 } }, /WGS 84/],
      ['another clock source', { clockSource: 'ntp' as 'gps' }, /clock source/],
    ];
    for (const [name, change, why] of bad) expect(() => encodeBatch(batchOf([{ ...e!, ...change }])), name).toThrow(why);
    // The poles and the antimeridian are places.
    for (const position of [{ lat: 90, lon: 180 }, { lat: -90, lon: -180 }]) expect(decodeBatch(encodeBatch(batchOf([{ ...e!, position }]))).events[0]!.position).toEqual(position);
  });
});

describe('event batch format 3 decoding of hostile input', () => {
  const trip = batchOf(busTripEvents({ routeId: 'route-2', riders: 8 }));

  it('refuses every truncation of a format-3 batch, on the wire and in its body', () => {
    const wire = encodeBatch(trip);
    for (let k = 0; k < wire.length; k++) expectRefused(wire.subarray(0, k));
    const { body, raw } = open(wire);
    for (let k = 0; k < body.length; k++) expectRefused(seal(3, body.subarray(0, k), raw));
    // Format 3's columns read as format 2 (or the other way round) do not line up.
    expectRefused(seal(2, body, raw));
    const gate = open(encodeBatch(batchOf(typicalEvents(20))));
    expectRefused(seal(3, gate.body, gate.raw));
  });

  it('refuses a trip id or a route id that is not one, on the wire', () => {
    const { body, raw } = open(encodeBatch(trip));
    const tripId = trip.events[0]!.tripId!;
    expectRefused(seal(3, patched(body, Buffer.from(tripId), Buffer.from(tripId.toUpperCase())), raw), /not a trip id/);
    expectRefused(seal(3, patched(body, Buffer.from('route-2'), Buffer.from('route 2')), raw), /route id: not an identifier/);
  });

  it('refuses a position state it does not know and coordinates off the Earth', () => {
    const [e] = busTripEvents({ riders: 1 });
    // One event with no fix: the states column [0 (width), 1 (the value)], then two empty delta columns of three bytes each.
    const noFix = open(encodeBatch(batchOf([{ ...e!, position: null }])));
    expect([...noFix.body.subarray(-8)]).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
    const state3 = new Uint8Array(noFix.body);
    state3[state3.length - 7] = 3;
    expectRefused(seal(3, state3, noFix.raw), /position states: 3/);
    // One fix at the pole: its latitude, 90,000,000 micro-degrees, as the first value of its column; one more is off the Earth.
    const pole = open(encodeBatch(batchOf([{ ...e!, position: { lat: 90, lon: 180 } }])));
    const svarint90 = [0x80, ...uvarint(90_000_000 / 64)];
    expectRefused(seal(3, patched(pole.body, [0, ...svarint90], [0, 0x81, ...svarint90.slice(1)]), pole.raw), /not a coordinate/);
    expect(decodeBatch(seal(3, pole.body, pole.raw)).events[0]!.position).toEqual({ lat: 90, lon: 180 });
  });

  it('answers any corruption of a format-3 body with a valid batch or a BatchFormatError (property)', () => {
    const sealed = [trip, batchOf(busTripEvents({ gpsClock: true, riders: 40 }))].map((b) => open(encodeBatch(b)));
    fc.assert(
      fc.property(
        fc.nat({ max: sealed.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (which, edits, inRaw) => {
          const { body, raw } = sealed[which]!;
          const target = new Uint8Array(inRaw && raw.length ? raw : body);
          for (const [at, value] of edits) target[at % target.length] = value;
          decodeOrRefuse(inRaw && raw.length ? seal(3, body, target) : seal(3, target, raw));
        },
      ),
      { numRuns: 2_000, seed: 1_303 },
    );
  });
});
