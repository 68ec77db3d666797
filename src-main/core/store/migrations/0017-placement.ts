import type { Database } from 'better-sqlite3';

/**
 * Where the hub placed this kiosk (checkpoint, site, the organisations the checkpoint serves: the
 * `placement` downlink stream) and, per worker on an organisation's list, that organisation and site:
 * the policy facts `worker.servedHere` and `worker.atOwnSite` compare them. Ids only; a kiosk without
 * a placement decides as before.
 */
export function up(db: Database): void {
  db.exec(`
    ALTER TABLE workers ADD COLUMN org_id TEXT;
    ALTER TABLE workers ADD COLUMN site_id TEXT;

    CREATE TABLE placement (
      device_id     TEXT PRIMARY KEY,
      checkpoint_id TEXT,
      site_id       TEXT NOT NULL,
      org_ids       TEXT NOT NULL
    ) STRICT;
  `);
}
