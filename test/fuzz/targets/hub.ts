import { join } from 'node:path';
import fc from 'fast-check';
import { DEVICE_ID_PATTERN } from '../../../base/common/ids.js';
import type { WireEvent } from '../../../base/common/types.js';
import { decodeBatch, encodeBatch, type EventBatch } from '../../../sync/batch-codec.js';
import { PayloadError, jsonPayloadSchemas, parseJsonPayload, parseTopic, topics } from '../../../sync/protocol.js';
import { SqliteHubStore, type IngestResult } from '../../../sync/hub/store.js';
import { check, scratchDir, show, target, type AnyFuzzTarget, type Closer } from '../harness.js';
import { batchOf, decodeOrRefuse, mutatedDoc, mutatedDocBytes, type DocInput } from './batch.js';

// ---- topics and JSON payloads --------------------------------------------------------------------

const topicPart = fc.oneof(
  fc.constantFrom('safegate', 'v1', 'v2', 'safegate/v1', '', '+', '#', '$share', 'kiosk-01', 'hub.1', 'K', 'k', 'a-', 'x'.repeat(63), 'x'.repeat(64)),
  fc.constantFrom('events', 'alerts', 'heartbeat', 'acks', 'sync-request', 'downlink', 'syncRequest', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf'),
  fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,64}$/),
  fc.string({ maxLength: 12 }),
);
export const topicInput: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.array(topicPart, { minLength: 1, maxLength: 6 }).map((p) => p.join('/')),
  fc.tuple(topicPart, topicPart).map(([d, s]) => `safegate/v1/${d}/${s}`),
);

type PayloadName = keyof typeof jsonPayloadSchemas;
const NAMES = Object.keys(jsonPayloadSchemas) as PayloadName[];
/** A valid payload per topic, to mutate; a payload type added later is fuzzed from nothing until it has one. */
const EXAMPLES: Partial<Record<PayloadName, Record<string, unknown>>> = {
  alerts: { v: 1, kind: 'quarantined-entry-attempt', seq: 7, atMs: 1000, checkpointId: 'gate-a', workerId: 'W1', reasons: ['QUARANTINE_ACTIVE'], note: 'ghi chú' },
  heartbeat: { v: 1, atMs: 5, software: '0.1.0', outboxDepth: 3, oldestUnsyncedAgeS: 2, scanner: 'ready', gpio: 'simulated', clockOffsetMs: null, rosterAgeS: null, policyVersion: 1 },
  acks: { v: 1, batchId: '1-500', firstSeq: 1, lastSeq: 500, hubTimeMs: 1_800_000_000_000, gaps: [[2, 3]] },
  syncRequest: { v: 1, stream: 'roster', cursor: 0, resume: { to: 1, parts: 3, have: [0, 1] } },
  hubStatus: { v: 1, hub: 'hub.1', online: true, atMs: 1_800_000_000_000 },
};
const jsonish = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  fc.constantFrom(-1, 0, 2 ** 53, 1e300, -0.5, '', 'x'.repeat(600), [], {}, null, true, [1, 2], [[0, 1]], { to: 0, parts: 0, have: [-1] }),
);

export type PayloadInput = { name: PayloadName; bytes: Uint8Array };
export const payloadInput: fc.Arbitrary<PayloadInput> = fc.oneof(
  fc.record({ name: fc.constantFrom(...NAMES), bytes: fc.uint8Array({ maxLength: 100 }) }),
  fc.record({ name: fc.constantFrom(...NAMES), bytes: fc.jsonValue().map((v) => new Uint8Array(Buffer.from(JSON.stringify(v) ?? 'null'))) }),
  fc
    .record({
      name: fc.constantFrom(...NAMES),
      edits: fc.array(fc.tuple(fc.oneof(fc.constantFrom('v', 'kind', 'seq', 'atMs', 'workerId', 'reasons', 'note', 'gaps', 'resume', 'cursor', 'stream', 'lastSeq', '__proto__'), fc.string({ maxLength: 6 })), fc.option(jsonish)), { maxLength: 3 }),
      trailing: fc.constantFrom('', ' ', '\n', 'x', '}'),
    })
    .map(({ name, edits, trailing }) => {
      const doc: Record<string, unknown> = { ...(EXAMPLES[name] ?? {}) };
      for (const [k, v] of edits) {
        if (v === null) delete doc[k];
        else Object.defineProperty(doc, k, { value: v, enumerable: true, configurable: true, writable: true });
      }
      return { name, bytes: new Uint8Array(Buffer.from(JSON.stringify(doc) + trailing)) };
    }),
  fc.record({ name: fc.constantFrom(...NAMES), bytes: fc.constant(new Uint8Array(Buffer.from(`{"v":1,"x":"${'a'.repeat(70_000)}"}`))) }),
);

// ---- hub ingest ----------------------------------------------------------------------------------

/** Several deliveries of one device's events: in any order, overlapping, repeated, with holes. */
export interface IngestInput {
  pool: WireEvent[];
  deliveries: { from: number; to: number; drop: number[]; twice: boolean }[];
  anchor: boolean;
}

