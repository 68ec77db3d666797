import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Debouncer } from '../../../device/gpio/input.js';
import { SimulatedInput } from '../../../device/gpio/simulated-input.js';
import { digitalInputContract } from './input.contract.js';

digitalInputContract('simulated', (name, activeLow, debounceMs) => {
  const input = new SimulatedInput(name, activeLow, debounceMs);
  return { input, drive: (level) => input.drive(level), release: () => input.release() };
});

describe('debouncer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('passes a level on only once it has held for the settle time', () => {
    const out: number[] = [];
    const d = new Debouncer(50, 0, (l) => out.push(l));
    d.sample(1);
    vi.advanceTimersByTime(49);
    expect(out).toEqual([]);
    d.sample(0);
    d.sample(1);
    vi.advanceTimersByTime(49);
    expect(out).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(out).toEqual([1]);
    expect(d.level).toBe(1);
  });

  it('with a settle time of 0 passes every change at once', () => {
    const out: number[] = [];
    const d = new Debouncer(0, 1, (l) => out.push(l));
    d.sample(0);
    d.sample(1);
    d.sample(1);
    expect(out).toEqual([0, 1]);
  });

  it('refuses a settle time that is not a whole number of milliseconds', () => {
    expect(() => new Debouncer(-1, 0, () => {})).toThrow(/debounce time/);
    expect(() => new Debouncer(2.5, 0, () => {})).toThrow(/debounce time/);
  });
});

describe('simulated input', () => {
  it('setActive drives the level its polarity means', () => {
    const low = new SimulatedInput('emergency', true, 0);
    low.setActive(true);
    expect(low.isActive()).toBe(true);
    const high = new SimulatedInput('emergency', false, 0);
    high.drive(0);
    expect(high.isActive()).toBe(false);
    high.setActive(true);
    expect(high.isActive()).toBe(true);
  });
});
