import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Entry-log exports a supervisor sent from a kiosk to the hub over HTTP (sync/hub/exports.ts). The
 * file is kept whole (`body`, at most EXPORT_MAX_BYTES) with its SHA-256, which the kiosk's signature
 * covered; `export_id` is made on the kiosk, so a retry after a timeout finds its first copy. Where
 * the device stood when it arrived (site, checkpoint) and the organisations that checkpoint served
 * are kept with it: they decide which managers may download it. Purged after the hub's retentionDays.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE kiosk_exports (
      export_id       TEXT    PRIMARY KEY CHECK (length(export_id) BETWEEN 16 AND 64),
      device_id       TEXT    NOT NULL,
      site_id         TEXT,
      checkpoint_id   TEXT,
      supervisor_id   TEXT    NOT NULL,
      supervisor_name TEXT    NOT NULL,
      file_name       TEXT    NOT NULL,
      format          TEXT    NOT NULL CHECK (format IN ('csv', 'xlsx')),
      rows            INTEGER NOT NULL CHECK (rows >= 0),
      made_ms         INTEGER NOT NULL,
      received_ms     INTEGER NOT NULL,
      size            INTEGER NOT NULL,
      sha256          BLOB    NOT NULL CHECK (length(sha256) = 32),
      body            BLOB    NOT NULL
    ) STRICT;
    CREATE INDEX kiosk_exports_received ON kiosk_exports (received_ms);
    CREATE TABLE kiosk_export_orgs (
      export_id TEXT NOT NULL REFERENCES kiosk_exports (export_id) ON DELETE CASCADE,
      org_id    TEXT NOT NULL,
      PRIMARY KEY (org_id, export_id)
    ) STRICT, WITHOUT ROWID;
  `);
}
