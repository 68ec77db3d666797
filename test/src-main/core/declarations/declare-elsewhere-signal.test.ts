import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DECLARE_ELSEWHERE_BEEP_MS,
  DECLARE_ELSEWHERE_GAP_MS,
  DECLARE_ELSEWHERE_MS,
  GateSignals,
} from '../../../../device/gpio/gate-signals.js';
import { SimulatedOutput } from '../../../../device/gpio/simulated-output.js';

/** What one call shows on simulated outputs (the same timings a gate's settings give), as `line:on|off@ms` from the call. */
function recordPattern(act: (s: GateSignals) => void, buzzerMaxOnMs = 1_000): string[] {
  const start = Date.now();
  const shown: string[] = [];
  const out = (name: string, activeLow = false) =>
    new SimulatedOutput(name, activeLow, (t) => shown.push(`${t.output}:${t.active ? 'on' : 'off'}@${Date.now() - start}`));
  const s = new GateSignals({
    relay: { output: out('relay', true), timing: { pulseMs: 3000, maxOnMs: 5000 } },
    greenLight: { output: out('green'), timing: { pulseMs: 3000, maxOnMs: 10_000 } },
    redLight: { output: out('red'), timing: { pulseMs: 3000, maxOnMs: 10_000 } },
    buzzer: { output: out('buzzer'), timing: { pulseMs: 100, maxOnMs: buzzerMaxOnMs } },
  });
  act(s);
  vi.advanceTimersByTime(10_000);
  return shown;
}

/** "Declare at a kiosk with a screen" (issue 14), the headless unit's answer to a missing declaration. */
describe('gate signals: declare elsewhere', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('red and green on together, steady, with two long beeps; the relay untouched; then dark', () => {
    const shown = recordPattern((s) => s.declareElsewhere());
    const second = DECLARE_ELSEWHERE_BEEP_MS + DECLARE_ELSEWHERE_GAP_MS;
    expect(shown).toEqual([
      'red:on@0',
      'green:on@0',
      'buzzer:on@0',
      `buzzer:off@${DECLARE_ELSEWHERE_BEEP_MS}`,
      `buzzer:on@${second}`,
      `buzzer:off@${second + DECLARE_ELSEWHERE_BEEP_MS}`,
      `red:off@${DECLARE_ELSEWHERE_MS}`,
      `green:off@${DECLARE_ELSEWHERE_MS}`,
    ]);
  });

  it('is distinct from admit, refuse and see-driver: no other pattern has both lights on at once', () => {
    const patterns = {
      admit: recordPattern((s) => s.admit()),
      refuse: recordPattern((s) => s.refuse()),
      seeDriver: recordPattern((s) => s.seeDriver()),
      declareElsewhere: recordPattern((s) => s.declareElsewhere()),
    };
    expect(new Set(Object.values(patterns).map((p) => p.join())).size).toBe(4);
    const bothOnAtOnce = (shown: string[]): boolean => {
      const on = new Set<string>();
      for (const t of shown) {
        const [line, state] = t.split(/[:@]/);
        if (state === 'on') on.add(line!);
        else on.delete(line!);
        if (on.has('red') && on.has('green')) return true;
      }
      return false;
    };
    expect(Object.fromEntries(Object.entries(patterns).map(([k, p]) => [k, bothOnAtOnce(p)]))).toEqual({
      admit: false,
      refuse: false,
      seeDriver: false,
      declareElsewhere: true,
    });
  });

  it('the next result cuts it short (no second beep after an admit), and safe state leaves nothing on', () => {
    const shown = recordPattern((s) => {
      s.declareElsewhere();
      vi.advanceTimersByTime(200);
      s.admit();
    });
    // The admit's beep runs on from the long one (the buzzer was on); no second long beep follows.
    expect(shown.filter((t) => t.startsWith('buzzer:on'))).toEqual(['buzzer:on@0']);
    expect(shown).toContain('buzzer:off@300');
    expect(shown).toContain('red:off@200');
    const after = recordPattern((s) => {
      s.declareElsewhere();
      vi.advanceTimersByTime(100);
      s.safeState();
    });
    expect(after.slice(-3).sort()).toEqual(['buzzer:off@100', 'green:off@100', 'red:off@100']);
    expect(after.filter((t) => t.startsWith('buzzer:on'))).toHaveLength(1);
  });
});
