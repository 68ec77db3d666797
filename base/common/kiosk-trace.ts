/**
 * The kiosk's offline trace, as the supervisor screen shows it: for one worker, who passed this
 * checkpoint within a window around each of the worker's own passages, from the kiosk's own log.
 * Types only (the renderer imports them through the API contract); the reader is
 * src-main/core/supervisor/trace.ts.
 *
 * It says who was near, never why anyone was refused: no reasons travel here.
 */
import type { Direction } from './types.js';

/** The windows a supervisor may pick, in minutes either side of each passage. */
export const TRACE_WINDOWS_MIN = [5, 15, 30, 60] as const;
export type TraceWindowMinutes = (typeof TRACE_WINDOWS_MIN)[number];
export const DEFAULT_TRACE_WINDOW_MIN: TraceWindowMinutes = 15;
/** The default period: the last 14 days (the incubation period the province traces). */
export const DEFAULT_TRACE_DAYS = 14;
/** The longest period one trace may cover (the log's default retention is 28 days). */
export const MAX_TRACE_DAYS = 32;

/** A worker a search matched: on the roster (with a name), or only in the log (by id). */
export interface TraceCandidate {
  workerId: string;
  displayName: string | null;
  team: string | null;
}

/**
 * Someone else's scan near one of the worker's passages. Their name is in the trace's `contacts` or
 * `refusedOnly` (by workerId), not repeated here.
 */
export interface TraceNeighbour {
  workerId: string;
  atMs: number;
  /** Their time minus the worker's, in ms: negative when they passed before. */
  gapMs: number;
}

/** A passage lists at most this many neighbours of each kind (the closest in time); the counts are whole. */
export const TRACE_NEIGHBOURS_SHOWN = 20;

/** One of the worker's own passages (allowed scans) at this kiosk, with who passed near it. */
export interface TracePassage {
  seq: number;
  atMs: number;
  direction: Direction;
  checkpointId: string;
  /** Allowed scans of other named people at the same checkpoint within the window: the closest, by time. */
  passed: TraceNeighbour[];
  passedCount: number;
  /** Refused scans of other named people there (they stood at the gate but were not let in): the closest, by time; no reasons. */
  refused: TraceNeighbour[];
  refusedCount: number;
  /** Refused scans of codes nobody could be identified by (only counted). */
  unidentified: number;
}

/** One person in the de-duplicated list. */
export interface TraceContact {
  workerId: string;
  displayName: string | null;
  team: string | null;
  /** At how many of the worker's passages this person was near. */
  times: number;
  /** The smallest time gap to any of them, in ms (absolute). */
  closestGapMs: number;
  /** When this person was last near the worker. */
  lastAtMs: number;
}

/**
 * A visitor (issue 14) who passed (allowed) this checkpoint near the worker: listed as a contact is,
 * by their pseudonym, with the name and visit they registered at this kiosk (null once purged).
 */
export interface TraceVisitor {
  visitorId: string;
  name: string | null;
  host: string | null;
  purpose: string | null;
  times: number;
  closestGapMs: number;
  lastAtMs: number;
}

export interface TraceResult {
  worker: TraceCandidate;
  fromMs: number;
  toMs: number;
  windowMinutes: number;
  /** The worker's passages, oldest first. */
  passages: TracePassage[];
  /** People who passed (allowed) near the worker: most times first, then closest. */
  contacts: TraceContact[];
  /** People only refused near the worker (never let in near them), listed apart; not in `contacts`. */
  refusedOnly: TraceContact[];
  /** Visitors who passed near the worker (their allowed scans at the same checkpoint within the window): most times first, then closest. */
  visitors: TraceVisitor[];
}
