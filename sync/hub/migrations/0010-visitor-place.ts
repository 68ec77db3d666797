import type { Database } from 'better-sqlite3';

/**
 * Visitors in traces (issue 14): tracing reads the visitors' allowed passages at a few checkpoints
 * within a few windows of time (at narrow places: contacts; at a site's gates: who visited the site
 * while the case was there), as migration 0007 does for workers. A visitor's passage names no worker,
 * so the place index (worker_id IS NOT NULL) holds none: this partial index holds only visitors'
 * allowed events, which gate traffic of workers does not pay for.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE INDEX hub_events_visitor_place ON hub_events (checkpoint_id, coalesce(corrected_wall_ms, wall_ms))
      WHERE visitor_id IS NOT NULL AND decision = 'allow';
  `);
}
