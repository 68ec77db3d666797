import type { Statement } from 'better-sqlite3';
import { openDatabase, type SqliteDatabase } from '../../base/node/sqlite.js';
import type { WireEvent } from '../batch-codec.js';
import type { VisitEventDetails } from '../../base/common/types.js';
import * as m0001 from './migrations/0001-hub-events.js';
import * as m0002 from './migrations/0002-alerts-heartbeats.js';
import * as m0004 from './migrations/0004-alert-note.js';
import * as m0005 from './migrations/0005-event-time.js';
import * as m0006 from './migrations/0006-organisation-stamp.js';
import * as m0003 from './migrations/0003-dating.js';
import * as m0007 from './migrations/0007-trace-place.js';
import * as m0008 from './migrations/0008-trips.js';
import * as m0009 from './migrations/0009-gate-for-everyone.js';
import * as m0010 from './migrations/0010-visitor-place.js';
import { dateEvent, type ClockTrust } from './dating.js';
import type { ClockAnchor } from '../batch-codec.js';
import type { Alert, Heartbeat } from '../protocol.js';
import { sqliteTrips, type HubTrip, type TripQuery } from './trips.js';

export interface IngestResult {
  inserted: number;
  duplicates: number;
  /** Every event of the device up to here is stored. */
  contiguousSeq: number;
  /** Missing ranges [from, to] between contiguousSeq and the highest number seen. */
  gaps: [number, number][];
}

/** One batch to store: a device's events, when the hub received them, and the clock anchor it came with. */
export interface IngestRequest {
  deviceId: string;
  events: readonly WireEvent[];
  receivedMs: number;
  anchor?: ClockAnchor | null | undefined;
  /** The organisation of each worker of these events on an organisation's list, as the hub receives them: stamped on the events (HubStore.stampOrganisations). */
  orgOf?: ReadonlyMap<string, string> | undefined;
}

/**
 * The hub's event store. `ingest` is durable when it returns and idempotent on (device, seq); the
 * SQLite and PostgreSQL implementations pass one contract test.
 */
/**
 * Which events: times are the event's time as the hub dates it (its corrected time where it could
 * date a kiosk without a synchronised clock, else the kiosk's), from `sinceMs` (inclusive) to
 * `untilMs` (exclusive).
 */
export interface EventFilter {
  deviceId?: string;
  /** Only these devices (a site's, in one query). */
  deviceIds?: readonly string[];
  /** Only these workers' events. */
  workerIds?: readonly string[];
  /** Only events stamped with this organisation (its list held the worker when the hub received the event). */
  orgId?: string;
  sinceMs?: number;
  untilMs?: number;
  /** Only passages this way (entries into the checkpoint, or exits). */
  direction?: 'entry' | 'exit';
  /** Only passages: not the records a kiosk takes (declarations, visitors' registrations and decisions, issue 14). */
  passagesOnly?: boolean;
}

/**
 * The sources of events that record something taken at a kiosk rather than a scan at the door (issue
 * 14): a health declaration, a visitor's registration or a supervisor's decision on it. They are no
 * passage: not presence for tracing, not a rider, not relayed as a passage, not counted as one.
 */
export function isRecordSource(source: WireEvent['source']): boolean {
  return source === 'declaration' || source === 'visitor';
}

/** SQL: the event is a passage (not a record, see RECORD_SOURCES). */
export const PASSAGE_SQL = "source NOT IN ('declaration', 'visitor')";

/** Where a page of events newest first ended: the next page starts below it. */
export interface EventCursor {
  timeMs: number;
  deviceId: string;
  seq: number;
}

/** Events by decision and reasons (the reasons as the kiosk listed them), for a day's counts. */
export interface EventCount {
  decision: string;
  reasons: string[];
  count: number;
}

/**
 * A heartbeat as stored (the JSON the hub parsed when it arrived). Heartbeats stored before a field
 * with a default existed lack it: reading fills the default in, so readers see the protocol's type.
 */
export function storedHeartbeat(hb: Heartbeat): Heartbeat {
  return { ...hb, heldEvents: hb.heldEvents ?? 0, disk: hb.disk ?? null, fleet: hb.fleet ?? null };
}

/** What the hub knows of a device: when it last heard from it (a heartbeat or a batch) and its last heartbeat. */
export interface DeviceStatus {
  lastSeenMs: number | null;
  heartbeat: Heartbeat | null;
}

/** A stretch of the hub's time at one checkpoint, from `sinceMs` (inclusive) to `untilMs` (exclusive). */
export interface CheckpointWindow {
  checkpointId: string;
  sinceMs: number;
  untilMs: number;
}

/**
 * An event the gate allowed, reduced to what tracing reads: who passed, where (the device and the
 * checkpoint and zone it reported), which way, when by the hub's corrected time, and how far that time
 * is trusted.
 */
export interface PresenceEvent {
  deviceId: string;
  checkpointId: string;
  zoneId: string;
  workerId: string;
  direction: WireEvent['direction'];
  timeMs: number;
  clock: ClockTrust;
  /** A bus unit's trip (issue 13): tracing makes the trip its own place. */
  tripId?: string;
}

