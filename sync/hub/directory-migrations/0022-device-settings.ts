import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Remote settings per device (issue 12, `safegate hub device set`): every version the hub issued
 * (the whole cumulative overlay, who issued it and when, and the signed document exactly as sent),
 * and what the device last reported about its settings in a heartbeat (the version it applies, the
 * last version it refused and why). The newest document also travels as the device's record of the
 * `settings` downlink stream (table `records`).
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE device_settings_versions (
      device_id TEXT    NOT NULL,
      version   INTEGER NOT NULL CHECK (version >= 2),
      overlay   TEXT    NOT NULL,
      issued_ms INTEGER NOT NULL,
      issued_by TEXT    NOT NULL,
      signed    BLOB    NOT NULL,
      PRIMARY KEY (device_id, version)
    ) STRICT;
    CREATE TABLE device_settings_reports (
      device_id        TEXT    PRIMARY KEY,
      applied_version  INTEGER NOT NULL,
      refused_version  INTEGER,
      refused_problems TEXT,
      since_ms         INTEGER NOT NULL
    ) STRICT;
  `);
}
