import type { DigitalOutput } from './output.js';

export interface OutputTiming {
  pulseMs: number;
  maxOnMs: number;
}

export interface SignalLine {
  output: DigitalOutput;
  timing: OutputTiming;
}

export interface GateSignalLines {
  relay: SignalLine;
  greenLight: SignalLine;
  redLight: SignalLine;
  buzzer: SignalLine;
}

/** What the gate core asks of the hardware; it never touches pins itself. */
export interface GateActuator {
  /** Opens the gate for one person: relay pulse, green light, one beep. */
  admit(): void;
  /** Keeps the gate shut: red light, three beeps. */
  refuse(): void;
  /**
   * Refused for something the driver can act on (a full bus, a rider not on the route, a device
   * fault: base/common/bus.ts driverOutcome): red and green blink in turn, fast, for a moment, with
   * one long beep; the gate stays shut. Distinct from admit (steady green, one short beep), refuse
   * (steady red, three short beeps) and "enrol me" (slow, endless, silent).
   */
  seeDriver(): void;
  /**
   * A unit without a screen refused someone for a missing health declaration (issue 14): "declare at
   * a kiosk with a screen". Red and green on together, steady, for DECLARE_ELSEWHERE_MS, with two long
   * beeps; the gate stays shut. No other pattern lights both at once and steadily. Optional for
   * actuators of tests that never see it: the gate refuses with them instead.
   */
  declareElsewhere?(): void;
  /** The same code again within the repeat window: a short beep, nothing else. */
  acknowledgeRepeat(): void;
  /**
   * Emergency release: while held, the relay stays energised (no pulse length, no maximum on-time)
   * and the green light on; admits and refusals still light and beep but never close the gate.
   * Released, the relay and light go off and pulses work as before.
   */
  holdOpen(held: boolean): void;
  /** Everything off, all timers cancelled. Synchronous, so it is safe in an exit handler. */
  safeState(): void;
}

class TimedLine {
  private offTimer: NodeJS.Timeout | undefined;
  private patternTimer: NodeJS.Timeout | undefined;
  private onSince = 0;
  /** Held on (emergency release): pulses and `off` leave it on until `hold(false)`. */
  private held = false;

  constructor(private readonly line: SignalLine) {}

  /**
   * On for one pulse. A pulse while already on extends it, but never beyond maxOnMs of continuous
   * on-time: a stuck scanner or a flood of scans cannot hold a door open.
   */
  pulse(): void {
    this.cancelPattern();
    this.on(this.line.timing.pulseMs);
  }

  /** `count` pulses separated by gaps of the same length. */
  pattern(count: number): void {
    this.cancelPattern();
    const { pulseMs } = this.line.timing;
    let remaining = count;
    const step = (): void => {
      if (remaining-- <= 0) return;
      this.on(pulseMs);
      this.patternTimer = setTimeout(step, pulseMs * 2);
    };
    step();
  }

  /** On for `durationMs` (at most maxOnMs), whatever the configured pulse: a long beep, one step of a blink. */
  onFor(durationMs: number): void {
    this.cancelPattern();
    this.on(durationMs);
  }

  off(): void {
    this.cancelPattern();
    clearTimeout(this.offTimer);
    this.offTimer = undefined;
    if (!this.held) this.line.output.set(false);
  }

  hold(held: boolean): void {
    this.cancelPattern();
    clearTimeout(this.offTimer);
    this.offTimer = undefined;
    this.held = held;
    this.line.output.set(held);
  }

  private on(durationMs: number): void {
    if (this.held) return;
    const now = performance.now();
    if (!this.line.output.isActive()) this.onSince = now;
    this.line.output.set(true);
    const offAt = Math.min(now + durationMs, this.onSince + this.line.timing.maxOnMs);
    clearTimeout(this.offTimer);
    this.offTimer = setTimeout(() => {
      this.offTimer = undefined;
      this.line.output.set(false);
    }, Math.max(0, offAt - now));
  }

  private cancelPattern(): void {
    clearTimeout(this.patternTimer);
    this.patternTimer = undefined;
  }
}

/** How long each light stays on in the "enrol me" pattern (green, then red, in turn). */
export const ENROL_ME_STEP_MS = 1_000;

/** The long beep of a refused enrolment code (bounded by the buzzer's maxOnMs). */
export const LONG_BEEP_MS = 1_000;

/** One step of the "see the driver" blink (red, green, red, ...): four times faster than "enrol me". */
export const SEE_DRIVER_STEP_MS = 250;

/** How many blink steps "see the driver" shows (red and green in turn), then both lights off. */
export const SEE_DRIVER_STEPS = 6;