/** The windows of each checkpoint sorted and merged where they touch or overlap, so no event is read twice. */
export function mergeCheckpointWindows(windows: readonly CheckpointWindow[]): CheckpointWindow[] {
  const sorted = windows.filter((w) => w.untilMs > w.sinceMs).sort((a, b) => (a.checkpointId < b.checkpointId ? -1 : a.checkpointId > b.checkpointId ? 1 : a.sinceMs - b.sinceMs));
  const out: CheckpointWindow[] = [];
  for (const w of sorted) {
    const last = out.at(-1);
    if (last && last.checkpointId === w.checkpointId && w.sinceMs <= last.untilMs) last.untilMs = Math.max(last.untilMs, w.untilMs);
    else out.push({ ...w });
  }
  return out;
}

/** A presence row (SQLite or PostgreSQL, as an array of {@link PRESENCE_COLUMNS}: tens of thousands a trace) as the event it is. */
export function presenceFromRow(r: unknown[]): PresenceEvent {
  return {
    deviceId: r[0] as string,
    checkpointId: r[1] as string,
    zoneId: r[2] as string,
    workerId: r[3] as string,
    direction: r[4] as WireEvent['direction'],
    timeMs: Number(r[5]),
    clock: r[6] as ClockTrust,
    ...(typeof r[7] === 'string' ? { tripId: r[7] } : {}),
  };
}

/** A visitor's registration as the hub received it (a `visitor` event with the visit's name). */
export interface VisitorRegistration {
  visitorId: string;
  /** The hub's time of the registration. */
  timeMs: number;
  name: string;
  host: string;
  purpose: string;
}

/** The columns of a visitor's {@link PresenceEvent} row (the pseudonym where a worker's id stands). */
export const VISITOR_PRESENCE_COLUMNS = 'device_id, checkpoint_id, zone_id, visitor_id, direction, coalesce(corrected_wall_ms, wall_ms) AS t, clock, trip_id';

/** Registrations from rows of `visitor` events (visit JSON text); those without a name are decisions, not registrations. */
export function registrationsFromRows(rows: readonly { visitor_id: string; t: number | string; visit: string | null }[]): VisitorRegistration[] {
  const out: VisitorRegistration[] = [];
  for (const r of rows) {
    if (r.visit === null) continue;
    const v = JSON.parse(r.visit) as VisitEventDetails;
    if (typeof v.name !== 'string') continue;
    out.push({ visitorId: r.visitor_id, timeMs: Number(r.t), name: v.name, host: v.host ?? '', purpose: v.purpose ?? '' });
  }
  return out.sort((a, b) => a.timeMs - b.timeMs || (a.visitorId < b.visitorId ? -1 : a.visitorId > b.visitorId ? 1 : 0));
}

/** Where a device said it was: the checkpoint and zone ids in its events. */
export interface ReportedPlace {
  checkpointId: string;
  zoneId: string;
}

export interface ReportedRow {
  device_id: string;
  checkpoint_id: string;
  zone_id: string;
}

/** {@link HubStore.reportedPlaces} from rows of a device's first and last events. */
export function reportedFromRows(rows: readonly ReportedRow[]): Map<string, ReportedPlace[]> {
  const out = new Map<string, ReportedPlace[]>();
  for (const r of rows) {
    const list = out.get(r.device_id) ?? [];
    if (!list.some((p) => p.checkpointId === r.checkpoint_id && p.zoneId === r.zone_id)) list.push({ checkpointId: r.checkpoint_id, zoneId: r.zone_id });
    out.set(r.device_id, list);
  }
  return out;
}

/** The columns of a {@link PresenceEvent} row. */
export const PRESENCE_COLUMNS = 'device_id, checkpoint_id, zone_id, worker_id, direction, coalesce(corrected_wall_ms, wall_ms) AS t, clock, trip_id';

/** An event's organisation as the hub stamped it at receipt (see HubStore.stampOrganisations). */
export interface OrganisationStamp {
  deviceId: string;
  seq: number;
  orgId: string;
}

