import { createHmac, createPublicKey } from 'node:crypto';
import { HubKeyring, generateSigningKeyPair } from '../../base/node/keys.js';
import { issuePass } from '../../base/node/pass.js';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { GateActuator } from '../../device/gpio/gate-signals.js';
import type { ClockReading } from './clock.js';
import { readCredential, type CredentialReading } from './credential/read.js';
import { decide, type EntryDecision, type RecentHistory } from './decide.js';
import type { Policy } from '../../base/common/policy/policy.js';
import { isDiskFull, isStorageFault } from '../../base/node/sqlite.js';
import type { HeldEvent, HeldEvents } from './store/held-spool.js';
import type { EventLog, PassageScope } from './store/event-log.js';
import type { SitePassages } from './store/remote-passages.js';
import type { AlertKind, NewGateEvent } from '../../base/common/types.js';
import { isSensitive, reasonCategory, type DenyReason } from '../../base/common/reasons.js';
import type { Roster } from './store/roster.js';
import type { Checkpoint, GeoPoint, Placement, ScanSource, WorkerRecord } from '../../base/common/types.js';
import { driverOutcome } from '../../base/common/bus.js';
import type { BusHook } from './bus/bus-mode.js';
import type { HeldCredential } from './declarations/declare-tokens.js';
import { looksLikeCccd, parseCccd } from '../../base/common/cccd.js';
import type { VisitorGate, VisitorIdentity } from './visitors/visitors.js';

export interface Scan {
  text: string;
  source: ScanSource;
  /** process.hrtime.bigint() when the last byte of the code arrived. */
  receivedAtNs: bigint;
}

export interface Passage {
  /** The event's sequence number; null for a repeat (no new event) or while it waits to be stored. */
  seq: number | null;
  decision: EntryDecision;
  /** Shown on the result screen; only the person's own display name, never their health data. */
  displayName: string | null;
  /**
   * Whether what was shown was accepted as this person's credential (a valid pass or an accepted
   * badge, of someone on the roster). Only then may a health reason be shown at all.
   */
  credentialAccepted: boolean;
  durable: boolean;
  timing: { receivedAtNs: bigint; committedAtNs: bigint | null; actuatedAtNs: bigint };
  /** The person may declare on this screen now (issue 14: screen API declaration.submit); memory only. */
  declareToken?: string;
  /** An unregistered visitor's ID card or certificate was read: they may register (issue 14: visitor.register); memory only. */
  visitor?: { token: string; name: string; credentialKind: 'cccd' | 'dcc'; expiresAtMs: number };
  /**
   * The answer to a declaration that decided no passage (issue 14): the scan before it had let the
   * person through, or found them inside already; the declaration is recorded (seq) and nothing more.
   */
  declared?: true;
}

export interface GatekeeperEvents {
  passage: [passage: Passage];
}

export interface GatekeeperDeps {
  checkpoint: Checkpoint;
  events: EventLog;
  roster: Roster;
  keyring: HubKeyring;
  /** The policy in force now; read on every scan so a new one applies from the next scan. */
  policy: () => Policy;
  clock: { read(): ClockReading };
  actuator: GateActuator;
  badgePattern: RegExp;
  codeHashKey: string;
  log: Logger;
  /** When the hub last confirmed the roster current; absent or null for a standalone kiosk. */
  rosterCheckedAt?: () => number | null;
  /** Where the hub placed this kiosk (policy facts worker.servedHere, worker.atOwnSite); none: decide without them. */
  placement?: () => Placement | null;
  isRevoked?: (passId: string) => boolean;
  /** The site's other kiosks' passages (the live site stream), when this kiosk has a site. */
  sitePassages?: SitePassages;
  /**
   * The disk is full: free the reserve kept for this moment. True when space was freed, and the
   * commit is then tried once more at once (the scan goes through, and an alarm is raised).
   */
  onDiskFull?: () => boolean;
  /** After each durable commit on the scan path (the WAL checkpointer watches for idle moments). */
  afterCommit?: () => void;
  /**
   * With a passage sensor: how long after an admit the sensor decides whether the person went
   * through. An admit it logged as not passed does not make the person inside (or outside).
   */
  passageWindowMs?: number;
  /** Where events the store refused wait (with a copy in RAM that survives a crash of the process). */
  held: HeldEvents;
  /** The GPS fix at the moment (null: no fix); absent on a unit without GPS, whose events then carry no position. */
  position?: () => GeoPoint | null;
  /**
   * A bus unit's trips (core/bus): a driver card opens or ends a trip instead of boarding, the trip
   * decides each scan's direction and gives the policy its facts, and every event carries the trip.
   */
  bus?: BusHook;
  /**
   * A kiosk with a screen takes health declarations (issue 14): each decided scan that names a
   * roster worker gets a token for one (Passage.declareToken). Absent: no tokens.
   */
  declareTokens?: { issue(held: HeldCredential): string };
  /**
   * A unit without a screen: a refusal for a missing declaration alone shows "declare at a kiosk with
   * a screen" (GateActuator.declareElsewhere) instead of the plain refusal.
   */
  declareElsewhere?: boolean;
  /**
   * Visitors (issue 14; core/visitors): a citizen ID card or health certificate is decided with the
   * visitor's facts, or offered registration. Absent: a readable ID card is refused
   * VISITOR_NOT_REGISTERED (logged with its code hash only), a malformed one MALFORMED_CODE.
   */
  visitors?: VisitorGate;
}

