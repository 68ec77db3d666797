import type { Statement } from 'better-sqlite3';
import type { TripEndReason, TripTrigger } from '../../../base/common/bus.js';
import type { CredentialKind, Direction } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/** A trip as the unit's own book keeps it (table trips, migration 0020). */
export interface TripRecord {
  tripId: string;
  routeId: string | null;
  startedSeq: number;
  startedMs: number;
  startedBy: TripTrigger;
  endedSeq: number | null;
  endedMs: number | null;
  endReason: TripEndReason | null;
}

interface TripRow {
  trip_id: string;
  route_id: string | null;
  started_seq: number;
  started_ms: number;
  started_by: TripTrigger;
  ended_seq: number | null;
  ended_ms: number | null;
  end_reason: TripEndReason | null;
}

const fromRow = (r: TripRow): TripRecord => ({
  tripId: r.trip_id,
  routeId: r.route_id,
  startedSeq: r.started_seq,
  startedMs: r.started_ms,
  startedBy: r.started_by,
  endedSeq: r.ended_seq,
  endedMs: r.ended_ms,
  endReason: r.end_reason,
});

/** Who is aboard: each rider's credential kind at boarding. */
export type Aboard = Map<string, CredentialKind | 'unknown'>;

/**
 * A bus unit's book of its trips. The events are the record (each carries its trip id); this table
 * is what a restart reads to find the open trip. Every method is synchronous; callers put the writes
 * in the same transaction as the trip's marker events.
 */
export class TripBook {
  private readonly insertStmt: Statement;
  private readonly closeStmt: Statement;
  private readonly routeStmt: Statement;
  private readonly openStmt: Statement;
  private readonly getStmt: Statement;
  private readonly ridesStmt: Statement;
  private readonly lastStmt: Statement;
  private readonly driverStmt: Statement;

  constructor(db: SqliteDatabase) {
    this.insertStmt = db.prepare('INSERT INTO trips (trip_id, route_id, started_seq, started_ms, started_by) VALUES (?, ?, ?, ?, ?)');
    this.closeStmt = db.prepare('UPDATE trips SET ended_seq = ?, ended_ms = ?, end_reason = ? WHERE trip_id = ? AND ended_seq IS NULL');
    this.routeStmt = db.prepare('UPDATE trips SET route_id = ? WHERE trip_id = ? AND ended_seq IS NULL');
    this.openStmt = db.prepare('SELECT * FROM trips WHERE ended_seq IS NULL ORDER BY started_seq DESC LIMIT 1');
    this.getStmt = db.prepare('SELECT * FROM trips WHERE trip_id = ?');
    this.lastStmt = db.prepare('SELECT max(seq) AS seq FROM events WHERE trip_id = ?');
    // A driver's card's start marker is the trip's only entry of source 'trip' that names a worker.
    this.driverStmt = db.prepare("SELECT worker_id FROM events WHERE trip_id = ? AND source = 'trip' AND direction = 'entry' AND worker_id IS NOT NULL ORDER BY seq LIMIT 1");
    // A trip's riders' allowed scans (its own markers and the gate inputs' events aside), by the events_trip index.
    this.ridesStmt = db
      .prepare(
        `SELECT worker_id, direction, credential_kind FROM events
         WHERE trip_id = ? AND decision = 'allow' AND worker_id IS NOT NULL AND source NOT IN ('trip', 'input', 'declaration', 'visitor') ORDER BY seq`,
      )
      .raw();
  }

  open(trip: { tripId: string; routeId: string | null; startedSeq: number; startedMs: number; startedBy: TripTrigger }): void {
    this.insertStmt.run(trip.tripId, trip.routeId, trip.startedSeq, trip.startedMs, trip.startedBy);
  }

  close(tripId: string, endedSeq: number, endedMs: number, reason: TripEndReason): void {
    this.closeStmt.run(endedSeq, endedMs, reason, tripId);
  }

  setRoute(tripId: string, routeId: string): void {
    this.routeStmt.run(routeId, tripId);
  }

  /** The open trip (at most one; the latest if a damaged store has more), or null. */
  openTrip(): TripRecord | null {
    const row = this.openStmt.get() as TripRow | undefined;
    return row ? fromRow(row) : null;
  }

  get(tripId: string): TripRecord | null {
    const row = this.getStmt.get(tripId) as TripRow | undefined;
    return row ? fromRow(row) : null;
  }

  /** The number of the trip's latest event (null: none), by the events_trip index. */
  lastSeq(tripId: string): number | null {
    return (this.lastStmt.get(tripId) as { seq: number | null }).seq;
  }

  /** The driver whose card started (or took over) the trip, or null. */
  driver(tripId: string): string | null {
    return (this.driverStmt.get(tripId) as { worker_id: string } | undefined)?.worker_id ?? null;
  }

  /** The riders aboard a trip now, from its events: those whose last allowed scan of the trip boarded them. */
  aboard(tripId: string): Aboard {
    const aboard: Aboard = new Map();
    for (const [workerId, direction, kind] of this.ridesStmt.iterate(tripId) as IterableIterator<[string, Direction, CredentialKind | 'unknown']>) {
      if (direction === 'entry') aboard.set(workerId, kind);
      else aboard.delete(workerId);
    }
    return aboard;
  }
}
