import type { Database } from 'better-sqlite3';

/** A supervisor's written reason travels with the override alert to the hub. */
export function up(db: Database): void {
  db.exec(`ALTER TABLE alerts ADD COLUMN note TEXT;`);
}