export interface HubStore {
  ingest(deviceId: string, events: readonly WireEvent[], receivedMs: number, anchor?: ClockAnchor | null): Promise<IngestResult>;
  /**
   * Several batches (a group commit: several devices' at once) in one transaction, durable together
   * when it returns; the results in the order given. Each batch is taken as `ingest` takes it, a
   * device's batches in the order given.
   */
  ingestMany(batches: readonly IngestRequest[]): Promise<IngestResult[]>;
  /** Every matching event, each device's in sequence order. */
  events(filter?: EventFilter): AsyncIterable<HubEvent>;
  /** At most `limit` matching events, newest first, after `before` when given (paging). */
  latestEvents(filter: EventFilter & { limit: number; before?: EventCursor }): Promise<HubEvent[]>;
  /** How many matching events there are by decision and reasons (counted by the database). */
  eventCounts(filter: EventFilter): Promise<EventCount[]>;
  /** What the hub knows of each of these devices, in one query (unknown ones have nulls). */
  deviceStatus(deviceIds: readonly string[]): Promise<Map<string, DeviceStatus>>;
  /**
   * Stamps events just received with the organisation whose list held their worker then (an event
   * stamped already keeps its stamp). The console scopes a manager's history by it.
   */
  stampOrganisations(stamps: readonly OrganisationStamp[]): Promise<void>;
  /** Stores an alert once per (device, seq), with its worker's organisation at receipt; true when it was new. */
  recordAlert(deviceId: string, alert: Alert, receivedMs: number, orgId?: string): Promise<boolean>;
  /** Every alert, or only those named by device and sequence number (a page of the console's alert book). */
  alerts(keys?: readonly { deviceId: string; seq: number }[]): Promise<(Alert & { deviceId: string; orgId?: string })[]>;
  recordHeartbeat(deviceId: string, heartbeat: Heartbeat, receivedMs: number): Promise<void>;
  lastHeartbeat(deviceId: string): Promise<Heartbeat | undefined>;
  /** When the hub last heard from each of these devices (a heartbeat or a batch), epoch ms; unknown ones are absent. */
  lastSeen(deviceIds: readonly string[]): Promise<Map<string, number>>;
  /** Every device the hub has heard from (a heartbeat or a batch, within the retention), sorted. */
  heardDevices(): Promise<string[]>;
  /**
   * Deletes what is older than the retention: events that happened (or, for a clock the hub could
   * not date, were received) before `beforeMs`, alerts raised before it, heartbeats of devices silent
   * since. Each device's sequence watermark stays, so a late resend is still recognised.
   */
  purgeBefore(beforeMs: number): Promise<{ events: number; alerts: number; heartbeats: number }>;
  /**
   * Erases the answer bits of kiosk declarations that happened before `beforeMs` (Decree 13: kept 14
   * days, DECLARATION_ANSWERS_KEPT_DAYS), keeping the events; returns how many.
   */
  clearDeclarationBitsBefore(beforeMs: number): Promise<number>;
  /** Everything the store holds about one worker (a Decree 13 access request): their events and alerts, by time. */
  personData(workerId: string): Promise<{ events: HubEvent[]; alerts: (Alert & { deviceId: string })[] }>;
  /**
   * Erasure (Decree 13): the worker's events keep their device, time, place, direction and decision
   * (how many passed where and when) but lose who it was and why they were refused (worker id, code
   * hash and reasons); their alerts are deleted. Sequence numbers and watermarks are untouched.
   */
  anonymiseWorker(workerId: string): Promise<{ events: number; alerts: number }>;
  /**
   * Tracing: the allowed events of these workers from `sinceMs` to `untilMs` (the hub's time), in no
   * particular order. Read through the worker index.
   */
  workerPresence(workerIds: readonly string[], sinceMs: number, untilMs: number): Promise<PresenceEvent[]>;
  /**
   * Tracing: the allowed events naming a worker at each checkpoint within its windows (the hub's
   * time), every window in one query, each event once however the windows overlap, in no particular
   * order. Read through the place index (migration 7).
   */
  checkpointPresence(windows: readonly CheckpointWindow[]): Promise<PresenceEvent[]>;
  /**
   * Tracing: the checkpoint and zone ids each of these devices reported in its first and its last
   * event held (a kiosk placed at a checkpoint may still send an older id), by the primary key;
   * devices with no event are absent.
   */
  reportedPlaces(deviceIds: readonly string[]): Promise<Map<string, ReportedPlace[]>>;
  /**
   * Tracing visitors (issue 14): the allowed passages of these visitors from `sinceMs` to `untilMs`
   * (the hub's time), each with the visitor's pseudonym as its `workerId`, in no particular order.
   * Read through the visitor index.
   */
  visitorPresence(visitorIds: readonly string[], sinceMs: number, untilMs: number): Promise<PresenceEvent[]>;
  /**
   * Tracing visitors: the allowed passages naming a visitor at each checkpoint within its windows (as
   * checkpointPresence, the pseudonym as `workerId`). Read through the visitor place index (migration 10).
   */
  visitorCheckpointPresence(windows: readonly CheckpointWindow[]): Promise<PresenceEvent[]>;
  /** Tracing visitors: each registration of these visitors (name, host, purpose), by time. */
  visitorRegistrations(visitorIds: readonly string[]): Promise<VisitorRegistration[]>;
  /** Bus trips (issue 13) made up from their events, newest first: see sync/hub/trips.ts. */
  trips(q: TripQuery): Promise<HubTrip[]>;
  close(): Promise<void>;
}

export const HUB_MIGRATIONS = [
  { version: 1, name: '0001-hub-events', up: m0001.up },
  { version: 2, name: '0002-alerts-heartbeats', up: m0002.up },
  { version: 3, name: '0003-dating', up: m0003.up },
  { version: 4, name: '0004-alert-note', up: m0004.up },
  { version: 5, name: '0005-event-time', up: m0005.up },
  { version: 6, name: '0006-organisation-stamp', up: m0006.up },
  { version: 7, name: '0007-trace-place', up: m0007.up },
  { version: 8, name: '0008-trips', up: m0008.up },
  { version: 9, name: '0009-gate-for-everyone', up: m0009.up },
  { version: 10, name: '0010-visitor-place', up: m0010.up },
] as const;

/** An event as the hub holds it: as reported, plus how far its time can be trusted, and its worker's organisation at receipt (when on a list). */
export type HubEvent = WireEvent & { deviceId: string; clock: ClockTrust; correctedWallMs: number | null; orgId?: string };

const MAX_GAP_RANGES = 100;

/** The time an event is filtered and ordered by: the hub's corrected time, else the kiosk's (indexed, migration 5). */
export const EVENT_TIME_SQL = 'coalesce(corrected_wall_ms, wall_ms)';