export const ingestInput: fc.Arbitrary<IngestInput> = fc
  .record({ pool: batchOf(120).filter((b) => b.events.length >= 2).map((b) => b.events), anchor: fc.boolean() })
  .chain(({ pool, anchor }) => {
    // Renumber 1..n so holes are the deliveries' doing.
    const events = pool.map((e, i) => ({ ...e, seq: i + 1 }));
    const n = events.length;
    const delivery = fc
      .tuple(fc.integer({ min: 1, max: n }), fc.integer({ min: 1, max: n }), fc.array(fc.integer({ min: 1, max: n }), { maxLength: 3 }), fc.boolean())
      .map(([a, b, drop, twice]) => ({ from: Math.min(a, b), to: Math.max(a, b), drop, twice }));
    return fc.record({ pool: fc.constant(events), deliveries: fc.array(delivery, { minLength: 1, maxLength: 8 }), anchor: fc.constant(anchor) });
  });

/** What the store must report, from the set of sequence numbers it holds (see sync/hub/store.ts). */
function expectedProgress(stored: Set<number>): { contiguousSeq: number; gaps: [number, number][] } {
  let contiguousSeq = 0;
  while (stored.has(contiguousSeq + 1)) contiguousSeq++;
  const gaps: [number, number][] = [];
  let expected = contiguousSeq + 1;
  for (const seq of [...stored].filter((s) => s > contiguousSeq).sort((a, b) => a - b)) {
    if (seq > expected && gaps.length < 100) gaps.push([expected, seq - 1]);
    expected = seq + 1;
  }
  return { contiguousSeq, gaps };
}

export function hubTargets(closer: Closer): AnyFuzzTarget[] {
  const dir = scratchDir('safegate-fuzz-hub-');
  const store = new SqliteHubStore(join(dir.path, 'hub.db'));
  closer.add(async () => {
    await store.close();
    dir.remove();
  });
  let devices = 0;
  const freshDevice = () => `fz-${(devices++).toString(36)}`;

  const ingestChecked = async (deviceId: string, events: WireEvent[], stored: Set<number>, anchor: EventBatch['anchor']): Promise<IngestResult> => {
    const fresh = events.filter((e) => !stored.has(e.seq)).length;
    const r = await store.ingest(deviceId, events, 1_800_000_000_000, anchor);
    for (const e of events) stored.add(e.seq);
    const want = { inserted: fresh, duplicates: events.length - fresh, ...expectedProgress(stored) };
    check(JSON.stringify(r) === JSON.stringify(want), () => `ingest of ${events.length} events reported ${show(r)}, expected ${show(want)}`);
    return r;
  };

  return [
    target({
      name: 'hub topics',
      weight: 55,
      smallRuns: 600,
      arbitrary: topicInput,
      run(topic: string) {
        const t = parseTopic(topic);
        if (t === undefined) return;
        check(DEVICE_ID_PATTERN.test(t.deviceId) && Object.hasOwn(topics, t.name), () => `parsed ${show(t)}`);
        check(topics[t.name](t.deviceId) === topic, () => `${show(topic)} parsed as ${show(t)}, which is ${topics[t.name](t.deviceId)}`);
      },
    }),
    target({
      name: 'hub JSON payloads',
      weight: 55,
      smallRuns: 600,
      arbitrary: payloadInput,
      run({ name, bytes }: PayloadInput) {
        let value: unknown;
        try {
          value = parseJsonPayload(name, bytes);
        } catch (err) {
          check(err instanceof PayloadError, () => `parseJsonPayload threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
          check(err.message.startsWith(`${name}: `), () => `refusal without its topic: ${err.message}`);
          return;
        }
        check(jsonPayloadSchemas[name].safeParse(JSON.parse(JSON.stringify(value))).success, () => `accepted ${show(value)}, which does not validate again`);
      },
    }),
    target({
      name: 'hub ingest: deliveries',
      weight: 10,
      smallRuns: 80,
      arbitrary: ingestInput,
      async run({ pool, deliveries, anchor }: IngestInput) {
        const deviceId = freshDevice();
        const stored = new Set<number>();
        const clock = anchor ? { bootId: pool[0]!.bootId, monoUs: pool[0]!.monoUs, hubTimeMs: 1_800_000_000_000 } : null;
        for (const d of deliveries) {
          const events = pool.filter((e) => e.seq >= d.from && e.seq <= d.to && !d.drop.includes(e.seq));
          if (events.length === 0) continue;
          const wire = encodeBatch({ deviceId, batchId: `${events[0]!.seq}-${events.at(-1)!.seq}`, events, anchor: clock });
          const batch = decodeBatch(wire);
          await ingestChecked(deviceId, batch.events, stored, batch.anchor);
          if (d.twice) {
            const again = await ingestChecked(deviceId, batch.events, stored, batch.anchor);
            check(again.inserted === 0, () => `the same batch inserted ${again.inserted} events the second time`);
          }
        }
        const held: number[] = [];
        for await (const e of store.events({ deviceId })) held.push(e.seq);
        const want = [...stored].sort((a, b) => a - b);
        check(JSON.stringify(held) === JSON.stringify(want), () => `the hub holds ${show(held)}, expected ${show(want)}`);
      },
    }),
    target({
      name: 'hub ingest: decoded odd documents',
      weight: 10,
      smallRuns: 120,
      arbitrary: mutatedDoc,
      async run(input: DocInput) {
        const bytes = mutatedDocBytes(input);
        let batch: EventBatch;
        try {
          batch = decodeBatch(bytes);
        } catch {
          decodeOrRefuse(bytes); // the refusal must be a BatchFormatError
          return;
        }
        // Whatever the codec lets through reaches the store: it must take it (or the kiosk resends it forever).
        await ingestChecked(freshDevice(), batch.events, new Set(), batch.anchor);
        decodeOrRefuse(bytes);
      },
    }),
  ];
}
