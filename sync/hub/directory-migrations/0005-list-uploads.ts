import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Every worker-list upload of each organisation (when, how many workers), not only the last: CV 2242
 * asks for the day's test results before 15:00, so an upload at 10:00 still counts after another at
 * 16:00. Holds no personal data.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE org_list_uploads (
      org_id      TEXT    NOT NULL REFERENCES organisations (org_id),
      uploaded_ms INTEGER NOT NULL,
      workers     INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX org_list_uploads_org ON org_list_uploads (org_id, uploaded_ms);
    INSERT INTO org_list_uploads (org_id, uploaded_ms, workers) SELECT org_id, uploaded_ms, workers FROM org_uploads;
  `);
}
