/** Words of the gate's world, shared by the core, devices, sync and (as types) the screens. */
import type { KeyRole } from './key-roles.js';
import type { DenyReason } from './reasons.js';

export type Direction = 'entry' | 'exit';
export type CheckpointDirection = Direction | 'both';

/**
 * How the person identified themselves: a signed QR pass or a printed employee-number badge; a
 * visitor by the QR on their citizen ID card (`cccd`) or an EU-format health certificate (`dcc`,
 * `HC1:`): see base/common/visitor.ts.
 */
export type CredentialKind = 'pass' | 'badge' | 'cccd' | 'dcc';

/**
 * Where a scan came from; `input` marks an event of the gate's own inputs (the emergency release, the
 * passage sensor), not a scan; `trip` an event of a bus trip itself (started, ended, a rider alighted
 * when the trip ended without scanning out: see base/common/bus.ts), not a scan either. `evdev`: a
 * keyboard-mode (HID) scanner read straight from its Linux input device on a unit without screens.
 * `declaration`: a health declaration taken on the kiosk's screen (GateEvent.declaration), not a
 * scan; `visitor`: a visitor's registration or a supervisor's decision on it (GateEvent.visit), not
 * a scan either (issue 14).
 */
export type ScanSource = 'serial' | 'stdin' | 'camera' | 'keyboard' | 'input' | 'trip' | 'evdev' | 'declaration' | 'visitor';

/** A position from the unit's GPS receiver: WGS 84 degrees, rounded to 6 decimals (about 0.1 m). */
export interface GeoPoint {
  lat: number;
  lon: number;
}

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
  /**
   * The organisation whose uploaded list names the worker, and their site (hub registry ids; absent
   * for workers of the province list or a kiosk's own CSV). Decision fields only: never ID number,
   * phone or residence.
   */
  orgId?: string;
  siteId?: string;
}

/**
 * A supervisor account made at the hub (`safegate hub supervisor add`), sent to the kiosks of its
 * site: the PIN only as its slow-KDF hash (scrypt, unpeppered: each kiosk peppers it on arrival).
 */
export interface HubSupervisor {
  id: string;
  siteId: string;
  name: string;
  pinHash: string;
}

/**
 * One HC1 signer certificate (DSC) of the hub's trust list (the `dcc` downlink stream), keyed by its
 * kid: the certificate's DER in base64, and the country the list gives for it.
 */
export interface DccSignerRecord {
  kid: string;
  country?: string;
  certificate: string;
}

/**
 * Where the hub placed this kiosk (the `placement` downlink stream): its checkpoint, the site, and
 * the organisations the checkpoint serves (empty for a device in a site but at no checkpoint).
 */
