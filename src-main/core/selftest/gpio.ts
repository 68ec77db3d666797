import { setTimeout as sleep } from 'node:timers/promises';
import { GateSignals, type SignalLine } from '../../../device/gpio/gate-signals.js';
import { OnoffOutput } from '../../../device/gpio/onoff-output.js';
import type { DigitalOutput } from '../../../device/gpio/output.js';
import { findHeaderChip, sysfsLineNumber, type GpioChip } from '../../../device/gpio/sysfs-chip.js';
import type { Settings } from '../config.js';
import { errorText, fail, pass, warn, type CheckOutcome } from './check.js';
import { heldStateUnknown, type RunningKiosk } from './running-kiosk.js';

type GateSettings = Settings['gate'];

/** The real adapter by default; tests give other outputs to see the pulse go through. */
export interface GpioPorts {
  accessible(): boolean;
  findChip(gate: GateSettings): GpioChip;
  claim(name: string, line: number, activeLow: boolean): DigitalOutput;
}

export const REAL_GPIO: GpioPorts = {
  accessible: () => OnoffOutput.accessible(),
  findChip: (gate) => findHeaderChip(gate.sysfsRoot, gate.chipLabel),
  claim: (name, line, activeLow) => new OnoffOutput(name, line, activeLow),
};

/** How long the self-test's relay pulse lasts: long enough to hear, short enough not to let anyone through. */
export const TEST_PULSE_MS = 250;

export interface GpioCheckInput {
  gate: GateSettings;
  /** A kiosk running on these settings holds the lines: reported, never claimed. */
  running: RunningKiosk | null;
  /**
   * Pulse the relay (someone is at the gate and asked for it: `--click-relay`, or an interactive run).
   * Otherwise the lines are only claimed and let go: an unattended check never moves the gate.
   */
  clickRelay: boolean;
  ports?: GpioPorts;
}

const SIMULATED = warn('simulated GPIO: no relay here', 'on a kiosk with a relay set gate.gpio: real (or auto) and give the kiosk\'s user the gpio group');

/**
 * The gate's outputs: every line claimable, then (only when asked) one short pulse through the gate
 * signals (relay, green light, one beep) so the person at the kiosk hears the relay click; every line
 * let go after.
 */
export async function gpioCheck(input: GpioCheckInput): Promise<CheckOutcome> {
  const { gate } = input;
  const ports = input.ports ?? REAL_GPIO;
  if (input.running) return runningGpio(input.running);
  if (gate.gpio === 'simulated' || (gate.gpio === 'auto' && !ports.accessible())) return SIMULATED;
  let chip: GpioChip;
  try {
    chip = ports.findChip(gate);
  } catch (err) {
    return fail(errorText(err), 'check gate.sysfsRoot and gate.chipLabel');
  }
  const wanted = [
    ['relay', gate.relay],
    ['greenLight', gate.greenLight],
    ['redLight', gate.redLight],
    ['buzzer', gate.buzzer],
  ] as const;
  const claimed: DigitalOutput[] = [];
  try {
    const lines: Record<string, SignalLine> = {};
    for (const [name, o] of wanted) {
      try {
        const output = ports.claim(name, sysfsLineNumber(chip, o.pin), o.activeLow);
        claimed.push(output);
        lines[name] = { output, timing: { pulseMs: Math.min(TEST_PULSE_MS, o.pulseMs), maxOnMs: o.maxOnMs } };
      } catch (err) {
        return fail(`line ${o.pin} (${name}) cannot be claimed: ${errorText(err)}`, "is another program using it? give the kiosk's user the gpio group");
      }
    }
    const pins = `lines ${wanted.map(([, o]) => o.pin).join(', ')} claimed (${chip.label})`;
    if (!input.clickRelay) return pass(`${pins}; relay not pulsed (--click-relay, with someone at the gate, to hear it click)`);
    const signals = new GateSignals({ relay: lines.relay!, greenLight: lines.greenLight!, redLight: lines.redLight!, buzzer: lines.buzzer! });
    signals.admit();
    await sleep(TEST_PULSE_MS * 3);
    signals.safeState();
    return pass(`${pins}; relay pulsed ${TEST_PULSE_MS} ms: it should have clicked`);
  } finally {
    for (const o of claimed) {
      try {
        o.release();
      } catch {
        // Releasing is best effort: the next start drives every line inactive first.
      }
    }
  }
}

/** The lines of a kiosk running beside the self-test: what it says of them, never claimed or pulsed. */
function runningGpio(k: RunningKiosk): CheckOutcome {
  const mode = k.status?.gpio;
  if (mode === undefined) return heldStateUnknown(k, 'GPIO mode');
  if (mode === 'simulated') return SIMULATED;
  return pass(`lines held by the running kiosk (pid ${k.pid}), real GPIO; not claimed or pulsed here (the relay clicks at each admit)`);
}

/** The running kiosk's own outputs (the supervisor screen): never pulsed from there, the gate would open. */
export function liveGpioCheck(mode: 'real' | 'simulated'): CheckOutcome {
  return mode === 'simulated' ? SIMULATED : pass('lines held by this kiosk; the relay clicks at each admit');
}
