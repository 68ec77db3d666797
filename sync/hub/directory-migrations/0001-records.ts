import type { Database } from 'better-sqlite3';

/**
 * What the hub publishes to kiosks, per stream (roster, notices, ...). Every change to a record takes
 * its stream's next revision, so a kiosk holding revision R needs exactly the rows with rev > R;
 * removals stay as tombstones.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE stream_revisions (
      stream TEXT    PRIMARY KEY,
      rev    INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE records (
      stream  TEXT    NOT NULL,
      key     TEXT    NOT NULL,
      value   TEXT    NOT NULL,
      deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
      rev     INTEGER NOT NULL,
      PRIMARY KEY (stream, key)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX records_rev ON records (stream, rev);
  `);
}
