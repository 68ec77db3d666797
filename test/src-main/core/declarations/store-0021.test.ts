import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewGateEvent } from '../../../../base/common/types.js';
import { silentLogger } from '../../../../base/node/logger.js';
import type { SqliteDatabase } from '../../../../base/node/sqlite.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { HeldSpool, readSpool } from '../../../../src-main/core/store/held-spool.js';
import { MIGRATIONS } from '../../../../src-main/core/store/migrations/index.js';
import { tempDir } from '../../../helpers/fixtures.js';

const T0 = Date.parse('2026-11-27T06:00:00Z');
const VISITOR = 'vk1.0123456789abcdef0123456789abcdef';

const event = (over: Partial<NewGateEvent> = {}): NewGateEvent => ({
  wallMs: T0,
  monoUs: 1,
  bootId: 'boot',
  clockSynced: true,
  checkpointId: 'gate-a',
  zoneId: 'factory-1',
  direction: 'entry',
  credentialKind: 'pass',
  workerId: 'W1',
  codeHash: null,
  decision: 'allow',
  reasons: [],
  source: 'serial',
  policyVersion: 1,
  ...over,
});

const declaration = (answers: number, over: Partial<NewGateEvent> = {}): NewGateEvent =>
  event({ source: 'declaration', declaration: { answers }, ...(answers ? { decision: 'deny', reasons: ['DECLARATION_FLAGGED'] } : {}), ...over });
const visitorEvent = (over: Partial<NewGateEvent> = {}): NewGateEvent =>
  event({
    credentialKind: 'cccd',
    workerId: null,
    visitorId: VISITOR,
    source: 'visitor',
    reasons: ['VISITOR_REGISTERED'],
    visit: { name: 'Nguyễn Văn Khách', host: 'Phòng nhân sự', purpose: 'Họp', noticeVersion: 1 },
    ...over,
  });

