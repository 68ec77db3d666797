import type { Database } from 'better-sqlite3';

/**
 * What the hub has ingested. (device_id, seq) is the primary key, so a batch delivered twice is
 * stored once; `devices.contiguous_seq` is the highest number below which nothing is missing.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE hub_events (
      device_id       TEXT    NOT NULL,
      seq             INTEGER NOT NULL,
      wall_ms         INTEGER NOT NULL,
      mono_us         INTEGER NOT NULL,
      boot_id         TEXT    NOT NULL,
      clock_synced    INTEGER NOT NULL,
      checkpoint_id   TEXT    NOT NULL,
      zone_id         TEXT    NOT NULL,
      direction       TEXT    NOT NULL,
      credential_kind TEXT    NOT NULL,
      worker_id       TEXT,
      code_hash       TEXT,
      decision        TEXT    NOT NULL,
      reasons         TEXT    NOT NULL,
      source          TEXT    NOT NULL,
      policy_version  INTEGER NOT NULL,
      received_ms     INTEGER NOT NULL,
      PRIMARY KEY (device_id, seq)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE devices (
      device_id      TEXT    PRIMARY KEY,
      contiguous_seq INTEGER NOT NULL DEFAULT 0,
      max_seq        INTEGER NOT NULL DEFAULT 0,
      last_seen_ms   INTEGER NOT NULL
    ) STRICT;

    CREATE INDEX hub_events_worker ON hub_events (worker_id, wall_ms) WHERE worker_id IS NOT NULL;
  `);
}
