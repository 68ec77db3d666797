import type { Database } from 'better-sqlite3';

/**
 * Events by their time as the hub dates them (corrected where it could, else the kiosk's): a day's
 * entries at the console, newest first, and the retention's purge read a time range by index instead
 * of every event held.
 */
export function up(db: Database): void {
  db.exec(`CREATE INDEX hub_events_time ON hub_events (coalesce(corrected_wall_ms, wall_ms), device_id, seq);`);
}