/** How long "declare elsewhere" keeps red and green on together (bounded by each light's maxOnMs). */
export const DECLARE_ELSEWHERE_MS = 2_000;

/** Each of the two long beeps of "declare elsewhere", and the gap after the first. */
export const DECLARE_ELSEWHERE_BEEP_MS = 700;
export const DECLARE_ELSEWHERE_GAP_MS = 300;

/** Drives relay, lights and buzzer with the configured pulse lengths and safety limits. */
export class GateSignals implements GateActuator {
  private readonly relay: TimedLine;
  private readonly green: TimedLine;
  private readonly red: TimedLine;
  private readonly buzzer: TimedLine;
  private enrolMeTimer: NodeJS.Timeout | undefined;
  private seeDriverTimer: NodeJS.Timeout | undefined;
  private secondBeepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly lines: GateSignalLines) {
    this.relay = new TimedLine(lines.relay);
    this.green = new TimedLine(lines.greenLight);
    this.red = new TimedLine(lines.redLight);
    this.buzzer = new TimedLine(lines.buzzer);
  }

  admit(): void {
    // The relay first: it is what the person is waiting for.
    this.relay.pulse();
    this.stopSeeDriver();
    this.red.off();
    this.green.pulse();
    this.buzzer.pattern(1);
  }

  refuse(): void {
    this.stopSeeDriver();
    this.green.off();
    this.red.pulse();
    this.buzzer.pattern(3);
  }

  seeDriver(stepMs = SEE_DRIVER_STEP_MS): void {
    this.stopSeeDriver();
    let step = 0;
    const blink = (): void => {
      if (step >= SEE_DRIVER_STEPS) {
        this.seeDriverTimer = undefined;
        this.red.off();
        this.green.off();
        return;
      }
      const [on, off] = step % 2 === 0 ? [this.red, this.green] : [this.green, this.red];
      off.off();
      on.onFor(stepMs);
      step++;
      this.seeDriverTimer = setTimeout(blink, stepMs);
    };
    blink();
    this.buzzer.onFor(LONG_BEEP_MS);
  }

  declareElsewhere(): void {
    this.stopSeeDriver();
    this.red.onFor(DECLARE_ELSEWHERE_MS);
    this.green.onFor(DECLARE_ELSEWHERE_MS);
    this.buzzer.onFor(DECLARE_ELSEWHERE_BEEP_MS);
    this.secondBeepTimer = setTimeout(() => {
      this.secondBeepTimer = undefined;
      this.buzzer.onFor(DECLARE_ELSEWHERE_BEEP_MS);
    }, DECLARE_ELSEWHERE_BEEP_MS + DECLARE_ELSEWHERE_GAP_MS);
  }

  acknowledgeRepeat(): void {
    this.buzzer.pattern(1);
  }

  holdOpen(held: boolean): void {
    this.relay.hold(held);
    this.green.hold(held);
    if (held) this.red.off();
  }

  /**
   * A screenless unit that is not enrolled says so: the green and the red light on in turn, slowly,
   * never both at once (no gate result looks like it), until `safeState()`. The relay is never touched.
   */
  showEnrolMe(stepMs = ENROL_ME_STEP_MS): void {
    this.stopEnrolMe();
    let greenTurn = true;
    const step = (): void => {
      const [on, off] = greenTurn ? [this.green, this.red] : [this.red, this.green];
      off.off();
      on.onFor(stepMs);
      greenTurn = !greenTurn;
      this.enrolMeTimer = setTimeout(step, stepMs);
    };
    step();
  }

  /** One long beep: an enrolment code refused (the lights keep saying "enrol me"). */
  longBeep(durationMs = LONG_BEEP_MS): void {
    this.buzzer.onFor(durationMs);
  }

  /** Everything off, a held relay too: what the wiring makes of a stopped kiosk (see the README). */
  safeState(): void {
    this.stopEnrolMe();
    this.stopSeeDriver();
    for (const l of [this.relay, this.green, this.red, this.buzzer]) l.hold(false);
  }

  private stopEnrolMe(): void {
    clearTimeout(this.enrolMeTimer);
    this.enrolMeTimer = undefined;
  }

  private stopSeeDriver(): void {
    clearTimeout(this.seeDriverTimer);
    this.seeDriverTimer = undefined;
    clearTimeout(this.secondBeepTimer);
    this.secondBeepTimer = undefined;
  }

  /** The relay is energised now (a pulse running, or held open). */
  get relayActive(): boolean {
    return this.lines.relay.output.isActive();
  }

  /** Drives everything inactive and frees the lines. */
  release(): void {
    this.safeState();
    for (const l of Object.values(this.lines)) l.output.release();
  }
}
