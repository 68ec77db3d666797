import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreVersionError } from '../../../../base/node/sqlite.js';
import type { NewGateEvent } from '../../../../base/common/types.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { MIGRATIONS } from '../../../../src-main/core/store/migrations/index.js';
import { tempDir } from '../../../helpers/fixtures.js';

const event = (over: Partial<NewGateEvent> = {}): NewGateEvent => ({
  wallMs: Date.now(),
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

describe('device database', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const file = () => {
    const d = tempDir();
    dirs.push(d);
    return join(d.path, 'nested', 'safegate.db');
  };

  it('applies the numbered migrations and records the schema version', () => {
    const db = openStore(file());
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    db.close();
  });

  it('refuses a database written by a newer version and leaves it untouched', () => {
    const path = file();
    openStore(path).close();
    const raw = new Database(path);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => openStore(path)).toThrow(StoreVersionError);
    expect(() => openStore(path)).toThrow(/newer SafeGate \(schema 99/);
    const check = new Database(path);
    expect(check.pragma('user_version', { simple: true })).toBe(99);
    check.close();
  });

  it('rolls back a failing migration as a whole', () => {
    const path = file();
    const broken = [...MIGRATIONS, { version: 99, name: 'broken', up: (db: Database.Database) => db.exec('CREATE TABLE t (x INT) STRICT; SELECT nope FROM t;') }];
    expect(() => openStore(path, { migrations: broken })).toThrow(/no such column/);
    const db = openStore(path);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 't'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('uses STRICT tables that refuse wrongly typed values', () => {
    const db = openStore(file());
    expect(() => db.prepare("INSERT INTO events (wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction, credential_kind, worker_id, decision, reasons, source, policy_version) VALUES ('soon', 1, 'b', 1, 'c', 'z', 'entry', 'pass', 'W', 'allow', '', 'serial', 1)").run()).toThrow(/cannot store TEXT value in INTEGER column/);
    db.close();
  });

  it('answers the hot queries from their indexes', () => {
    const db = openStore(file());
    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join(' | ');
    expect(plan("SELECT direction, wall_ms FROM events WHERE worker_id = 'W' AND decision = 'allow' AND zone_id = 'z' ORDER BY seq DESC LIMIT 1")).toMatch(/USING INDEX events_worker_allowed/);
    expect(plan("SELECT * FROM workers WHERE worker_id = 'W'")).toMatch(/USING PRIMARY KEY/);
    expect(plan('SELECT * FROM events WHERE synced_at IS NULL AND seq > 0 ORDER BY seq LIMIT 500')).toMatch(/USING INDEX events_unsynced/);
    // The supervisor screen's day view and exports.
    expect(plan('SELECT * FROM events WHERE wall_ms >= 0 AND wall_ms < 1 ORDER BY seq')).toMatch(/USING INDEX events_wall/);
    expect(plan('SELECT allowed_seq FROM overrides WHERE denied_seq = 1')).toMatch(/USING INTEGER PRIMARY KEY/);
    db.close();
  });

  it('numbers events without gaps and never reuses a number after a purge', () => {
    const db = openStore(file());
    const log = new EventLog(db);
    const seqs = [1, 2, 3].map(() => log.append(event({ wallMs: 1000 })));
    expect(seqs).toEqual([1, 2, 3]);
    log.markSynced(1, 3, 1);
    expect(log.purgeBefore(2000)).toBe(3);
    expect(log.append(event())).toBe(4);
    db.close();
  });

  it('is the outbox: unsynced events oldest first, marked only up to an acknowledged number', () => {
    const db = openStore(file());
    const log = new EventLog(db);
    for (let i = 0; i < 5; i++) log.append(event({ wallMs: 1000 + i }));
    expect(log.unsynced(3).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(log.markSynced(1, 3, 9999)).toBe(3);
    expect(log.unsynced(10).map((e) => e.seq)).toEqual([4, 5]);
    expect(log.unsynced(10, 4).map((e) => e.seq)).toEqual([5]);
    expect(log.outboxDepth()).toEqual({ count: 2, oldestWallMs: 1003 });
    expect(log.markSynced(1, 3, 10_000)).toBe(0);
    // An acknowledgement covers its own batch only, not events before it.
    expect(log.markSynced(5, 5, 10_000)).toBe(1);
    expect(log.unsynced(10).map((e) => e.seq)).toEqual([4]);
    db.close();
  });

  it('never purges events the hub does not have yet', () => {
    const db = openStore(file());
    const log = new EventLog(db);
    log.append(event({ wallMs: 1000 }));
    expect(log.purgeBefore(Date.now())).toBe(0);
    expect([...log.since(0)]).toHaveLength(1);
    db.close();
  });

  it('finds the last allowed passage by zone or by checkpoint', () => {
    const db = openStore(file());
    const log = new EventLog(db);
    log.append(event({ wallMs: 1, direction: 'entry' }));
    log.append(event({ wallMs: 2, direction: 'exit', checkpointId: 'gate-b' }));
    log.append(event({ wallMs: 3, direction: 'entry', decision: 'deny', reasons: ['CASE_F0'] }));
    expect(log.lastPassage('W1', { zoneId: 'factory-1' })).toEqual({ direction: 'exit', atMs: 2 });
    expect(log.lastPassage('W1', { checkpointId: 'gate-a' })).toEqual({ direction: 'entry', atMs: 1 });
    expect(log.lastPassage('W2', { zoneId: 'factory-1' })).toBeNull();
    db.close();
  });
});