/** An event's place in {@link HubStore.latestEvents}' order, to ask for the page after it. */
export function cursorOf(e: HubEvent): EventCursor {
  return { timeMs: e.correctedWallMs ?? e.wallMs, deviceId: e.deviceId, seq: e.seq };
}

/** The SQLite WHERE clause (and its named parameters) of a filter. */
function sqliteWhere(f: EventFilter & { before?: EventCursor }): { where: string; params: Record<string, unknown> } {
  const clauses = ['1 = 1'];
  const params: Record<string, unknown> = {};
  if (f.deviceId !== undefined) {
    clauses.push('device_id = @deviceId');
    params.deviceId = f.deviceId;
  }
  if (f.deviceIds) {
    clauses.push('device_id IN (SELECT value FROM json_each(@deviceIds))');
    params.deviceIds = JSON.stringify(f.deviceIds);
  }
  if (f.workerIds) {
    clauses.push('worker_id IN (SELECT value FROM json_each(@workerIds))');
    params.workerIds = JSON.stringify(f.workerIds);
  }
  if (f.orgId !== undefined) {
    clauses.push('org_id = @orgId');
    params.orgId = f.orgId;
  }
  if (f.direction !== undefined) {
    clauses.push('direction = @direction');
    params.direction = f.direction;
  }
  if (f.passagesOnly) clauses.push(PASSAGE_SQL);
  if (f.sinceMs !== undefined) {
    clauses.push(`${EVENT_TIME_SQL} >= @sinceMs`);
    params.sinceMs = f.sinceMs;
  }
  if (f.untilMs !== undefined) {
    clauses.push(`${EVENT_TIME_SQL} < @untilMs`);
    params.untilMs = f.untilMs;
  }
  if (f.before) {
    clauses.push(`(${EVENT_TIME_SQL}, device_id, seq) < (@beforeMs, @beforeDevice, @beforeSeq)`);
    Object.assign(params, { beforeMs: f.before.timeMs, beforeDevice: f.before.deviceId, beforeSeq: f.before.seq });
  }
  return { where: clauses.join(' AND '), params };
}

/**
 * The index a ranged read goes through, chosen here: without statistics SQLite would rather take a
 * site's devices by the primary key and so read every event they ever sent. A few workers' events are
 * read by the worker index; a day of many workers' (a manager's organisation) or of everyone's, by the time index.
 */
function sqliteTimeTable(f: EventFilter): string {
  if (f.workerIds !== undefined && f.workerIds.length <= 1000) return 'hub_events INDEXED BY hub_events_worker';
  return f.sinceMs !== undefined || f.untilMs !== undefined ? 'hub_events INDEXED BY hub_events_time' : 'hub_events';
}

/** The SQLite query of {@link HubStore.latestEvents} (exported for its query-plan test). */
export function sqliteLatestEvents(filter: EventFilter & { limit: number; before?: EventCursor }): { sql: string; params: Record<string, unknown> } {
  const { where, params } = sqliteWhere(filter);
  return {
    sql: `SELECT * FROM ${sqliteTimeTable(filter)} WHERE ${where} ORDER BY ${EVENT_TIME_SQL} DESC, device_id DESC, seq DESC LIMIT @limit`,
    params: { ...params, limit: filter.limit },
  };
}

/** A hub_events row (SQLite or PostgreSQL) as the event it records. */
export function hubEventFromRow(r: Record<string, unknown>): HubEvent {
  return {
    deviceId: r.device_id as string,
    seq: r.seq as number,
    wallMs: r.wall_ms as number,
    monoUs: r.mono_us as number,
    bootId: r.boot_id as string,
    // SQLite stores 0/1, PostgreSQL a boolean.
    clockSynced: r.clock_synced === 1 || r.clock_synced === true,
    checkpointId: r.checkpoint_id as string,
    zoneId: r.zone_id as string,
    direction: r.direction as WireEvent['direction'],
    credentialKind: r.credential_kind as WireEvent['credentialKind'],
    workerId: r.worker_id as string | null,
    codeHash: r.code_hash as string | null,
    decision: r.decision as WireEvent['decision'],
    reasons: (r.reasons as string) === '' ? [] : ((r.reasons as string).split(' ') as WireEvent['reasons']),
    source: r.source as WireEvent['source'],
    policyVersion: r.policy_version as number,
    clock: r.clock as ClockTrust,
    correctedWallMs: r.corrected_wall_ms as number | null,
    ...(typeof r.org_id === 'string' ? { orgId: r.org_id } : {}),
    ...busFieldsFromRow(r),
    ...everyoneFieldsFromRow(r),
  };
}

/** The gate for everyone's fields of an event (issue 14) as hub_events columns; all NULL on most events. */
export interface EveryoneColumns {
  declarationBits: number | null;
  visitorId: string | null;
  /** VisitEventDetails as JSON. */
  visit: string | null;
}

export function everyoneColumnsOf(e: WireEvent): EveryoneColumns {
  return {
    declarationBits: e.declaration?.answers ?? null,
    visitorId: e.visitorId ?? null,
    visit: e.visit === undefined ? null : JSON.stringify(e.visit),
  };
}

const NO_EVERYONE_COLUMNS: EveryoneColumns = Object.freeze({ declarationBits: null, visitorId: null, visit: null });

