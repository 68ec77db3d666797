import type { Database } from 'better-sqlite3';

/**
 * The gate for everyone (issue 14): a kiosk's declaration events carry the answers (bits over
 * DECLARATION_QUESTIONS, 0 to 2047; NULL on every other event), visitors are named by their
 * pseudonym (base/common/visitor.ts VISITOR_ID_PATTERN; an event names a worker, a code hash or a
 * visitor), and a visitor event (registration, a supervisor's decision) carries its visit details
 * (VisitEventDetails as JSON: name, host, purpose, notice version, decided by). They live in the
 * event's row, so the hub's event retention purges them with it. A visitor's events are read by
 * visitor id (tracing), through a partial index that gate traffic does not pay for.
 */
export function up(db: Database): void {
  db.exec(`
    ALTER TABLE hub_events ADD COLUMN declaration_bits INTEGER CHECK (declaration_bits BETWEEN 0 AND 2047);
    ALTER TABLE hub_events ADD COLUMN visitor_id TEXT;
    ALTER TABLE hub_events ADD COLUMN visit TEXT;
    CREATE INDEX hub_events_visitor ON hub_events (visitor_id, wall_ms) WHERE visitor_id IS NOT NULL;
  `);
}
