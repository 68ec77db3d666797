import type { DigitalOutput, TransitionListener } from './output.js';

/** An output that drives nothing and reports every transition; used where GPIO is not accessible. */
export class SimulatedOutput implements DigitalOutput {
  private active = false;
  private released = false;

  constructor(
    readonly name: string,
    readonly activeLow: boolean,
    private readonly onTransition: TransitionListener = () => {},
  ) {}

  set(active: boolean): void {
    if (this.released) throw new Error(`${this.name}: output already released`);
    if (active === this.active) return;
    this.active = active;
    this.onTransition({ output: this.name, active, level: this.physicalLevel(), atNs: process.hrtime.bigint() });
  }

  isActive(): boolean {
    return this.active;
  }

  physicalLevel(): 0 | 1 {
    return this.active !== this.activeLow ? 1 : 0;
  }

  release(): void {
    if (this.released) return;
    this.set(false);
    this.released = true;
  }
}
