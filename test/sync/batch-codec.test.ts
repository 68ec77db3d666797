import { brotliCompressSync } from 'node:zlib';
import { encode as cborEncode } from 'cborg';
import { describe, expect, it } from 'vitest';
import { BatchFormatError, decodeBatch, encodeBatch } from '../../sync/batch-codec.js';
import { typicalEvents } from '../helpers/events.js';

describe('event batch codec', () => {
  it('round-trips every field', () => {
    const events = typicalEvents(500, 1001);
    events[10] = { ...events[10]!, clockSynced: false, source: 'camera', credentialKind: 'badge', policyVersion: 4 };
    const batch = { deviceId: 'kiosk-0001', batchId: 'b-1001-1500', events, anchor: { bootId: 'boot-1', monoUs: 123_456_789, hubTimeMs: 1_795_000_000_000 } };
    expect(decodeBatch(encodeBatch(batch))).toEqual(batch);
    expect(decodeBatch(encodeBatch({ ...batch, anchor: null })).anchor).toBeNull();
  });

  it('keeps typical events within 24 bytes each at batch size 500', () => {
    const bytes = encodeBatch({ deviceId: 'kiosk-0001', batchId: 'b-1-500', events: typicalEvents(500) });
    expect(bytes.length / 500).toBeLessThanOrEqual(24);
  });

  it.each([
    ['empty', new Uint8Array()],
    ['unknown format', new Uint8Array([9, 1, 2])],
    ['not brotli', new Uint8Array([1, 0xff, 0xff, 0xff])],
    ['not the batch document', new Uint8Array([1, ...brotliCompressSync(cborEncode({ hello: 'world' }))])],
  ])('refuses %s input with BatchFormatError', (_n, bytes) => {
    expect(() => decodeBatch(bytes)).toThrow(BatchFormatError);
  });

  it('refuses inconsistent columns, bad string indexes and decreasing sequence numbers', () => {
    const good = { v: 1, device: 'kiosk-1', batch: 'b', n: 2, seq: [1, 1], wall: [1, 1], mono: [0, 0], flags: [0, 0], boot: [0, 0], cp: [0, 0], zone: [0, 0], who: [0, 0], reasons: [0, 0], policy: [1, 0], strings: ['x'] };
    const wire = (doc: object) => new Uint8Array([1, ...brotliCompressSync(cborEncode(doc))]);
    expect(decodeBatch(wire(good)).events).toHaveLength(2);
    expect(() => decodeBatch(wire({ ...good, wall: [1] }))).toThrow(/column lengths/);
    expect(() => decodeBatch(wire({ ...good, who: [0, 5] }))).toThrow(/string index 5/);
    expect(() => decodeBatch(wire({ ...good, seq: [5, -1] }))).toThrow(/must increase/);
  });
});
