import { isDeepStrictEqual } from 'node:util';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchFormatError, decodeBatch, encodeBatch, type EventBatch, type WireEvent } from '../../sync/batch-codec.js';
import { batchOf, batchProblem, damagedBody, decodeOrRefuse } from '../fuzz/targets/batch.js';
import { typicalEvents } from '../helpers/events.js';

// Format 4 of the uplink batch (sync/batch-codec.ts): the gate for everyone (issue 14): visitors,
// declarations taken on the kiosk, visit details, credential kinds cccd and dcc.

const VISITOR = `vk1.${'ab'.repeat(16)}`;
const VISITOR_2 = `vk2.${'0f'.repeat(16)}`;

function batchOfEvents(events: WireEvent[]): EventBatch {
  return { deviceId: 'kiosk-0001', batchId: `${events[0]!.seq}-${events.at(-1)!.seq}`, events, anchor: null };
}

/** A day at a gate with a screen: workers, a worker declaring, a visitor registering, approved, entering and leaving. */
function everyoneEvents(): WireEvent[] {
  const base = typicalEvents(12, 1);
  const w = 'W000042';
  const e = (i: number, extra: Partial<WireEvent>): WireEvent => ({ ...base[i]!, ...extra });
  return [
    e(0, {}),
    e(1, { source: 'declaration', decision: 'allow', reasons: [], workerId: w, codeHash: null, declaration: { answers: 0 } }),
    e(2, { source: 'declaration', decision: 'deny', reasons: ['DECLARATION_FLAGGED'], workerId: w, codeHash: null, declaration: { answers: 0b100_0000_0101 } }),
    e(3, { source: 'visitor', decision: 'allow', reasons: ['VISITOR_REGISTERED'], credentialKind: 'cccd', workerId: null, codeHash: null, visitorId: VISITOR, visit: { name: 'Nguyễn Thị Thử', host: 'Phòng nhân sự', purpose: 'Phỏng vấn', noticeVersion: 1 } }),
    e(4, { source: 'declaration', decision: 'allow', reasons: [], credentialKind: 'cccd', workerId: null, codeHash: null, visitorId: VISITOR, declaration: { answers: 0 } }),
    e(5, { source: 'visitor', decision: 'allow', reasons: ['VISITOR_APPROVED'], credentialKind: 'cccd', workerId: null, codeHash: null, visitorId: VISITOR, visit: { decidedBy: 'sup.lan' } }),
    e(6, { source: 'camera', decision: 'allow', reasons: [], credentialKind: 'cccd', workerId: null, codeHash: null, visitorId: VISITOR }),
    e(7, { source: 'visitor', decision: 'deny', reasons: ['VISITOR_REFUSED'], credentialKind: 'dcc', workerId: null, codeHash: null, visitorId: VISITOR_2, visit: { decidedBy: 'sup.lan' } }),
    e(8, { source: 'visitor', decision: 'allow', reasons: ['VISITOR_REGISTERED'], credentialKind: 'dcc', workerId: null, codeHash: null, visitorId: VISITOR_2 }),
    e(9, { source: 'camera', direction: 'exit', decision: 'allow', reasons: [], credentialKind: 'cccd', workerId: null, codeHash: null, visitorId: VISITOR }),
    e(10, {}),
  ];
}

function open(wire: Uint8Array): { head: Uint8Array; body: Uint8Array; raw: Uint8Array } {
  let rawLength = 0;
  let pos = 1;
  for (let scale = 1; ; scale *= 0x80) {
    const b = wire[pos++]!;
    rawLength += (b & 0x7f) * scale;
    if (b < 0x80) break;
  }
  return { head: wire.subarray(0, pos), body: new Uint8Array(brotliDecompressSync(wire.subarray(pos, wire.length - rawLength))), raw: wire.subarray(wire.length - rawLength) };
}

function reseal(parts: { head: Uint8Array; body: Uint8Array; raw: Uint8Array }): Uint8Array {
  const compressed = brotliCompressSync(parts.body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } });
  return new Uint8Array(Buffer.concat([parts.head, compressed, parts.raw]));
}

