import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EvdevDecoder, inputEventSize, readInputEvent, writeInputEvent, type InputEventSize } from '../../../device/scanner/evdev-decoder.js';
import type { FramedLine } from '../../../device/scanner/framing.js';
import { FIXTURE_DIR, FIXTURES, fixtureFile, SIZES, type Expected } from '../../fixtures/evdev/make-fixtures.js';
import { strokes, synDropped, typeCode, typeStrokes, USAGE_ENTER, type Stroke } from '../../fixtures/evdev/hid-typist.js';

const EV_KEY = 1;
const EV_SYN = 0;

function decode(size: InputEventSize, max: number, ...chunks: Uint8Array[]): FramedLine[] {
  const d = new EvdevDecoder({ recordSize: size, maxLineLength: max, layout: 'us' });
  return chunks.flatMap((c) => d.push(c, 1n));
}

const shown = (lines: FramedLine[]): Expected[] => lines.map((l) => (l.kind === 'line' ? { line: l.text } : { rejected: l.reason }));

/** Cuts `bytes` at the given offsets (sorted, in range). */
function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const at = [0, ...offsets.filter((o) => o > 0 && o < bytes.length).sort((a, b) => a - b), bytes.length];
  return at.slice(1).map((end, i) => bytes.subarray(at[i], end));
}

const key = (code: number, value: number, size: InputEventSize) => writeInputEvent({ sec: 1n, usec: 0n, type: EV_KEY, code, value }, size);
const syn = (size: InputEventSize) => writeInputEvent({ sec: 1n, usec: 0n, type: EV_SYN, code: 0, value: 0 }, size);
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe('evdev decoder: recorded input-event bytes', () => {
  const manifest = JSON.parse(readFileSync(join(FIXTURE_DIR, 'manifest.json'), 'utf8')) as {
    name: string;
    files: { recordSize: InputEventSize; file: string }[];
    expected: Expected[];
  }[];

  it('the fixture files are what make-fixtures.ts writes (regenerate them with it, never by hand)', () => {
    expect(manifest.map((m) => m.name)).toEqual(FIXTURES.map((f) => f.name));
    for (const f of FIXTURES) {
      for (const s of SIZES) expect(Buffer.from(readFileSync(join(FIXTURE_DIR, fixtureFile(f.name, s)))).equals(Buffer.from(f.bytes(s))), `${f.name} ${s}`).toBe(true);
    }
  });

  it("reads the kernel's record layout for both word sizes (checked against hand-written bytes)", () => {
    // Right Shift's MSC_SCAN (HID usage 0x700e5) at 1764300000.123456 s: the badge fixture's first record.
    const r64 = Buffer.from('e014296900000000' + '40e2010000000000' + '0400' + '0400' + 'e5000700', 'hex');
    const r32 = Buffer.from('e0142969' + '40e20100' + '0400' + '0400' + 'e5000700', 'hex');
    expect(readInputEvent(r64, 0, 24)).toEqual({ sec: 1_764_300_000n, usec: 123_456n, type: 4, code: 4, value: 0x700e5 });
    expect(readInputEvent(r32, 0, 16)).toEqual({ sec: 1_764_300_000n, usec: 123_456n, type: 4, code: 4, value: 0x700e5 });
    const badge64 = readFileSync(join(FIXTURE_DIR, fixtureFile('badge-right-shift-kp-enter', 24)));
    expect(badge64.subarray(0, 24).equals(r64)).toBe(true);
    expect(readFileSync(join(FIXTURE_DIR, fixtureFile('badge-right-shift-kp-enter', 16))).subarray(0, 16).equals(r32)).toBe(true);
    // Right Shift down (key 54, value 1) follows it.
    expect(readInputEvent(badge64, 24, 24)).toMatchObject({ type: 1, code: 54, value: 1 });
  });

  it('uses the record size of the process: 24 bytes on 64-bit, 16 on 32-bit ARM and x86', () => {
    expect(inputEventSize('x64')).toBe(24);
    expect(inputEventSize('arm64')).toBe(24);
    expect(inputEventSize('arm')).toBe(16);
    expect(inputEventSize('ia32')).toBe(16);
  });

  for (const m of manifest) {
    for (const { recordSize, file } of m.files) {
      it(`${m.name} (${recordSize}-byte records): ${m.expected.map((e) => ('line' in e ? JSON.stringify(e.line.length > 24 ? `${e.line.slice(0, 24)}…` : e.line) : `refused ${e.rejected}`)).join(', ')}`, () => {
        const bytes = new Uint8Array(readFileSync(join(FIXTURE_DIR, file)));
        expect(shown(decode(recordSize, 4096, bytes))).toEqual(m.expected);
        // The same bytes split across reads at odd offsets, inside records and inside time fields.
        expect(shown(decode(recordSize, 4096, ...cut(bytes, [1, 7, 13, 23, 25, 47, 101, 1001, bytes.length - 3])))).toEqual(m.expected);
        // One byte per read.
        expect(shown(decode(recordSize, 4096, ...cut(bytes, Array.from({ length: bytes.length }, (_, i) => i))))).toEqual(m.expected);
      });
    }
  }
});

