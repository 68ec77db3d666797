import type { Database } from 'better-sqlite3';

/** The event log is the outbox: unsynced events are found by a partial index, oldest first. */
export function up(db: Database): void {
  db.exec(`CREATE INDEX events_unsynced ON events (seq) WHERE synced_at IS NULL;`);
}