/** Kiosk store migration 0021 (issue 14): declaration answers, visitors and visits on events, on real SQLite files. */
describe('kiosk store: events of the gate for everyone (migration 0021)', () => {
  const dirs: { path: string; remove(): void }[] = [];
  const dbs: SqliteDatabase[] = [];
  afterEach(() => {
    dbs.splice(0).forEach((db) => db.open && db.close());
    dirs.splice(0).forEach((d) => d.remove());
  });
  const fresh = (migrations = MIGRATIONS) => {
    const dir = tempDir('safegate-0021-');
    dirs.push(dir);
    const path = join(dir.path, 'kiosk.db');
    const db = openStore(path, { migrations });
    dbs.push(db);
    return { dir, path, db };
  };

  it('writes and reads back a declaration, a visitor registration and a visitor scan exactly; other events carry none of the fields', () => {
    const { db } = fresh();
    const log = new EventLog(db);
    const a = log.append(declaration(0));
    const b = log.append(declaration(0b101, { workerId: null, credentialKind: 'cccd', visitorId: VISITOR }));
    const c = log.append(visitorEvent());
    const d = log.append(visitorEvent({ source: 'camera', visit: undefined, reasons: [] }));
    const e = log.append(event());
    expect(log.get(a)).toMatchObject({ source: 'declaration', declaration: { answers: 0 }, workerId: 'W1' });
    expect(log.get(a)).not.toHaveProperty('visitorId');
    expect(log.get(b)).toMatchObject({ declaration: { answers: 5 }, visitorId: VISITOR, workerId: null, codeHash: null, decision: 'deny', reasons: ['DECLARATION_FLAGGED'] });
    expect(log.get(c)!.visit).toEqual({ name: 'Nguyễn Văn Khách', host: 'Phòng nhân sự', purpose: 'Họp', noticeVersion: 1 });
    expect(log.get(d)).toMatchObject({ credentialKind: 'cccd', visitorId: VISITOR, workerId: null, codeHash: null });
    expect(log.get(d)).not.toHaveProperty('visit');
    for (const key of ['declaration', 'visitorId', 'visit']) expect(log.get(e)).not.toHaveProperty(key);
    const wire = log.unsynced(10);
    expect(wire.map((w) => w.seq)).toEqual([a, b, c, d, e]);
    expect(wire[1]).toMatchObject({ declaration: { answers: 5 }, visitorId: VISITOR });
    expect(wire[2]!.visit).toEqual({ name: 'Nguyễn Văn Khách', host: 'Phòng nhân sự', purpose: 'Họp', noticeVersion: 1 });
    for (const key of ['declaration', 'visitorId', 'visit', 'tripId']) expect(wire[4]).not.toHaveProperty(key);
    // The alerting path (an alert row in the same transaction) reads the fields back too.
    log.append(declaration(1, { decision: 'deny', reasons: ['DECLARATION_FLAGGED'] }), 'flagged-entry-attempt');
    expect(log.unsentAlerts(5).at(-1)!.event.declaration).toEqual({ answers: 1 });
  });

  it('refuses rows that break the rules: answers out of range or on another source, a visit on a scan, nobody named', () => {
    const { db } = fresh();
    const log = new EventLog(db);
    expect(() => log.append(declaration(2048))).toThrow(/CHECK constraint/);
    expect(() => log.append(declaration(-1))).toThrow(/CHECK constraint/);
    expect(() => log.append(event({ declaration: { answers: 0 } }))).toThrow(/CHECK constraint/);
    // Since 0024 the table lets a declaration lose its answers after 14 days; the log still never makes one without them.
    expect(() => log.append(event({ source: 'declaration' }))).toThrow(/carries its answers/);
    expect(() => log.append(event({ visit: { host: 'x' } }))).toThrow(/CHECK constraint/);
    expect(() => log.append(event({ workerId: null, codeHash: null }))).toThrow(/CHECK constraint/);
    expect(() => log.append(event({ credentialKind: 'nfc' as never }))).toThrow(/CHECK constraint/);
    expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(0);
  });

  it('upgrades a schema-20 store keeping every event, alert, override and the sequence counter', () => {
    const { path, db } = fresh(MIGRATIONS.slice(0, 20));
    expect(db.pragma('user_version', { simple: true })).toBe(20);
    const log = new EventLog20(db);
    const denied = log.append({ ...event({ decision: 'deny', reasons: ['DECLARATION_MISSING'] }) }, 'flagged-entry-attempt');
    const allowed = log.append(event({ wallMs: T0 + 1_000, tripId: undefined }));
    const bus = log.append(event({ wallMs: T0 + 2_000, checkpointId: 'bus-1', zoneId: 'bus-1' }), undefined, { trip: 'T1', lat: 10.5, lon: 106.7 });
    const purged = log.append(event({ wallMs: T0 + 3_000 }));
    db.prepare("INSERT INTO overrides (denied_seq, allowed_seq, note, at_ms, supervisor_id, supervisor_name, reason_code) VALUES (?, ?, 'checked by phone', ?, 'sv-1', NULL, 'other')").run(denied, allowed, T0);
    db.prepare('UPDATE events SET synced_at = ? WHERE seq = ?').run(T0 + 5_000, allowed);
    db.prepare('DELETE FROM events WHERE seq = ?').run(purged);
    const before = db.prepare('SELECT * FROM events ORDER BY seq').all();
    db.close();

    const up = openStore(path);
    dbs.push(up);
    expect(up.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(21);
    expect(up.prepare('SELECT seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction, credential_kind, worker_id, code_hash, decision, reasons, source, policy_version, synced_at, trip_id, route_id, lat, lon, position, clock_source FROM events ORDER BY seq').all()).toEqual(before);
    expect(up.prepare('SELECT count(*) FROM events WHERE declaration_bits IS NOT NULL OR visitor_id IS NOT NULL OR visit IS NOT NULL').pluck().get()).toBe(0);
    expect(up.prepare('SELECT seq, kind, sent_at, note FROM alerts').all()).toEqual([{ seq: denied, kind: 'flagged-entry-attempt', sent_at: null, note: null }]);
    expect(up.prepare('SELECT denied_seq, allowed_seq, note, supervisor_id, reason_code FROM overrides').all()).toEqual([
      { denied_seq: denied, allowed_seq: allowed, note: 'checked by phone', supervisor_id: 'sv-1', reason_code: 'other' },
    ]);
    // The children still cascade from the rebuilt table, and keep their indexes.
    const indexes = up.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('events', 'alerts', 'overrides') AND sql IS NOT NULL ORDER BY name").pluck().all();
    expect(indexes).toEqual(['alerts_unsent', 'events_trace', 'events_trip', 'events_unsynced', 'events_visitor', 'events_wall', 'events_worker_allowed', 'overrides_allowed']);
    expect(up.pragma('foreign_key_check')).toEqual([]);
    // A purged number is never given again.
    const next = new EventLog(up).append(event({ wallMs: T0 + 9_000 }));
    expect(next).toBe(purged + 1);
    expect(new EventLog(up).get(bus)).toMatchObject({ tripId: 'T1', position: { lat: 10.5, lon: 106.7 } });
    up.prepare('DELETE FROM events WHERE seq = ?').run(denied);
    expect(up.prepare('SELECT count(*) FROM alerts').pluck().get()).toBe(0);
    expect(up.prepare('SELECT count(*) FROM overrides').pluck().get()).toBe(0);
  });

  it('keeps the counter when every event was purged before the upgrade', () => {
    const { path, db } = fresh(MIGRATIONS.slice(0, 20));
    const log = new EventLog20(db);
    for (let i = 0; i < 5; i++) log.append(event({ wallMs: T0 + i }));
    db.exec('DELETE FROM events');
    db.close();
    const up = openStore(path);
    dbs.push(up);
    expect(new EventLog(up).append(event())).toBe(6);
  });

  it('finds a visitor\'s events by the visitor index', () => {
    const { db } = fresh();
    const plan = db
      .prepare("EXPLAIN QUERY PLAN SELECT seq, direction FROM events WHERE visitor_id = ? AND seq > ? ORDER BY seq")
      .all(VISITOR, 0) as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' | ')).toMatch(/USING (COVERING )?INDEX events_visitor/);
    const last = db
      .prepare("EXPLAIN QUERY PLAN SELECT seq, direction FROM events WHERE visitor_id = ? AND decision = 'allow' ORDER BY seq DESC LIMIT 1")
      .all(VISITOR) as { detail: string }[];
    expect(last.map((p) => p.detail).join(' | ')).toMatch(/INDEX events_visitor/);
  });

  it('holds and stores the new fields through the held-event spool (a kill in between loses none)', () => {
    const { dir, db } = fresh();
    const log = new EventLog(db);
    const runDir = join(dir.path, 'run');
    const file = join(runDir, 'kiosk.held.jsonl');
    const a = new HeldSpool({ file, dir: runDir, db, events: log, log: silentLogger });
    a.open();
    a.add({ event: declaration(0b11, { decision: 'deny', reasons: ['DECLARATION_FLAGGED'] }), alert: undefined });
    a.add({ event: visitorEvent(), alert: undefined });
    a.add({ event: visitorEvent({ source: 'visitor', reasons: ['VISITOR_APPROVED'], visit: { decidedBy: 'sv-1' } }), alert: undefined });
    expect(readSpool(file)).toMatchObject({ unreadable: 0 });
    expect(readSpool(file).entries).toHaveLength(3);
    // Killed here; the next start takes them back and stores them.
    const b = new HeldSpool({ file, dir: runDir, db, events: log, log: silentLogger });
    expect(b.open()).toBe(3);
    expect(b.storeChunk(10)).toBe(3);
    const rows = log.unsynced(10);
    expect(rows.map((r) => [r.source, r.declaration?.answers, r.visitorId, r.visit])).toEqual([
      ['declaration', 3, undefined, undefined],
      ['visitor', undefined, VISITOR, { name: 'Nguyễn Văn Khách', host: 'Phòng nhân sự', purpose: 'Họp', noticeVersion: 1 }],
      ['visitor', undefined, VISITOR, { decidedBy: 'sv-1' }],
    ]);
  });

  it('the spool refuses a held line with a malformed visitor id or answers out of range (not ours), and reads the rest', () => {
    const { dir } = fresh();
    const file = join(dir.path, 'held.jsonl');
    const ok = { i: 1, event: declaration(1) };
    const lines = [
      { spool: 'abcdefgh12' },
      ok,
      { i: 2, event: declaration(4096) },
      { i: 3, event: visitorEvent({ visitorId: 'VK1.XYZ' }) },
      { i: 4, event: { ...visitorEvent(), visit: { name: 'x', address: 'somewhere' } } },
    ];
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n', { mode: 0o600 });
    const found = readSpool(file);
    expect(found.entries.map((e) => e.i)).toEqual([1]);
    expect(found.unreadable).toBe(3);
  });
});

