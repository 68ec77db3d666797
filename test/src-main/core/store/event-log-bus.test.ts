import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewGateEvent } from '../../../../base/common/types.js';
import { silentLogger } from '../../../../base/node/logger.js';
import type { SqliteDatabase } from '../../../../base/node/sqlite.js';
import { TripBook } from '../../../../src-main/core/bus/trip-book.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { HeldSpool, readSpool } from '../../../../src-main/core/store/held-spool.js';
import { tempDir } from '../../../helpers/fixtures.js';

const event = (over: Partial<NewGateEvent> = {}): NewGateEvent => ({
  wallMs: Date.parse('2026-11-27T06:00:00Z'),
  monoUs: 1,
  bootId: 'boot',
  clockSynced: true,
  checkpointId: 'bus-61b',
  zoneId: 'bus-61b',
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

/** A bus unit's event fields in the kiosk store (migration 0020): written, read back and sent exactly; absent on a gate kiosk's events. */
describe('event log: trip, route, position and GPS clock source', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: SqliteDatabase;
  let events: EventLog;
  beforeEach(() => {
    dir = tempDir('safegate-eventlog-bus-');
    db = openStore(join(dir.path, 'kiosk.db'));
    events = new EventLog(db);
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('reads back each field as written, and leaves them absent (not null) on events without them', () => {
    const fix = events.append(event({ tripId: 'Tmiai1234-0a1b2c', routeId: 'r1', position: { lat: 10.912345, lon: 106.754321 }, clockSource: 'gps' }));
    const noFix = events.append(event({ tripId: 'Tmiai1234-0a1b2c', position: null }));
    const gate = events.append(event());
    expect(events.get(fix)).toMatchObject({ tripId: 'Tmiai1234-0a1b2c', routeId: 'r1', position: { lat: 10.912345, lon: 106.754321 }, clockSource: 'gps' });
    const second = events.get(noFix)!;
    expect(second.position).toBeNull();
    expect('routeId' in second || 'clockSource' in second).toBe(false);
    const plain = events.get(gate)!;
    for (const k of ['tripId', 'routeId', 'position', 'clockSource']) expect(k in plain).toBe(false);

    const wire = events.unsynced(10);
    expect(wire.map((e) => [e.tripId, e.routeId, e.position, e.clockSource])).toEqual([
      ['Tmiai1234-0a1b2c', 'r1', { lat: 10.912345, lon: 106.754321 }, 'gps'],
      ['Tmiai1234-0a1b2c', undefined, null, undefined],
      [undefined, undefined, undefined, undefined],
    ]);
    expect(Object.keys(wire[2]!)).toHaveLength(15);
    expect([...events.since(0)].map((e) => e.position)).toEqual([{ lat: 10.912345, lon: 106.754321 }, null, undefined]);
  });

  it('refuses a position state or clock source the schema does not know', () => {
    events.append(event());
    expect(() => db.prepare("UPDATE events SET position = 'maybe'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE events SET clock_source = 'ntp'").run()).toThrow(/CHECK/);
  });

  it("reads a trip's riders by the events_trip index", () => {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT worker_id, direction, credential_kind FROM events
      WHERE trip_id = ? AND decision = 'allow' AND worker_id IS NOT NULL AND source NOT IN ('trip', 'input') ORDER BY seq`).all('T1') as { detail: string }[])
      .map((r) => r.detail)
      .join(' | ');
    expect(plan).toMatch(/USING INDEX events_trip \(trip_id=\?\)/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
    const book = new TripBook(db);
    const trip = 'Tmiai1234-0a1b2c';
    events.append(event({ tripId: trip, workerId: 'W1' }));
    events.append(event({ tripId: trip, workerId: 'W2', credentialKind: 'badge' }));
    events.append(event({ tripId: trip, workerId: 'W3', decision: 'deny', reasons: ['BUS_FULL'] }));
    events.append(event({ tripId: trip, workerId: 'W1', direction: 'exit' }));
    events.append(event({ tripId: 'Tother00-000000', workerId: 'W4' }));
    expect([...book.aboard(trip)]).toEqual([['W2', 'badge']]);
  });

  it('holds and stores events with their bus fields through the held-event spool (a full disk on a bus)', () => {
    const runDir = join(dir.path, 'run');
    const file = join(runDir, 'held.jsonl');
    const spool = new HeldSpool({ file, dir: runDir, db, events, log: silentLogger });
    const bus = event({ tripId: 'Tmiai1234-0a1b2c', routeId: 'r1', position: { lat: 10.9, lon: 106.7 }, clockSource: 'gps', decision: 'deny', reasons: ['STORE_UNAVAILABLE'] });
    spool.add({ event: bus, alert: undefined });
    spool.add({ event: { ...bus, position: null, source: 'trip' }, alert: undefined });
    spool.close();
    // The next start reads them back from the file (validated) and stores them as they were.
    expect(readSpool(file).entries.map((e) => e.event.position)).toEqual([{ lat: 10.9, lon: 106.7 }, null]);
    const next = new HeldSpool({ file, dir: runDir, db, events, log: silentLogger });
    expect(next.open()).toBe(2);
    expect(next.storeChunk(10)).toBe(2);
    expect([...events.since(0)].map((e) => [e.tripId, e.routeId, e.position, e.clockSource, e.source])).toEqual([
      ['Tmiai1234-0a1b2c', 'r1', { lat: 10.9, lon: 106.7 }, 'gps', 'serial'],
      ['Tmiai1234-0a1b2c', 'r1', null, 'gps', 'trip'],
    ]);
    next.close();
  });
});
