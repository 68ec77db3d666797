import { Gpio } from 'onoff';
import type { DigitalOutput, TransitionListener } from './output.js';

/** A real sysfs GPIO line via onoff. `line` is the sysfs number (see sysfs-chip.ts). */
export class OnoffOutput implements DigitalOutput {
  private readonly gpio: Gpio;
  private active = false;
  private released = false;

  static accessible(): boolean {
    return Gpio.accessible;
  }

  constructor(
    readonly name: string,
    line: number,
    readonly activeLow: boolean,
    private readonly onTransition: TransitionListener = () => {},
  ) {
    // sysfs "high"/"low" set the raw level atomically with the direction, so the line never
    // glitches active while being configured.
    this.gpio = new Gpio(line, activeLow ? 'high' : 'low', 'none', { activeLow });
  }

  set(active: boolean): void {
    if (this.released) throw new Error(`${this.name}: output already released`);
    if (active === this.active) return;
    this.gpio.writeSync(active ? 1 : 0);
    this.active = active;
    this.onTransition({ output: this.name, active, level: this.physicalLevel(), atNs: process.hrtime.bigint() });
  }

  isActive(): boolean {
    return this.gpio.readSync() === 1;
  }

  physicalLevel(): 0 | 1 {
    return this.isActive() !== this.activeLow ? 1 : 0;
  }

  release(): void {
    if (this.released) return;
    this.gpio.writeSync(0);
    this.active = false;
    this.released = true;
    this.gpio.unexport();
  }
}