export interface Placement {
  deviceId: string;
  checkpointId: string | null;
  siteId: string;
  orgIds: string[];
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

/**
 * A device's newest remote settings document (the `settings` downlink stream, one record per device,
 * keyed by its id): the signed document (`deviceSettingsDocumentSchema` in base/common/enrolment.ts,
 * COSE_Sign1 by a downlink key as artifact `device-settings`), base64, and its version for the log.
 * The kiosk checks the document itself (signature, device id, version, its settings schema).
 */
export interface DeviceSettingsRecord {
  deviceId: string;
  version: number;
  document: string;
}

/** A policy document as the hub sends it (validated with the policy schema on arrival). */
export interface PolicyDocument {
  document: unknown;
}

/** A hub signing key sent down for rotation: its key id and public key (SPKI PEM). */
export interface HubKeyRecord {
  kid: string;
  /** What the key may sign (see key-roles.ts). */
  role: KeyRole;
  publicPem: string;
  /** When the hub stops vouching for it (epoch ms); the role's longest delivered lifetime applies anyway. */
  notAfterMs?: number;
}

/** How much room the store has (a kiosk's disk), for the heartbeat, screens and status. */
export interface DiskHealth {
  freeBytes: number | null;
  reserveInUse: boolean;
  level: 'ok' | 'low' | 'critical';
}

/** What a kiosk reports about itself (the heartbeat's figures; `safegate status` and the screens show parts). */
export interface HealthFigures {
  software: string;
  outboxDepth: number;
  oldestUnsyncedAgeS: number | null;
  scanner: 'stopped' | 'connecting' | 'ready' | 'disconnected';
  gpio: 'real' | 'simulated';
  /** Seconds since the hub last confirmed the roster current; null if never. */
  rosterAgeS: number | null;
  policyVersion: number;
  /** Events held in memory because the store could not take them (a full disk, a lock). */
  heldEvents: number;
  disk: DiskHealth | null;
  /** Enrolment, certificate and remote settings; null on a kiosk that cannot tell (e.g. before enrolment existed). */
  fleet: FleetHealth | null;
}

/** A kiosk's place in the fleet, as its heartbeat reports it (issue 12). */
export interface FleetHealth {
  enrolled: boolean;
  /** Days until the device certificate expires (1 decimal); null without one. */
  certDaysLeft: number | null;
  /** The newest applied settings document version (0: none). */
  settingsVersion: number;
  /** The last remote settings document the kiosk refused, and why; null when none is pending. */
  settingsRefused: { version: number; problems: string[] } | null;
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
  /** On both rows of an override (the deny and the allow it made): who let the person through and why. */
  override: OverrideRecord | null;
  /** A deny a signed-in supervisor may still override now (named person, recent, allowed by the policy). */
  overridable: boolean;
  /** A visitor's row (issue 14): their pseudonym; workerId is then null and displayName their name. */
  visitorId?: string;
}

/** A supervisor's override as the log and exports show it. */
export interface OverrideRecord {
  deniedSeq: number;
  allowedSeq: number;
  atMs: number;
  /** Null only for overrides made before supervisors were named. */
  supervisorId: string | null;
  supervisorName: string | null;
  /** One of OVERRIDE_REASON_CODES (base/common/policy/override.ts); 'other' for overrides made before codes. */
  reasonCode: string;
  note: string;
}


export interface EntryLogSummary {
  entries: number;
  exits: number;
  denied: number;
}

/** One scan as logged: allowed or denied, never both, never edited afterwards (except sync state). */
export interface GateEvent {
  seq: number;
  wallMs: number;
  monoUs: number;
  bootId: string;
  clockSynced: boolean;
  checkpointId: string;
  zoneId: string;
  direction: Direction;
  credentialKind: CredentialKind | 'unknown';
  /** The roster id when the credential named one we could trust; otherwise null and codeHash is set. */
  workerId: string | null;
  codeHash: string | null;
  decision: 'allow' | 'deny';
  reasons: DenyReason[];
  source: ScanSource;
  policyVersion: number;
  syncedAt: number | null;
  // Bus units only (issue 13); absent on every other event, and then nothing changes on the wire.
  /** The bus trip the event belongs to (base/common/bus.ts TRIP_ID_PATTERN). */
  tripId?: string;
  /** The trip's route, when the unit has routes and one was chosen (an identifier). */
  routeId?: string;
  /** Where the unit was at the scan: its GPS fix, or null for "no fix"; absent on a unit without GPS. */
  position?: GeoPoint | null;
  /**
   * 'gps': wallMs was read from the GPS time (a unit whose system clock was not synchronised, with a
   * GPS fix; clockSynced is then true). Absent: the system clock, synchronised or not (clockSynced).
   */
  clockSource?: 'gps';
  // Issue 14: the gate for everyone; absent on every other event.
  /**
   * On a `declaration` event only: the answers as a bitmask over DECLARATION_QUESTIONS
   * (base/common/declaration.ts; 0 = clean). Decision allow when clean, deny DECLARATION_FLAGGED when
   * not. workerId (or visitorId) names who declared.
   */
  declaration?: { answers: number };
  /**
   * A visitor's pseudonym (base/common/visitor.ts VISITOR_ID_PATTERN) on their events (registration,
   * approval, declaration, entries and exits); workerId is then null and codeHash null.
   */
  visitorId?: string;
  /**
   * On a `visitor` event: the registration (reasons [VISITOR_REGISTERED]: the name and the visit, the
   * notice version agreed to) or a supervisor's decision ([VISITOR_APPROVED] or deny
   * [VISITOR_REFUSED]: `decidedBy`, the named supervisor's id).
   */
  visit?: VisitEventDetails;
}

/** What a `visitor` event carries (kept for the trace period; never an address or a date of birth). */
export interface VisitEventDetails {
  name?: string;
  host?: string;
  purpose?: string;
  noticeVersion?: number;
  decidedBy?: string;
}

/** An event before the log numbers it. */
export type NewGateEvent = Omit<GateEvent, 'seq' | 'syncedAt'>;

/** An event as it travels to the hub. */
export type WireEvent = Omit<GateEvent, 'syncedAt'>;

/** What a manager must hear about at once. */
export type AlertKind =
  | 'flagged-entry-attempt'
  | 'quarantined-entry-attempt'
  | 'confirmed-case-entry-attempt'
  | 'supervisor-override'
  | 'emergency-open'
  | 'emergency-cleared'
  /** A bus trip started while the roster was older than the policy allows, and the bus let riders on anyway (fail open): on its TRIP_STARTED event. */
  | 'bus-stale-data';
export const ALERT_KINDS: readonly AlertKind[] = [
  'flagged-entry-attempt',
  'quarantined-entry-attempt',
  'confirmed-case-entry-attempt',
  'supervisor-override',
  'emergency-open',
  'emergency-cleared',
  'bus-stale-data',
];
/** Alerts about the gate itself (the emergency release held it open, and let go; a bus ran on old data): they name no worker. */
export const GATE_ALERT_KINDS: readonly AlertKind[] = ['emergency-open', 'emergency-cleared', 'bus-stale-data'];

/** The data streams the hub sends down, each with its own cursor on the kiosk. */
export const DOWNLINK_STREAMS = ['roster', 'notices', 'revocations', 'policy', 'keys', 'placement', 'supervisors', 'settings', 'dcc'] as const;
export type DownlinkStream = (typeof DOWNLINK_STREAMS)[number];

/** Where a kiosk stands in one downlink stream. Times are epoch ms. */
export interface StreamCursor {
  /** The revision applied (0: nothing yet). */
  cursor: number;
  appliedAt: number | null;
  /** When the hub last confirmed this data current (its age is shown and the policy acts on it). */
  checkedAt: number | null;
}

/** A transfer partly received: which parts of which revision range are staged. */
export interface StagedTransfer {
  kind: 'snapshot' | 'delta';
  from: number;
  to: number;
  parts: number;
  have: number[];
}
