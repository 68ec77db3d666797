import type pg from 'pg';
import { TRIP_END_REASONS, TRIP_START_REASON, ALIGHTED_AT_END_REASON, type TripEndReason } from '../../base/common/bus.js';
import type { GeoPoint } from '../../base/common/types.js';
import type { SqliteDatabase } from '../../base/node/sqlite.js';
import { EVENT_TIME_SQL, hubEventFromRow, isRecordSource, type HubEvent } from './store.js';

/**
 * The hub's read model of bus trips (issue 13): what `safegate hub trips`, the console's Devices page
 * and tracing read. A trip is not stored as such at the hub: it is made up, when asked, of the events
 * of a bus unit carrying its trip id (base/common/bus.ts), read by device and trip through the trip
 * index (hub store migration 0008 / PostgreSQL step 12), in sequence order:
 * - started by its TRIP_STARTED event (else, purged or not yet arrived, its first event held), ended
 *   by a TRIP_ENDED / _TIMEOUT / _AT_DEPOT event (null while none has arrived: open, or still offline);
 * - the driver: the worker of the first TRIP_STARTED event naming one (a driver card that opened the
 *   trip or took over one a rider's first scan opened), null when none did: opened by the
 *   button, a command or a first scan;
 * - riders: each allowed boarding (an entry scan naming a worker) is one row, closed by that worker's
 *   next exit in the trip: a scan out ('scan') or the trip's end alighting them (ALIGHTED_AT_TRIP_END,
 *   'trip-end'); a rider who boarded twice appears twice. An exit with no boarding before it is no row.
 * - refused: the trip's denied scans;
 * - clock: the weakest dating among its events (unverified < corrected < gps < synced), 'gps' for an
 *   event dated from the GPS (clock_source).
 * Times are the hub's (corrected) times, epoch ms.
 */

export interface HubTripRider {
  workerId: string;
  boardedAt: number;
  alightedAt: number | null;
  alightedBy: 'scan' | 'trip-end' | null;
  boardedPosition: GeoPoint | null;
  alightedPosition: GeoPoint | null;
}

export type TripClock = 'synced' | 'gps' | 'corrected' | 'unverified';

export interface HubTrip {
  tripId: string;
  deviceId: string;
  checkpointId: string;
  routeId: string | null;
  startedAt: number;
  endedAt: number | null;
  endReason: TripEndReason | null;
  driverWorkerId: string | null;
  clock: TripClock;
  startPosition: GeoPoint | null;
  endPosition: GeoPoint | null;
  riders: HubTripRider[];
  refused: number;
  /** With TripQuery.orgId only: boardings of riders another organisation's (or no) list held, left out of `riders`. */
  ridersElsewhere?: number;
}

export interface TripQuery {
  /** Trips with an event at or after this time (the hub's time). */
  fromMs?: number;
  /** Trips with an event before this time. */
  toMs?: number;
  deviceId?: string;
  tripId?: string;
  /** These trips (device and trip id) exactly, whatever their time: tracing's read. */
  keys?: readonly { deviceId: string; tripId: string }[];
  /** A manager's organisation: riders (and the driver) named only when the event was stamped with it. */
  orgId?: string;
  /** At most this many, newest first (default {@link DEFAULT_TRIPS}, at most {@link MAX_TRIPS}). */
  limit?: number;
}

export const DEFAULT_TRIPS = 100;
export const MAX_TRIPS = 1000;

const CLOCK_RANK: Record<TripClock, number> = { unverified: 0, corrected: 1, gps: 2, synced: 3 };
const END_REASONS: ReadonlySet<string> = new Set(TRIP_END_REASONS);

const timeOf = (e: HubEvent) => e.correctedWallMs ?? e.wallMs;
const pointOf = (e: HubEvent): GeoPoint | null => (e.position ? { lat: e.position.lat, lon: e.position.lon } : null);

/**
 * The trips of these events (any order; each trip's events are taken in sequence order), newest
 * started first. `orgId`: see TripQuery.orgId.
 */