/** Whether an event carries a declaration's answers, a visitor id or visit details (issue 14). */
export function hasEveryoneFields(e: WireEvent): boolean {
  return e.declaration !== undefined || e.visitorId !== undefined || e.visit !== undefined;
}

/** The gate for everyone's fields of a hub_events row, absent when NULL (as on the event that was sent). */
function everyoneFieldsFromRow(r: Record<string, unknown>): Partial<Pick<WireEvent, 'declaration' | 'visitorId' | 'visit'>> {
  const out: Partial<Pick<WireEvent, 'declaration' | 'visitorId' | 'visit'>> = {};
  if (r.declaration_bits !== null && r.declaration_bits !== undefined) out.declaration = { answers: Number(r.declaration_bits) };
  if (typeof r.visitor_id === 'string') out.visitorId = r.visitor_id;
  if (typeof r.visit === 'string') out.visit = JSON.parse(r.visit) as VisitEventDetails;
  return out;
}

/** The bus fields of an event (GateEvent.tripId ... clockSource) as hub_events columns; all NULL for a gate kiosk's. */
export interface BusColumns {
  tripId: string | null;
  routeId: string | null;
  lat: number | null;
  lon: number | null;
  position: 'fix' | 'no-fix' | null;
  clockSource: 'gps' | null;
}

export function busColumnsOf(e: WireEvent): BusColumns {
  return {
    tripId: e.tripId ?? null,
    routeId: e.routeId ?? null,
    lat: e.position ? e.position.lat : null,
    lon: e.position ? e.position.lon : null,
    position: e.position === undefined ? null : e.position === null ? 'no-fix' : 'fix',
    clockSource: e.clockSource ?? null,
  };
}

const NO_BUS_COLUMNS: BusColumns = Object.freeze({ tripId: null, routeId: null, lat: null, lon: null, position: null, clockSource: null });

/** Whether an event carries any bus field (a bus unit's): a gate kiosk's event has none. */
export function hasBusFields(e: WireEvent): boolean {
  return e.tripId !== undefined || e.routeId !== undefined || e.position !== undefined || e.clockSource !== undefined;
}

/** The bus fields of a hub_events row, absent when NULL (as on the event that was sent). */
function busFieldsFromRow(r: Record<string, unknown>): Partial<Pick<WireEvent, 'tripId' | 'routeId' | 'position' | 'clockSource'>> {
  const out: Partial<Pick<WireEvent, 'tripId' | 'routeId' | 'position' | 'clockSource'>> = {};
  if (typeof r.trip_id === 'string') out.tripId = r.trip_id;
  if (typeof r.route_id === 'string') out.routeId = r.route_id;
  if (r.position === 'fix') out.position = { lat: Number(r.lat), lon: Number(r.lon) };
  else if (r.position === 'no-fix') out.position = null;
  if (r.clock_source === 'gps') out.clockSource = 'gps';
  return out;
}

export function alertFromRow(r: Record<string, unknown>): Alert & { deviceId: string; orgId?: string } {
  return {
    v: 1,
    deviceId: r.device_id as string,
    kind: r.kind as Alert['kind'],
    seq: r.seq as number,
    atMs: r.at_ms as number,
    checkpointId: r.checkpoint_id as string,
    // An alert about the gate itself (emergency release) names no worker: stored as '' in a column
    // that predates such alerts and is NOT NULL.
    ...(r.worker_id ? { workerId: r.worker_id as string } : {}),
    reasons: (r.reasons as string) === '' ? [] : (r.reasons as string).split(' '),
    ...(typeof r.note === 'string' ? { note: r.note } : {}),
    ...(typeof r.org_id === 'string' ? { orgId: r.org_id } : {}),
  };
}

export class SqliteHubStore implements HubStore {
  private readonly db: SqliteDatabase;
  private readonly insert: Statement;
  private readonly device: Statement;
  private readonly upsertDevice: Statement;
  private readonly above: Statement;

  constructor(path: string) {
    this.db = openDatabase(path, { migrations: HUB_MIGRATIONS, busyTimeoutMs: 5_000 });
    // A bus unit's events (issue 13) also carry their trip, route, position and clock source: NULL for a gate kiosk's.
    this.insert = this.db.prepare(`
      INSERT INTO hub_events (device_id, seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction,
        credential_kind, worker_id, code_hash, decision, reasons, source, policy_version, received_ms, clock, corrected_wall_ms, org_id,
        trip_id, route_id, lat, lon, position, clock_source, declaration_bits, visitor_id, visit)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (device_id, seq) DO NOTHING`);
    this.device = this.db.prepare('SELECT contiguous_seq, max_seq FROM devices WHERE device_id = ?');
    this.upsertDevice = this.db.prepare(`
      INSERT INTO devices (device_id, contiguous_seq, max_seq, last_seen_ms) VALUES (?, ?, ?, ?)
      ON CONFLICT (device_id) DO UPDATE SET contiguous_seq = excluded.contiguous_seq, max_seq = excluded.max_seq,
        last_seen_ms = excluded.last_seen_ms`);
    this.above = this.db.prepare('SELECT seq FROM hub_events WHERE device_id = ? AND seq > ? ORDER BY seq');
  }

  async ingest(deviceId: string, events: readonly WireEvent[], receivedMs: number, anchor?: ClockAnchor | null): Promise<IngestResult> {
    return this.db.transaction(() => this.ingestInTransaction({ deviceId, events, receivedMs, anchor })).immediate();
  }

