import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../base/node/sqlite.js';
import type { WorkerRecord } from '../../../base/common/types.js';
import { rosterCodec, streamCodecs } from '../../../sync/downlink-codec.js';
import { DIRECTORY_MIGRATIONS, HubDirectory } from '../../../sync/hub/directory.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { healthyWorker, tempDir } from '../../helpers/fixtures.js';
import { listedWorker } from '../../helpers/listed-worker.js';

const NOW = Date.parse('2026-11-27T06:00:00Z');

const listed = (workerId: string) => listedWorker(workerId, NOW);

/** A kiosk's roster as the downlink applies it: a snapshot replaces everything, a delta changes what it names. */
class KioskRoster {
  cursor = 0;
  readonly workers = new Map<string, WorkerRecord>();
  kinds: string[] = [];

  async sync(d: HubDirectory, deviceId: string): Promise<void> {
    const parts = await d.respondTo(deviceId, { v: PROTOCOL_VERSION, stream: 'roster', cursor: this.cursor }, NOW, 2);
    const kind = parts[0]!.kind;
    this.kinds.push(kind);
    if (kind === 'current') return;
    if (kind === 'snapshot') this.workers.clear();
    else expect(parts[0]!.from).toBe(this.cursor);
    for (const c of parts.flatMap((p) => p.body.map((b) => rosterCodec.fromWire(b)))) {
      if (c.deleted) this.workers.delete(c.key);
      else this.workers.set(c.key, c.value);
    }
    this.cursor = parts[0]!.to;
  }

  ids(): string[] {
    return [...this.workers.keys()].sort();
  }
}

