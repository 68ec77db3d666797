import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Traces started from the console (sync/hub/traces.ts): the case, the period, the degree and the
 * options asked for, who started it and when, the organisation a manager's trace is confined to
 * (`scope_org_id`, null for a health officer's: every organisation) and the case's organisation when
 * it was started (`case_org_id`: that organisation's managers see it), and the result as the Tracer
 * returned it (JSON text: read back whole, never queried inside). `trace_notified` keeps, per trace
 * and contact, who marked the contact as told and when (the first mark stays). Purged with the hub's
 * retentionDays.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE saved_traces (
      trace_id       TEXT    PRIMARY KEY,
      case_worker_id TEXT    NOT NULL,
      case_org_id    TEXT,
      scope_org_id   TEXT,
      from_ms        INTEGER NOT NULL,
      to_ms          INTEGER NOT NULL CHECK (to_ms > from_ms),
      second_degree  INTEGER NOT NULL CHECK (second_degree IN (0, 1)),
      options        TEXT    NOT NULL,
      started_by     TEXT    NOT NULL,
      started_ms     INTEGER NOT NULL,
      contacts       INTEGER NOT NULL CHECK (contacts >= 0),
      result         TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX saved_traces_started ON saved_traces (started_ms);
    CREATE INDEX saved_traces_scope ON saved_traces (scope_org_id, started_ms);
    CREATE INDEX saved_traces_case_org ON saved_traces (case_org_id, started_ms);

    CREATE TABLE trace_notified (
      trace_id    TEXT    NOT NULL REFERENCES saved_traces (trace_id) ON DELETE CASCADE,
      worker_id   TEXT    NOT NULL,
      notified_by TEXT    NOT NULL,
      notified_ms INTEGER NOT NULL,
      PRIMARY KEY (trace_id, worker_id)
    ) STRICT;
  `);
}
