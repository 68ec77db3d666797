import type { Database } from 'better-sqlite3';

/**
 * Shuttle-bus mode (issue 13, base/common/bus.ts). Each event of a bus unit carries its trip, the
 * trip's route, where the unit was (a fix, "no fix", or NULL: a unit without GPS) and whether its wall
 * time came from the GPS; a gate kiosk leaves them all NULL. The trips table is the unit's own book of
 * its trips (the events are the record; this is what a restart reads to know the open trip).
 */
export function up(db: Database): void {
  db.exec(`
    ALTER TABLE events ADD COLUMN trip_id TEXT;
    ALTER TABLE events ADD COLUMN route_id TEXT;
    ALTER TABLE events ADD COLUMN lat REAL;
    ALTER TABLE events ADD COLUMN lon REAL;
    ALTER TABLE events ADD COLUMN position TEXT CHECK (position IN ('fix', 'no-fix'));
    ALTER TABLE events ADD COLUMN clock_source TEXT CHECK (clock_source IN ('gps'));

    CREATE INDEX events_trip ON events (trip_id, seq) WHERE trip_id IS NOT NULL;

    CREATE TABLE trips (
      trip_id     TEXT    PRIMARY KEY,
      route_id    TEXT,
      started_seq INTEGER NOT NULL,
      started_ms  INTEGER NOT NULL,
      started_by  TEXT    NOT NULL,
      ended_seq   INTEGER,
      ended_ms    INTEGER,
      end_reason  TEXT
    ) STRICT;
  `);
}
