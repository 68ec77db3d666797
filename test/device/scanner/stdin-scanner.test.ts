import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StdinScanner } from '../../../device/scanner/stdin-scanner.js';
import { END, scannerContract, type Token } from './scanner.contract.js';

const MAX = 64;
const tick = () => new Promise((r) => setImmediate(r));

/** The simulated scanner reads lines (LF, or CRLF from a terminal) from any Readable; here a PassThrough. */
scannerContract('stdin scanner on a stream', async () => {
  const input = new PassThrough();
  const scanner = new StdinScanner(input, MAX);
  return {
    scanner,
    maxLength: MAX,
    capabilities: { bytes: true, restart: true, queuesWhileStopped: true },
    settleMs: 20,
    async send(...chunks: Token[][]) {
      for (const chunk of chunks) {
        input.write(Buffer.concat(chunk.map((t) => (t === END ? Buffer.from('\n') : typeof t === 'string' ? Buffer.from(t, 'utf8') : Buffer.from(t)))));
        await tick();
      }
    },
    async close() {
      await scanner.stop();
      input.destroy();
    },
  };
});

describe('stdin scanner', () => {
  it("takes a terminal's CRLF as well as LF, and reports 'stopped' with its reason when the input ends", async () => {
    const input = new PassThrough();
    const scanner = new StdinScanner(input, MAX);
    const seen: string[] = [];
    scanner.on('line', (l) => seen.push(l.text));
    scanner.on('state', (s, detail) => seen.push(`${s}${detail ? `: ${detail}` : ''}`));
    scanner.start();
    input.end('SG1:FROM-A-TERMINAL\r\nSG1:FROM-A-PIPE\nSG1:NO-NEWLINE-AT-THE-END');
    await new Promise((r) => scanner.once('state', r));
    expect(seen).toEqual(['ready', 'SG1:FROM-A-TERMINAL', 'SG1:FROM-A-PIPE', 'stopped: input ended']);
    expect(scanner.state).toBe('stopped');
    await scanner.stop();
    expect(seen).toHaveLength(4);
  });
});
