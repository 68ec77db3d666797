import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../base/node/sqlite.js';
import type { WorkerRecord } from '../../../base/common/types.js';
import { rosterCodec } from '../../../sync/downlink-codec.js';
import { DIRECTORY_MIGRATIONS, HubDirectory } from '../../../sync/hub/directory.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { healthyWorker, tempDir } from '../../helpers/fixtures.js';
import { listedWorker } from '../../helpers/listed-worker.js';

const NOW = Date.now();
const dir = tempDir('safegate-repair-');
let n = 0;
const file = () => join(dir.path, `directory-${++n}.db`);

/** A directory as a commit that registered only these migrations left it, with a company's list and a kiosk's download. */
function createdWith(path: string, versions: (v: number) => boolean, options: { placed?: boolean } = {}): void {
  const db = openDatabase(path, { migrations: DIRECTORY_MIGRATIONS.filter((m) => versions(m.version)) });
  db.exec(`
    INSERT INTO organisations (org_id, name, kind, created_ms) VALUES ('org-a', 'A', 'company', 1);
    INSERT INTO sites (site_id, org_id, name, created_ms) VALUES ('site-a', 'org-a', 'A', 1);
    INSERT INTO checkpoints (checkpoint_id, site_id, name, kind, created_ms) VALUES ('gate-a', 'site-a', 'Gate', 'gate', 1);
    INSERT INTO checkpoint_orgs (checkpoint_id, org_id) VALUES ('gate-a', 'org-a');
  `);
  const worker = db.prepare("INSERT INTO hub_workers (worker_id, org_id, site_id, team, full_name, uploaded_ms) VALUES (?, 'org-a', 'site-a', 'T1', 'Name', 1)");
  const record = db.prepare("INSERT INTO records (stream, key, value, deleted, rev) VALUES ('roster', ?, ?, 0, 1)");
  for (const id of ['a1', 'a2']) {
    worker.run(id);
    record.run(id, JSON.stringify(healthyWorker(id, NOW)));
  }
  record.run('p1', JSON.stringify(healthyWorker('p1', NOW)));
  db.exec("INSERT INTO stream_revisions (stream, rev) VALUES ('roster', 1)");
  if (versions(6)) db.exec("UPDATE records SET scope = 'org-a' WHERE key IN ('a1', 'a2')");
  if (options.placed) db.exec("INSERT INTO device_sites (device_id, site_id, since_ms, checkpoint_id) VALUES ('kiosk-gate', 'site-a', 1, 'gate-a')");
  db.close();
}

async function sync(d: HubDirectory, deviceId: string, cursor: number, held: Map<string, WorkerRecord>): Promise<{ kind: string; to: number }> {
  const parts = await d.respondTo(deviceId, { v: PROTOCOL_VERSION, stream: 'roster', cursor }, NOW);
  if (parts[0]!.kind === 'snapshot') held.clear();
  for (const c of parts.flatMap((p) => p.body.map((b) => rosterCodec.fromWire(b)))) {
    if (c.deleted) held.delete(c.key);
    else held.set(c.key, c.value);
  }
  return { kind: parts[0]!.kind, to: parts[0]!.to };
}

/**
 * SQLite only: these are directories an earlier SafeGate left in SQLite files (migration history with a
 * hole, repaired by 0012). A PostgreSQL directory starts at the whole schema (DIRECTORY_PG_MIGRATIONS
 * step 1), so it has no such history to repair.
 */
describe('directory migrations (SQLite)', () => {
  it('are numbered 1..N in order, each named by its number (a hole would be skipped by a database already past it)', async () => {
    expect(DIRECTORY_MIGRATIONS.map((m) => m.version)).toEqual(DIRECTORY_MIGRATIONS.map((_, i) => i + 1));
    for (const m of DIRECTORY_MIGRATIONS) expect(m.name.startsWith(String(m.version).padStart(4, '0') + '-')).toBe(true);
  });

  it('a directory created when 0008 was registered before 0006 and 0007 is made whole: uploads work, placements and organisations reach kiosks', async () => {
    const path = file();
    createdWith(path, (v) => v <= 5 || v === 8, { placed: true });
    const d = await HubDirectory.open({ kind: 'sqlite', path });
    await d.addSite({ id: 'site-b', orgId: 'org-a' }, NOW);
    expect((await d.uploadWorkers('org-a', [listedWorker('a1', NOW, 'site-a')], { nowMs: NOW })).workers).toBe(1);
    expect(await d.placementOf('kiosk-gate')).toMatchObject({ checkpointId: 'gate-a', orgIds: ['org-a'] });
    const placement = await d.respondTo('kiosk-gate', { v: PROTOCOL_VERSION, stream: 'placement', cursor: 0 }, NOW);
    expect(placement.flatMap((p) => p.body)).toHaveLength(1);
    const held = new Map<string, WorkerRecord>();
    await sync(d, 'kiosk-gate', 0, held);
    expect([...held.keys()]).toEqual(['a1']);
    expect(held.get('a1')).toMatchObject({ orgId: 'org-a', siteId: 'site-a' });
    await d.close();
  });

  it('a directory created when 0006 and 0008 were registered but not 0007 gets its placements and stamped workers; running the repair again changes nothing', async () => {
    const path = file();
    createdWith(path, (v) => v <= 6 || v === 8, { placed: true });
    const d = await HubDirectory.open({ kind: 'sqlite', path });
    const placement = await d.respondTo('kiosk-gate', { v: PROTOCOL_VERSION, stream: 'placement', cursor: 0 }, NOW);
    expect(placement.flatMap((p) => p.body)).toHaveLength(1);
    const held = new Map<string, WorkerRecord>();
    await sync(d, 'kiosk-gate', 0, held);
    expect([...held.keys()].sort()).toEqual(['a1', 'a2']);
    expect(held.get('a2')).toMatchObject({ orgId: 'org-a', siteId: 'site-a' });
    await d.close();
    const db = openDatabase(path, { migrations: DIRECTORY_MIGRATIONS });
    const before = db.prepare('SELECT stream, key, value, rev, scope FROM records ORDER BY stream, key').all();
    const revs = db.prepare('SELECT * FROM stream_revisions ORDER BY stream').all();
    db.transaction(() => DIRECTORY_MIGRATIONS.find((m) => m.name === '0012-repair')!.up(db))();
    expect(db.prepare('SELECT stream, key, value, rev, scope FROM records ORDER BY stream, key').all()).toEqual(before);
    expect(db.prepare('SELECT * FROM stream_revisions ORDER BY stream').all()).toEqual(revs);
    db.close();
  });

  it('a kiosk at no checkpoint that held every organisation before roster scoping gets a snapshot of the province list at its next download', async () => {
    const path = file();
    createdWith(path, (v) => v <= 5);
    const d = await HubDirectory.open({ kind: 'sqlite', path });
    const held = new Map<string, WorkerRecord>([['a1', healthyWorker('a1', NOW)], ['a2', healthyWorker('a2', NOW)], ['p1', healthyWorker('p1', NOW)]]);
    await d.uploadWorkers('org-a', [listedWorker('a1', NOW, 'site-a')], { nowMs: NOW }); // org A drops a2
    const got = await sync(d, 'kiosk-old', 1, held);
    expect(got.kind).toBe('snapshot');
    expect([...held.keys()]).toEqual(['p1']);
    // Once it holds the snapshot, deltas again.
    await d.importRoster([healthyWorker('p2', NOW)], false);
    expect((await sync(d, 'kiosk-old', got.to, held)).kind).toBe('delta');
    expect([...held.keys()].sort()).toEqual(['p1', 'p2']);
    await d.close();
  });
});