function refusal(bytes: Uint8Array): unknown {
  try {
    decodeBatch(bytes);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('event batch format 4 (the gate for everyone)', () => {
  it('round-trips declarations, visitors, visit details and the kinds cccd and dcc exactly, in format 4', () => {
    const batch = batchOfEvents(everyoneEvents());
    expect(batchProblem(batch)).toBeUndefined();
    const wire = encodeBatch(batch);
    expect(wire[0]).toBe(4);
    expect(decodeBatch(wire)).toEqual(batch);
    // Absent fields stay absent (not undefined): the hub stores what came.
    const back = decodeBatch(wire).events;
    expect('visitorId' in back[0]!).toBe(false);
    expect('declaration' in back[3]!).toBe(false);
    expect('visit' in back[8]!).toBe(false);
    expect(back[3]!.visit).toEqual({ name: 'Nguyễn Thị Thử', host: 'Phòng nhân sự', purpose: 'Phỏng vấn', noticeVersion: 1 });
  });

  it('writes the lowest format that carries the batch: 2 for a gate without visitors, 3 for a bus, 4 only with the gate for everyone', () => {
    const gate = typicalEvents(50, 1);
    expect(encodeBatch(batchOfEvents(gate))[0]).toBe(2);
    const bus = gate.map((e) => ({ ...e, tripId: 'Tlfls0000-0a0b0c' }));
    expect(encodeBatch(batchOfEvents(bus))[0]).toBe(3);
    const one = gate.slice();
    one[20] = { ...one[20]!, credentialKind: 'cccd', workerId: null, codeHash: null, visitorId: VISITOR };
    expect(encodeBatch(batchOfEvents(one))[0]).toBe(4);
    const busAndVisitor = bus.slice();
    busAndVisitor[7] = { ...busAndVisitor[7]!, source: 'declaration', declaration: { answers: 3 }, decision: 'deny', reasons: ['DECLARATION_FLAGGED'] };
    const b = batchOfEvents(busAndVisitor);
    expect(encodeBatch(b)[0]).toBe(4);
    expect(decodeBatch(encodeBatch(b))).toEqual(b);
  });

  it('round-trips any valid batch of the gate for everyone (property)', () => {
    fc.assert(
      fc.property(batchOf(300), (batch) => {
        expect(batchProblem(batch)).toBeUndefined();
        const back = decodeBatch(encodeBatch(batch));
        expect(isDeepStrictEqual(back, batch)).toBe(true);
      }),
      { numRuns: 300, seed: 14_004 },
    );
  });

  it('refuses in the encoder what format 4 cannot carry (programming errors, not kiosk data)', () => {
    const good = everyoneEvents();
    const bad = (i: number, extra: Partial<WireEvent>) => () => encodeBatch(batchOfEvents(good.map((e, k) => (k === i ? { ...e, ...extra } : e))));
    expect(bad(3, { workerId: 'W1' })).toThrow(/exactly one/);
    expect(bad(3, { visitorId: 'not-a-visitor' })).toThrow(/visitor id/);
    expect(bad(1, { declaration: { answers: 2048 } })).toThrow(/answers/);
    expect(bad(1, { declaration: undefined })).toThrow(/declaration/);
    expect(bad(0, { declaration: { answers: 0 } })).toThrow(/declaration/);
    expect(bad(6, { visit: { name: 'x' } })).toThrow(/visit details only/);
    expect(bad(3, { visit: { name: 'ễ'.repeat(121) } })).toThrow(/name/);
    expect(bad(3, { visit: { host: 'h'.repeat(81) } })).toThrow(/host/);
    expect(bad(5, { visit: { decidedBy: 'Not A Supervisor' } })).toThrow(/supervisor/);
    // The longest texts pass.
    const longest = good.map((e, k) => (k === 3 ? { ...e, visit: { name: 'ễ'.repeat(120), host: 'h'.repeat(80), purpose: 'p'.repeat(80) } } : e));
    expect(decodeBatch(encodeBatch(batchOfEvents(longest))).events[3]!.visit).toEqual(longest[3]!.visit);
  });

  it('refuses a format 4 batch whose strings or answers break the rules, with a BatchFormatError', () => {
    const wire = encodeBatch(batchOfEvents(everyoneEvents()));
    const parts = open(wire);
    const text = Buffer.from(parts.body).toString('latin1');
    // A name over 120 characters: replace the registered name by 121 characters of the same byte length budget.
    const name = Buffer.from('Nguyễn Thị Thử', 'utf8');
    const at = Buffer.from(parts.body).indexOf(name);
    expect(at).toBeGreaterThan(0);
    const longName = Buffer.from('n'.repeat(121));
    const body = Buffer.concat([Buffer.from(parts.body.subarray(0, at - 1)), Buffer.from([longName.length]), longName, Buffer.from(parts.body.subarray(at + name.length))]);
    expect(refusal(reseal({ ...parts, body }))).toBeInstanceOf(BatchFormatError);
    expect((refusal(reseal({ ...parts, body })) as Error).message).toMatch(/name/);
    // A visitor id that is not a pseudonym.
    const vAt = text.indexOf(VISITOR);
    const body2 = Buffer.from(parts.body);
    body2.write('V', vAt, 'latin1');
    expect((refusal(reseal({ ...parts, body: body2 })) as Error).message).toMatch(/visitor id/);
    // The format byte says 3: the format-4 class bytes are then read as format 3 and refused, never misread.
    const as3 = wire.slice();
    as3[0] = 3;
    expect(refusal(as3)).toBeInstanceOf(BatchFormatError);
  });

  it('refuses or decodes to a valid batch whatever the damage to a format 4 body (property)', () => {
    const everyone = batchOf(60).filter((b) => encodeBatch(b)[0] === 4);
    const edits = fc.array(
      fc.record({ op: fc.constantFrom('flip' as const, 'insert' as const, 'delete' as const, 'truncate' as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
      { minLength: 1, maxLength: 4 },
    );
    fc.assert(
      fc.property(everyone, edits, (batch, e) => {
        decodeOrRefuse(damagedBody({ batch, edits: e }));
      }),
      { numRuns: 300, seed: 14_044 },
    );
  });
});
