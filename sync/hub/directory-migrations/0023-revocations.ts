import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Revoked devices (issue 12, `safegate hub devices revoke`, review r3 findings 1 and 6): one row per
 * revoked device, enrolled here or provisioned by hand (a device the hub never issued a certificate
 * still gets the broker's deny and the hub's refusal), with when it was revoked and when a hub process
 * last confirmed the broker cut-off (NULL: not yet, or revoked again since: the `revoke` command waits
 * for a running hub process to set it rather than signing in to the broker as the hub itself). Devices
 * already marked in fleet_devices are carried over.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE fleet_revocations (
      device_id  TEXT    PRIMARY KEY,
      revoked_ms INTEGER NOT NULL,
      cutoff_ms  INTEGER
    ) STRICT;
    INSERT INTO fleet_revocations (device_id, revoked_ms, cutoff_ms)
      SELECT device_id, revoked_ms, NULL FROM fleet_devices WHERE revoked_ms IS NOT NULL;
  `);
}
