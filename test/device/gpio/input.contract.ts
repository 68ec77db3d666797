import { afterEach, describe, expect, it } from 'vitest';
import type { DigitalInput, InputEdge } from '../../../device/gpio/input.js';

/** An input under test and a way to put a physical level on its line (a wire from an output on a Pi). */
export interface InputRig {
  input: DigitalInput;
  drive(level: 0 | 1): void;
  release(): void;
}

export type InputRigFactory = (name: string, activeLow: boolean, debounceMs: number) => InputRig;

const DEBOUNCE_MS = 30;

/** Resolves with the next edge the input reports. */
function nextEdge(input: DigitalInput): Promise<InputEdge> {
  return new Promise((resolve) => {
    const l = (e: InputEdge): void => {
      input.unwatch(l);
      resolve(e);
    };
    input.watch(l);
  });
}

/**
 * What every DigitalInput adapter must do. Run against the simulated adapter everywhere and against
 * the real onoff adapter where sysfs GPIO is accessible and a loop wire is fitted (a Raspberry Pi).
 * Real timers: a real line's edges arrive from the kernel, not from a fake clock.
 */
export function digitalInputContract(adapter: string, make: InputRigFactory): void {
  describe(`DigitalInput contract: ${adapter}`, () => {
    const rigs: InputRig[] = [];
    const rig = (name: string, activeLow: boolean, debounceMs = DEBOUNCE_MS): InputRig => {
      const r = make(name, activeLow, debounceMs);
      rigs.push(r);
      return r;
    };
    afterEach(() => rigs.splice(0).forEach((r) => r.release()));

    it.each([false, true])('starts inactive at the inactive level, and reads the active level as active (activeLow=%s)', async (activeLow) => {
      const r = rig('emergency', activeLow);
      r.drive(activeLow ? 1 : 0);
      expect(r.input.isActive()).toBe(false);
      const edge = nextEdge(r.input);
      r.drive(activeLow ? 0 : 1);
      expect(await edge).toMatchObject({ input: 'emergency', active: true });
      expect(r.input.isActive()).toBe(true);
      const back = nextEdge(r.input);
      r.drive(activeLow ? 1 : 0);
      expect(await back).toMatchObject({ input: 'emergency', active: false });
      expect(r.input.isActive()).toBe(false);
    });

    it('reports a bouncing contact once, after it settles', async () => {
      const r = rig('passage', false);
      r.drive(0);
      const seen: InputEdge[] = [];
      r.input.watch((e) => seen.push(e));
      const settled = nextEdge(r.input);
      for (const level of [1, 0, 1, 0, 1] as const) r.drive(level);
      await settled;
      // A second debounce time with the line still: nothing more comes.
      await new Promise((resolve) => setTimeout(resolve, DEBOUNCE_MS * 2));
      expect(seen.map((e) => e.active)).toEqual([true]);
    });

    it('ignores a glitch that returns to the stable level within the debounce time', async () => {
      const r = rig('passage', false, 200);
      r.drive(0);
      const seen: InputEdge[] = [];
      r.input.watch((e) => seen.push(e));
      r.drive(1);
      r.drive(0);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(seen).toEqual([]);
      expect(r.input.isActive()).toBe(false);
    });

    it('stops reporting to a listener once unwatched', async () => {
      const r = rig('passage', false);
      r.drive(0);
      const seen: InputEdge[] = [];
      const l = (e: InputEdge): void => void seen.push(e);
      r.input.watch(l);
      r.input.unwatch(l);
      const edge = nextEdge(r.input);
      r.drive(1);
      await edge;
      expect(seen).toEqual([]);
    });

    it('release is idempotent, drops a change still settling, and refuses later watching', async () => {
      const r = make('emergency', false, DEBOUNCE_MS);
      r.drive(0);
      const seen: InputEdge[] = [];
      r.input.watch((e) => seen.push(e));
      r.drive(1);
      r.input.release();
      r.input.release();
      await new Promise((resolve) => setTimeout(resolve, DEBOUNCE_MS * 2));
      expect(seen).toEqual([]);
      expect(() => r.input.watch(() => {})).toThrow(/released/);
      r.release();
    });
  });
}