/** Which workers each device receives: its checkpoint's organisations' (hub side, with a kiosk's apply rules). */
describe.each(directoryBackends)('roster scope per checkpoint on $name', (backend) => {
  let d: HubDirectory;

  beforeEach(async () => {
    d = await HubDirectory.open(await backend.target());
    await d.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' }, NOW);
    await d.addOrganisation({ id: 'org-b', name: 'Công ty B', kind: 'company' }, NOW);
    await d.addSite({ id: 'site-a', orgId: 'org-a' }, NOW);
    await d.addSite({ id: 'site-b', orgId: 'org-b' }, NOW);
    await d.addCheckpoint({ id: 'gate-a', siteId: 'site-a', kind: 'gate' }, NOW);
    await d.addCheckpoint({ id: 'gate-b', siteId: 'site-b', kind: 'gate' }, NOW);
    await d.addCheckpoint({ id: 'gate-kcn', siteId: 'site-a', kind: 'gate', orgIds: ['org-a', 'org-b'] }, NOW);
    await d.placeDevices('gate-a', ['kiosk-a'], NOW);
    await d.placeDevices('gate-b', ['kiosk-b'], NOW);
    await d.placeDevices('gate-kcn', ['kiosk-kcn'], NOW);
    await d.importRoster([healthyWorker('P1', NOW), healthyWorker('P2', NOW)], false);
    await d.uploadWorkers('org-a', [listed('A1'), listed('A2')], { nowMs: NOW });
    await d.uploadWorkers('org-b', [listed('B1')], { nowMs: NOW });
  });
  afterEach(async () => {
    await d.close();
  });

  it("gives a gate its organisations' workers, a shared gate both, a device at no checkpoint the province list only", async () => {
    const a = new KioskRoster();
    const kcn = new KioskRoster();
    const loose = new KioskRoster();
    await a.sync(d, 'kiosk-a');
    await kcn.sync(d, 'kiosk-kcn');
    await loose.sync(d, 'kiosk-nowhere');
    expect(a.ids()).toEqual(['A1', 'A2']);
    expect(kcn.ids()).toEqual(['A1', 'A2', 'B1']);
    expect(loose.ids()).toEqual(['P1', 'P2']);
    expect(await d.rosterScopes('kiosk-kcn')).toEqual(['org-a', 'org-b']);

    // A change to org B reaches the shared gate as a delta, and org A's gate as nothing of B's.
    await d.uploadWorkers('org-b', [listed('B1'), listed('B2')], { nowMs: NOW });
    await a.sync(d, 'kiosk-a');
    await kcn.sync(d, 'kiosk-kcn');
    expect(a.ids()).toEqual(['A1', 'A2']);
    expect(kcn.ids()).toEqual(['A1', 'A2', 'B1', 'B2']);
    expect(kcn.kinds.at(-1)).toBe('delta');
  });

  it('sends a worker who leaves an organisation, or moves to another, as a removal to the old scope only', async () => {
    const a = new KioskRoster();
    const b = new KioskRoster();
    const kcn = new KioskRoster();
    for (const [k, id] of [[a, 'kiosk-a'], [b, 'kiosk-b'], [kcn, 'kiosk-kcn']] as const) await k.sync(d, id);

    await d.uploadWorkers('org-a', [listed('A1')], { nowMs: NOW }); // A2 leaves org A
    await d.uploadWorkers('org-b', [listed('B1'), listed('A2')], { nowMs: NOW }); // and joins org B
    for (const [k, id] of [[a, 'kiosk-a'], [b, 'kiosk-b'], [kcn, 'kiosk-kcn']] as const) await k.sync(d, id);
    expect(a.ids()).toEqual(['A1']);
    expect(b.ids()).toEqual(['A2', 'B1']);
    expect(kcn.ids()).toEqual(['A1', 'A2', 'B1']);
    expect([a.kinds.at(-1), b.kinds.at(-1), kcn.kinds.at(-1)]).toEqual(['delta', 'delta', 'delta']);

    // Off every list, then back on the province list: org B's kiosk drops them, the province's gets them.
    const loose = new KioskRoster();
    await loose.sync(d, 'kiosk-nowhere');
    await d.uploadWorkers('org-b', [listed('B1')], { nowMs: NOW });
    await d.importRoster([healthyWorker('A2', NOW)], false);
    await b.sync(d, 'kiosk-b');
    await loose.sync(d, 'kiosk-nowhere');
    await a.sync(d, 'kiosk-a');
    expect(b.ids()).toEqual(['B1']);
    expect(loose.ids()).toEqual(['A2', 'P1', 'P2']);
    expect(a.ids()).toEqual(['A1']);
  });

  it("gives a device a fresh snapshot when its checkpoint's organisations change or it moves", async () => {
    const kcn = new KioskRoster();
    const a = new KioskRoster();
    await kcn.sync(d, 'kiosk-kcn');
    await a.sync(d, 'kiosk-a');

    await d.setCheckpointOrganisations('gate-kcn', ['org-a']);
    await kcn.sync(d, 'kiosk-kcn');
    expect(kcn.kinds.at(-1)).toBe('snapshot');
    expect(kcn.ids()).toEqual(['A1', 'A2']);
    // Other devices' scopes did not change: they get an empty delta, not a snapshot.
    await a.sync(d, 'kiosk-a');
    expect(a.kinds.at(-1)).toBe('delta');
    expect(a.ids()).toEqual(['A1', 'A2']);

    await d.placeDevices('gate-b', ['kiosk-a'], NOW);
    await a.sync(d, 'kiosk-a');
    expect(a.kinds.at(-1)).toBe('snapshot');
    expect(a.ids()).toEqual(['B1']);

    // Moved to another site, a device leaves its checkpoint: the province list, no company's workers.
    await d.assignSite('market-9', ['kiosk-a'], NOW);
    await a.sync(d, 'kiosk-a');
    expect(a.ids()).toEqual(['P1', 'P2']);
    await d.placeDevices('gate-a', ['kiosk-a'], NOW);
    await a.sync(d, 'kiosk-a');
    await d.unassignSite(['kiosk-a']);
    await a.sync(d, 'kiosk-a');
    expect(a.ids()).toEqual(['P1', 'P2']);

    // A lost snapshot is asked for again with the old cursor, and comes again.
    const before = kcn.cursor;
    await d.setCheckpointOrganisations('gate-kcn', ['org-a', 'org-b']);
    expect((await d.respondTo('kiosk-kcn', { v: PROTOCOL_VERSION, stream: 'roster', cursor: before }, NOW))[0]!.kind).toBe('snapshot');
    await kcn.sync(d, 'kiosk-kcn');
    expect(kcn.ids()).toEqual(['A1', 'A2', 'B1']);
    expect(await d.setCheckpointOrganisations('gate-kcn', ['org-b', 'org-a'])).toEqual({ added: [], removed: [] });
    await kcn.sync(d, 'kiosk-kcn');
    expect(kcn.kinds.at(-1)).toBe('current');
  });

  it("sends each device its own placement only, and a new one when it moves or its checkpoint's organisations change", async () => {
    const placementOf = async (deviceId: string, cursor = 0) =>
      (await d.respondTo(deviceId, { v: PROTOCOL_VERSION, stream: 'placement', cursor }, NOW)).flatMap((p) => p.body.map((b) => streamCodecs.placement.fromWire(b)));
    expect(await placementOf('kiosk-kcn')).toEqual([{ deleted: false, key: 'kiosk-kcn', value: { deviceId: 'kiosk-kcn', checkpointId: 'gate-kcn', siteId: 'site-a', orgIds: ['org-a', 'org-b'] } }]);
    expect(await placementOf('kiosk-nowhere')).toEqual([]);
    const at = await d.revision('placement');
    await d.setCheckpointOrganisations('gate-kcn', ['org-b']);
    expect(await placementOf('kiosk-kcn', at)).toEqual([{ deleted: false, key: 'kiosk-kcn', value: { deviceId: 'kiosk-kcn', checkpointId: 'gate-kcn', siteId: 'site-a', orgIds: ['org-b'] } }]);
    expect(await placementOf('kiosk-a', at)).toEqual([]);
    await d.unassignSite(['kiosk-kcn']);
    expect(await placementOf('kiosk-kcn', at)).toEqual([{ deleted: true, key: 'kiosk-kcn' }]);
    // Roster records carry the worker's organisation and site, kept when the health side updates them.
    await d.importRoster([healthyWorker('A1', NOW, { caseStatus: 'F1' })], false);
    const a = new KioskRoster();
    await a.sync(d, 'kiosk-a');
    expect(a.workers.get('A1')).toMatchObject({ caseStatus: 'F1', orgId: 'org-a', siteId: 'site-a' });
  });

  it('refuses a checkpoint served by no organisation or an unknown one', async () => {
    await expect(d.setCheckpointOrganisations('gate-a', [])).rejects.toThrow(/at least one organisation/);
    await expect(d.setCheckpointOrganisations('gate-a', ['org-z'])).rejects.toThrow(/no organisation org-z/);
    await expect(d.setCheckpointOrganisations('gate-z', ['org-a'])).rejects.toThrow(/no checkpoint gate-z/);
  });

});

