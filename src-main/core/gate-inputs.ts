import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { DenyReason } from '../../base/common/reasons.js';
import type { AlertKind, Checkpoint, GateEvent, NewGateEvent } from '../../base/common/types.js';
import type { GateActuator } from '../../device/gpio/gate-signals.js';
import type { DigitalInput, InputEdge } from '../../device/gpio/input.js';
import type { ClockReading } from './clock.js';
import type { Passage } from './gatekeeper.js';
import type { RuntimeFiles } from './runtime.js';

/**
 * What the gate's inputs add to the scan path: the emergency release (a fire panel's contact holds
 * the gate open) and the passage sensor (a door contact or turnstile rotation turns "admitted" into
 * "passed"). Both log what they see as events in the one event log, with source `input`, so they
 * reach the hub in the same batches as scans and the supervisor sees them in the same log:
 *
 *   EMERGENCY_OPEN      allow   the release became active: the gate is held open (alert emergency-open)
 *   EMERGENCY_CLEARED   deny    the release cleared: the gate shuts again (alert emergency-cleared)
 *   PASSED              allow   an admitted person went through within the pulse time plus the grace
 *   ADMITTED_NOT_PASSED deny    an admitted person did not go through in that time
 *
 * The decision says whether the gate let someone (or everyone) through. An outcome copies its admit's
 * person, direction and credential kind; the emergency events name no person: their code hash is the
 * keyed hash of the input's name (the log keeps a worker id or a code hash on every event).
 *
 * Each class's constructor only stores its dependencies; `start()` watches the input, `stop()` lets go.
 */

export type GateMode = 'normal' | 'emergency-open';

/**
 * Writes an input's event durably (with its alert), or holds it like a scan's event while the store
 * cannot take it; the event's sequence number, or null while held.
 */
export type RecordGateEvent = (event: NewGateEvent, alert?: AlertKind) => number | null;

interface InputEventContext {
  checkpoint: Checkpoint;
  clock: { read(): ClockReading };
  record: RecordGateEvent;
  log: Logger;
}

function recordSafely(ctx: InputEventContext, event: NewGateEvent, alert: AlertKind | undefined, what: string): number | null {
  try {
    return ctx.record(event, alert);
  } catch (err) {
    // A bug must not take the gate's inputs down; the gate itself has already acted.
    ctx.log.error({ err: (err as Error).message, reasons: event.reasons }, `cannot log ${what}`);
    return null;
  }
}

export interface EmergencyReleaseDeps extends InputEventContext {
  input: DigitalInput;
  actuator: GateActuator;
  policyVersion: () => number;
  /** The key under which codes are hashed in the log (the input's name is hashed under it). */
  codeHashKey: string;
}

/**
 * While the emergency input is active the gate is held open: the relay energised without a time
 * limit, every scan still decided and logged. The gate acts first and logs second (the reverse of a
 * scan): a fire alarm must open the gate even if the disk cannot take the record.
 */
export class EmergencyRelease extends EventEmitter<{ mode: [mode: GateMode] }> {
  private current: GateMode = 'normal';
  private started = false;
  private readonly onEdge = (edge: InputEdge): void => (edge.active ? this.enter() : this.leave());

  constructor(private readonly deps: EmergencyReleaseDeps) {
    super();
  }

  get mode(): GateMode {
    return this.current;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.deps.input.watch(this.onEdge);
    // A release already active at start (the alarm still sounding after a restart) holds at once.
    if (this.deps.input.isActive()) this.enter();
  }

  /** Stops watching; the gate is left to the kiosk's safe state (the state is not "cleared": nothing cleared it). */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.deps.input.unwatch(this.onEdge);
  }

  private enter(): void {
    if (this.current === 'emergency-open') return;
    this.deps.actuator.holdOpen(true);
    this.current = 'emergency-open';
    this.deps.log.warn({ input: this.deps.input.name }, 'emergency release active: gate held open');
    recordSafely(this.deps, this.event('EMERGENCY_OPEN', 'allow'), 'emergency-open', 'the emergency release');
    this.emit('mode', this.current);
  }

  private leave(): void {
    if (this.current === 'normal') return;
    this.deps.actuator.holdOpen(false);
    this.current = 'normal';
    this.deps.log.warn({ input: this.deps.input.name }, 'emergency release cleared: gate back to normal');
    recordSafely(this.deps, this.event('EMERGENCY_CLEARED', 'deny'), 'emergency-cleared', 'the end of the emergency release');
    this.emit('mode', this.current);
  }

  private event(reason: DenyReason, decision: 'allow' | 'deny'): NewGateEvent {
    const { checkpoint } = this.deps;
    const clock = this.deps.clock.read();
    return {
      wallMs: clock.wallMs,
      monoUs: clock.monoUs,
      bootId: clock.bootId,
      clockSynced: clock.synced,
      checkpointId: checkpoint.id,
      zoneId: checkpoint.zone,
      direction: checkpoint.direction === 'exit' ? 'exit' : 'entry',
      credentialKind: 'unknown',
      workerId: null,
      // As the gatekeeper hashes a code it cannot tie to a worker.
      codeHash: createHmac('sha256', this.deps.codeHashKey).update(`input:${this.deps.input.name}`).digest('hex').slice(0, 32),
      decision,
      reasons: [reason],
      source: 'input',
      policyVersion: this.deps.policyVersion(),
    };
  }
}

