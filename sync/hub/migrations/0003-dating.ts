import type { Database } from 'better-sqlite3';

/** How far each event's time can be trusted, and its corrected time (see dating.ts). */
export function up(db: Database): void {
  db.exec(`
    ALTER TABLE hub_events ADD COLUMN clock TEXT NOT NULL DEFAULT 'unverified' CHECK (clock IN ('synced', 'corrected', 'unverified'));
    ALTER TABLE hub_events ADD COLUMN corrected_wall_ms INTEGER;
  `);
}
