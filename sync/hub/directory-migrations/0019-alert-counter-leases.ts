import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Alerts, two repairs of 0016 (sync/hub/notify/alert-book.ts):
 * - `alert_change_counter`: the one row holding the last change number given to an alert. The next
 *   change was the largest `change_seq` in the book plus one, so purging the alert holding the largest
 *   let a number be given again and a console holding that cursor missed the next alert. The counter
 *   only grows (bumped in the same write transaction as the change); it starts at the book's largest.
 * - `alert_deliveries.lease_token`: a random token per lease. Marking a delivery sent or failed
 *   applies only with the token of the lease it was sent under, so the late result of an expired
 *   lease cannot clear (or be taken for) another process's live lease.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE alert_change_counter (
      id   INTEGER PRIMARY KEY CHECK (id = 1),
      last INTEGER NOT NULL
    ) STRICT;
    INSERT INTO alert_change_counter (id, last) SELECT 1, coalesce(max(change_seq), 0) FROM hub_alert_book;

    ALTER TABLE alert_deliveries ADD COLUMN lease_token TEXT;
  `);
}
