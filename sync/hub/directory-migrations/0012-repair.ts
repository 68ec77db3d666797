import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { up as rosterScopes } from './0006-roster-scopes.js';

/**
 * Makes whole a directory created at a commit that registered migration 0008 before 0006 and 0007
 * (one opened later skipped them, since `user_version` was already 8), and gives every kiosk a fresh
 * roster snapshot. Each step checks the schema or the data rather than a version, so it is a no-op on
 * a directory that is already whole and safe to run again:
 * - no `records.scope` column: 0006 runs now (scopes, departures, device rescope revisions);
 * - a device in a site without a `placement` record gets one (0007), and a roster record of a worker on
 *   an organisation's list without that organisation and site gets them, at a new roster revision;
 * - before roster scoping every kiosk received every organisation's workers, and 0006 sent a fresh
 *   snapshot only to devices at a checkpoint: a device at no checkpoint (or unknown to the hub) kept
 *   taking deltas of the province list alone, so its copy of companies' workers never changed again.
 *   A floor row (device '*') in `device_scopes` at a new roster revision makes every device whose
 *   cursor is below it take a snapshot of its own scopes at its next download.
 */
export function up(db: SqliteDatabase): void {
  const columns = (db.prepare('PRAGMA table_info(records)').all() as { name: string }[]).map((c) => c.name);
  if (!columns.includes('scope')) rosterScopes(db);

  const revOf = (stream: string) => (db.prepare('SELECT rev FROM stream_revisions WHERE stream = ?').get(stream) as { rev: number } | undefined)?.rev ?? 0;
  const bump = db.prepare('INSERT INTO stream_revisions (stream, rev) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev');

  const unplaced = db
    .prepare(
      `SELECT d.device_id, d.site_id, d.checkpoint_id,
         (SELECT json_group_array(org_id) FROM (
            SELECT org_id FROM checkpoint_orgs o WHERE o.checkpoint_id = d.checkpoint_id
            UNION SELECT o.org_id FROM checkpoint_routes r JOIN route_orgs o ON o.route_id = r.route_id WHERE r.checkpoint_id = d.checkpoint_id
            ORDER BY 1)) AS orgs
       FROM device_sites d
       WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.stream = 'placement' AND r.key = d.device_id)`,
    )
    .all() as { device_id: string; site_id: string; checkpoint_id: string | null; orgs: string }[];
  if (unplaced.length) {
    const rev = revOf('placement') + 1;
    const put = db.prepare("INSERT INTO records (stream, key, value, deleted, rev, scope) VALUES ('placement', ?, ?, 0, ?, ?)");
    for (const d of unplaced) {
      const orgIds = d.checkpoint_id ? (JSON.parse(d.orgs) as string[]) : [];
      put.run(d.device_id, JSON.stringify({ deviceId: d.device_id, checkpointId: d.checkpoint_id, siteId: d.site_id, orgIds }), rev, d.device_id);
    }
    bump.run('placement', rev);
  }

  let roster = revOf('roster');
  const unstamped = `FROM hub_workers h WHERE h.worker_id = records.key AND records.stream = 'roster' AND records.deleted = 0
      AND (json_extract(records.value, '$.orgId') IS NOT h.org_id OR json_extract(records.value, '$.siteId') IS NOT h.site_id)`;
  const stamp = db.prepare(`UPDATE records SET rev = @rev, value = json_set(value, '$.orgId', h.org_id, '$.siteId', h.site_id) ${unstamped}`).run({ rev: roster + 1 });
  if (stamp.changes) bump.run('roster', ++roster);

  if (roster > 0 && !db.prepare("SELECT 1 FROM device_scopes WHERE device_id = '*'").get()) {
    bump.run('roster', ++roster);
    db.prepare("INSERT INTO device_scopes (device_id, rev) VALUES ('*', ?)").run(roster);
  }
}