/** A clock reading that may say its wall time came from the GPS (clock.ts GpsDatedClock). */
type Reading = ClockReading & { source?: 'gps' };

export type { HeldEvent };

/** Held events are stored in chunks this big, one per turn of the event loop, between scans. */
const HELD_CHUNK = 500;
const HELD_RETRY_MS = 2_000;

/**
 * The path from a scanned code to the gate: read the credential, look the person up, decide, commit
 * the event durably, and only then drive the gate. If the event cannot be committed the gate stays
 * shut (fail safe) and the event is held and retried; nothing is silently opened or dropped.
 *
 * The constructor only stores its dependencies; `stop()` cancels the held-event retry and makes a
 * last attempt to store them.
 */
export class Gatekeeper extends EventEmitter<GatekeeperEvents> {
  /**
   * When each code was last logged, by the monotonic clock (ms): the repeat window is elapsed time,
   * which a wall clock that steps (a GPS time corrected, a clock set by hand) does not measure.
   */
  private readonly recentCodes = new Map<string, number>();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: GatekeeperDeps) {
    super();
  }

  /**
   * Stops retrying and makes a last attempt to store held events. Those still unwritten stay in the
   * held-event spool for the next start; returns how many.
   */
  stop(): number {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const { held } = this.deps;
    if (held.count) this.flushHeld(Number.POSITIVE_INFINITY);
    if (held.count) this.deps.log.error({ held: held.count }, 'stopping with events that could not be stored');
    return held.count;
  }

  /** Events waiting for the store to recover. */
  get heldCount(): number {
    return this.deps.held.count;
  }

  /** Starts storing events a previous run left held (already taken back into the spool). */
  resumeHeld(): void {
    if (this.deps.held.count) this.scheduleRetry(0);
  }

  /**
   * Runs the scan path a few times without recording, acting or telling anyone (a throwaway key's
   * pass, a roster and history lookup, the policy), so the first person at the gate after a start
   * does not wait for code to compile and statements to warm up.
   */
  warmUp(): void {
    const { deps } = this;
    const pair = generateSigningKeyPair();
    const ring = new HubKeyring();
    ring.add(createPublicKey(pair.publicPem), { role: 'pass', source: 'warm-up' });
    const nowMs = deps.clock.read().wallMs;
    const text = issuePass(pair.privatePem, { workerId: 'WARM-UP', issuer: 'warm-up', issuedAt: new Date(nowMs - 60_000), expiresAt: new Date(nowMs + 60_000) });
    for (let i = 0; i < 5; i++) {
      const evaluated = this.evaluate(text, ring);
      this.eventOf(evaluated, 'serial');
      if (evaluated.decision.outcome === 'deny') alertFor(evaluated.decision.reasons);
    }
  }

  /** Steps 1-4 of a scan: read the credential, look the person up, decide. Reads only. */
  private evaluate(text: string, keyring: HubKeyring, again?: HeldCredential) {
    const { deps } = this;
    const clock = deps.clock.read();
    const policy = deps.policy();
    const codeHash = this.hashCode(text);
    const { passes } = policy.params;
    const read = (): CredentialReading =>
      readCredential(text, clock.wallMs, {
        keyring,
        badgePattern: deps.badgePattern,
        isRevoked: deps.isRevoked,
        proofTime: { ...passes, kioskClockSynced: clock.synced },
      });
    // Decided again after a declaration: the reading verified at the scan, unless the pass has since
    // expired or been revoked (read again, which says so).
    const reading = again && stillGood(again.reading, clock.wallMs, deps.isRevoked) ? again.reading : read();
    // The repeat window keys on the pass a valid code carries (a phone code's text changes every
    // 30 s), and on the text of anything else: a stale code must not hold back its fresh successor.
    const repeatKey = reading.status === 'valid' && reading.passId ? this.hashCode(`pass:${reading.passId}`) : codeHash;
    let decision: EntryDecision;
    let worker: WorkerRecord | undefined;
    let storeFault: unknown;
    try {
      worker = reading.status === 'valid' ? deps.roster.get(reading.workerId) : undefined;
      decision = decide({
        reading,
        worker,
        policy,
        checkpoint: deps.checkpoint,
        recent: this.recentHistory(reading, repeatKey, policy, clock.wallMs, clock.monoUs / 1000, again !== undefined),
        nowMs: clock.wallMs,
        rosterCheckedAtMs: deps.rosterCheckedAt?.() ?? null,
        placement: deps.placement?.() ?? null,
        ...(deps.bus ? { bus: deps.bus.decisionContext(reading.status === 'valid' ? reading.workerId : null) } : {}),
      });
    } catch (err) {
      if (!isStorageFault(err)) throw err;
      storeFault = err;
      decision = { outcome: 'deny', direction: this.fallbackDirection(), reasons: ['STORE_UNAVAILABLE'] };
    }
    return { clock, policy, codeHash, repeatKey, reading, decision, worker, storeFault, visitorId: undefined as string | undefined };
  }

  /** The event a decision is logged as. */
  private eventOf(e: ReturnType<Gatekeeper['evaluate']>, source: ScanSource): NewGateEvent {
    const { deps } = this;
    return {
      wallMs: e.clock.wallMs,
      monoUs: e.clock.monoUs,
      bootId: e.clock.bootId,
      clockSynced: e.clock.synced,
      checkpointId: deps.checkpoint.id,
      zoneId: deps.checkpoint.zone,
      direction: e.decision.direction,
      credentialKind: e.reading.kind,
      ...(e.visitorId !== undefined ? { workerId: null, codeHash: null, visitorId: e.visitorId } : identityOf(e.reading, e.worker, e.codeHash, e.decision.reasons)),
      decision: e.decision.outcome === 'allow' ? 'allow' : 'deny',
      reasons: e.decision.reasons,
      source,
      policyVersion: e.policy.version,
      ...this.where(e.clock),
    };
  }

  /** Where and by which clock an event of this moment happened: the GPS fix (or no fix) on a unit with GPS, and a GPS-dated time. */
  private where(clock: Reading): Pick<NewGateEvent, 'position' | 'clockSource'> {
    const out: Pick<NewGateEvent, 'position' | 'clockSource'> = {};
    if (this.deps.position) out.position = this.deps.position();
    if (clock.source === 'gps') out.clockSource = 'gps';
    return out;
  }

  /**
   * An event made elsewhere (an override, a gate input) with the fields of this moment a bus unit's
   * events carry: the open trip and route (none when no trip is open), the fix now, and whether the
   * clock now dates from GPS (the caller read the same clock a moment ago). Never the fields of an
   * older event it was made from (an override copies the denied scan).
   */
  private stamp(event: NewGateEvent): NewGateEvent {
    const { deps } = this;
    if (!deps.bus && !deps.position) return event;
    const { tripId: _trip, routeId: _route, position: _position, clockSource: _clockSource, ...rest } = event;
    const out: NewGateEvent = { ...rest, ...deps.bus?.tripFields() };
    if (deps.position) out.position = deps.position();
    if ((deps.clock.read() as Reading).source === 'gps') out.clockSource = 'gps';
    return out;
  }

  /**
   * A driver card on a bus unit: what the credential rules accepted as a driver's (a valid pass, or
   * a badge of someone on the roster, and no credential refusal) opens or ends a trip instead of
   * boarding. The bus's occupancy and route do not matter here (the driver is not a rider), but the
   * health rules do: a driver the policy refuses for health (a confirmed case, a quarantine) is
   * refused like a rider, the trip neither starts nor ends, and the same alert is queued.
   */
  private isDriverCard(e: ReturnType<Gatekeeper['evaluate']>): e is ReturnType<Gatekeeper['evaluate']> & { reading: { status: 'valid'; workerId: string } } {
    const { reading, decision, worker } = e;
    return (
      this.deps.bus !== undefined &&
      e.storeFault === undefined &&
      reading.status === 'valid' &&
      (reading.kind === 'pass' || worker !== undefined) &&
      this.deps.bus.isDriver(reading.workerId) &&
      !decision.reasons.some((r) => reasonCategory(r) === 'credential' || reasonCategory(r) === 'health')
    );
  }

  /** The driver card's trip start or end: its marker event, then the allow signal. A store that cannot take it refuses (the driver scans again). */
  private driverCard(scan: Scan, e: ReturnType<Gatekeeper['evaluate']> & { reading: { status: 'valid'; workerId: string } }, bus: BusHook): Passage {
    const { deps } = this;
    const kind = e.reading.kind;
    let done: ReturnType<BusHook['driverCard']> | undefined;
    try {
      done = bus.driverCard({ workerId: e.reading.workerId, credentialKind: kind });
    } catch (err) {
      if (!isStorageFault(err)) throw err;
      deps.log.error({ err: (err as Error).message }, 'cannot store the trip start or end: driver card refused, scan it again');
    }
    if (done === null) {
      // A closing card just after the start: the driver scanning again. Nothing recorded.
      deps.actuator.acknowledgeRepeat();
      const passage: Passage = {
        seq: null,
        decision: { outcome: 'repeat', direction: e.decision.direction, reasons: [] },
        displayName: e.worker?.displayName ?? null,
        credentialAccepted: true,
        durable: true,
        timing: { receivedAtNs: scan.receivedAtNs, committedAtNs: null, actuatedAtNs: process.hrtime.bigint() },
      };
      this.emit('passage', passage);
      return passage;
    }
    const committedAtNs = done ? process.hrtime.bigint() : null;
    if (done) {
      deps.afterCommit?.();
      deps.actuator.admit();
      this.recentCodes.set(e.repeatKey, e.clock.monoUs / 1000);
    } else deps.actuator.refuse();
    const decision: EntryDecision = done
      ? { outcome: 'allow', direction: done.direction, reasons: [done.reason] }
      : { outcome: 'deny', direction: e.decision.direction, reasons: ['STORE_UNAVAILABLE'] };
    deps.log.info({ seq: done?.seq ?? null, outcome: decision.outcome, reasons: decision.reasons, kind, source: scan.source }, 'driver card');
    const passage: Passage = {
      seq: done?.seq ?? null,
      decision,
      displayName: e.worker?.displayName ?? null,
      credentialAccepted: true,
      durable: done !== undefined,
      timing: { receivedAtNs: scan.receivedAtNs, committedAtNs, actuatedAtNs: process.hrtime.bigint() },
    };
    this.emit('passage', passage);
    return passage;
  }

  handleScan(scan: Scan): Passage {
    if (looksLikeCccd(scan.text) || this.deps.visitors?.claims(scan.text)) return this.visitorScan(scan, false);
    return this.pass(scan, this.evaluate(scan.text, this.deps.keyring));
  }

  /** A visitor's card or certificate just registered (VisitorDesk.register): decided as a new scan, past the repeat window. */
  decideVisitorAgain(text: string, source: ScanSource): Passage {
    return this.visitorScan({ text, source, receivedAtNs: process.hrtime.bigint() }, true);
  }

  /**
   * The visitor path (issue 14): a registered visitor's card is decided by the policy with their own
   * facts and logged like any scan (with their pseudonym, no code hash); an unregistered one on a
   * kiosk that registers visitors gets a registration token and NO event (nothing is kept before
   * they agree); otherwise a logged refusal with the code hash only.
   */
  private visitorScan(scan: Scan, again: boolean): Passage {
    const { deps } = this;
    const clock = deps.clock.read();
    const policy = deps.policy();
    const codeHash = this.hashCode(scan.text);
    const id: VisitorIdentity = deps.visitors
      ? deps.visitors.identify(scan.text, clock.wallMs)
      : parseCccd(scan.text).ok
        ? { kind: 'unregistered', credentialKind: 'cccd', name: '', offer: () => null }
        : { kind: 'refused', credentialKind: looksLikeCccd(scan.text) ? 'cccd' : 'dcc', failure: looksLikeCccd(scan.text) ? 'MALFORMED_CODE' : 'CERTIFICATE_INVALID' };
    const bus = deps.bus ? { bus: deps.bus.decisionContext(null) } : {};
    const base = { policy, checkpoint: deps.checkpoint, nowMs: clock.wallMs, rosterCheckedAtMs: null, placement: null, ...bus };
    const seenAgo = (key: string): number | null => {
      const last = again ? undefined : this.recentCodes.get(key);
      const nowMono = clock.monoUs / 1000;
      return last === undefined || nowMono < last ? null : (nowMono - last) / 1000;
    };
    if (id.kind === 'unregistered') {
      const offered = id.offer(scan.source);
      if (offered) {
        const direction = this.fallbackDirection();
        deps.actuator.refuse();
        deps.log.info({ seq: null, outcome: 'deny', reasons: ['VISITOR_NOT_REGISTERED'], kind: id.credentialKind, source: scan.source }, 'visitor scan: may register');
        const passage: Passage = {
          seq: null,
          decision: { outcome: 'deny', direction, reasons: ['VISITOR_NOT_REGISTERED'] },
          displayName: null,
          credentialAccepted: false,
          durable: true,
          timing: { receivedAtNs: scan.receivedAtNs, committedAtNs: null, actuatedAtNs: process.hrtime.bigint() },
          visitor: { token: offered.token, name: id.name, credentialKind: id.credentialKind, expiresAtMs: offered.expiresAtMs },
        };
        this.emit('passage', passage);
        return passage;
      }
    }
    if (id.kind !== 'registered') {
      const failure = id.kind === 'refused' ? id.failure : 'VISITOR_NOT_REGISTERED';
      // The reading stands for the card's kind on the event; the refusal's reason is the visitor path's own.
      const reading: CredentialReading = { status: 'invalid', kind: id.credentialKind, failure: 'MALFORMED_CODE', detail: 'visitor credential' };
      const recent: RecentHistory = { sameCodeSecondsAgo: seenAgo(codeHash), lastPassage: null };
      const decided = decide({ ...base, reading, worker: undefined, recent });
      const decision: EntryDecision = decided.outcome === 'deny' ? { ...decided, reasons: [failure] } : decided;
      return this.pass(scan, { clock, policy, codeHash, repeatKey: codeHash, reading, decision, worker: undefined, storeFault: undefined, visitorId: undefined });
    }
    const repeatKey = this.hashCode(`visitor:${id.visitorId}`);
    const reading: CredentialReading = { status: 'valid', kind: id.credentialKind, workerId: id.visitorId };
    let decision: EntryDecision;
    let storeFault: unknown;
    try {
      const scope: PassageScope =
        policy.params.antiPassback === 'checkpoint' ? { checkpointId: deps.checkpoint.id } : { zoneId: deps.checkpoint.zone };
      const recent: RecentHistory = { sameCodeSecondsAgo: seenAgo(repeatKey), lastPassage: deps.visitors!.lastPassage(id.visitorId, scope) };
      decision = decide({ ...base, reading, worker: id.worker, recent, visitor: { approved: id.approved }, certificate: id.certificate });
    } catch (err) {
      if (!isStorageFault(err)) throw err;
      storeFault = err;
      decision = { outcome: 'deny', direction: this.fallbackDirection(), reasons: ['STORE_UNAVAILABLE'] };
    }
    return this.pass(scan, { clock, policy, codeHash, repeatKey, reading, decision, worker: id.worker, storeFault, visitorId: id.visitorId }, !again);
  }

  /**
   * Decides a credential shown a moment ago again, as a new scan with its own event (a declaration
   * was just made on the screen: DeclarationDesk). The repeat window does not apply to it: the
   * person did not scan twice, the kiosk asked again.
   */
  decideAgain(held: HeldCredential): Passage {
    return this.pass({ text: held.text, source: held.source, receivedAtNs: process.hrtime.bigint() }, this.evaluate(held.text, this.deps.keyring, held));
  }

  /**
   * Commits an event made beside the scan path (a declaration) with the fields of this moment a bus
   * unit's events carry, through `write` (which may write more in the same transaction). Throws a
   * storage fault: nothing is held, the caller refuses the request.
   */
  commitBeside(given: NewGateEvent, write: (event: NewGateEvent) => number): number {
    const event = this.stamp(given);
    const seq = this.withSpace(() => write(event));
    this.deps.afterCommit?.();
    return seq;
  }

  /**
   * `remember` false: the scan does not start the repeat window (a visitor's card decided again right
   * after registering: they did not scan it, and their next real scan, after an approval, must count).
   */
  private pass(scan: Scan, evaluated: ReturnType<Gatekeeper['evaluate']>, remember = true): Passage {
    const { deps } = this;
    const { clock, repeatKey, reading, worker } = evaluated;
    let { decision, storeFault } = evaluated;

    if (decision.outcome === 'repeat') {
      deps.actuator.acknowledgeRepeat();
      const passage: Passage = {
        seq: null,
        decision,
        displayName: reading.status === 'valid' && worker !== undefined ? worker.displayName : null,
        credentialAccepted: reading.status === 'valid' && worker !== undefined,
        durable: true,
        timing: { receivedAtNs: scan.receivedAtNs, committedAtNs: null, actuatedAtNs: process.hrtime.bigint() },
      };
      this.emit('passage', passage);
      return passage;
    }

    if (deps.bus && this.isDriverCard(evaluated)) return this.driverCard(scan, evaluated, deps.bus);

    const event = this.eventOf(evaluated, scan.source);
    const bus = deps.bus;

    const alert = decision.outcome === 'deny' && worker ? alertFor(decision.reasons) : undefined;
    let seq: number | null = null;
    let commitStartNs: bigint | null = null;
    if (storeFault === undefined) {
      commitStartNs = process.hrtime.bigint();
      try {
        // Held events are not written here (a backlog would hold up the gate): the store took this
        // scan, so the retry stores them at once, a chunk per turn of the event loop.
        seq = this.withSpace(() => (bus ? bus.commitScan(event, alert) : deps.events.append(event, alert)));
        deps.afterCommit?.();
        if (deps.held.count) this.scheduleRetry(0);
      } catch (err) {
        if (!isStorageFault(err)) throw err;
        storeFault = err;
      }
    }
    const committedAtNs = seq !== null ? process.hrtime.bigint() : null;

    if (storeFault !== undefined) {
      // Fail safe: without a durable record the gate does not open.
      decision = { outcome: 'deny', direction: decision.direction, reasons: ['STORE_UNAVAILABLE'] };
      this.hold(
        { ...event, ...bus?.tripFields(), decision: 'deny', reasons: ['STORE_UNAVAILABLE', ...event.reasons.filter((r) => r !== 'STORE_UNAVAILABLE')] },
        alert,
      );
      deps.log.error(
        { err: (storeFault as Error).message, errorCode: (storeFault as { code?: string }).code, held: deps.held.count },
        'cannot store the scan: gate kept shut, event held for retry',
      );
    }

    if (decision.outcome === 'allow') deps.actuator.admit();
    else if (bus && driverOutcome('deny', decision.reasons) === 'see-driver') deps.actuator.seeDriver();
    else if (deps.declareElsewhere && deps.actuator.declareElsewhere && declaringWouldHelp(decision.reasons)) deps.actuator.declareElsewhere();
    else deps.actuator.refuse();
    const actuatedAtNs = process.hrtime.bigint();
    if (seq !== null && remember) this.recentCodes.set(repeatKey, clock.monoUs / 1000);

    deps.log.info(
      {
        seq,
        outcome: decision.outcome,
        direction: decision.direction,
        // Health reasons stay out of logs (Decree 13/2023): the log says "health", the store keeps the reason.
        reasons: loggedReasons(decision.reasons),
        kind: reading.kind,
        source: scan.source,
        // A phone code accepted on an unverified kiosk clock without judging its age (policy 'accept-with-flag').
        ...(reading.status === 'valid' && reading.proofAgeUnchecked ? { proofAgeUnchecked: true } : {}),
        // Last byte received to gate driven, commit included: the figure operators watch; and the
        // commit alone (the disk's part of it).
        gateUs: Number((actuatedAtNs - scan.receivedAtNs) / 1000n),
        commitUs: committedAtNs === null || commitStartNs === null ? null : Number((committedAtNs - commitStartNs) / 1000n),
      },
      'scan',
    );
    const credentialAccepted = reading.status === 'valid' && worker !== undefined && !decision.reasons.some((r) => reasonCategory(r) === 'credential');
    const passage: Passage = {
      seq,
      decision,
      // Only a credential this checkpoint accepted names anyone on the screen: typing a worker's
      // number at a gate that refuses badges must not show whose it is.
      displayName: credentialAccepted ? (worker?.displayName ?? null) : null,
      credentialAccepted,
      durable: seq !== null,
      timing: { receivedAtNs: scan.receivedAtNs, committedAtNs, actuatedAtNs },
    };
    // A named roster worker may declare on the screen now (the screens offer it after a missing
    // declaration, or when they asked to declare); only for a scan on record. Never after a flagged
    // one: it stands for the rest of the day (base/common/declaration.ts replacesDeclaration), so a
    // "no" seconds later cannot let them in, and the screen shows the discreet refusal only.
    if (
      deps.declareTokens &&
      credentialAccepted &&
      seq !== null &&
      reading.status === 'valid' &&
      worker &&
      evaluated.visitorId === undefined &&
      !(decision.outcome === 'deny' && decision.reasons.includes('DECLARATION_FLAGGED'))
    ) {
      passage.declareToken = deps.declareTokens.issue({ text: scan.text, source: scan.source, reading, workerId: worker.workerId, displayName: worker.displayName, decision });
    }
    this.emit('passage', passage);
    return passage;
  }

  /**
   * A supervisor lets a denied person through. `commit` writes the allow event (with its alert and
   * the override record) durably; only then does the gate open, as for any scan.
   */
  admitOverride(given: NewGateEvent, displayName: string | null, commit: (event: NewGateEvent) => number): Passage {
    const receivedAtNs = process.hrtime.bigint();
    const event = this.stamp(given);
    const seq = commit(event);
    this.deps.bus?.committed(event);
    const committedAtNs = process.hrtime.bigint();
    this.deps.actuator.admit();
    const passage: Passage = {
      seq,
      decision: { outcome: 'allow', direction: event.direction, reasons: ['SUPERVISOR_OVERRIDE'] },
      displayName,
      credentialAccepted: true,
      durable: true,
      timing: { receivedAtNs, committedAtNs, actuatedAtNs: process.hrtime.bigint() },
    };
    this.deps.log.info({ seq, outcome: 'allow', reasons: event.reasons }, 'supervisor override');
    this.emit('passage', passage);
    return passage;
  }

  /**
   * Logs an event of the gate's own inputs (emergency release, passage outcomes; see gate-inputs.ts)
   * like a scan's: durably, or held and written later if the store cannot take it now. Its sequence
   * number, or null while it is held. It drives nothing: the inputs act on the gate themselves.
   */
  recordGateEvent(given: NewGateEvent, alert?: AlertKind): number | null {
    const event = this.stamp(given);
    try {
      const seq = this.withSpace(() => this.deps.events.append(event, alert));
      this.deps.afterCommit?.();
      return seq;
    } catch (err) {
      if (!isStorageFault(err)) throw err;
      this.hold(event, alert);
      this.deps.log.error({ err: (err as Error).message, reasons: event.reasons }, 'cannot store a gate input event: held for retry');
      return null;
    }
  }

  /** The checkpoint this gate guards (the supervisor desk decides an override's health rules for it). */
  get checkpoint(): Checkpoint {
    return this.deps.checkpoint;
  }

  /** The clock the gate dates events with. */
  now(): ClockReading {
    return this.deps.clock.read();
  }

  private recentHistory(reading: CredentialReading, codeHash: string, policy: Policy, nowMs: number, nowMonoMs: number, noRepeat = false): RecentHistory {
    const lastSeen = noRepeat ? undefined : this.recentCodes.get(codeHash);
    // A code seen "in the future" (another clock's reading) is no repeat: a repeat hides the scan.
    const ageS = lastSeen === undefined || nowMonoMs < lastSeen ? null : (nowMonoMs - lastSeen) / 1000;
    this.pruneRecentCodes(nowMonoMs, policy.params.repeatScanSeconds);
    const scope: PassageScope =
      policy.params.antiPassback === 'checkpoint' ? { checkpointId: this.deps.checkpoint.id } : { zoneId: this.deps.checkpoint.zone };
    const own = reading.status === 'valid' ? this.deps.events.lastPassage(reading.workerId, scope, this.deps.passageWindowMs) : null;
    const site = this.deps.sitePassages;
    if (!site || !('zoneId' in scope) || reading.status !== 'valid') {
      return { sameCodeSecondsAgo: ageS, lastPassage: own };
    }
    // Anti-passback by zone with a site stream: the later of this kiosk's and the other kiosks' last
    // passage counts. An entry-only checkpoint sees exits only through the stream: it cannot know of
    // one while the stream is stale, nor of one made in a break of the stream after the last entry.
    const remote = site.lastPassage(reading.workerId, scope.zoneId);
    const last = remote && (!own || remote.atMs > own.atMs) ? remote : own;
    const since = site.currentSinceMs();
    return {
      sameCodeSecondsAgo: ageS,
      lastPassage: last,
      exitsUnseen: this.deps.checkpoint.direction === 'entry' && (since === null || (last !== null && last.atMs < since)),
    };
  }

  private pruneRecentCodes(nowMs: number, windowS: number): void {
    if (this.recentCodes.size < 1024) return;
    for (const [hash, at] of this.recentCodes) if (nowMs - at > windowS * 1000 || at > nowMs) this.recentCodes.delete(hash);
  }

  private fallbackDirection(): 'entry' | 'exit' {
    return this.deps.checkpoint.direction === 'exit' ? 'exit' : 'entry';
  }

  private hashCode(text: string): string {
    return createHmac('sha256', this.deps.codeHashKey).update(text).digest('hex').slice(0, 32);
  }

  private hold(event: NewGateEvent, alert: AlertKind | undefined): void {
    this.deps.held.add({ event, alert });
    this.scheduleRetry();
  }

  private scheduleRetry(delayMs = HELD_RETRY_MS): void {
    if (this.stopped || !this.deps.held.count) return;
    if (this.retryTimer) {
      if (delayMs > 0) return;
      clearTimeout(this.retryTimer);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // One chunk per turn: scans go in between. On a fault, wait the full retry time.
      const stored = this.flushHeld(1);
      this.scheduleRetry(stored ? 0 : HELD_RETRY_MS);
    }, delayMs);
  }

  /** Runs a write; on a full disk, has the reserve freed and tries once more. */
  private withSpace<T>(write: () => T): T {
    try {
      return write();
    } catch (err) {
      if (!isDiskFull(err) || !this.deps.onDiskFull?.()) throw err;
      this.deps.log.fatal({ held: this.deps.held.count }, 'disk full: the reserve was released so scans can still be recorded; free disk space now');
      return write();
    }
  }

  /** Stores up to `chunks` chunks of held events, oldest first; stops at the first failure. Returns how many were stored. */
  private flushHeld(chunks: number): number {
    const { held } = this.deps;
    let written = 0;
    try {
      for (let n = 0; n < chunks && held.count; n++) written += this.withSpace(() => held.storeChunk(HELD_CHUNK));
    } catch (err) {
      if (!isStorageFault(err)) throw err;
    }
    if (written) this.deps.log.warn({ written, stillHeld: held.count }, 'held events stored after a storage fault');
    return written;
  }
}