export function tripsFromEvents(events: readonly HubEvent[], orgId?: string): HubTrip[] {
  const byTrip = new Map<string, HubEvent[]>();
  for (const e of events) {
    if (e.tripId === undefined) continue;
    const key = `${e.deviceId}\u0000${e.tripId}`;
    const list = byTrip.get(key);
    if (list) list.push(e);
    else byTrip.set(key, [e]);
  }
  const trips = [...byTrip.values()].map((list) => tripOf(list.sort((a, b) => a.seq - b.seq), orgId));
  return trips.sort((a, b) => b.startedAt - a.startedAt || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : a.tripId < b.tripId ? -1 : 1));
}

function tripOf(events: readonly HubEvent[], orgId: string | undefined): HubTrip {
  const first = events[0]!;
  const start = events.find((e) => e.source === 'trip' && e.reasons.includes(TRIP_START_REASON)) ?? first;
  const end = events.find((e) => e.source === 'trip' && e.reasons.some((r) => END_REASONS.has(r))) ?? null;
  const mine = (e: HubEvent) => orgId === undefined || e.orgId === orgId;
  let clock: TripClock = 'synced';
  let routeId: string | null = null;
  let refused = 0;
  let elsewhere = 0;
  const riders: HubTripRider[] = [];
  const aboard = new Map<string, HubTripRider>();
  for (const e of events) {
    const c: TripClock = e.clockSource === 'gps' ? 'gps' : e.clock;
    if (CLOCK_RANK[c] < CLOCK_RANK[clock]) clock = c;
    // The route may be chosen after the trip started: the last one named.
    if (e.routeId !== undefined) routeId = e.routeId;
    // A declaration or a visitor's registration or approval (issue 14) is a record, not a scan at the door.
    if (isRecordSource(e.source)) continue;
    if (e.decision === 'deny') {
      refused++;
      continue;
    }
    if (e.workerId === null) continue;
    const alightedAtEnd = e.source === 'trip' && e.reasons.includes(ALIGHTED_AT_END_REASON);
    if (e.source === 'trip' && !alightedAtEnd) continue;
    if (e.direction === 'entry') {
      if (!mine(e)) {
        elsewhere++;
        continue;
      }
      const r: HubTripRider = { workerId: e.workerId, boardedAt: timeOf(e), alightedAt: null, alightedBy: null, boardedPosition: pointOf(e), alightedPosition: null };
      riders.push(r);
      aboard.set(e.workerId, r);
    } else {
      const r = aboard.get(e.workerId);
      if (!r) continue;
      aboard.delete(e.workerId);
      r.alightedAt = timeOf(e);
      r.alightedBy = alightedAtEnd ? 'trip-end' : 'scan';
      r.alightedPosition = pointOf(e);
    }
  }
  // The driver: the first TRIP_STARTED naming a worker (their card opened the trip, or took over one
  // a rider's first scan had opened).
  const driver = events.find((e) => e.source === 'trip' && e.workerId !== null && e.reasons.includes(TRIP_START_REASON));
  return {
    tripId: first.tripId!,
    deviceId: first.deviceId,
    checkpointId: start.checkpointId,
    routeId,
    startedAt: timeOf(start),
    endedAt: end ? timeOf(end) : null,
    endReason: end ? (end.reasons.find((r) => END_REASONS.has(r)) as TripEndReason) : null,
    driverWorkerId: driver && mine(driver) ? driver.workerId : null,
    clock,
    startPosition: pointOf(start),
    endPosition: end ? pointOf(end) : null,
    riders,
    refused,
    ...(orgId !== undefined ? { ridersElsewhere: elsewhere } : {}),
  };
}

/**
 * Which trips are the newest: one device's by their last sequence number (its events are numbered in
 * the order they happened, and the trip index holds the number: no event is read to order them);
 * several devices' by their last event's time.
 */
const newestFirst = (q: TripQuery) => (q.deviceId !== undefined ? 'max(seq) DESC' : `max(${EVENT_TIME_SQL}) DESC`);

const limitOf = (q: TripQuery) => Math.max(1, Math.min(MAX_TRIPS, Math.trunc(q.limit ?? DEFAULT_TRIPS)));

