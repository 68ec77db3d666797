import type { Database } from 'better-sqlite3';

/**
 * The supervisor screen: the PIN (only its scrypt hash), the failed-login counter and lockout (kept
 * across restarts, so pulling the plug does not reset it), and an audit trail of every login and
 * action. Overrides reference the denied event they let through. Times in ms.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE supervisor_pin (
      id         INTEGER PRIMARY KEY CHECK (id = 1),
      hash       TEXT    NOT NULL,
      set_at     INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE supervisor_lockout (
      id           INTEGER PRIMARY KEY CHECK (id = 1),
      failed       INTEGER NOT NULL,
      locked_until INTEGER
    ) STRICT;
    INSERT INTO supervisor_lockout (id, failed, locked_until) VALUES (1, 0, NULL);
    CREATE TABLE supervisor_audit (
      id      INTEGER PRIMARY KEY,
      at_ms   INTEGER NOT NULL,
      action  TEXT    NOT NULL,
      detail  TEXT    NOT NULL DEFAULT ''
    ) STRICT;
    CREATE INDEX supervisor_audit_time ON supervisor_audit (at_ms);
    CREATE TABLE overrides (
      denied_seq  INTEGER PRIMARY KEY REFERENCES events (seq) ON DELETE CASCADE,
      allowed_seq INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
      note        TEXT    NOT NULL,
      at_ms       INTEGER NOT NULL
    ) STRICT;
  `);
}
