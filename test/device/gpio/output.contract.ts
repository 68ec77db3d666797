import { describe, expect, it } from 'vitest';
import type { DigitalOutput, Transition } from '../../../device/gpio/output.js';

export type OutputFactory = (name: string, activeLow: boolean, onTransition: (t: Transition) => void) => DigitalOutput;

/**
 * What every DigitalOutput adapter must do. Run against the simulated adapter everywhere and against
 * the real onoff adapter where sysfs GPIO is accessible (a Raspberry Pi).
 */
export function digitalOutputContract(adapter: string, make: OutputFactory): void {
  describe(`DigitalOutput contract: ${adapter}`, () => {
    it.each([false, true])('starts inactive with the inactive physical level (activeLow=%s)', (activeLow) => {
      const out = make('relay', activeLow, () => {});
      try {
        expect(out.isActive()).toBe(false);
        expect(out.physicalLevel()).toBe(activeLow ? 1 : 0);
      } finally {
        out.release();
      }
    });

    it.each([false, true])('honours polarity when driven active (activeLow=%s)', (activeLow) => {
      const seen: Transition[] = [];
      const out = make('relay', activeLow, (t) => seen.push(t));
      try {
        out.set(true);
        expect(out.isActive()).toBe(true);
        expect(out.physicalLevel()).toBe(activeLow ? 0 : 1);
        out.set(false);
        expect(out.physicalLevel()).toBe(activeLow ? 1 : 0);
        expect(seen.map((t) => [t.output, t.active, t.level])).toEqual([
          ['relay', true, activeLow ? 0 : 1],
          ['relay', false, activeLow ? 1 : 0],
        ]);
      } finally {
        out.release();
      }
    });

    it('reports a transition only when the state changes', () => {
      const seen: Transition[] = [];
      const out = make('buzzer', false, (t) => seen.push(t));
      try {
        out.set(false);
        out.set(true);
        out.set(true);
        expect(seen).toHaveLength(1);
      } finally {
        out.release();
      }
    });

    it('release drives the line inactive, is idempotent, and refuses later use', () => {
      const out = make('relay', true, () => {});
      out.set(true);
      out.release();
      out.release();
      expect(() => out.set(true)).toThrow(/released/);
    });
  });
}
