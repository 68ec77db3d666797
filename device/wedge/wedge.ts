/**
 * Keyboard-wedge (USB HID) scanners type the code as keystrokes, far faster than a person (a few
 * milliseconds a key against 100 ms or more), and end with Enter. A run of at least `minLength`
 * characters ended by Enter whose median gap between keys is at most `maxMedianGapMs` is a scan;
 * a person typing is not. The median, not every gap, decides, so one late key (a busy system, a
 * scanner hiccup) does not break a scan; a pause longer than `resetGapMs` starts afresh.
 * Pure: the caller feeds keys with their times (KeyboardEvent.key and timeStamp in the screens).
 *
 * A scan is refused as a whole, as the serial scanner's framer refuses a line: one longer than
 * `maxLength` characters (never cut to a shorter code) or with a control character in it.
 */
export interface WedgeOptions {
  maxMedianGapMs: number;
  resetGapMs: number;
  minLength: number;
  /** Characters (UTF-16 code units, as the renderer API's scan.submit counts them). */
  maxLength: number;
}

export const DEFAULT_WEDGE_OPTIONS: WedgeOptions = { maxMedianGapMs: 35, resetGapMs: 400, minLength: 8, maxLength: 4096 };

/** What a key completed: a scanned code, or a scan refused with the serial framer's reason words. */
export type WedgeRead = { kind: 'line'; text: string } | { kind: 'rejected'; reason: 'too-long' | 'control-byte'; detail: string };

/** C0 controls, DEL and C1 controls, as the serial framer's validateLine (framing.ts is Node-only). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point here
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/u;

export class WedgeDetector {
  private buffer = '';
  private gaps: number[] = [];
  private lastAt = -Infinity;
  /** The burst ran past maxLength: its remaining keys are counted for timing but not kept. */
  private overflowed = false;
  private readonly options: WedgeOptions;

  constructor(options: Partial<WedgeOptions> = {}) {
    this.options = { ...DEFAULT_WEDGE_OPTIONS, ...options };
  }

  /** Feeds one key; returns the scanned code when this key completes a scan, else null. */
  key(key: string, atMs: number): string | null {
    const read = this.read(key, atMs);
    return read?.kind === 'line' ? read.text : null;
  }

  /**
   * Feeds one key; says what it completed: a scan, a scan refused (too long, a control character),
   * or nothing (null: not Enter, or what Enter ended was a person typing or too short to be a scan).
   */
  read(key: string, atMs: number): WedgeRead | null {
    const gap = atMs - this.lastAt;
    if (key === 'Enter') {
      const code = this.buffer;
      const gaps = [...this.gaps, gap];
      const overflowed = this.overflowed;
      this.reset();
      const fast = median(gaps) <= this.options.maxMedianGapMs && gap <= this.options.resetGapMs;
      if (!fast || code.length < this.options.minLength) return null;
      if (overflowed) return { kind: 'rejected', reason: 'too-long', detail: `code longer than ${this.options.maxLength} characters dropped` };
      const m = CONTROL_CHAR.exec(code);
      if (m) return { kind: 'rejected', reason: 'control-byte', detail: `control character 0x${m[0].codePointAt(0)!.toString(16).padStart(2, '0')} at ${m.index}` };
      return { kind: 'line', text: code };
    }
    // Shift and other named keys come between characters; they neither add to nor break a burst.
    // A character is one code point, which may take two UTF-16 units (outside the BMP).
    if (key.length !== 1 && !(key.length === 2 && key.codePointAt(0)! > 0xffff)) return null;
    this.lastAt = atMs;
    if (gap > this.options.resetGapMs) {
      this.buffer = '';
      this.gaps = [];
      this.overflowed = false;
    } else if (this.buffer.length) {
      // Bounded like the buffer: an endless burst keeps neither growing.
      if (!this.overflowed) this.gaps.push(gap);
    }
    if (this.overflowed) return null;
    if (this.buffer.length + key.length > this.options.maxLength) {
      this.overflowed = true;
      return null;
    }
    this.buffer += key;
    return null;
  }

  reset(): void {
    this.buffer = '';
    this.gaps = [];
    this.lastAt = -Infinity;
    this.overflowed = false;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
