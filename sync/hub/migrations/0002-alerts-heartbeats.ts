import type { Database } from 'better-sqlite3';

/** Alerts as raised by kiosks (idempotent on device and event), and each device's last heartbeat. */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE hub_alerts (
      device_id     TEXT    NOT NULL,
      seq           INTEGER NOT NULL,
      kind          TEXT    NOT NULL,
      at_ms         INTEGER NOT NULL,
      checkpoint_id TEXT    NOT NULL,
      worker_id     TEXT    NOT NULL,
      reasons       TEXT    NOT NULL,
      received_ms   INTEGER NOT NULL,
      PRIMARY KEY (device_id, seq)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE device_heartbeats (
      device_id   TEXT    PRIMARY KEY,
      heartbeat   TEXT    NOT NULL,
      received_ms INTEGER NOT NULL
    ) STRICT;
  `);
}
