import type { CredentialReading } from './credential/read.js';
import { failingReasons, type DecisionFacts, type Policy } from '../../base/common/policy/policy.js';
import { reasonCategory, type DenyReason } from '../../base/common/reasons.js';
import type { Checkpoint, Direction, Placement, WorkerRecord } from '../../base/common/types.js';

/** What the log knows of this person's recent passages, as the gate core looked it up. */
export interface RecentHistory {
  /** Seconds since this exact code was last logged here, or null. */
  sameCodeSecondsAgo: number | null;
  /**
   * The person's last allowed passage in the policy's anti-passback scope, or null: from this kiosk's
   * log, or from the site's other kiosks (the live site stream) when that is later.
   */
  lastPassage: { direction: Direction; atMs: number } | null;
  /**
   * This checkpoint cannot know who left the scope now (an entry-only checkpoint whose site stream is
   * stale): anti-passback does not refuse on its own log alone, which would refuse everyone who left
   * by another kiosk.
   */
  exitsUnseen?: boolean;
}

export type EntryDecision =
  /**
   * An allow carries no reason, except a supervisor's override of an earlier deny, and a bus unit's
   * driver card (base/common/bus.ts), whose passage is the trip's start or end.
   */
  | { outcome: 'allow'; direction: Direction; reasons: [] | ['SUPERVISOR_OVERRIDE'] | ['TRIP_STARTED' | 'TRIP_ENDED'] }
  | { outcome: 'deny'; direction: Direction; reasons: [DenyReason, ...DenyReason[]] }
  /** The same code again within the repeat window: the same event, nothing new is logged or opened. */
  | { outcome: 'repeat'; direction: Direction; reasons: [] };

export interface DecisionInput {
  reading: CredentialReading;
  worker: WorkerRecord | undefined;
  policy: Policy;
  checkpoint: Checkpoint;
  recent: RecentHistory;
  nowMs: number;
  /** When the hub last confirmed the roster current (epoch ms), or null if unknown. */
  rosterCheckedAtMs?: number | null;
  /** Where the hub placed this kiosk (its site and the organisations its checkpoint serves), or null: no hub placement. */
  placement?: Placement | null;
  /**
   * A bus unit (base/common/bus.ts): the scan's direction as the open trip decides it (a rider aboard
   * is alighting, anyone else boarding), and the trip's facts for the policy. Absent elsewhere.
   */
  bus?: { direction: Direction; trip: DecisionFacts['trip'] };
  /**
   * A visitor (issue 14: credential cccd or dcc): `worker` is then a record the visitor desk made of
   * the visitor's own declaration (no roster data), and this says whether a supervisor approved them.
   */
  visitor?: DecisionFacts['visitor'];
  /** An HC1 health certificate shown, verified and judged by the policy's certificate rules. */
  certificate?: DecisionFacts['certificate'];
}

const HOUR_MS = 3_600_000;

function hoursSince(atMs: number | null, nowMs: number): number | null {
  return atMs === null ? null : Math.max(0, (nowMs - atMs) / HOUR_MS);
}

/** On a two-way checkpoint, someone whose last passage here was an entry is now leaving. */
function directionOf(checkpoint: Checkpoint, recent: RecentHistory, policy: Policy, nowMs: number): Direction {
  if (checkpoint.direction !== 'both') return checkpoint.direction;
  return isStillInside(recent, policy, nowMs) ? 'exit' : 'entry';
}

function isStillInside(recent: RecentHistory, policy: Policy, nowMs: number): boolean {
  const last = recent.lastPassage;
  return last !== null && last.direction === 'entry' && nowMs - last.atMs < policy.params.antiPassbackResetHours * HOUR_MS;
}

function deny(direction: Direction, reasons: DenyReason[]): EntryDecision {
  const [first, ...rest] = reasons;
  if (first === undefined) throw new Error('a deny needs at least one reason');
  return { outcome: 'deny', direction, reasons: [first, ...rest] };
}

/**
 * The gate's decision, a pure function of what was scanned, who it is, the policy, this person's
 * recent passages and the time. It never throws for any reading or roster state.
 */
export function decide(input: DecisionInput): EntryDecision {
  const { reading, worker, policy, checkpoint, recent, nowMs, rosterCheckedAtMs = null, placement = null, bus, visitor = null, certificate = null } = input;
  const direction = bus ? bus.direction : directionOf(checkpoint, recent, policy, nowMs);

  if (recent.sameCodeSecondsAgo !== null && recent.sameCodeSecondsAgo < policy.params.repeatScanSeconds) {
    return { outcome: 'repeat', direction, reasons: [] };
  }
  if (reading.status === 'invalid') return deny(direction, [reading.failure]);
  if (!worker) return deny(direction, ['UNKNOWN_WORKER']);

  const facts: DecisionFacts = {
    direction,
    credential: { kind: reading.kind, phoneBound: reading.phoneBound === true },
    checkpoint: { id: checkpoint.id, kind: checkpoint.kind, zone: checkpoint.zone },
    worker: {
      caseStatus: worker.caseStatus,
      vaccineDoses: worker.vaccineDoses,
      declarationFlagged: worker.declarationFlagged,
      hoursSinceDeclaration: hoursSince(worker.declaredAt, nowMs),
      testResult: worker.testResult,
      hoursSinceTest: hoursSince(worker.testedAt, nowMs),
      quarantineActive: worker.quarantineUntil !== null && worker.quarantineUntil > nowMs,
      servedHere: placement && placement.orgIds.length > 0 && worker.orgId !== undefined ? placement.orgIds.includes(worker.orgId) : null,
      atOwnSite: placement && worker.siteId !== undefined ? worker.siteId === placement.siteId : null,
    },
    recent: {
      alreadyInside: policy.params.antiPassback !== 'off' && direction === 'entry' && recent.exitsUnseen !== true && isStillInside(recent, policy, nowMs),
    },
    trip: bus?.trip ?? null,
    data: { rosterAgeHours: hoursSince(rosterCheckedAtMs, nowMs) },
    visitor,
    certificate,
    params: policy.params,
  };
  // A credential the policy refuses for what it is (a badge where only passes are accepted) is
  // decided on that alone: the person's health rules are not run, so typing someone's id at such a
  // gate reveals nothing about them and raises no health alert.
  const refusedCredential = failingReasons(policy, facts, (r) => reasonCategory(r) === 'credential');
  if (refusedCredential.length > 0) return deny(direction, refusedCredential);
  // A worker this checkpoint does not serve is refused on that alone too: another organisation's
  // gate learns nothing of their health, and raises no health alert to the wrong manager.
  const notServed = failingReasons(policy, facts, (r) => r === 'WORKER_NOT_SERVED');
  if (notServed.length > 0) return deny(direction, notServed);
  const reasons = failingReasons(policy, facts, (r) => reasonCategory(r) !== 'credential' && r !== 'WORKER_NOT_SERVED');
  return reasons.length > 0 ? deny(direction, reasons) : { outcome: 'allow', direction, reasons: [] };
}
