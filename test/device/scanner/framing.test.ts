import { describe, expect, it } from 'vitest';
import { ScanLineFramer, type FramedLine, type LineSuffix } from '../../../device/scanner/framing.js';

function frame(suffix: LineSuffix, max: number, ...chunks: (string | Uint8Array)[]): FramedLine[] {
  const framer = new ScanLineFramer(suffix, max);
  const out: FramedLine[] = [];
  framer.on('data', (l: FramedLine) => out.push(l));
  for (const c of chunks) framer.write(typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c));
  return out;
}

const texts = (lines: FramedLine[]) => lines.map((l) => (l.kind === 'line' ? l.text : `!${l.reason}`));

describe('scan line framing', () => {
  it.each([
    ['CR', 'A1\rB2\r'],
    ['LF', 'A1\nB2\n'],
    ['CRLF', 'A1\r\nB2\r\n'],
  ] as const)('splits lines on the configured suffix (%s)', (suffix, input) => {
    expect(texts(frame(suffix, 64, input))).toEqual(['A1', 'B2']);
  });

  it('holds at most maxLength bytes however long a line without a suffix runs, and reports it once', () => {
    const framer = new ScanLineFramer('CRLF', 4096);
    const out: FramedLine[] = [];
    framer.on('data', (l: FramedLine) => out.push(l));
    let most = 0;
    // 64 MiB with no suffix, in scanner-sized chunks, each a fresh allocation.
    for (let i = 0; i < 1024; i++) {
      framer.write(Buffer.alloc(64 * 1024, 0x41));
      most = Math.max(most, framer.bufferedBytes);
    }
    expect(most).toBeLessThanOrEqual(4096 + 1);
    framer.write(Buffer.from('\r\nOK-1\r\n'));
    expect(texts(out)).toEqual(['!too-long', 'OK-1']);
    expect(framer.bufferedBytes).toBe(0);
  });

  it('joins a line that arrives in pieces, byte by byte', () => {
    const bytes = [...Buffer.from('SG1:ABC DEF\r')].map((b) => new Uint8Array([b]));
    expect(texts(frame('CR', 64, ...bytes))).toEqual(['SG1:ABC DEF']);
  });

  it('keeps Vietnamese text split across chunks inside a multi-byte character', () => {
    const b = Buffer.from('Cổng\r', 'utf8');
    expect(texts(frame('CR', 64, b.subarray(0, 2), b.subarray(2)))).toEqual(['Cổng']);
  });

  it('drops an overlong line once, bounded in memory, and carries on with the next', () => {
    const big = 'X'.repeat(1_000_000);
    const framer = new ScanLineFramer('CR', 4096);
    const out: FramedLine[] = [];
    framer.on('data', (l: FramedLine) => out.push(l));
    for (let i = 0; i < big.length; i += 65536) framer.write(Buffer.from(big.slice(i, i + 65536)));
    framer.write(Buffer.from('\rOK\r'));
    expect(texts(out)).toEqual(['!too-long', 'OK']);
    expect(framer.writableLength).toBe(0);
  });

  it('accepts a line of exactly the maximum length and rejects one byte more', () => {
    expect(texts(frame('CRLF', 8, '12345678\r\n123456789\r\nok\r\n'))).toEqual(['12345678', '!too-long', 'ok']);
  });

  it('rejects bytes that are not UTF-8 and control characters, with a hint for a wrong suffix', () => {
    const out = frame('CR', 64, new Uint8Array([0x41, 0xff, 0xfe, 0x0d]), 'A\u0007B\r', '\nNEXT\r');
    expect(texts(out)).toEqual(['!not-utf8', '!control-byte', '!control-byte']);
    expect(out[2]).toMatchObject({ detail: expect.stringContaining('line suffix') });
  });

  it('ignores empty lines', () => {
    expect(texts(frame('CR', 64, '\r\r\rA\r'))).toEqual(['A']);
  });
});
