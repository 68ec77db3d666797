import type { HubDirectory } from './directory.js';
import type { HubStore } from './store.js';
import type { Visits } from './visits.js';

/** Checkpoint kinds that make contacts (a site gate does not: the whole site is not a narrow contact). */
export type TracePlaceKind = 'zone' | 'team' | 'canteen' | 'dormitory' | 'bus';

export interface TracePlace {
  /** Stable key of the place: `zone:<siteId>:<zoneId>` for a zone (all its checkpoints together), else `<kind>:<checkpointId>`. */
  key: string;
  kind: TracePlaceKind;
  /** For a zone with several checkpoints, one of them (the first by id). */
  checkpointId: string;
  /** The registry's checkpoint name (or the id when unknown). */
  name: string;
  siteId: string | null;
}

/** One overlap between a contact and the case at one place. Times are the hub's corrected times, epoch ms. */
export interface Exposure {
  place: TracePlace;
  /** Overlap start. */
  fromMs: number;
  /** Overlap end. */
  toMs: number;
  /** (toMs - fromMs) / 60000, rounded to 0.1. */
  overlapMinutes: number;
  /** Where the contact's presence came from: a kiosk event, or a phone check-in at a posted checkpoint code. */
  source: 'kiosk' | 'phone';
  /** True when the contact's or the case's presence here rests on an event with an unverified clock (or a late phone upload, time_verified = 0). */
  unverifiedClock: boolean;
  /** For F2: the F1 contact this exposure was with (absent for F1). */
  viaWorkerId?: string;
}

export interface TraceContact {
  workerId: string;
  degree: 1 | 2;
  /** The organisation whose list holds the worker now (directory), null if none. */
  orgId: string | null;
  /** By time. */
  exposures: Exposure[];
  /** Sum of exposures. */
  overlapMinutes: number;
  /** Any exposure unverified. */
  unverifiedClock: boolean;
  /** 1 = most exposed; by degree, then total overlap minutes desc, then workerId. */
  rank: number;
}

export interface TraceRequest {
  workerId: string;
  /** Default: 14 days before toMs. */
  fromMs: number;
  /** Default: now. */
  toMs: number;
  /** F2 on request. */
  secondDegree?: boolean;
}

export interface TraceOptions {
  /** A canteen scan is a sitting of this length: two sittings overlap when their scans are less than this apart. Default 30. */
  canteenWindowMinutes: number;
  /** An entry with no exit ends this long after it (the policy's antiPassbackResetHours; default 16). */
  resetHours: number;
}

export interface TraceResult {
  caseWorkerId: string;
  fromMs: number;
  toMs: number;
  options: TraceOptions;
  /** The case's own presence intervals by place (what the contacts were matched against). */
  casePresence: { place: TracePlace; fromMs: number; toMs: number; source: 'kiosk' | 'phone'; unverifiedClock: boolean }[];
  /** F1 first, then F2 (F2 excludes the case and every F1). */
  contacts: TraceContact[];
}

export const DEFAULT_TRACE_OPTIONS: TraceOptions = { canteenWindowMinutes: 30, resetHours: 16 };

export interface TracerDeps {
  store: HubStore;
  directory: HubDirectory;
  visits?: Visits | undefined;
}

/** Narrow tracing at the hub (issue 11). The constructor only stores its dependencies. */
export class Tracer {
  private readonly options: TraceOptions;

  constructor(
    private readonly deps: TracerDeps,
    options: Partial<TraceOptions> = {},
  ) {
    this.options = { ...DEFAULT_TRACE_OPTIONS, ...options };
  }

  async trace(request: TraceRequest): Promise<TraceResult> {
    void this.deps;
    void this.options;
    void request;
    throw new Error('not yet');
  }
}