/** Writes events as the schema-20 kiosk did (its columns only), for the upgrade tests. */
class EventLog20 {
  private readonly insert;
  constructor(private readonly db: SqliteDatabase) {
    this.insert = db.prepare(`
      INSERT INTO events (wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction, credential_kind, worker_id, code_hash,
        decision, reasons, source, policy_version, trip_id, lat, lon, position)
      VALUES (@wallMs, @monoUs, @bootId, @clockSynced, @checkpointId, @zoneId, @direction, @credentialKind, @workerId, @codeHash,
        @decision, @reasons, @source, @policyVersion, @trip, @lat, @lon, @position)`);
  }
  append(e: NewGateEvent, alert?: 'flagged-entry-attempt', bus?: { trip: string; lat: number; lon: number }): number {
    const seq = Number(
      this.insert.run({
        ...e,
        clockSynced: e.clockSynced ? 1 : 0,
        reasons: e.reasons.join(' '),
        trip: bus?.trip ?? null,
        lat: bus?.lat ?? null,
        lon: bus?.lon ?? null,
        position: bus ? 'fix' : null,
        tripId: undefined,
      }).lastInsertRowid,
    );
    if (alert) this.db.prepare('INSERT INTO alerts (seq, kind) VALUES (?, ?)').run(seq, alert);
    return seq;
  }
}