/** A held reading is still good for deciding again: not expired, not revoked since. */
function stillGood(reading: CredentialReading & { status: 'valid' }, nowMs: number, isRevoked: ((passId: string) => boolean) | undefined): boolean {
  // A pass's expiry is in seconds (base/node/pass.ts), as checkValidity compares it.
  if (reading.expiresAt !== undefined && reading.expiresAt <= Math.floor(nowMs / 1000)) return false;
  return !(reading.passId !== undefined && isRevoked?.(reading.passId));
}

/** Refused only for a missing declaration: a declaration at a kiosk with a screen is all it takes. */
function declaringWouldHelp(reasons: readonly DenyReason[]): boolean {
  return reasons.length > 0 && reasons.every((r) => r === 'DECLARATION_MISSING');
}

/** Reasons as a log may show them: a sensitive (health) reason is named only by its category. */
function loggedReasons(reasons: readonly DenyReason[]): string[] {
  return reasons.map((r) => (isSensitive(r) ? reasonCategory(r) : r));
}

/** Deny reasons a manager must hear about at once, most serious first. */
const ALERTING: [DenyReason, AlertKind][] = [
  ['CASE_F0', 'confirmed-case-entry-attempt'],
  ['QUARANTINE_ACTIVE', 'quarantined-entry-attempt'],
  ['DECLARATION_FLAGGED', 'flagged-entry-attempt'],
];

export function alertFor(reasons: readonly DenyReason[]): AlertKind | undefined {
  return ALERTING.find(([reason]) => reasons.includes(reason))?.[1];
}

function identityOf(
  reading: CredentialReading,
  worker: WorkerRecord | undefined,
  codeHash: string,
  reasons: readonly DenyReason[],
): { workerId: string | null; codeHash: string | null } {
  // A verified pass names a hub-issued id even if our roster lacks it; a badge number or an invalid
  // code is only kept as a keyed hash, so nothing readable is stored about unknown people. A
  // credential this checkpoint refuses (a typed badge number where badges are not accepted) proves
  // nothing about who stood there: it is not put on anyone's record either.
  if (reasons.some((r) => reasonCategory(r) === 'credential')) return { workerId: null, codeHash };
  if (reading.status === 'valid' && (reading.kind === 'pass' || worker)) return { workerId: reading.workerId, codeHash: null };
  return { workerId: null, codeHash };
}
