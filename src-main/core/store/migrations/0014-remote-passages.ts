import type { Database } from 'better-sqlite3';

/**
 * Passages at the site's other kiosks, as the live site stream brought them (allowed passages only:
 * who, where, which way, when; nothing health-related). One row per person and zone, the latest
 * passage only, since anti-passback asks only "what was this person's last passage in this zone";
 * rows are purged once older than the policy's anti-passback reset.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE remote_passages (
      worker_id     TEXT    NOT NULL,
      zone_id       TEXT    NOT NULL,
      direction     TEXT    NOT NULL CHECK (direction IN ('entry', 'exit')),
      at_ms         INTEGER NOT NULL,
      device_id     TEXT    NOT NULL,
      checkpoint_id TEXT    NOT NULL,
      seq           INTEGER NOT NULL,
      PRIMARY KEY (worker_id, zone_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX remote_passages_at ON remote_passages (at_ms);
  `);
}
