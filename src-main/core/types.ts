/** Words of the gate's world, shared by the core, devices, sync and (as types) the screens. */
import type { DenyReason } from './reasons.js';

export type Direction = 'entry' | 'exit';
export type CheckpointDirection = Direction | 'both';

/** How the person identified themselves: a signed QR pass or a printed employee-number badge. */
export type CredentialKind = 'pass' | 'badge';

/** Where a scan came from. */
export type ScanSource = 'serial' | 'stdin' | 'camera' | 'keyboard';

export type CaseStatus = 'none' | 'F0' | 'F1';
export type TestResult = 'negative' | 'positive';

/** A roster entry: only what a decision or a trace needs. Times are epoch milliseconds. */
export interface WorkerRecord {
  workerId: string;
  displayName: string;
  company: string;
  team: string;
  declaredAt: number | null;
  declarationFlagged: boolean;
  testResult: TestResult | null;
  testedAt: number | null;
  vaccineDoses: number;
  quarantineUntil: number | null;
  caseStatus: CaseStatus;
}

export interface Checkpoint {
  id: string;
  name: string;
  kind: string;
  zone: string;
  direction: CheckpointDirection;
}

/** A change to downloaded data: a record by its key, or its removal. */
export type DataChange<T> = { deleted: true; key: string } | { deleted: false; key: string; value: T };

export type NoticePriority = 'info' | 'important' | 'urgent';

/** A government notice shown to workers until it expires: Vietnamese always, English when given. */
export interface Notice {
  id: string;
  vi: string;
  en: string | null;
  priority: NoticePriority;
  startsAtMs: number;
  expiresAtMs: number;
}

/** A pass the hub has revoked (by its pass id, the CWT `cti`). */
export interface Revocation {
  passId: string;
  revokedAtMs: number;
}

/** A policy document as the hub sends it (validated with the policy schema on arrival). */
export interface PolicyDocument {
  document: unknown;
}

/** A hub signing key sent down for rotation: its key id and public key (SPKI PEM). */
export interface HubKeyRecord {
  kid: string;
  publicPem: string;
}

/** One line of the local entry log as a supervisor sees it. */
export interface EntryLogRow {
  seq: number;
  atMs: number;
  direction: Direction;
  decision: 'allow' | 'deny';
  /** Null for people the kiosk could not identify (only a keyed hash of their code is kept). */
  workerId: string | null;
  displayName: string | null;
  team: string | null;
  reasons: DenyReason[];
  source: ScanSource;
  /** For a deny: the event that let the person through after all, if a supervisor did. */
  overriddenBySeq: number | null;
}


export interface EntryLogSummary {
  entries: number;
  exits: number;
  denied: number;
}
