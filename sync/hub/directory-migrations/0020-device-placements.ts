import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Where each device was placed, over time (`safegate hub device assign --checkpoint`): one row per
 * change, appended whenever a device is placed at a checkpoint, moved to another site (which takes
 * it off its checkpoint) or taken out of its site (`checkpoint_id` NULL: placed nowhere from then).
 * Tracing reads an event's place from the placement in effect at the event's time, so moving a kiosk
 * does not relabel its past. Seeded from the current placements, since when their device joined its site.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE device_placements (
      device_id     TEXT    NOT NULL,
      since_ms      INTEGER NOT NULL,
      checkpoint_id TEXT,
      PRIMARY KEY (device_id, since_ms)
    ) STRICT;
    INSERT INTO device_placements (device_id, since_ms, checkpoint_id)
      SELECT device_id, since_ms, checkpoint_id FROM device_sites WHERE checkpoint_id IS NOT NULL;
  `);
}
