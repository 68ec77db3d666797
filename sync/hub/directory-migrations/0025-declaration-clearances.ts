import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * A health officer's clearance of a flagged declaration (`safegate hub declaration clear`, issue 14
 * declaration review 1): a flagged declaration otherwise stands for the rest of its day. Who cleared
 * it, when, the declaration it cleared (its time) and why (one line, as the officer wrote it). Purged
 * with the declarations (retentionDays) and erased with the worker.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE declaration_clearances (
      worker_id   TEXT    NOT NULL,
      cleared_ms  INTEGER NOT NULL,
      cleared_by  TEXT    NOT NULL,
      declared_ms INTEGER NOT NULL,
      reason      TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX declaration_clearances_worker ON declaration_clearances (worker_id, cleared_ms);
    CREATE INDEX declaration_clearances_time ON declaration_clearances (cleared_ms);
  `);
}
