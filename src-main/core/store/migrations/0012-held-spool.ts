import type { Database } from 'better-sqlite3';

/**
 * Events held while the store could not take them are also appended to a spool file in RAM (see
 * held-spool.ts), numbered. Each stored chunk records here, in its own transaction, the highest
 * number it stored from that spool: after a crash, the next start restores exactly what is above it,
 * so nothing is lost and nothing is stored twice.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE held_spool (
      spool_id       TEXT    PRIMARY KEY,
      stored_through INTEGER NOT NULL
    ) STRICT;
  `);
}
