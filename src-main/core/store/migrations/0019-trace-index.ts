import type { Database } from 'better-sqlite3';

/**
 * The supervisor's offline trace (core/supervisor/trace.ts) reads every scan at a checkpoint within
 * minutes of each of a worker's passages: on a busy gate's 28 days about 100,000 rows a trace. This
 * index holds all the columns that read needs, so it never touches the table (about half the time).
 * `source` is in it rather than in a partial index's WHERE: SQLite reads the table to test a term a
 * partial index already implies, which would undo the point.
 */
export function up(db: Database): void {
  db.exec(`CREATE INDEX events_trace ON events (checkpoint_id, wall_ms, worker_id, decision, direction, source);`);
}
