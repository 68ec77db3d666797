import type { Database } from 'better-sqlite3';

/**
 * Retractions on the site stream: an admit at another kiosk whose passage sensor saw nobody go
 * through. Each remote passage keeps the one it replaced (prev_*), so a retraction of the latest
 * passage puts the earlier one back; the retracted passages themselves are remembered (by device and
 * sequence number) until the anti-passback reset, so a copy relayed late from a batch is not kept again.
 */
export function up(db: Database): void {
  db.exec(`
    ALTER TABLE remote_passages ADD COLUMN prev_direction TEXT CHECK (prev_direction IN ('entry', 'exit'));
    ALTER TABLE remote_passages ADD COLUMN prev_at_ms INTEGER;
    ALTER TABLE remote_passages ADD COLUMN prev_device_id TEXT;
    ALTER TABLE remote_passages ADD COLUMN prev_checkpoint_id TEXT;
    ALTER TABLE remote_passages ADD COLUMN prev_seq INTEGER;
    CREATE TABLE remote_retractions (
      device_id TEXT    NOT NULL,
      seq       INTEGER NOT NULL,
      at_ms     INTEGER NOT NULL,
      PRIMARY KEY (device_id, seq)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX remote_retractions_at ON remote_retractions (at_ms);
  `);
}
