import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedLineSplitter, type SplitLine } from '../../../device/gps/lines.js';

describe('BoundedLineSplitter', () => {
  it('splits on LF (dropping a CR before it), across chunks', () => {
    const s = new BoundedLineSplitter(10, 'latin1');
    expect([...s.push(Buffer.from('$AB')), ...s.push(Buffer.from('C\r\n$D\n\n$E'))]).toEqual([
      { kind: 'line', text: '$ABC' },
      { kind: 'line', text: '$D' },
    ]);
    expect(s.push(Buffer.from('\r\n'))).toEqual([{ kind: 'line', text: '$E' }]);
  });

  it('refuses a line over the limit once, skips to its end, and reads the next', () => {
    const s = new BoundedLineSplitter(10, 'latin1');
    const out = [...s.push(Buffer.from('x'.repeat(8))), ...s.push(Buffer.from('y'.repeat(5000))), ...s.push(Buffer.from('z'.repeat(5000) + '\r\n$OK\r\n'))];
    expect(out).toEqual([{ kind: 'too-long', length: 5008 }, { kind: 'line', text: '$OK' }]);
    expect(new BoundedLineSplitter(10, 'latin1').push(Buffer.from('0123456789\r\n0123456789A\r\n'))).toEqual([
      { kind: 'line', text: '0123456789' },
      { kind: 'too-long', length: expect.any(Number) },
    ]);
  });

  it('whatever the chunking, the same lines come out, none longer than the limit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(400), { maxLength: 8 }), (bytes, cuts) => {
        const whole = new BoundedLineSplitter(16, 'latin1').push(Buffer.from(bytes));
        const s = new BoundedLineSplitter(16, 'latin1');
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const pieces: SplitLine[] = [];
        let at = 0;
        for (const p of [...points, bytes.length]) {
          pieces.push(...s.push(Buffer.from(bytes.subarray(at, p))));
          at = p;
        }
        expect(pieces.filter((l) => l.kind === 'line')).toEqual(whole.filter((l) => l.kind === 'line'));
        for (const l of pieces) if (l.kind === 'line') expect(Buffer.byteLength(l.text, 'latin1')).toBeLessThanOrEqual(16);
      }),
      { numRuns: 1_000 },
    );
  });
});
