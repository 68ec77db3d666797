import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GateSignals, SEE_DRIVER_STEPS, SEE_DRIVER_STEP_MS, type GateSignalLines } from '../../../device/gpio/gate-signals.js';
import type { Transition } from '../../../device/gpio/output.js';
import { SimulatedOutput } from '../../../device/gpio/simulated-output.js';

function lines(log: Transition[], relay = { pulseMs: 3000, maxOnMs: 5000 }): GateSignalLines {
  const out = (name: string, activeLow = false) => new SimulatedOutput(name, activeLow, (t) => log.push(t));
  return {
    relay: { output: out('relay', true), timing: relay },
    greenLight: { output: out('green'), timing: { pulseMs: 3000, maxOnMs: 10_000 } },
    redLight: { output: out('red'), timing: { pulseMs: 3000, maxOnMs: 10_000 } },
    buzzer: { output: out('buzzer'), timing: { pulseMs: 100, maxOnMs: 1000 } },
  };
}

describe('gate signals', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('admit pulses the relay (honouring active-low), the green light and one beep', () => {
    const log: Transition[] = [];
    const l = lines(log);
    const s = new GateSignals(l);
    s.admit();
    expect(l.relay.output.isActive()).toBe(true);
    expect(l.relay.output.physicalLevel()).toBe(0);
    expect(l.greenLight.output.isActive()).toBe(true);
    vi.advanceTimersByTime(2999);
    expect(l.relay.output.isActive()).toBe(true);
    vi.advanceTimersByTime(1);
    expect(l.relay.output.isActive()).toBe(false);
    expect(log.filter((t) => t.output === 'buzzer' && t.active)).toHaveLength(1);
  });

  it('refuse keeps the relay shut, lights red and beeps three times', () => {
    const log: Transition[] = [];
    const l = lines(log);
    new GateSignals(l).refuse();
    vi.advanceTimersByTime(10_000);
    expect(log.some((t) => t.output === 'relay')).toBe(false);
    expect(log.filter((t) => t.output === 'red').map((t) => t.active)).toEqual([true, false]);
    expect(log.filter((t) => t.output === 'buzzer' && t.active)).toHaveLength(3);
  });

  it('repeated admits extend the pulse but never beyond the maximum on-time', () => {
    const log: Transition[] = [];
    const l = lines(log);
    const relayTimes: [boolean, number][] = [];
    const start = Date.now();
    const s = new GateSignals({
      ...l,
      relay: { ...l.relay, output: new SimulatedOutput('relay', true, (t) => relayTimes.push([t.active, Date.now() - start])) },
    });
    for (let t = 0; t < 8000; t += 1000) {
      s.admit();
      vi.advanceTimersByTime(1000);
    }
    // Forced off at 5 s of continuous on-time though admits kept coming every second; the admit at
    // 5 s starts a new pulse.
    expect(relayTimes.slice(0, 3)).toEqual([
      [true, 0],
      [false, 5000],
      [true, 5000],
    ]);
  });

  it('safe state turns everything off and cancels pending pulses', () => {
    const log: Transition[] = [];
    const l = lines(log);
    const s = new GateSignals(l);
    s.admit();
    s.refuse();
    s.safeState();
    for (const line of Object.values(l)) expect(line.output.isActive()).toBe(false);
    const count = log.length;
    vi.advanceTimersByTime(10_000);
    expect(log.length).toBe(count);
  });

  it('holding open keeps the relay energised past its maximum on-time; scans do not close it; letting go returns to pulses', () => {
    const log: Transition[] = [];
    const l = lines(log);
    const s = new GateSignals(l);
    s.holdOpen(true);
    expect(l.relay.output.isActive()).toBe(true);
    expect(l.greenLight.output.isActive()).toBe(true);
    s.admit();
    s.refuse();
    vi.advanceTimersByTime(60_000);
    expect(l.relay.output.isActive()).toBe(true);
    expect(l.greenLight.output.isActive()).toBe(true);
    expect(log.filter((t) => t.output === 'relay').map((t) => t.active)).toEqual([true]);
    s.holdOpen(false);
    expect(l.relay.output.isActive()).toBe(false);
    s.admit();
    expect(l.relay.output.isActive()).toBe(true);
    vi.advanceTimersByTime(3000);
    expect(l.relay.output.isActive()).toBe(false);
  });

  it('safe state lets go of a held relay', () => {
    const l = lines([]);
    const s = new GateSignals(l);
    s.holdOpen(true);
    s.safeState();
    expect(l.relay.output.isActive()).toBe(false);
    s.admit();
    vi.advanceTimersByTime(3000);
    expect(l.relay.output.isActive()).toBe(false);
  });

  it('"enrol me": green and red on in turn, never together, the relay untouched, until safe state; a long beep is one buzzer pulse', () => {
    const log: Transition[] = [];
    const l = lines(log);
    const s = new GateSignals(l);
    s.showEnrolMe(1000);
    vi.advanceTimersByTime(4500);
    const lights = log.filter((t) => t.output !== 'buzzer');
    expect(lights.map((t) => `${t.output}:${t.active ? 'on' : 'off'}`)).toEqual([
      'green:on', 'green:off', 'red:on', 'red:off', 'green:on', 'green:off', 'red:on', 'red:off', 'green:on',
    ]);
    s.longBeep(800);
    vi.advanceTimersByTime(799);
    expect(l.buzzer.output.isActive()).toBe(true);
    vi.advanceTimersByTime(1);
    expect(log.filter((t) => t.output === 'buzzer').map((t) => t.active)).toEqual([true, false]);
    s.safeState();
    const count = log.length;
    vi.advanceTimersByTime(10_000);
    expect(log.length).toBe(count);
    expect(l.greenLight.output.isActive()).toBe(false);
    expect(l.redLight.output.isActive()).toBe(false);
  });

  /** What one call shows on the simulated outputs, as `line:on|off@ms` from the call. */
  function recordPattern(act: (s: GateSignals) => void): string[] {
    const log: Transition[] = [];
    const start = Date.now();
    const shown: string[] = [];
    const l = lines(log);
    const record = (name: string, activeLow = false) =>
      new SimulatedOutput(name, activeLow, (t) => shown.push(`${t.output}:${t.active ? 'on' : 'off'}@${Date.now() - start}`));
    const s = new GateSignals({
      relay: { ...l.relay, output: record('relay', true) },
      greenLight: { ...l.greenLight, output: record('green') },
      redLight: { ...l.redLight, output: record('red') },
      buzzer: { ...l.buzzer, output: record('buzzer') },
    });
    act(s);
    vi.advanceTimersByTime(10_000);
    return shown;
  }

  it('allow, deny and see-driver are three distinct headless patterns on the recorded outputs', () => {
    const allow = recordPattern((s) => s.admit());
    const deny = recordPattern((s) => s.refuse());
    const seeDriver = recordPattern((s) => s.seeDriver());
    expect(allow).toEqual(['relay:on@0', 'green:on@0', 'buzzer:on@0', 'buzzer:off@100', 'relay:off@3000', 'green:off@3000']);
    expect(deny).toEqual([
      'red:on@0', 'buzzer:on@0', 'buzzer:off@100', 'buzzer:on@200', 'buzzer:off@300', 'buzzer:on@400', 'buzzer:off@500', 'red:off@3000',
    ]);
    // Red and green in turn, fast, never both on; one long beep; the relay untouched; then dark.
    const step = SEE_DRIVER_STEP_MS;
    const lights = seeDriver.filter((t) => !t.startsWith('buzzer'));
    expect(lights).toEqual(
      Array.from({ length: SEE_DRIVER_STEPS }, (_, i) => {
        const light = i % 2 === 0 ? 'red' : 'green';
        return [`${light}:on@${i * step}`, `${light}:off@${(i + 1) * step}`];
      }).flat(),
    );
    expect(seeDriver.filter((t) => t.startsWith('buzzer'))).toEqual(['buzzer:on@0', 'buzzer:off@1000']);
    expect(new Set([allow.join(), deny.join(), seeDriver.join()]).size).toBe(3);
  });

  it('see-driver is bounded, stops when the next scan is admitted, and leaves nothing on after safe state', () => {
    const l = lines([]);
    const s = new GateSignals(l);
    s.seeDriver();
    vi.advanceTimersByTime(SEE_DRIVER_STEP_MS + 10); // green's turn
    s.admit();
    expect(l.relay.output.isActive()).toBe(true);
    expect(l.redLight.output.isActive()).toBe(false);
    vi.advanceTimersByTime(SEE_DRIVER_STEP_MS * SEE_DRIVER_STEPS);
    expect(l.redLight.output.isActive()).toBe(false);
    expect(l.greenLight.output.isActive()).toBe(true);
    s.seeDriver();
    s.safeState();
    vi.advanceTimersByTime(10_000);
    for (const line of Object.values(l)) expect(line.output.isActive()).toBe(false);
  });

  it('see-driver while held open blinks red only and keeps the gate and green light held', () => {
    const log: Transition[] = [];
    const l = lines(log);
    const s = new GateSignals(l);
    s.holdOpen(true);
    s.seeDriver();
    vi.advanceTimersByTime(10_000);
    expect(l.relay.output.isActive()).toBe(true);
    expect(l.greenLight.output.isActive()).toBe(true);
    expect(log.filter((t) => t.output === 'relay' || t.output === 'green').map((t) => t.active)).toEqual([true, true]);
  });
});