describe('roster scope on SQLite', () => {
  const dir = tempDir('safegate-scope-');
  afterEach(() => dir.remove());

  it('reads a scope by its index (EXPLAIN QUERY PLAN)', async () => {
    const file = join(dir.path, 'directory.db');
    await (await HubDirectory.open({ kind: 'sqlite', path: file })).close();
    const db = new Database(file, { readonly: true });
    try {
      const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
      expect(plan("SELECT key FROM records WHERE stream = 'roster' AND rev > 5 AND scope IN ('org-a', 'org-b')")).toMatch(/INDEX records_scope/);
      expect(plan("SELECT worker_id FROM roster_departures WHERE rev > 5 AND scope IN ('org-a')")).toMatch(/INDEX roster_departures_scope/);
    } finally {
      db.close();
    }
  });
});

/** Migrations of a SQLite directory made by an earlier SafeGate (PostgreSQL starts at the whole schema, DIRECTORY_PG_MIGRATIONS step 1). */
describe('placement migration (0007)', () => {
  const dir = tempDir('safegate-placement-mig-');
  afterEach(() => dir.remove());

  it("gives placed devices their placement and listed workers their organisation and site, at a new roster revision", async () => {
    const file = join(dir.path, 'directory.db');
    const old = openDatabase(file, { migrations: DIRECTORY_MIGRATIONS.slice(0, 6) });
    old.exec(`
      INSERT INTO organisations VALUES ('org-a', 'A', 'company', 1);
      INSERT INTO sites VALUES ('site-a', 'org-a', 'A', 1);
      INSERT INTO checkpoints VALUES ('gate-a', 'site-a', 'gate-a', 'gate', 1);
      INSERT INTO checkpoint_orgs VALUES ('gate-a', 'org-a');
      INSERT INTO device_sites (device_id, site_id, since_ms, checkpoint_id) VALUES ('kiosk-a', 'site-a', 1, 'gate-a'), ('kiosk-s', 'site-a', 1, NULL);
      INSERT INTO hub_workers (worker_id, org_id, site_id, team, full_name, uploaded_ms) VALUES ('A1', 'org-a', 'site-a', 'T', 'A1', 1);
      INSERT INTO stream_revisions VALUES ('roster', 4);
    `);
    old.prepare("INSERT INTO records (stream, key, value, deleted, rev, scope) VALUES ('roster', 'A1', ?, 0, 4, 'org-a')").run(JSON.stringify(healthyWorker('A1', NOW)));
    old.close();
    const d = await HubDirectory.open({ kind: 'sqlite', path: file });
    try {
      expect(await d.placementOf('kiosk-a')).toEqual({ deviceId: 'kiosk-a', checkpointId: 'gate-a', siteId: 'site-a', orgIds: ['org-a'] });
      const placed = (await d.respondTo('kiosk-s', { v: PROTOCOL_VERSION, stream: 'placement', cursor: 0 }, NOW)).flatMap((p) => p.body.map((b) => streamCodecs.placement.fromWire(b)));
      expect(placed).toEqual([{ deleted: false, key: 'kiosk-s', value: { deviceId: 'kiosk-s', checkpointId: null, siteId: 'site-a', orgIds: [] } }]);
      // 0007 stamps the record at revision 5; the repair (0012) then sends every kiosk a snapshot at 6.
      const delta = await d.respondTo('kiosk-a', { v: PROTOCOL_VERSION, stream: 'roster', cursor: 4 }, NOW);
      expect(delta[0]).toMatchObject({ kind: 'snapshot', from: 0, to: 6 });
      expect(delta.flatMap((p) => p.body.map((b) => rosterCodec.fromWire(b)))).toEqual([{ deleted: false, key: 'A1', value: { ...healthyWorker('A1', NOW), orgId: 'org-a', siteId: 'site-a' } }]);
    } finally {
      await d.close();
    }
  });
});

