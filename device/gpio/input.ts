/**
 * One digital input line (an emergency release contact, a door or turnstile sensor). `active` is the
 * logical state ("the fire panel asks for release", "someone is in the passage"); the adapter applies
 * the configured polarity and debounces the line, so a contact that bounces for a few milliseconds is
 * seen as one change.
 */
export interface DigitalInput {
  readonly name: string;
  readonly activeLow: boolean;
  /** The debounced logical state. */
  isActive(): boolean;
  /** Called on each debounced change of state (not for the state at the time of watching). */
  watch(listener: InputListener): void;
  unwatch(listener: InputListener): void;
  /** Stops watching and frees the line. Idempotent; `watch` afterwards throws. */
  release(): void;
}

export interface InputEdge {
  input: string;
  active: boolean;
  /** process.hrtime.bigint() when the new state was confirmed (after the debounce time). */
  atNs: bigint;
}

export type InputListener = (edge: InputEdge) => void;

/** The physical level an input line carries when it is logically `active`. */
export function levelOf(active: boolean, activeLow: boolean): 0 | 1 {
  return active !== activeLow ? 1 : 0;
}

/**
 * Debouncing, apart from any pin: raw level samples go in, and a level comes out once it has held
 * for `settleMs` without changing. A bounce that returns to the stable level before then is nothing.
 * With `settleMs` 0 every change counts at once.
 */
export class Debouncer {
  private stable: 0 | 1;
  private raw: 0 | 1;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settleMs: number,
    initial: 0 | 1,
    private readonly onStable: (level: 0 | 1) => void,
  ) {
    if (!Number.isInteger(settleMs) || settleMs < 0) throw new Error(`a debounce time is a whole number of milliseconds, not ${settleMs}`);
    this.stable = initial;
    this.raw = initial;
  }

  get level(): 0 | 1 {
    return this.stable;
  }

  sample(level: 0 | 1): void {
    if (level === this.raw) return;
    this.raw = level;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (level === this.stable) return;
    if (this.settleMs === 0) return this.settle();
    this.timer = setTimeout(() => this.settle(), this.settleMs);
  }

  /** Forgets a change still settling. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.raw = this.stable;
  }

  private settle(): void {
    this.timer = undefined;
    if (this.raw === this.stable) return;
    this.stable = this.raw;
    this.onStable(this.stable);
  }
}

/** Listeners and debounce shared by the adapters: each only feeds raw levels in. */
export abstract class DebouncedInput implements DigitalInput {
  private readonly listeners = new Set<InputListener>();
  protected readonly debouncer: Debouncer;
  protected released = false;

  constructor(
    readonly name: string,
    readonly activeLow: boolean,
    debounceMs: number,
    initialLevel: 0 | 1,
  ) {
    this.debouncer = new Debouncer(debounceMs, initialLevel, (level) => {
      const edge: InputEdge = { input: this.name, active: this.activeOf(level), atNs: process.hrtime.bigint() };
      for (const l of [...this.listeners]) l(edge);
    });
  }

  isActive(): boolean {
    return this.activeOf(this.debouncer.level);
  }

  watch(listener: InputListener): void {
    if (this.released) throw new Error(`${this.name}: input already released`);
    this.listeners.add(listener);
  }

  unwatch(listener: InputListener): void {
    this.listeners.delete(listener);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.debouncer.cancel();
    this.listeners.clear();
    this.free();
  }

  /** Frees the hardware behind the input (called once). */
  protected abstract free(): void;

  private activeOf(level: 0 | 1): boolean {
    return (level === 1) !== this.activeLow;
  }
}
