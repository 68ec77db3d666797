import type { Database } from 'better-sqlite3';

/** The written reason of a supervisor override (null for other alerts). */
export function up(db: Database): void {
  db.exec(`ALTER TABLE hub_alerts ADD COLUMN note TEXT;`);
}