describe('evdev decoder: the serial framing rules, from keys', () => {
  const S: InputEventSize = 24;

  it('accepts a code of exactly the maximum length and refuses one key more, once, then reads the next code', () => {
    expect(shown(decode(S, 16, typeCode('A'.repeat(16), { recordSize: S })))).toEqual([{ line: 'A'.repeat(16) }]);
    const d = new EvdevDecoder({ recordSize: S, maxLineLength: 16, layout: 'us' });
    const out = d.push(typeCode('B'.repeat(17), { recordSize: S }), 1n);
    expect(out).toEqual([{ kind: 'rejected', reason: 'too-long', detail: 'line longer than 16 bytes dropped', receivedAtNs: 1n }]);
    expect(shown(d.push(typeCode('Z'.repeat(160), { recordSize: S }), 2n))).toEqual([{ rejected: 'too-long' }]);
    expect(shown(d.push(typeCode('W-0004', { recordSize: S }), 3n))).toEqual([{ line: 'W-0004' }]);
  });

  it('holds at most a record and maxLineLength characters, however long a code without Enter runs', () => {
    const d = new EvdevDecoder({ recordSize: S, maxLineLength: 64, layout: 'us' });
    const chunk = typeCode('X'.repeat(500), { recordSize: S, enter: 'none' });
    let most = 0;
    let refusals = 0;
    for (let i = 0; i < 40; i++) {
      refusals += d.push(chunk.subarray(0, chunk.length - 5), 1n).length;
      refusals += d.push(chunk.subarray(chunk.length - 5), 1n).length;
      most = Math.max(most, d.bufferedBytes);
    }
    expect(most).toBeLessThanOrEqual(64 + S);
    expect(refusals).toBe(1);
  });

  it('refuses Ctrl+letter as the control character it types, with the same detail as a control byte', () => {
    expect(decode(S, 64, typeCode('SG1:ABC\u0007DEF', { recordSize: S }))).toEqual([
      { kind: 'rejected', reason: 'control-byte', detail: 'control character 0x07 at 7', receivedAtNs: 1n },
    ]);
  });

  it('refuses Tab, Backspace and Escape as control characters', () => {
    for (const usage of [0x2b, 0x2a, 0x29]) {
      const bytes = typeStrokes([...strokes('AB', { enter: 'none' }), { usage, modifiers: [] }, ...strokes('CD')], { recordSize: S });
      expect(shown(decode(S, 64, bytes))).toEqual([{ rejected: 'control-byte' }]);
    }
  });

  it('refuses a key with Alt held, and a key that types nothing, as unknown-key, saying which key', () => {
    const alt: Stroke[] = [...strokes('AB', { enter: 'none' }), { usage: 0x04, modifiers: [0xe2] }, ...strokes('CD')];
    const [r] = decode(S, 64, typeStrokes(alt, { recordSize: S }));
    expect(r).toMatchObject({ kind: 'rejected', reason: 'unknown-key', detail: 'key code 30 with Alt/Meta held at 2 types no character in the US layout' });
    // An arrow key (105, KEY_LEFT) from a scanner set to send cursor keys.
    const arrow = concat(typeCode('AB', { recordSize: S, enter: 'none' }), key(105, 1, S), syn(S), key(105, 0, S), syn(S), typeCode('CD', { recordSize: S }));
    expect(decode(S, 64, arrow)[0]).toMatchObject({ reason: 'unknown-key', detail: expect.stringContaining('key code 105') });
  });

  it('drops the code when the kernel reports lost events (SYN_DROPPED), and reads the next one whole', () => {
    const typed = typeCode('SG1:LOST-IN-THE-MIDDLE', { recordSize: S });
    const half = Math.floor(typed.length / S / 2) * S;
    // The kernel's drop: the rest of the interrupted report is discarded up to its SYN_REPORT.
    const bytes = concat(typed.subarray(0, half), synDropped({ recordSize: S }), key(30, 1, S), syn(S), typed.subarray(half), typeCode('W-0005', { recordSize: S }));
    expect(shown(decode(S, 64, bytes))).toEqual([{ rejected: 'input-lost' }, { line: 'W-0005' }]);
  });

  it('ignores a stray Enter, the autorepeat of Enter, and events of other types', () => {
    const other = writeInputEvent({ sec: 1n, usec: 0n, type: 2 /* EV_REL */, code: 0, value: 5 }, S);
    const bytes = concat(
      typeStrokes([{ usage: USAGE_ENTER, modifiers: [] }], { recordSize: S }),
      other,
      typeStrokes([...strokes('W-0006', { enter: 'none' }), { usage: USAGE_ENTER, modifiers: [], holdMs: 600 }], { recordSize: S }),
    );
    expect(shown(decode(S, 64, bytes))).toEqual([{ line: 'W-0006' }]);
  });

  it('forgets a half-typed code and held keys on reset (a device reopened)', () => {
    const d = new EvdevDecoder({ recordSize: S, maxLineLength: 64, layout: 'us' });
    const shiftDown = typeCode('SG1:HALF', { recordSize: S, enter: 'none' });
    d.push(concat(shiftDown, key(42, 1, S), syn(S)).subarray(0, shiftDown.length + S + 5), 1n);
    d.reset();
    expect(d.bufferedBytes).toBe(0);
    expect(shown(d.push(typeCode('w-0007', { recordSize: S }), 1n))).toEqual([{ line: 'w-0007' }]);
  });
});