export interface PassageConfirmationDeps extends InputEventContext {
  input: DigitalInput;
  /** How long after an admit the person may take to go through: the relay's pulse plus a grace. */
  windowMs: number;
  /** The logged admit a passage refers to. */
  eventBySeq: (seq: number) => GateEvent | undefined;
}

interface WaitingAdmit {
  admit: GateEvent;
  timer: NodeJS.Timeout;
}

/**
 * Matches the passage sensor's activations to admits, oldest first: each activation within an
 * admit's window confirms it (PASSED); an admit whose window ends unconfirmed is ADMITTED_NOT_PASSED.
 * An activation with nobody waiting (someone went through without being admitted, or during an
 * emergency release) is counted and logged without personal data.
 */
export class PassageConfirmation {
  private readonly waiting: WaitingAdmit[] = [];
  private started = false;
  private unmatched = 0;
  private readonly onEdge = (edge: InputEdge): void => {
    if (edge.active) this.sensed();
  };

  constructor(private readonly deps: PassageConfirmationDeps) {}

  /** Passages sensed with nobody admitted waiting, since start. */
  get unmatchedPassages(): number {
    return this.unmatched;
  }

  /** Admits waiting for the sensor. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.deps.input.watch(this.onEdge);
  }

  /** Stops watching; admits still waiting keep no outcome (the log shows them as admitted only). */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.deps.input.unwatch(this.onEdge);
    for (const w of this.waiting) clearTimeout(w.timer);
    if (this.waiting.length) this.deps.log.info({ waiting: this.waiting.length }, 'stopping with admits the passage sensor has not confirmed yet');
    this.waiting.length = 0;
  }

  /** Every decision the gate shows (the gatekeeper's `passage` event); only stored admits wait for the sensor. */
  onPassage(passage: Passage): void {
    if (!this.started || passage.decision.outcome !== 'allow' || passage.seq === null) return;
    const admit = this.deps.eventBySeq(passage.seq);
    if (!admit || admit.decision !== 'allow') return;
    const waiting: WaitingAdmit = {
      admit,
      timer: setTimeout(() => {
        const i = this.waiting.indexOf(waiting);
        if (i >= 0) this.waiting.splice(i, 1);
        this.outcome(admit, false);
      }, this.deps.windowMs),
    };
    this.waiting.push(waiting);
  }

  private sensed(): void {
    const next = this.waiting.shift();
    if (!next) {
      this.unmatched++;
      this.deps.log.info({ unmatched: this.unmatched }, 'passage sensed with nobody admitted waiting');
      return;
    }
    clearTimeout(next.timer);
    this.outcome(next.admit, true);
  }

  private outcome(admit: GateEvent, passed: boolean): void {
    const clock = this.deps.clock.read();
    const event: NewGateEvent = {
      wallMs: clock.wallMs,
      monoUs: clock.monoUs,
      bootId: clock.bootId,
      clockSynced: clock.synced,
      checkpointId: admit.checkpointId,
      zoneId: admit.zoneId,
      direction: admit.direction,
      credentialKind: admit.credentialKind,
      workerId: admit.workerId,
      codeHash: admit.codeHash,
      decision: passed ? 'allow' : 'deny',
      reasons: [passed ? 'PASSED' : 'ADMITTED_NOT_PASSED'],
      source: 'input',
      policyVersion: admit.policyVersion,
    };
    const seq = recordSafely(this.deps, event, undefined, 'a passage outcome');
    this.deps.log.info({ seq, admitSeq: admit.seq, passed }, passed ? 'admitted and passed' : 'admitted but did not pass');
  }
}

/**
 * The input control file of the kiosk whose runtime files these are: beside its status file in the
 * private runtime folder (see device/gpio/input-control.ts); `safegate gpio set` writes it.
 */
export function inputControlFile(files: RuntimeFiles): string {
  return files.status.replace(/\.status\.json$/, '.inputs.json');
}
