import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Which site each device belongs to, as the hub's operator set it (`safegate hub device assign`):
 * the live site stream goes to a site's devices only, and a device's own claim is never trusted.
 * The organisations registry (sites of organisations, their checkpoints and devices) will fill this.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE device_sites (
      device_id TEXT PRIMARY KEY,
      site_id   TEXT NOT NULL,
      since_ms  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX device_sites_site ON device_sites (site_id);
  `);
}