describe('evdev decoder: properties', () => {
  const sizes = fc.constantFrom<InputEventSize>(16, 24);

  it('any bytes, in any chunks: lines or refusals with a reason, never a throw, memory bounded', () => {
    fc.assert(
      fc.property(sizes, fc.integer({ min: 1, max: 40 }), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 30 }), (size, max, chunks) => {
        const d = new EvdevDecoder({ recordSize: size, maxLineLength: max, layout: 'us' });
        for (const c of chunks) {
          for (const l of d.push(c, 1n)) {
            if (l.kind === 'line') {
              expect(l.text.length).toBeGreaterThan(0);
              expect(l.text.length).toBeLessThanOrEqual(max);
              expect(l.text).toMatch(/^[\x20-\x7e]+$/);
            } else {
              expect(['too-long', 'control-byte', 'unknown-key', 'input-lost']).toContain(l.reason);
              expect(l.detail).toMatch(/\S/);
            }
          }
          expect(d.bufferedBytes).toBeLessThanOrEqual(max + size);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('any key events (random codes, values, types): never a throw', () => {
    const event = fc.record({ type: fc.constantFrom(0, 1, 4, 2, 0xffff), code: fc.oneof(fc.integer({ min: 0, max: 130 }), fc.integer({ min: 0, max: 0xffff })), value: fc.oneof(fc.constantFrom(0, 1, 2), fc.integer()) });
    fc.assert(
      fc.property(sizes, fc.array(event, { maxLength: 300 }), (size, events) => {
        const bytes = concat(...events.map((e) => writeInputEvent({ sec: 0n, usec: 0n, ...e }, size)));
        const d = new EvdevDecoder({ recordSize: size, maxLineLength: 32, layout: 'us' });
        expect(() => d.push(bytes, 1n)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('any printable ASCII codes typed by a scanner, split anywhere: exactly those lines, in order', () => {
    const code = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(sizes, fc.array(code, { minLength: 1, maxLength: 5 }), fc.constantFrom<'left' | 'right'>('left', 'right'), fc.array(fc.nat(), { maxLength: 12 }), (size, codes, shift, cuts) => {
        const bytes = concat(...codes.map((c, i) => typeCode(c, { recordSize: size, shift, enter: i % 2 ? 'keypad' : 'main' })));
        const lines = decode(size, 60, ...cut(bytes, cuts.map((c) => c % (bytes.length + 1))));
        expect(shown(lines)).toEqual(codes.map((c) => ({ line: c })));
      }),
      { numRuns: 300 },
    );
  });
});