  async ingestMany(batches: readonly IngestRequest[]): Promise<IngestResult[]> {
    return this.db.transaction(() => batches.map((b) => this.ingestInTransaction(b))).immediate();
  }

  private ingestInTransaction({ deviceId, events, receivedMs, anchor, orgOf }: IngestRequest): IngestResult {
    const prev = (this.device.get(deviceId) as { contiguous_seq: number; max_seq: number } | undefined) ?? {
      contiguous_seq: 0,
      max_seq: 0,
    };
    let inserted = 0;
    for (const e of events) {
      // At or below the watermark everything was stored already (perhaps since purged by retention).
      if (e.seq <= prev.contiguous_seq) continue;
      // Positional parameters: this loop runs for every event a province sends.
      const d = dateEvent(e, anchor);
      // A gate kiosk's event (nothing of a bus) binds six NULLs without building its bus columns.
      const b = hasBusFields(e) ? busColumnsOf(e) : NO_BUS_COLUMNS;
      const v = hasEveryoneFields(e) ? everyoneColumnsOf(e) : NO_EVERYONE_COLUMNS;
      inserted += this.insert.run(
        deviceId, e.seq, e.wallMs, e.monoUs, e.bootId, e.clockSynced ? 1 : 0, e.checkpointId, e.zoneId, e.direction,
        e.credentialKind, e.workerId, e.codeHash, e.decision, e.reasons.join(' '), e.source, e.policyVersion, receivedMs,
        d.clock, d.correctedWallMs, (e.workerId !== null && orgOf?.get(e.workerId)) || null,
        b.tripId, b.routeId, b.lat, b.lon, b.position, b.clockSource, v.declarationBits, v.visitorId, v.visit,
      ).changes;
    }
    // Walk only what lies above the old watermark: usually just this batch.
    let contiguous = prev.contiguous_seq;
    let expected = contiguous + 1;
    const gaps: [number, number][] = [];
    for (const { seq } of this.above.iterate(deviceId, prev.contiguous_seq) as Iterable<{ seq: number }>) {
      if (seq > expected && gaps.length < MAX_GAP_RANGES) gaps.push([expected, seq - 1]);
      if (gaps.length === 0) contiguous = seq;
      expected = seq + 1;
    }
    const maxSeq = Math.max(prev.max_seq, expected - 1);
    this.upsertDevice.run(deviceId, contiguous, maxSeq, receivedMs);
    return { inserted, duplicates: events.length - inserted, contiguousSeq: contiguous, gaps };
  }

  async *events(filter: EventFilter = {}): AsyncIterable<HubEvent> {
    const { where, params } = sqliteWhere(filter);
    const rows = this.db.prepare(`SELECT * FROM hub_events WHERE ${where} ORDER BY device_id, seq`).iterate(params) as Iterable<Record<string, unknown>>;
    for (const r of rows) yield hubEventFromRow(r);
  }

  async latestEvents(filter: EventFilter & { limit: number; before?: EventCursor }): Promise<HubEvent[]> {
    const { sql, params } = sqliteLatestEvents(filter);
    return (this.db.prepare(sql).all(params) as Record<string, unknown>[]).map(hubEventFromRow);
  }

  async eventCounts(filter: EventFilter): Promise<EventCount[]> {
    const { where, params } = sqliteWhere(filter);
    const rows = this.db.prepare(`SELECT decision, reasons, count(*) AS n FROM ${sqliteTimeTable(filter)} WHERE ${where} GROUP BY decision, reasons`).all(params) as {
      decision: string;
      reasons: string;
      n: number;
    }[];
    return rows.map((r) => ({ decision: r.decision, reasons: r.reasons ? r.reasons.split(' ') : [], count: r.n }));
  }

  async deviceStatus(deviceIds: readonly string[]): Promise<Map<string, DeviceStatus>> {
    const rows = this.db
      .prepare(
        `SELECT d.value AS id, v.last_seen_ms AS seen, h.received_ms AS heard, h.heartbeat
         FROM json_each(?) AS d LEFT JOIN devices v ON v.device_id = d.value LEFT JOIN device_heartbeats h ON h.device_id = d.value`,
      )
      .all(JSON.stringify(deviceIds)) as { id: string; seen: number | null; heard: number | null; heartbeat: string | null }[];
    return new Map(rows.map((r) => [r.id, { lastSeenMs: Math.max(r.seen ?? 0, r.heard ?? 0) || null, heartbeat: r.heartbeat ? storedHeartbeat(JSON.parse(r.heartbeat) as Heartbeat) : null }]));
  }

  async stampOrganisations(stamps: readonly OrganisationStamp[]): Promise<void> {
    if (stamps.length === 0) return;
    const stamp = this.db.prepare('UPDATE hub_events SET org_id = ? WHERE device_id = ? AND seq = ? AND org_id IS NULL');
    this.db.transaction(() => {
      for (const s of stamps) stamp.run(s.orgId, s.deviceId, s.seq);
    }).immediate();
  }

