import { Gpio } from 'onoff';
import { DebouncedInput } from './input.js';

/**
 * A real sysfs GPIO input via onoff. `line` is the sysfs number (see sysfs-chip.ts). Interrupts on
 * both edges feed the shared debouncer; the polarity is applied there, not by the kernel, so the
 * debounced logic is the same code as the simulated input's.
 */
export class OnoffInput extends DebouncedInput {
  private readonly gpio: Gpio;
  private readonly onInterrupt = (err: Error | null | undefined, value: 0 | 1): void => {
    // An interrupt whose value could not be read: read the line again instead of guessing.
    this.debouncer.sample(err ? this.read() : value);
  };

  static accessible(): boolean {
    return Gpio.accessible;
  }

  constructor(name: string, line: number, activeLow: boolean, debounceMs: number) {
    // The kernel's own inversion off: a line left inverted by another program would flip our polarity.
    const gpio = new Gpio(line, 'in', 'both', { activeLow: false });
    super(name, activeLow, debounceMs, gpio.readSync() === 1 ? 1 : 0);
    this.gpio = gpio;
    this.gpio.watch(this.onInterrupt);
  }

  protected free(): void {
    this.gpio.unwatch(this.onInterrupt);
    this.gpio.unexport();
  }

  private read(): 0 | 1 {
    try {
      return this.gpio.readSync() === 1 ? 1 : 0;
    } catch {
      return this.debouncer.level;
    }
  }
}
