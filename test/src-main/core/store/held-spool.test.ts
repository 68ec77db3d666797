import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../base/node/logger.js';
import type { SqliteDatabase } from '../../../../base/node/sqlite.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { HeldSpool, spooledCount, type HeldEvent } from '../../../../src-main/core/store/held-spool.js';
import { typicalEvents } from '../../../helpers/events.js';
import { tempDir } from '../../../helpers/fixtures.js';

function held(n: number, startMs = Date.parse('2026-11-27T06:00:00Z')): HeldEvent[] {
  return typicalEvents(n, 1, startMs).map(({ seq: _seq, ...event }) => ({ event: { ...event, decision: 'deny' as const, reasons: ['STORE_UNAVAILABLE' as const] }, alert: undefined }));
}

/**
 * The held-event spool against a real store file and a real spool file: a process that dies at any
 * point (simulated by dropping the spool object without closing it, as SIGKILL would) loses no held
 * event and stores none twice at the next start.
 */
describe('held-event spool', () => {
  const dirs: { path: string; remove(): void }[] = [];
  const dbs: SqliteDatabase[] = [];
  afterEach(() => {
    dbs.splice(0).forEach((db) => db.close());
    dirs.splice(0).forEach((d) => d.remove());
  });

  function rig() {
    const dir = tempDir('safegate-spool-');
    dirs.push(dir);
    const runDir = join(dir.path, 'run');
    const file = join(runDir, 'kiosk.held.jsonl');
    const db = openStore(join(dir.path, 'store.db'));
    dbs.push(db);
    const events = new EventLog(db);
    const spool = () => new HeldSpool({ file, dir: runDir, db, events, log: silentLogger });
    const stored = () => (db.prepare('SELECT count(*) FROM events').pluck().get() as number) ?? 0;
    return { file, runDir, db, events, spool, stored };
  }

  it('keeps each held event in RAM at once: a kill after holding loses none', () => {
    const r = rig();
    const a = r.spool();
    a.open();
    for (const h of held(7)) a.add(h);
    // Killed here: no close(). The next start takes all seven back.
    const b = r.spool();
    expect(spooledCount(r.db, r.file)).toBe(7);
    expect(b.open()).toBe(7);
    expect(b.storeChunk(500)).toBe(7);
    expect(r.stored()).toBe(7);
    expect(existsSync(r.file)).toBe(false);
  });

  it('a kill between stored chunks stores nothing twice: the next start takes back only what is above the mark', () => {
    const r = rig();
    const a = r.spool();
    a.open();
    const items = held(1_200);
    for (const h of items) a.add(h);
    expect(a.storeChunk(500)).toBe(500);
    expect(a.storeChunk(500)).toBe(500);
    // Killed before the last chunk: the file still holds all 1,200 lines.
    const b = r.spool();
    expect(spooledCount(r.db, r.file)).toBe(200);
    expect(b.open()).toBe(200);
    while (b.count) b.storeChunk(500);
    expect(r.stored()).toBe(1_200);
    const monos = r.db.prepare('SELECT mono_us FROM events ORDER BY seq').pluck().all() as number[];
    expect(monos).toEqual(items.map((h) => h.event.monoUs));
    // A start after everything was stored takes nothing back.
    const c = r.spool();
    expect(c.open()).toBe(0);
    expect(r.stored()).toBe(1_200);
  });

  it('carries on with the same spool after a restart: new events are numbered after the old ones', () => {
    const r = rig();
    const a = r.spool();
    a.open();
    const items = held(10);
    for (const h of items.slice(0, 4)) a.add(h);
    a.storeChunk(2);
    const b = r.spool();
    expect(b.open()).toBe(2);
    for (const h of items.slice(4)) b.add(h);
    expect(b.count).toBe(8);
    // Killed again before storing: still nothing lost, nothing doubled.
    const c = r.spool();
    expect(c.open()).toBe(8);
    while (c.count) c.storeChunk(3);
    expect(r.db.prepare('SELECT mono_us FROM events ORDER BY seq').pluck().all()).toEqual(items.map((h) => h.event.monoUs));
  });

  it('takes back a spill file of the earlier format (events only) once', () => {
    const r = rig();
    mkdirSync(r.runDir, { mode: 0o700 });
    writeFileSync(r.file, held(3).map((h) => JSON.stringify({ event: h.event }) + '\n').join('') + '{"event": cut short', { mode: 0o600 });
    const a = r.spool();
    expect(a.open()).toBe(3);
    a.storeChunk(1);
    const b = r.spool();
    expect(b.open()).toBe(2);
    while (b.count) b.storeChunk(500);
    expect(r.stored()).toBe(3);
  });

  it('refuses a runtime folder another user could have planted: open to others, or a link in its place', () => {
    const r = rig();
    mkdirSync(r.runDir, { mode: 0o777 });
    chmodSync(r.runDir, 0o777);
    const a = r.spool();
    a.open();
    a.add(held(1)[0]!);
    // Not written to the planted folder; kept in memory, and reported lost at stop if it cannot be kept.
    expect(existsSync(r.file)).toBe(false);
    expect(a.close()).toEqual({ kept: 0, lost: 1 });

    const r2 = rig();
    const elsewhere = join(r2.runDir, '..', 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, r2.runDir);
    const b = r2.spool();
    b.open();
    b.add(held(1)[0]!);
    expect(existsSync(join(elsewhere, 'kiosk.held.jsonl'))).toBe(false);
  });

  it('refuses lines that are not held events (planted alerts) and keeps the rest', () => {
    const r = rig();
    const a = r.spool();
    a.open();
    for (const h of held(2)) a.add(h);
    const text = readFileSync(r.file, 'utf8');
    writeFileSync(r.file, text + JSON.stringify({ i: 3, event: { forged: true }, alert: 'confirmed-case-entry-attempt' }) + '\n');
    const b = r.spool();
    expect(b.open()).toBe(2);
  });
});
