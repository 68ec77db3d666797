import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * A kiosk receives only the workers its checkpoint serves. Each roster record is in one scope: the
 * organisation whose uploaded list names the worker, or '' for the province-wide list
 * (`safegate hub roster import`). A tombstone keeps the scope the worker was removed from.
 *
 * `roster_departures` remembers that a worker left a scope while staying on the roster (moved to
 * another organisation's list, or back to the province list), so the kiosks of the old scope get the
 * removal. `device_scopes` holds, per device, the roster revision at which the set of scopes it
 * receives last changed (moved to another checkpoint or site, its checkpoint's organisations
 * changed): a kiosk whose cursor is below it gets a fresh snapshot instead of a delta.
 *
 * Devices already at a checkpoint held the province's whole roster: they get a snapshot of their
 * scope at their next download.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    ALTER TABLE records ADD COLUMN scope TEXT NOT NULL DEFAULT '';
    UPDATE records SET scope = (SELECT h.org_id FROM hub_workers h WHERE h.worker_id = records.key)
      WHERE stream = 'roster' AND key IN (SELECT worker_id FROM hub_workers);
    CREATE INDEX records_scope ON records (stream, scope, rev);

    CREATE TABLE roster_departures (
      worker_id TEXT    NOT NULL,
      scope     TEXT    NOT NULL,
      rev       INTEGER NOT NULL,
      PRIMARY KEY (worker_id, scope)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX roster_departures_scope ON roster_departures (scope, rev);

    CREATE TABLE device_scopes (
      device_id TEXT    PRIMARY KEY,
      rev       INTEGER NOT NULL
    ) STRICT;
  `);
  const placed = db.prepare('SELECT device_id FROM device_sites WHERE checkpoint_id IS NOT NULL').all() as { device_id: string }[];
  if (placed.length === 0) return;
  const held = db.prepare("SELECT rev FROM stream_revisions WHERE stream = 'roster'").get() as { rev: number } | undefined;
  const rev = (held?.rev ?? 0) + 1;
  db.prepare("INSERT INTO stream_revisions (stream, rev) VALUES ('roster', ?) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev").run(rev);
  const put = db.prepare('INSERT INTO device_scopes (device_id, rev) VALUES (?, ?)');
  for (const d of placed) put.run(d.device_id, rev);
}