describe('roster scope migration (0006)', () => {
  const dir = tempDir('safegate-scope-mig-');
  afterEach(() => dir.remove());

  it("puts uploaded workers in their organisation's scope and sends devices already at a checkpoint a snapshot", async () => {
    const file = join(dir.path, 'directory.db');
    const old = openDatabase(file, { migrations: DIRECTORY_MIGRATIONS.slice(0, 5) });
    old.exec(`
      INSERT INTO organisations VALUES ('org-a', 'A', 'company', 1);
      INSERT INTO sites VALUES ('site-a', 'org-a', 'A', 1);
      INSERT INTO checkpoints VALUES ('gate-a', 'site-a', 'gate-a', 'gate', 1);
      INSERT INTO checkpoint_orgs VALUES ('gate-a', 'org-a');
      INSERT INTO device_sites (device_id, site_id, since_ms, checkpoint_id) VALUES ('kiosk-a', 'site-a', 1, 'gate-a');
      INSERT INTO hub_workers (worker_id, org_id, site_id, team, full_name, uploaded_ms) VALUES ('A1', 'org-a', 'site-a', 'T', 'A1', 1);
      INSERT INTO stream_revisions VALUES ('roster', 2);
    `);
    const put = old.prepare("INSERT INTO records (stream, key, value, deleted, rev) VALUES ('roster', ?, ?, 0, ?)");
    put.run('A1', JSON.stringify(healthyWorker('A1', NOW)), 2);
    put.run('P1', JSON.stringify(healthyWorker('P1', NOW)), 1);
    old.close();

    const d = await HubDirectory.open({ kind: 'sqlite', path: file });
    try {
      const k = new KioskRoster();
      k.cursor = 2; // it held the province's whole roster at revision 2
      k.workers.set('P1', healthyWorker('P1', NOW));
      await k.sync(d, 'kiosk-a');
      expect(k.kinds).toEqual(['snapshot']);
      expect(k.ids()).toEqual(['A1']);
    } finally {
      await d.close();
    }
  });
});
