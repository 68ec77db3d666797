import { describe, expect, it } from 'vitest';
import type { ScannerEvents } from '../../../device/scanner/scanner.js';
import { WedgeDetector } from '../../../device/wedge/wedge.js';
import { WedgeScanner, type WedgeScannerEvents } from '../../../device/wedge/wedge-scanner.js';
import { END, scannerContract, type Token } from './scanner.contract.js';

/** The wedge's events carry the Scanner port's payloads: a screen can treat it as one more scanner. */
type Assignable<A, B> = A extends B ? true : false;
const _line: Assignable<WedgeScannerEvents['line'], ScannerEvents['line']> = true;
const _rejected: Assignable<WedgeScannerEvents['rejected'], ScannerEvents['rejected']> = true;
void [_line, _rejected];

const MAX = 64;
/** A scanner types a key every few milliseconds; a chunk boundary is one late key, still part of the burst. */
const KEY_MS = 6;
const LATE_MS = 150;

/**
 * The keyboard wedge as a scanner: keys with times (a virtual clock, so nothing waits). It receives
 * characters, never bytes: there is no encoding to get wrong, so 'not-utf8' does not apply.
 */
scannerContract('keyboard wedge', async () => {
  const scanner = new WedgeScanner({ maxLength: MAX });
  let now = 1_000;
  return {
    scanner,
    maxLength: MAX,
    capabilities: { bytes: false, restart: true, queuesWhileStopped: false },
    settleMs: 0,
    async send(...chunks: Token[][]) {
      for (const chunk of chunks) {
        for (const token of chunk) {
          if (typeof token !== 'string' && token !== END) throw new Error('a keyboard wedge types characters, not bytes');
          for (const key of token === END ? ['Enter'] : [...token]) scanner.key(key, (now += KEY_MS));
        }
        now += LATE_MS;
      }
    },
    async close() {
      await scanner.stop();
    },
  };
});

describe('keyboard wedge refusals, as the screens use the detector today', () => {
  const burst = (d: WedgeDetector, text: string, start = 0) => {
    let t = start;
    for (const c of text) d.key(c, (t += 5));
    return d.key('Enter', t + 5);
  };
  const burstRead = (d: WedgeDetector, text: string, start = 0) => {
    let t = start;
    for (const c of text) d.read(c, (t += 5));
    return d.read('Enter', t + 5);
  };

  it('never cuts an over-long burst down to a shorter code', () => {
    const d = new WedgeDetector({ maxLength: 64 });
    // 640 = 10 x 64: the detector used to start afresh at each 64 and return the last 64 as a code.
    expect(burst(d, 'Z'.repeat(640))).toBeNull();
    expect(burst(d, 'Z'.repeat(65), 10_000)).toBeNull();
    expect(burst(d, 'Z'.repeat(64), 20_000)).toBe('Z'.repeat(64));
  });

  it('keeps characters outside the Basic Multilingual Plane, and refuses control characters', () => {
    const d = new WedgeDetector();
    expect(burst(d, 'SG1:ABC😀DEF')).toBe('SG1:ABC😀DEF');
    expect(burst(d, 'SG1:ABC\u0000DEF', 10_000)).toBeNull();
    expect(burstRead(d, 'SG1:ABC\u001bDEF', 20_000)).toMatchObject({ kind: 'rejected', reason: 'control-byte', detail: 'control character 0x1b at 7' });
    expect(burstRead(d, 'Z'.repeat(4097), 30_000)).toMatchObject({ kind: 'rejected', reason: 'too-long' });
  });

  it('a person typing over-long or odd text is not a scan, so it is not refused either', () => {
    const s = new WedgeScanner({ maxLength: 8 });
    const seen: string[] = [];
    s.on('line', (l) => seen.push(l.text));
    s.on('rejected', (r) => seen.push(`!${r.reason}`));
    s.start();
    let t = 0;
    for (const c of 'typed by hand, far too long') s.key(c, (t += 150));
    s.key('Enter', t + 150);
    expect(seen).toEqual([]);
  });
});
