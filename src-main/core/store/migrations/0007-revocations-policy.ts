import type { Database } from 'better-sqlite3';

/** Passes the hub has revoked, and the policy it sent (the newest one applies). */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE revoked_passes (
      pass_id    TEXT    PRIMARY KEY,
      revoked_at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE downloaded_policy (
      id       INTEGER PRIMARY KEY CHECK (id = 1),
      version  INTEGER NOT NULL,
      document TEXT    NOT NULL
    ) STRICT;
  `);
}
