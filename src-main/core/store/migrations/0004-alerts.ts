import type { Database } from 'better-sqlite3';

/**
 * Alerts for managers (e.g. a quarantined person tried to enter). Each belongs to an event and is
 * written in the same transaction; `sent_at` is set once the broker has accepted it.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE alerts (
      seq     INTEGER PRIMARY KEY REFERENCES events (seq) ON DELETE CASCADE,
      kind    TEXT    NOT NULL,
      sent_at INTEGER
    ) STRICT;
    CREATE INDEX alerts_unsent ON alerts (seq) WHERE sent_at IS NULL;
  `);
}