/** The SQLite query choosing the trips of a TripQuery without keys (exported for its query-plan test). */
export function sqliteTripKeys(q: TripQuery): { sql: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = { limit: limitOf(q), deviceId: q.deviceId, tripId: q.tripId, fromMs: q.fromMs, toMs: q.toMs };
  const clauses = [
    'trip_id IS NOT NULL',
    ...(q.deviceId !== undefined ? ['device_id = @deviceId'] : []),
    ...(q.tripId !== undefined ? ['trip_id = @tripId'] : []),
    ...(q.fromMs !== undefined ? [`${EVENT_TIME_SQL} >= @fromMs`] : []),
    ...(q.toMs !== undefined ? [`${EVENT_TIME_SQL} < @toMs`] : []),
  ];
  for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
  // A device's trips by the trip index; everyone's within a period by the time index (see sqliteTimeTable in store.ts).
  const table = q.deviceId !== undefined ? 'hub_events INDEXED BY hub_events_trip' : q.fromMs !== undefined || q.toMs !== undefined ? 'hub_events INDEXED BY hub_events_time' : 'hub_events';
  return { sql: `SELECT device_id, trip_id FROM ${table} WHERE ${clauses.join(' AND ')} GROUP BY device_id, trip_id ORDER BY ${newestFirst(q)}, device_id, trip_id LIMIT @limit`, params };
}

/** SQLite: the trips asked for (HubStore.trips). */
export function sqliteTrips(db: SqliteDatabase, q: TripQuery): HubTrip[] {
  let keys: { deviceId: string; tripId: string }[];
  if (q.keys) keys = [...q.keys];
  else {
    const { sql, params } = sqliteTripKeys(q);
    keys = (db.prepare(sql).all(params) as { device_id: string; trip_id: string }[]).map((r) => ({ deviceId: r.device_id, tripId: r.trip_id }));
  }
  if (keys.length === 0) return [];
  const rows = db
    .prepare(
      `SELECT e.* FROM json_each(@keys) AS k CROSS JOIN hub_events AS e INDEXED BY hub_events_trip
       WHERE e.device_id = json_extract(k.value, '$[0]') AND e.trip_id = json_extract(k.value, '$[1]') AND e.trip_id IS NOT NULL`,
    )
    .all({ keys: JSON.stringify(keys.map((k) => [k.deviceId, k.tripId])) }) as Record<string, unknown>[];
  return tripsFromEvents(rows.map(hubEventFromRow), q.orgId);
}

/** PostgreSQL: the trips asked for (HubStore.trips). */
export async function pgTrips(pool: pg.Pool, q: TripQuery): Promise<HubTrip[]> {
  let keys: { deviceId: string; tripId: string }[];
  if (q.keys) keys = [...q.keys];
  else {
    const clauses = ['trip_id IS NOT NULL'];
    const params: unknown[] = [];
    const param = (v: unknown) => (params.push(v), `$${params.length}`);
    if (q.deviceId !== undefined) clauses.push(`device_id = ${param(q.deviceId)}`);
    if (q.tripId !== undefined) clauses.push(`trip_id = ${param(q.tripId)}`);
    if (q.fromMs !== undefined) clauses.push(`${EVENT_TIME_SQL} >= ${param(q.fromMs)}`);
    if (q.toMs !== undefined) clauses.push(`${EVENT_TIME_SQL} < ${param(q.toMs)}`);
    const { rows } = await pool.query<{ device_id: string; trip_id: string }>(
      `SELECT device_id, trip_id FROM hub_events WHERE ${clauses.join(' AND ')} GROUP BY device_id, trip_id
       ORDER BY ${newestFirst(q)}, device_id, trip_id LIMIT ${param(limitOf(q))}`,
      params,
    );
    keys = rows.map((r) => ({ deviceId: r.device_id, tripId: r.trip_id }));
  }
  if (keys.length === 0) return [];
  const { rows } = await pool.query<Record<string, unknown>>(
    `SELECT e.* FROM unnest($1::text[], $2::text[]) AS k (device_id, trip_id)
     JOIN hub_events e ON e.device_id = k.device_id AND e.trip_id = k.trip_id
     WHERE e.trip_id IS NOT NULL`,
    [keys.map((k) => k.deviceId), keys.map((k) => k.tripId)],
  );
  return tripsFromEvents(rows.map(hubEventFromRow), q.orgId);
}
