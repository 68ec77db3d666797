import { DebouncedInput, levelOf } from './input.js';

/**
 * An input with no pin behind it: tests, the demo, and a kiosk without GPIO drive it (the kiosk from
 * its input control file, see input-control.ts). It starts inactive and debounces like a real line.
 */
export class SimulatedInput extends DebouncedInput {
  constructor(name: string, activeLow: boolean, debounceMs: number) {
    super(name, activeLow, debounceMs, levelOf(false, activeLow));
  }

  /** Puts a physical level on the line, as a contact or sensor would. */
  drive(level: 0 | 1): void {
    if (this.released) throw new Error(`${this.name}: input already released`);
    this.debouncer.sample(level);
  }

  /** Drives the level that means `active` under this input's polarity. */
  setActive(active: boolean): void {
    this.drive(levelOf(active, this.activeLow));
  }

  protected free(): void {}
}
