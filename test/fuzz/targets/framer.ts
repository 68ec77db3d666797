import fc from 'fast-check';
import { ScanLineFramer, type FramedLine, type LineSuffix } from '../../../device/scanner/framing.js';
import { check, show, target, type AnyFuzzTarget } from '../harness.js';

export interface FramerInput {
  suffix: LineSuffix;
  maxLength: number;
  /** The bytes the scanner sends, in the chunks the serial port delivers them. */
  chunks: Uint8Array[];
}

const CR = 0x0d;
const LF = 0x0a;
// eslint-disable-next-line no-control-regex -- control characters are what the framer must refuse
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const SUFFIX_BYTES: Record<LineSuffix, number[]> = { CR: [CR], LF: [LF], CRLF: [CR, LF] };

/** Pieces a scanner (or line noise) produces: text, suffixes of every kind, control bytes, broken UTF-8, long runs. */
const piece: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))) },
  { weight: 3, arbitrary: fc.constantFrom([CR], [LF], [CR, LF], [LF, CR], [CR, CR, LF], [CR, LF, CR, LF]).map((b) => new Uint8Array(b)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 24 }) },
  // Invalid UTF-8: lone continuation bytes, overlong forms, surrogates, beyond U+10FFFF, truncated sequences, 0xFE/0xFF.
  {
    weight: 2,
    arbitrary: fc
      .constantFrom([0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe1, 0x80], [0xf0, 0x9f], [0xfe], [0xff], [0xc3])
      .map((b) => new Uint8Array(b)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1f }).chain((c) => fc.constantFrom([c], [0x7f], [0xc2, 0x80 + (c % 0x20)])).map((b) => new Uint8Array(b)) },
  // Long runs of one byte, around every maximum length used below.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(0x41, 0x20, 0x00, 0xff, CR, LF), fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 250, max: 310 }), fc.integer({ min: 4000, max: 9000 })))
      .map(([b, n]) => new Uint8Array(n).fill(b)),
  },
);

/** The bytes cut into chunks at arbitrary points (inside a multi-byte character, between CR and LF). */
const chunked: fc.Arbitrary<Uint8Array[]> = fc
  .tuple(fc.array(piece, { maxLength: 16 }), fc.array(fc.nat(), { maxLength: 12 }))
  .map(([pieces, cuts]) => {
    const all = Buffer.concat(pieces);
    const points = [...new Set(cuts.map((c) => (all.length ? c % (all.length + 1) : 0)))].sort((a, b) => a - b);
    const chunks: Uint8Array[] = [];
    let at = 0;
    for (const p of [...points, all.length]) {
      chunks.push(new Uint8Array(all.subarray(at, p)));
      at = p;
    }
    return chunks;
  });

export const framerInput: fc.Arbitrary<FramerInput> = fc.record({
  suffix: fc.constantFrom<LineSuffix>('CR', 'LF', 'CRLF'),
  maxLength: fc.constantFrom(1, 2, 7, 64, 300, 4096),
  chunks: chunked,
});

type Expected = { kind: 'line'; text: string } | { kind: 'rejected'; reason: string };

/**
 * The framer's contract written out the plain way, on the whole byte string at once: lines end at
 * the suffix's last byte (CRLF also ends at a bare LF, dropping one CR before it); a line of more
 * than maxLength bytes is refused once as too-long, even if it never ends; an empty line is
 * ignored; the rest is a line if it is UTF-8 without control characters. An unfinished line at the
 * end is dropped.
 */
export function expectedLines(input: FramerInput): Expected[] {
  const bytes = Buffer.concat(input.chunks);
  const delimiter = input.suffix === 'CR' ? CR : LF;
  const out: Expected[] = [];
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(delimiter, start);
    const terminated = end !== -1;
    let line = bytes.subarray(start, terminated ? end : bytes.length);
    if (input.suffix === 'CRLF' && terminated && line.at(-1) === CR) line = line.subarray(0, -1);
    const raw = terminated ? end - start : bytes.length - start;
    const tooLong = line.length > input.maxLength || raw > input.maxLength + (input.suffix === 'CRLF' ? 1 : 0);
    if (tooLong) out.push({ kind: 'rejected', reason: 'too-long' });
    else if (terminated && line.length > 0) {
      let text: string | undefined;
      try {
        text = strictUtf8.decode(line);
      } catch {
        out.push({ kind: 'rejected', reason: 'not-utf8' });
      }
      if (text !== undefined) out.push(CONTROL.test(text) ? { kind: 'rejected', reason: 'control-byte' } : { kind: 'line', text });
    }
    if (!terminated) return out;
    start = end + 1;
  }
}

/** Feeds the chunks, then a suffix and a well-formed line, and checks every output and the buffer bound. */
export async function runFramer(input: FramerInput): Promise<void> {
  const { suffix, maxLength } = input;
  const framer = new ScanLineFramer(suffix, maxLength);
  const out: FramedLine[] = [];
  const errors: unknown[] = [];
  framer.on('data', (l: FramedLine) => out.push(l));
  framer.on('error', (e) => errors.push(e));
  const sentinel = 'OK7'.slice(0, maxLength);
  const tail = new Uint8Array([...SUFFIX_BYTES[suffix], ...Buffer.from(sentinel), ...SUFFIX_BYTES[suffix]]);
  for (const chunk of [...input.chunks, tail]) {
    framer.write(Buffer.from(chunk));
    check(framer.bufferedBytes <= maxLength + 1, `bufferedBytes ${framer.bufferedBytes} > maxLength+1 (${maxLength + 1})`);
  }
  await new Promise<void>((resolve) => framer.end(resolve));
  check(errors.length === 0, () => `framer emitted an error: ${String(errors[0])}`);
  check(framer.bufferedBytes === 0, 'bytes still buffered after the stream ended with a suffix');

  for (const l of out) {
    if (l.kind === 'line') {
      check(l.text.length > 0, 'an empty line was delivered');
      const bytes = Buffer.from(l.text, 'utf8');
      check(bytes.length <= maxLength, () => `a line of ${bytes.length} bytes was delivered (maxLength ${maxLength}): ${show(l.text, 80)}`);
      check(!CONTROL.test(l.text), () => `a line with a control character was delivered: ${show(l.text, 80)}`);
      check(!/[\ud800-\udfff]/u.test(l.text.replace(/[\ud800-\udbff][\udc00-\udfff]/gu, '')), 'a line with a lone surrogate was delivered');
    } else {
      check(l.kind === 'rejected' && ['too-long', 'not-utf8', 'control-byte'].includes(l.reason), () => `unexpected output ${show(l)}`);
      check(typeof l.detail === 'string' && l.detail.length > 0, 'a rejection without its detail');
    }
  }
  const last = out.at(-1);
  check(last?.kind === 'line' && last.text === sentinel, () => `the well-formed line after the input was not delivered last: ${show(last)}`);
  const got = out.map((l) => (l.kind === 'line' ? { kind: 'line', text: l.text } : { kind: 'rejected', reason: l.reason }));
  const want = [...expectedLines({ ...input, chunks: [...input.chunks, tail] })];
  check(JSON.stringify(got) === JSON.stringify(want), () => `framed ${show(got)}, the contract says ${show(want)}`);
}

export function framerTargets(): AnyFuzzTarget[] {
  return [target({ name: 'scanner framing', weight: 250, smallRuns: 600, arbitrary: framerInput, run: runFramer })];
}
