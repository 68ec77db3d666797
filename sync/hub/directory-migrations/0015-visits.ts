import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Visits recorded on workers' phones at checkpoints without a kiosk (sync/hub/visits.ts): one row per
 * check-in or check-out, keyed by the id the phone made (an upload sent twice is kept once). A table
 * of its own beside the registry rather than rows in the event store: a visit has no device, no
 * sequence and no gate decision, and the event store is the kiosks' exactly-once log. Tracing joins
 * both by worker, checkpoint and time. `time_verified` is 0 for a visit uploaded late, whose time is
 * only the phone's word (as a kiosk event on an unsynchronised clock is marked).
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE visits (
      visit_id      TEXT    PRIMARY KEY CHECK (length(visit_id) = 22),
      worker_id     TEXT    NOT NULL,
      pass_id       TEXT    NOT NULL,
      checkpoint_id TEXT    NOT NULL,
      site_id       TEXT    NOT NULL,
      direction     TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
      at_ms         INTEGER NOT NULL,
      received_ms   INTEGER NOT NULL,
      time_verified INTEGER NOT NULL CHECK (time_verified IN (0, 1)),
      code_kind     TEXT    NOT NULL CHECK (code_kind IN ('static', 'rotating'))
    ) STRICT;
    CREATE INDEX visits_worker ON visits (worker_id, at_ms);
    CREATE INDEX visits_checkpoint ON visits (checkpoint_id, at_ms);
  `);
}
