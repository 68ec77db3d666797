import type { Database } from 'better-sqlite3';

/**
 * Tracing (sync/hub/trace.ts) reads the events the gate allowed at a few checkpoints within a few
 * windows of time: who else was at the case's places then. By checkpoint and the hub's time, only
 * allowed events that name a worker (a denied scan is no presence): a window is one range of this
 * index. Kept lean (each entry also holds the primary key, the table having no rowid) since every
 * allowed scan of the province writes it.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE INDEX hub_events_place ON hub_events (checkpoint_id, coalesce(corrected_wall_ms, wall_ms))
      WHERE worker_id IS NOT NULL AND decision = 'allow';
  `);
}
