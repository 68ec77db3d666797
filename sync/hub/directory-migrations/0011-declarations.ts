import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Daily health declarations made on workers' phones (sync/hub/declarations.ts). One row per
 * declaration, keyed by the id the phone made (so a declaration sent twice is kept once): the worker,
 * the phone pass that signed it, when the phone made it, when the hub received it, and whether any
 * answer was a warning. The answers themselves (`answers`, JSON) are kept only for a flagged
 * declaration, for the health officer's follow-up, and erased after 14 days (the look-back the
 * questions ask about); an unflagged declaration is all "no" and keeps no answers at all.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE declarations (
      decl_id     TEXT    PRIMARY KEY CHECK (length(decl_id) = 22),
      worker_id   TEXT    NOT NULL,
      pass_id     TEXT    NOT NULL,
      made_ms     INTEGER NOT NULL,
      received_ms INTEGER NOT NULL,
      flagged     INTEGER NOT NULL CHECK (flagged IN (0, 1)),
      answers     TEXT
    ) STRICT;
    CREATE INDEX declarations_worker ON declarations (worker_id, made_ms);
    CREATE INDEX declarations_received ON declarations (received_ms);
  `);
}
