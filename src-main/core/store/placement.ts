import type { DataChange, Placement } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { applyChangeSet } from './change-set.js';

/**
 * Where the hub placed this kiosk (the `placement` downlink stream): at most one record, this
 * device's own. None on a kiosk without a hub or not placed by its operator: then the policy facts
 * that need it are unknown (null) and the kiosk decides as it always did.
 */
export class DownloadedPlacement {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly deviceId: string,
  ) {}

  current(): Placement | null {
    const row = this.db.prepare('SELECT device_id, checkpoint_id, site_id, org_ids FROM placement WHERE device_id = ?').get(this.deviceId) as
      | { device_id: string; checkpoint_id: string | null; site_id: string; org_ids: string }
      | undefined;
    return row ? { deviceId: row.device_id, checkpointId: row.checkpoint_id, siteId: row.site_id, orgIds: JSON.parse(row.org_ids) as string[] } : null;
  }

  applyChanges(kind: 'snapshot' | 'delta', changes: Iterable<DataChange<Placement>>): number {
    const put = this.db.prepare(
      `INSERT INTO placement (device_id, checkpoint_id, site_id, org_ids) VALUES (?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET checkpoint_id = excluded.checkpoint_id, site_id = excluded.site_id, org_ids = excluded.org_ids`,
    );
    const del = this.db.prepare('DELETE FROM placement WHERE device_id = ?');
    return applyChangeSet(this.db, kind, changes, {
      clear: () => this.db.prepare('DELETE FROM placement').run(),
      remove: (key) => del.run(key),
      // The hub sends a device its own placement only; another's is kept out all the same.
      put: (key, p) => {
        if (key === this.deviceId) put.run(p.deviceId, p.checkpointId, p.siteId, JSON.stringify(p.orgIds));
      },
    });
  }
}
