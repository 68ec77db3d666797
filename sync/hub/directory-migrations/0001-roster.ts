import type { Database } from 'better-sqlite3';

/**
 * What the hub publishes to kiosks. Every change to a record takes the stream's next revision, so a
 * kiosk holding revision R needs exactly the rows with rev > R; removals stay as tombstones.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE stream_revisions (
      stream TEXT    PRIMARY KEY,
      rev    INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE roster (
      worker_id TEXT    PRIMARY KEY,
      record    TEXT    NOT NULL,
      deleted   INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
      rev       INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX roster_rev ON roster (rev);
  `);
}
