import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * The kiosks learn where they are, and whose each worker is, for the policy facts
 * `worker.servedHere` and `worker.atOwnSite`:
 * - each device in a site gets a `placement` record (its checkpoint, the site, the organisations the
 *   checkpoint serves), scoped to that device alone;
 * - each roster record of a worker on an organisation's list carries the organisation and site ids
 *   (decision fields only), at a new roster revision so kiosks take them as a delta.
 */
export function up(db: SqliteDatabase): void {
  const devices = db
    .prepare(
      `SELECT d.device_id, d.site_id, d.checkpoint_id,
         (SELECT json_group_array(org_id) FROM (SELECT org_id FROM checkpoint_orgs o WHERE o.checkpoint_id = d.checkpoint_id ORDER BY org_id)) AS orgs
       FROM device_sites d`,
    )
    .all() as { device_id: string; site_id: string; checkpoint_id: string | null; orgs: string }[];
  const revOf = (stream: string) => (db.prepare('SELECT rev FROM stream_revisions WHERE stream = ?').get(stream) as { rev: number } | undefined)?.rev ?? 0;
  const bump = db.prepare('INSERT INTO stream_revisions (stream, rev) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev');
  if (devices.length) {
    const put = db.prepare("INSERT INTO records (stream, key, value, deleted, rev, scope) VALUES ('placement', ?, ?, 0, 1, ?)");
    for (const d of devices) {
      const orgIds = d.checkpoint_id ? (JSON.parse(d.orgs) as string[]) : [];
      put.run(d.device_id, JSON.stringify({ deviceId: d.device_id, checkpointId: d.checkpoint_id, siteId: d.site_id, orgIds }), d.device_id);
    }
    bump.run('placement', 1);
  }
  const listed = db.prepare("SELECT count(*) AS n FROM records r JOIN hub_workers h ON h.worker_id = r.key WHERE r.stream = 'roster' AND r.deleted = 0").get() as { n: number };
  if (listed.n) {
    const rev = revOf('roster') + 1;
    db.prepare(
      `UPDATE records SET rev = @rev, value = json_set(value, '$.orgId', h.org_id, '$.siteId', h.site_id)
       FROM hub_workers h WHERE h.worker_id = records.key AND records.stream = 'roster' AND records.deleted = 0`,
    ).run({ rev });
    bump.run('roster', rev);
  }
}