  async recordAlert(deviceId: string, a: Alert, receivedMs: number, orgId?: string): Promise<boolean> {
    const r = this.db
      .prepare(
        `INSERT INTO hub_alerts (device_id, seq, kind, at_ms, checkpoint_id, worker_id, reasons, received_ms, note, org_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .run(deviceId, a.seq, a.kind, a.atMs, a.checkpointId, a.workerId ?? '', a.reasons.join(' '), receivedMs, a.note ?? null, orgId ?? null);
    return r.changes === 1;
  }

  async alerts(keys?: readonly { deviceId: string; seq: number }[]): Promise<(Alert & { deviceId: string; orgId?: string })[]> {
    if (keys === undefined) return (this.db.prepare('SELECT * FROM hub_alerts ORDER BY received_ms, device_id, seq').all() as Record<string, unknown>[]).map(alertFromRow);
    const rows: Record<string, unknown>[] = [];
    // Each key by the primary key (device_id, seq), a few hundred to a statement.
    for (let i = 0; i < keys.length; i += 500) {
      const part = keys.slice(i, i + 500);
      const where = part.map(() => '(device_id = ? AND seq = ?)').join(' OR ');
      rows.push(...(this.db.prepare(`SELECT * FROM hub_alerts WHERE ${where}`).all(...part.flatMap((k) => [k.deviceId, k.seq])) as Record<string, unknown>[]));
    }
    return rows.sort((a, b) => Number(a.received_ms) - Number(b.received_ms) || String(a.device_id).localeCompare(String(b.device_id)) || Number(a.seq) - Number(b.seq)).map(alertFromRow);
  }

  async recordHeartbeat(deviceId: string, hb: Heartbeat, receivedMs: number): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO device_heartbeats (device_id, heartbeat, received_ms) VALUES (?, ?, ?)
         ON CONFLICT (device_id) DO UPDATE SET heartbeat = excluded.heartbeat, received_ms = excluded.received_ms`,
      )
      .run(deviceId, JSON.stringify(hb), receivedMs);
  }

  async lastHeartbeat(deviceId: string): Promise<Heartbeat | undefined> {
    const row = this.db.prepare('SELECT heartbeat FROM device_heartbeats WHERE device_id = ?').get(deviceId) as { heartbeat: string } | undefined;
    return row ? storedHeartbeat(JSON.parse(row.heartbeat) as Heartbeat) : undefined;
  }

  async heardDevices(): Promise<string[]> {
    const rows = this.db.prepare('SELECT device_id FROM devices UNION SELECT device_id FROM device_heartbeats ORDER BY 1').all() as { device_id: string }[];
    return rows.map((r) => r.device_id);
  }

  async lastSeen(deviceIds: readonly string[]): Promise<Map<string, number>> {
    const stmt = this.db.prepare(`
      SELECT max(coalesce((SELECT last_seen_ms FROM devices WHERE device_id = @id), 0),
                 coalesce((SELECT received_ms FROM device_heartbeats WHERE device_id = @id), 0)) AS seen`);
    const seen = new Map<string, number>();
    for (const id of deviceIds) {
      const { seen: at } = stmt.get({ id }) as { seen: number };
      if (at > 0) seen.set(id, at);
    }
    return seen;
  }

  async purgeBefore(beforeMs: number): Promise<{ events: number; alerts: number; heartbeats: number }> {
    return this.db
      .transaction(() => ({
        events: this.db.prepare('DELETE FROM hub_events WHERE coalesce(corrected_wall_ms, wall_ms) < ? AND received_ms < ?').run(beforeMs, beforeMs).changes,
        alerts: this.db.prepare('DELETE FROM hub_alerts WHERE at_ms < ? AND received_ms < ?').run(beforeMs, beforeMs).changes,
        heartbeats: this.db.prepare('DELETE FROM device_heartbeats WHERE received_ms < ?').run(beforeMs).changes,
      }))
      .immediate();
  }

  async clearDeclarationBitsBefore(beforeMs: number): Promise<number> {
    return this.db.prepare('UPDATE hub_events SET declaration_bits = NULL WHERE declaration_bits IS NOT NULL AND coalesce(corrected_wall_ms, wall_ms) < ?').run(beforeMs).changes;
  }

  async personData(workerId: string): Promise<{ events: HubEvent[]; alerts: (Alert & { deviceId: string })[] }> {
    const events = this.db.prepare('SELECT * FROM hub_events WHERE worker_id = ? ORDER BY wall_ms, device_id, seq').all(workerId) as Record<string, unknown>[];
    const alerts = this.db.prepare('SELECT * FROM hub_alerts WHERE worker_id = ? ORDER BY at_ms, device_id, seq').all(workerId) as Record<string, unknown>[];
    return { events: events.map(hubEventFromRow), alerts: alerts.map(alertFromRow) };
  }

  async anonymiseWorker(workerId: string): Promise<{ events: number; alerts: number }> {
    return this.db
      .transaction(() => ({
        events: this.db.prepare("UPDATE hub_events SET worker_id = NULL, code_hash = NULL, reasons = '', declaration_bits = NULL WHERE worker_id = ?").run(workerId).changes,
        alerts: this.db.prepare('DELETE FROM hub_alerts WHERE worker_id = ?').run(workerId).changes,
      }))
      .immediate();
  }

