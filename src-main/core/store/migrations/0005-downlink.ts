import type { Database } from 'better-sqlite3';

/**
 * Data the hub sends down arrives in signed parts; parts are staged until a transfer is complete and
 * only then applied, in one transaction, with the stream's cursor. `checked_at` is when the hub last
 * confirmed the data current (its age is shown and the policy acts on it).
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE downlink_cursors (
      stream     TEXT    PRIMARY KEY,
      cursor     INTEGER NOT NULL,
      applied_at INTEGER,
      checked_at INTEGER
    ) STRICT;

    CREATE TABLE downlink_staging (
      stream   TEXT    NOT NULL,
      kind     TEXT    NOT NULL CHECK (kind IN ('snapshot', 'delta')),
      from_rev INTEGER NOT NULL,
      to_rev   INTEGER NOT NULL,
      part     INTEGER NOT NULL,
      parts    INTEGER NOT NULL,
      body     BLOB    NOT NULL,
      PRIMARY KEY (stream, part)
    ) STRICT;
  `);
}
