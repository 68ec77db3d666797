/**
 * Keyboard-wedge (USB HID) scanners type the code as keystrokes, far faster than a person (a few
 * milliseconds a key against 100 ms or more), and end with Enter. A run of at least `minLength`
 * characters ended by Enter whose median gap between keys is at most `maxMedianGapMs` is a scan;
 * a person typing is not. The median, not every gap, decides, so one late key (a busy system, a
 * scanner hiccup) does not break a scan; a pause longer than `resetGapMs` starts afresh.
 * Pure: the caller feeds keys with their times (KeyboardEvent.key and timeStamp in the screens).
 */
export interface WedgeOptions {
  maxMedianGapMs: number;
  resetGapMs: number;
  minLength: number;
  maxLength: number;
}

export const DEFAULT_WEDGE_OPTIONS: WedgeOptions = { maxMedianGapMs: 35, resetGapMs: 400, minLength: 8, maxLength: 4096 };

export class WedgeDetector {
  private buffer = '';
  private gaps: number[] = [];
  private lastAt = -Infinity;
  private readonly options: WedgeOptions;

  constructor(options: Partial<WedgeOptions> = {}) {
    this.options = { ...DEFAULT_WEDGE_OPTIONS, ...options };
  }

  /** Feeds one key; returns the scanned code when this key completes a scan, else null. */
  key(key: string, atMs: number): string | null {
    const gap = atMs - this.lastAt;
    if (key === 'Enter') {
      const code = this.buffer;
      const gaps = [...this.gaps, gap];
      this.reset();
      const fast = median(gaps) <= this.options.maxMedianGapMs && gap <= this.options.resetGapMs;
      return fast && code.length >= this.options.minLength ? code : null;
    }
    // Shift and other modifiers come between characters; they neither add to nor break a burst.
    if (key.length !== 1) return null;
    this.lastAt = atMs;
    if (gap > this.options.resetGapMs || this.buffer.length >= this.options.maxLength) {
      this.buffer = '';
      this.gaps = [];
    } else if (this.buffer.length) this.gaps.push(gap);
    this.buffer += key;
    return null;
  }

  reset(): void {
    this.buffer = '';
    this.gaps = [];
    this.lastAt = -Infinity;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
