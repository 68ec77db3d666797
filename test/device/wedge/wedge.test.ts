import { describe, expect, it } from 'vitest';
import { WedgeDetector } from '../../../device/wedge/wedge.js';

function feed(detector: WedgeDetector, text: string, gapsMs: (i: number) => number, start = 1_000): (string | null)[] {
  const out: (string | null)[] = [];
  let t = start;
  for (let i = 0; i < text.length; i++) {
    t += gapsMs(i);
    out.push(detector.key(text[i]!, t));
  }
  t += gapsMs(text.length);
  out.push(detector.key('Enter', t));
  return out;
}

describe('keyboard-wedge detection', () => {
  it('takes a fast burst ending in Enter as a scan', () => {
    expect(feed(new WedgeDetector(), 'SG1:ABC-123', () => 8).at(-1)).toBe('SG1:ABC-123');
  });

  it('ignores a person typing, even a fast typist', () => {
    expect(feed(new WedgeDetector(), 'W0002W0002', () => 110).at(-1)).toBeNull();
    expect(feed(new WedgeDetector(), 'W0002W0002', (i) => (i % 2 ? 60 : 45)).at(-1)).toBeNull();
  });

  it('keeps a scan whole when a few keys arrive late', () => {
    expect(feed(new WedgeDetector(), 'SG1:ABCDEFGHIJ', (i) => (i === 5 || i === 9 ? 120 : 6)).at(-1)).toBe('SG1:ABCDEFGHIJ');
  });

  it('ignores short bursts, and starts afresh after a pause', () => {
    expect(feed(new WedgeDetector(), 'ABC', () => 5).at(-1)).toBeNull();
    const d = new WedgeDetector();
    feed(d, 'typed-by-hand', () => 150).forEach((r) => expect(r).toBeNull());
    let t = 100_000;
    for (const c of 'zz') d.key(c, (t += 200));
    t += 1_000; // a pause: what came before is dropped
    for (const c of 'SG1:XYZ-987') d.key(c, (t += 7));
    expect(d.key('Enter', t + 7)).toBe('SG1:XYZ-987');
  });

  it('lets modifier keys pass without breaking a burst', () => {
    const d = new WedgeDetector();
    let t = 0;
    for (const c of 'SG1:ABCD') {
      d.key('Shift', (t += 3));
      d.key(c, (t += 3));
    }
    expect(d.key('Enter', t + 5)).toBe('SG1:ABCD');
  });
});
