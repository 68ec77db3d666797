import type { Database } from 'better-sqlite3';

/**
 * Each event and alert carries the organisation whose list held its worker when the hub received it
 * (null: a worker on no organisation's list, or received before this column). The console scopes a
 * manager's history by it, not by the list the worker is on now: a worker who moves to another
 * organisation does not take their past refusals (and health reasons) with them. No index of its own:
 * a day's events are found by time (migration 5), and an index would cost every insert.
 */
export function up(db: Database): void {
  db.exec(`
    ALTER TABLE hub_events ADD COLUMN org_id TEXT;
    ALTER TABLE hub_alerts ADD COLUMN org_id TEXT;
  `);
}
