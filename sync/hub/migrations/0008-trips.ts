import type { Database } from 'better-sqlite3';

/**
 * Shuttle-bus mode (issue 13): a bus unit's events carry their trip (and route), where the bus was
 * at the scan (a fix, or "no fix"; NULL: a unit without GPS, as every gate kiosk) and whether the
 * wall time came from the GPS (base/common/types.ts GateEvent). Positions are micro-degrees as the
 * batch carries them (sync/batch-codec.ts format 3), held as REAL. A trip's events are read by
 * device and trip in order (the trips read model, tracing's bus places): the partial index holds only
 * bus events, so gate kiosks' traffic does not pay for it.
 */
export function up(db: Database): void {
  db.exec(`
    ALTER TABLE hub_events ADD COLUMN trip_id TEXT;
    ALTER TABLE hub_events ADD COLUMN route_id TEXT;
    ALTER TABLE hub_events ADD COLUMN lat REAL;
    ALTER TABLE hub_events ADD COLUMN lon REAL;
    ALTER TABLE hub_events ADD COLUMN position TEXT CHECK (position IN ('fix', 'no-fix'));
    ALTER TABLE hub_events ADD COLUMN clock_source TEXT CHECK (clock_source IN ('gps'));
    CREATE INDEX hub_events_trip ON hub_events (device_id, trip_id, seq) WHERE trip_id IS NOT NULL;
  `);
}
