/** What the console's API answers, as its pages read it (console/server/*-routes.ts). */

export interface Compliance {
  orgId: string;
  listAgeMs: number | null;
  todaysList: 'before-deadline' | 'not-yet' | 'late' | 'missing';
  outOfCompliance: boolean;
}

export interface Organisation {
  id: string;
  name: string;
  kind: 'company' | 'agency' | 'market';
  sites: number;
  workers: number;
  listUploadedAtMs: number | null;
  compliance: Compliance | null;
}

export interface Site {
  id: string;
  orgId: string | null;
  name: string;
  devices: number;
  checkpoints: number;
}

export interface Checkpoint {
  id: string;
  siteId: string;
  name: string;
  kind: string;
  orgIds: string[];
  devices: string[];
}

export interface WorkerRow {
  workerId: string;
  orgId: string;
  siteId: string;
  team: string;
  fullName: string;
}

export interface UploadResult {
  rev: number;
  changed: number;
  removed: number;
  workers: number;
}

export interface Device {
  deviceId: string;
  /** Null for an enrolled device not placed in a site yet. */
  siteId: string | null;
  checkpointId: string | null;
  /** At a bus checkpoint: a bus unit, whose trips the page lists (issue 13). */
  bus: boolean;
  /** Enrolled with a token at this hub; revoked (cut off) by an operator. */
  enrolled: boolean;
  revoked: boolean;
  revokedAtMs: number | null;
  certDaysLeft: number | null;
  settingsVersion: number | null;
  settingsRefused: { version: number; problems: string[] } | null;
  lastSeenMs: number | null;
  /** How long the hub has not heard from it (null: never). */
  quietMs: number | null;
  online: boolean;
  silent: boolean;
  software: string | null;
  outboxDepth: number | null;
  oldestUnsyncedAgeS: number | null;
  rosterAgeS: number | null;
  policyVersion: number | null;
  disk: string | null;
}

export interface Entry {
  deviceId: string;
  checkpointId: string;
  whenMs: number;
  clock: string;
  direction: string;
  workerId: string | null;
  orgId: string | null;
  decision: string;
  reasons: string[];
}

export interface EntriesDay {
  day: string;
  total: number;
  allowed: number;
  denied: number;
  deniedByReason: Record<string, number>;
  entries: Entry[];
  /** Where the next (older) page starts, when there is one. */
  next: string | null;
}

export interface Notice {
  id: string;
  vi: string;
  en: string | null;
  priority: 'info' | 'important' | 'urgent';
  startsAtMs: number;
  expiresAtMs: number;
}

export interface PassRow {
  passId: string;
  workerId: string;
  /** The worker's name and team on the organisation's list (null once they left it). */
  fullName: string | null;
  team: string | null;
  orgId: string;
  kind: 'printed' | 'phone';
  issuedAtMs: number;
  expiresAtMs: number;
  revokedAtMs: number | null;
  revokedBecause: string | null;
  state: 'live' | 'expired' | 'revoked';
}

/** A bus trip as the hub makes it up from its events (sync/hub/trips.ts HubTrip); times epoch ms. */
export interface BusTrip {
  tripId: string;
  deviceId: string;
  routeId: string | null;
  startedAt: number;
  endedAt: number | null;
  endReason: 'TRIP_ENDED' | 'TRIP_ENDED_TIMEOUT' | 'TRIP_ENDED_AT_DEPOT' | null;
  driverWorkerId: string | null;
  clock: 'synced' | 'gps' | 'corrected' | 'unverified';
  riders: { workerId: string; boardedAt: number; alightedAt: number | null; alightedBy: 'scan' | 'trip-end' | null }[];
  refused: number;
  /** A manager's view: riders of other organisations, not named. */
  ridersElsewhere?: number;
}
