import type { Database } from 'better-sqlite3';

/** The event log (the future outbox) and device-local metadata. */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    ) STRICT;

    -- AUTOINCREMENT: a sequence number is never reused, even after old events are purged.
    CREATE TABLE events (
      seq             INTEGER PRIMARY KEY AUTOINCREMENT,
      wall_ms         INTEGER NOT NULL,
      mono_us         INTEGER NOT NULL,
      boot_id         TEXT    NOT NULL,
      clock_synced    INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
      checkpoint_id   TEXT    NOT NULL,
      zone_id         TEXT    NOT NULL,
      direction       TEXT    NOT NULL CHECK (direction IN ('entry', 'exit')),
      credential_kind TEXT    NOT NULL CHECK (credential_kind IN ('pass', 'badge', 'unknown')),
      worker_id       TEXT,
      code_hash       TEXT,
      decision        TEXT    NOT NULL CHECK (decision IN ('allow', 'deny')),
      reasons         TEXT    NOT NULL,
      source          TEXT    NOT NULL,
      policy_version  INTEGER NOT NULL,
      synced_at       INTEGER,
      CHECK (worker_id IS NOT NULL OR code_hash IS NOT NULL)
    ) STRICT;

    CREATE INDEX events_worker_allowed ON events (worker_id, seq) WHERE decision = 'allow';
    CREATE INDEX events_wall ON events (wall_ms);
  `);
  db.prepare('INSERT INTO meta (key, value) VALUES (?, lower(hex(randomblob(32))))').run('code_hash_key');
}