  async workerPresence(workerIds: readonly string[], sinceMs: number, untilMs: number): Promise<PresenceEvent[]> {
    if (workerIds.length === 0 || untilMs <= sinceMs) return [];
    const rows = this.db
      .prepare(
        `SELECT ${PRESENCE_COLUMNS} FROM hub_events INDEXED BY hub_events_worker
         WHERE worker_id IN (SELECT value FROM json_each(@workers)) AND worker_id IS NOT NULL AND decision = 'allow' AND ${PASSAGE_SQL}
           AND ${EVENT_TIME_SQL} >= @sinceMs AND ${EVENT_TIME_SQL} < @untilMs`,
      )
      .raw(true)
      .all({ workers: JSON.stringify([...new Set(workerIds)]), sinceMs, untilMs }) as unknown[][];
    return rows.map(presenceFromRow);
  }

  async checkpointPresence(windows: readonly CheckpointWindow[]): Promise<PresenceEvent[]> {
    const merged = mergeCheckpointWindows(windows);
    if (merged.length === 0) return [];
    // One range of the place index per window (the windows are a table the loop walks first).
    const rows = this.db
      .prepare(
        `SELECT e.device_id, e.checkpoint_id, e.zone_id, e.worker_id, e.direction, coalesce(e.corrected_wall_ms, e.wall_ms) AS t, e.clock, e.trip_id
         FROM json_each(@windows) AS w CROSS JOIN hub_events AS e INDEXED BY hub_events_place
         WHERE e.checkpoint_id = json_extract(w.value, '$[0]') AND e.worker_id IS NOT NULL AND e.decision = 'allow' AND e.${PASSAGE_SQL}
           AND coalesce(e.corrected_wall_ms, e.wall_ms) >= json_extract(w.value, '$[1]') AND coalesce(e.corrected_wall_ms, e.wall_ms) < json_extract(w.value, '$[2]')`,
      )
      .raw(true)
      .all({ windows: JSON.stringify(merged.map((w) => [w.checkpointId, w.sinceMs, w.untilMs])) }) as unknown[][];
    return rows.map(presenceFromRow);
  }

  async reportedPlaces(deviceIds: readonly string[]): Promise<Map<string, ReportedPlace[]>> {
    if (deviceIds.length === 0) return new Map();
    const rows = this.db
      .prepare(
        `SELECT d.value AS device_id, e.checkpoint_id, e.zone_id FROM json_each(@devices) AS d
         JOIN hub_events e ON e.device_id = d.value
           AND (e.seq = (SELECT min(seq) FROM hub_events WHERE device_id = d.value) OR e.seq = (SELECT max(seq) FROM hub_events WHERE device_id = d.value))`,
      )
      .all({ devices: JSON.stringify([...new Set(deviceIds)]) }) as ReportedRow[];
    return reportedFromRows(rows);
  }

  async visitorPresence(visitorIds: readonly string[], sinceMs: number, untilMs: number): Promise<PresenceEvent[]> {
    if (visitorIds.length === 0 || untilMs <= sinceMs) return [];
    const rows = this.db
      .prepare(
        `SELECT ${VISITOR_PRESENCE_COLUMNS} FROM hub_events INDEXED BY hub_events_visitor
         WHERE visitor_id IN (SELECT value FROM json_each(@visitors)) AND visitor_id IS NOT NULL AND decision = 'allow' AND ${PASSAGE_SQL}
           AND ${EVENT_TIME_SQL} >= @sinceMs AND ${EVENT_TIME_SQL} < @untilMs`,
      )
      .raw(true)
      .all({ visitors: JSON.stringify([...new Set(visitorIds)]), sinceMs, untilMs }) as unknown[][];
    return rows.map(presenceFromRow);
  }

  async visitorCheckpointPresence(windows: readonly CheckpointWindow[]): Promise<PresenceEvent[]> {
    const merged = mergeCheckpointWindows(windows);
    if (merged.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT e.device_id, e.checkpoint_id, e.zone_id, e.visitor_id, e.direction, coalesce(e.corrected_wall_ms, e.wall_ms) AS t, e.clock, e.trip_id
         FROM json_each(@windows) AS w CROSS JOIN hub_events AS e INDEXED BY hub_events_visitor_place
         WHERE e.checkpoint_id = json_extract(w.value, '$[0]') AND e.visitor_id IS NOT NULL AND e.decision = 'allow' AND e.${PASSAGE_SQL}
           AND coalesce(e.corrected_wall_ms, e.wall_ms) >= json_extract(w.value, '$[1]') AND coalesce(e.corrected_wall_ms, e.wall_ms) < json_extract(w.value, '$[2]')`,
      )
      .raw(true)
      .all({ windows: JSON.stringify(merged.map((w) => [w.checkpointId, w.sinceMs, w.untilMs])) }) as unknown[][];
    return rows.map(presenceFromRow);
  }

  async visitorRegistrations(visitorIds: readonly string[]): Promise<VisitorRegistration[]> {
    if (visitorIds.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT visitor_id, ${EVENT_TIME_SQL} AS t, visit FROM hub_events INDEXED BY hub_events_visitor
         WHERE visitor_id IN (SELECT value FROM json_each(@visitors)) AND visitor_id IS NOT NULL AND source = 'visitor' AND visit IS NOT NULL`,
      )
      .all({ visitors: JSON.stringify([...new Set(visitorIds)]) }) as { visitor_id: string; t: number; visit: string | null }[];
    return registrationsFromRows(rows);
  }

  async trips(q: TripQuery): Promise<HubTrip[]> {
    return sqliteTrips(this.db, q);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
