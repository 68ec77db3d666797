/**
 * npm run bench:codec — the uplink batch codec alone, without broker or hub: bytes per event and
 * encode / decode time per batch of 500, for typicalEvents() (what bench:sync drains) and for gate
 * traffic with real randomness (people 1 to 7 s apart at random, workers drawn at random from a
 * 100,000-person roster, a third exits, 1 in 17 denied, 1 in 97 unknown codes with their own hashes),
 * plus the size of a batch of one event (live traffic, anchor included).
 *
 * Times are the median of ROUNDS passes over all batches (the machine is shared: run it in a quiet
 * moment, or several times). The last line is one JSON object. EVENTS=N changes the event count.
 */
import { decodeBatch, encodeBatch, type EventBatch, type WireEvent } from '../../sync/batch-codec.js';
import { typicalEvents } from '../helpers/events.js';

const EVENTS = Number(process.env.EVENTS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const BATCH = 500;

/** mulberry32: the same "random" traffic on every run. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function randomTraffic(n: number): WireEvent[] {
  const r = random(1);
  let trueUs = Date.parse('2026-11-26T06:00:00Z') * 1000;
  const monoOrigin = trueUs - 3_600_000_000;
  return Array.from({ length: n }, (_, i) => {
    trueUs += Math.floor((1000 + r() * 6000) * 1000);
    const unknown = r() < 1 / 97;
    const denied = !unknown && r() < 1 / 17;
    return {
      seq: i + 1,
      wallMs: Math.floor(trueUs / 1000),
      monoUs: trueUs - monoOrigin,
      bootId: '3f1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c11',
      clockSynced: true,
      checkpointId: 'gate-a',
      zoneId: 'factory-1',
      direction: r() < 1 / 3 ? 'exit' : 'entry',
      credentialKind: unknown ? 'unknown' : 'pass',
      workerId: unknown ? null : `W${String(Math.floor(r() * 100_000)).padStart(6, '0')}`,
      codeHash: unknown ? Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join('') : null,
      decision: unknown || denied ? 'deny' : 'allow',
      reasons: unknown ? ['MALFORMED_CODE'] : denied ? ['DECLARATION_MISSING'] : [],
      source: 'serial',
      policyVersion: 3,
    } satisfies WireEvent;
  });
}

function batches(events: WireEvent[], size: number): EventBatch[] {
  const out: EventBatch[] = [];
  for (let i = 0; i < events.length; i += size) {
    const e = events.slice(i, i + size);
    out.push({ deviceId: 'kiosk-drain', batchId: `${e[0]!.seq}-${e.at(-1)!.seq}`, events: e, anchor: null });
  }
  return out;
}

function medianMicrosPerBatch(count: number, pass: () => void): number {
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    pass();
    times.push(((performance.now() - t) * 1000) / count);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function measure(name: string, events: WireEvent[]) {
  const bs = batches(events, BATCH);
  const wire = bs.map(encodeBatch);
  const bytes = wire.reduce((s, w) => s + w.length, 0);
  // Warm up, and prove the bytes decode.
  for (const w of wire) decodeBatch(w);
  const encodeUs = medianMicrosPerBatch(bs.length, () => bs.forEach((b) => encodeBatch(b)));
  const decodeUs = medianMicrosPerBatch(wire.length, () => wire.forEach((w) => decodeBatch(w)));
  const singles = events.slice(0, 1000).map((e) => encodeBatch({ deviceId: 'kiosk-hcm-0001', batchId: `${e.seq}-${e.seq}`, events: [e], anchor: { bootId: e.bootId, monoUs: e.monoUs - 2_000_000, hubTimeMs: e.wallMs - 2_000 } }));
  const single = singles.reduce((s, w) => s + w.length, 0) / singles.length;
  const r = { bytesPerEvent: bytes / events.length, encodeUs, decodeUs, singleEventBatchBytes: single };
  console.log(
    `${name}: ${r.bytesPerEvent.toFixed(2)} bytes/event in batches of ${BATCH}; encode ${encodeUs.toFixed(0)} µs, decode ${decodeUs.toFixed(0)} µs per batch (median of ${ROUNDS}); one-event batch ${single.toFixed(1)} bytes`,
  );
  return r;
}

const typical = measure('typicalEvents', typicalEvents(EVENTS));
const randomised = measure('random traffic', randomTraffic(EVENTS));
console.log(
  JSON.stringify({
    events: EVENTS,
    batch: BATCH,
    typical_bytes_per_event: Number(typical.bytesPerEvent.toFixed(2)),
    typical_encode_us_per_batch: Math.round(typical.encodeUs),
    typical_decode_us_per_batch: Math.round(typical.decodeUs),
    random_bytes_per_event: Number(randomised.bytesPerEvent.toFixed(2)),
    random_encode_us_per_batch: Math.round(randomised.encodeUs),
    random_decode_us_per_batch: Math.round(randomised.decodeUs),
    single_event_batch_bytes: Number(typical.singleEventBatchBytes.toFixed(1)),
  }),
);
