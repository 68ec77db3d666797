import { createHmac, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TripRefusal, type GpsView } from '../../../../base/common/bus.js';
import { defaultPolicy } from '../../../../base/common/policy/policy.js';
import type { GateEvent, GeoPoint } from '../../../../base/common/types.js';
import { HubKeyring, generateSigningKeyPair } from '../../../../base/node/keys.js';
import { silentLogger } from '../../../../base/node/logger.js';
import { issuePass } from '../../../../base/node/pass.js';
import type { GateActuator } from '../../../../device/gpio/gate-signals.js';
import { BusMode, distanceM, type BusSettings } from '../../../../src-main/core/bus/bus-mode.js';
import { TripBook } from '../../../../src-main/core/bus/trip-book.js';
import { Gatekeeper } from '../../../../src-main/core/gatekeeper.js';
import { openStore, type SqliteDatabase } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { HeldSpool } from '../../../../src-main/core/store/held-spool.js';
import { Roster } from '../../../../src-main/core/store/roster.js';
import { healthyWorker, tempDir } from '../../../helpers/fixtures.js';

const T0 = Date.parse('2026-11-27T05:30:00Z');
const MIN = 60_000;
const CODE_HASH_KEY = 'test-code-hash-key';
const DEPOT: GeoPoint = { lat: 10.9, lon: 106.75 };
const AWAY: GeoPoint = { lat: 10.95, lon: 106.8 };

/** The gate's signals as a list of what was asked of them. */
class RecordingActuator implements GateActuator {
  readonly calls: string[] = [];
  admit(): void {
    this.calls.push('admit');
  }
  refuse(): void {
    this.calls.push('refuse');
  }
  seeDriver(): void {
    this.calls.push('see-driver');
  }
  acknowledgeRepeat(): void {
    this.calls.push('repeat');
  }
  holdOpen(): void {}
  safeState(): void {}
}

/**
 * A bus unit's trips on a real SQLite file: the gatekeeper's scan path with BusMode as its bus hook,
 * real signed passes, an injected clock (so the time limit and the depot's dwell need no waiting)
 * and an injected GPS position.
 */
describe('bus mode: trips, boarding and alighting', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: SqliteDatabase;
  let events: EventLog;
  let roster: Roster;
  let bus: BusMode;
  let gatekeeper: Gatekeeper;
  let actuator: RecordingActuator;
  let nowMs: number;
  let monoUs: number;
  let position: GeoPoint | null;
  let gpsClock: boolean;
  let rosterCheckedAt: number | null;
  let bootId: string;
  const key = generateSigningKeyPair();
  const ring = new HubKeyring();
  ring.add(createPublicKey(key.publicPem), { role: 'pass', source: 'test' });
  const pass = (workerId: string) =>
    issuePass(key.privatePem, { workerId, issuer: 'test-hub', issuedAt: new Date(T0 - 86_400_000), expiresAt: new Date(T0 + 30 * 86_400_000) });
  const settings = (over: Partial<BusSettings> = {}): BusSettings => ({
    plate: '61B-123.45',
    capacity: 3,
    routes: [],
    drivers: ['D1'],
    autoEndMinutes: 180,
    ...over,
  });
  const clock = { read: () => ({ wallMs: nowMs, monoUs, bootId, synced: true, ...(gpsClock ? { source: 'gps' as const } : {}) }) };
  /** Time passes on both clocks. */
  const advance = (ms: number) => {
    nowMs += ms;
    monoUs += ms * 1000;
  };

  const compose = (busSettings: BusSettings, withGps = false) => {
    events = new EventLog(db);
    roster = new Roster(db);
    bus = new BusMode({
      bus: busSettings,
      checkpoint: { id: 'bus-61b', name: 'Xe 61B', kind: 'bus', zone: 'bus-61b', direction: 'both' },
      db,
      events,
      clock,
      ...(withGps ? { position: () => position, gps: (): GpsView => ({ state: position ? 'fix' : 'no-fix', position, datingFromGps: gpsClock }) } : {}),
      policy: () => defaultPolicy(),
      rosterCheckedAt: () => rosterCheckedAt,
      codeHashKey: CODE_HASH_KEY,
      log: silentLogger,
    });
    actuator = new RecordingActuator();
    gatekeeper = new Gatekeeper({
      checkpoint: { id: 'bus-61b', name: 'Xe 61B', kind: 'bus', zone: 'bus-61b', direction: 'both' },
      events,
      roster,
      keyring: ring,
      policy: () => defaultPolicy(),
      clock,
      actuator,
      badgePattern: /^[A-Za-z0-9._-]{1,64}$/,
      codeHashKey: CODE_HASH_KEY,
      log: silentLogger,
      rosterCheckedAt: () => rosterCheckedAt,
      held: new HeldSpool({ file: join(dir.path, 'run', 'held.jsonl'), dir: join(dir.path, 'run'), db, events, log: silentLogger }),
      bus,
      ...(withGps ? { position: () => position } : {}),
    });
    bus.on('change', () => undefined);
    gatekeeper.on('passage', (p) => bus.notePassage(p));
  };
  /** One scan, a minute after the last (out of every repeat window). */
  const scan = (workerId: string) => {
    advance(MIN);
    return gatekeeper.handleScan({ text: pass(workerId), source: 'serial', receivedAtNs: process.hrtime.bigint() });
  };
  const all = (): GateEvent[] => [...events.since(0)];
  const hashOf = (how: string) => createHmac('sha256', CODE_HASH_KEY).update(`trip:${how}`).digest('hex').slice(0, 32);

  beforeEach(() => {
    dir = tempDir('safegate-bus-');
    db = openStore(join(dir.path, 'kiosk.db'));
    nowMs = T0;
    monoUs = 5_000_000_000;
    position = null;
    gpsClock = false;
    rosterCheckedAt = null;
    bootId = 'boot-1';
    compose(settings());
    roster.upsertAll(['D1', 'W1', 'W2', 'W3', 'W4', 'W5'].map((id) => healthyWorker(id, T0)));
  });
  afterEach(() => {
    bus.stop();
    gatekeeper.stop();
    if (db.open) db.close();
    dir.remove();
  });

  it('a driver card starts a trip; riders board and alight by the trip; the card again ends it, alighting who is still aboard', () => {
    const start = scan('D1');
    expect(start.decision).toEqual({ outcome: 'allow', direction: 'entry', reasons: ['TRIP_STARTED'] });
    const tripId = bus.view().trip!.tripId;
    expect(tripId).toMatch(/^T[0-9a-z]{6,12}-[0-9a-f]{6}$/);
    expect(events.get(start.seq!)).toMatchObject({ source: 'trip', workerId: 'D1', credentialKind: 'pass', decision: 'allow', reasons: ['TRIP_STARTED'], tripId });
    expect(bus.view().trip).toMatchObject({ startedBy: 'driver-card', aboard: 0, startedAtMs: nowMs });

    expect(scan('W1').decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    expect(scan('W2').decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    expect(bus.view().trip!.aboard).toBe(2);
    expect(scan('W1').decision).toMatchObject({ outcome: 'allow', direction: 'exit' });
    expect(bus.view().trip!.aboard).toBe(1);

    const end = scan('D1');
    expect(end.decision).toEqual({ outcome: 'allow', direction: 'exit', reasons: ['TRIP_ENDED'] });
    expect(bus.view().trip).toBeNull();
    const trip = all().filter((e) => e.tripId === tripId);
    expect(trip.map((e) => [e.workerId, e.direction, e.reasons[0] ?? null, e.source])).toEqual([
      ['D1', 'entry', 'TRIP_STARTED', 'trip'],
      ['W1', 'entry', null, 'serial'],
      ['W2', 'entry', null, 'serial'],
      ['W1', 'exit', null, 'serial'],
      ['W2', 'exit', 'ALIGHTED_AT_TRIP_END', 'trip'],
      ['D1', 'exit', 'TRIP_ENDED', 'trip'],
    ]);
    // The alighting is dated with the end, just before it, and names nobody's scan.
    const [alighted, ended] = trip.slice(-2);
    expect(alighted).toMatchObject({ wallMs: ended!.wallMs, credentialKind: 'pass', decision: 'allow', codeHash: null });
    expect(ended!.seq).toBe(alighted!.seq + 1);
    expect(new TripBook(db).get(tripId)).toMatchObject({ startedSeq: start.seq, endedSeq: end.seq, endReason: 'TRIP_ENDED', startedBy: 'driver-card' });
    // The driver's cards were the trip's markers, not boardings; allow signals each time.
    expect(actuator.calls).toEqual(['admit', 'admit', 'admit', 'admit', 'admit']);
  });

  it('a rider who scans while no trip is open starts one (first scan) in the same commit; a refused scan opens none', () => {
    const refused = gatekeeper.handleScan({ text: 'NOT-A-PASS-%%%', source: 'serial', receivedAtNs: process.hrtime.bigint() });
    expect(refused.decision.outcome).toBe('deny');
    expect(events.get(refused.seq!)?.tripId).toBeUndefined();
    expect(bus.view().trip).toBeNull();

    const boarded = scan('W1');
    expect(boarded.decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    const view = bus.view().trip!;
    expect(view).toMatchObject({ startedBy: 'first-scan', aboard: 1 });
    const [marker, boarding] = all().slice(-2);
    expect(marker).toMatchObject({ source: 'trip', reasons: ['TRIP_STARTED'], workerId: null, codeHash: hashOf('first-scan'), credentialKind: 'unknown', tripId: view.tripId });
    expect(boarding).toMatchObject({ seq: boarded.seq, workerId: 'W1', tripId: view.tripId });
    expect(boarding!.seq).toBe(marker!.seq + 1);
  });

  it('refuses boarding a full bus (BUS_FULL, see the driver) and lets a rider aboard alight', () => {
    bus.startTrip('button');
    for (const w of ['W1', 'W2', 'W3']) expect(scan(w).decision.outcome).toBe('allow');
    const full = scan('W4');
    expect(full.decision).toEqual({ outcome: 'deny', direction: 'entry', reasons: ['BUS_FULL'] });
    expect(actuator.calls.at(-1)).toBe('see-driver');
    expect(events.get(full.seq!)).toMatchObject({ decision: 'deny', reasons: ['BUS_FULL'], tripId: bus.view().trip!.tripId });
    expect(scan('W2').decision).toMatchObject({ outcome: 'allow', direction: 'exit' });
    expect(scan('W4').decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    expect(bus.view().tiles.map((t) => [t.outcome, t.direction, t.reason])).toEqual([
      ['allow', 'entry', null],
      ['allow', 'exit', null],
      ['see-driver', 'entry', 'BUS_FULL'],
      ['allow', 'entry', null],
      ['allow', 'entry', null],
      ['allow', 'entry', null],
    ]);
  });

  it("refuses a rider not on the chosen route's list (WRONG_ROUTE); a route without a list takes anyone", () => {
    compose(settings({ routes: [{ id: 'r1', name: 'KTX – KCN', riders: ['W1'] }, { id: 'r2', name: 'Chợ – KCN' }] }));
    const started = bus.startTrip('command', 'r1');
    expect(started.trip).toMatchObject({ routeId: 'r1', startedBy: 'command' });
    expect(all().at(-1)).toMatchObject({ routeId: 'r1', codeHash: hashOf('command'), reasons: ['TRIP_STARTED'] });
    expect(scan('W1').decision.outcome).toBe('allow');
    const wrong = scan('W2');
    expect(wrong.decision.reasons).toEqual(['WRONG_ROUTE']);
    expect(actuator.calls.at(-1)).toBe('see-driver');
    bus.chooseRoute('r2');
    expect(scan('W2').decision.outcome).toBe('allow');
    expect(all().at(-1)).toMatchObject({ workerId: 'W2', routeId: 'r2' });
    expect(() => bus.chooseRoute('r9')).toThrow(TripRefusal);
    expect(() => bus.startTrip('button')).toThrow(/a trip is open already/);
    bus.endTrip('button');
    expect(() => bus.endTrip('button')).toThrow(/no trip is open/);
    expect(() => bus.chooseRoute('r1')).toThrow(TripRefusal);
    expect(() => bus.startTrip('button', 'nowhere')).toThrow(/no route/);
  });

  it('with several routes, a trip nobody chose a route for takes bus.defaultRoute (a unit without screens), and its rider list applies', () => {
    compose(settings({ routes: [{ id: 'r1', name: 'KTX – KCN', riders: ['W1'] }, { id: 'r2', name: 'Chợ – KCN' }], defaultRoute: 'r1' }));
    expect(scan('D1').decision.outcome).toBe('allow');
    expect(bus.view().trip).toMatchObject({ routeId: 'r1', startedBy: 'driver-card' });
    expect(scan('W1').decision.outcome).toBe('allow');
    expect(scan('W2').decision.reasons).toEqual(['WRONG_ROUTE']);
  });

  it('shows a health refusal as HEALTH on the driver screen, never its reason, and keeps only the last few tiles', () => {
    roster.upsertAll([healthyWorker('W5', T0, { caseStatus: 'F0' })]);
    bus.startTrip('button');
    const sick = scan('W5');
    expect(sick.decision.outcome).toBe('deny');
    expect(bus.view().tiles[0]).toMatchObject({ outcome: 'deny', reason: 'HEALTH', displayName: null });
    for (let i = 0; i < 10; i++) scan(i % 2 ? 'W1' : 'W2');
    expect(bus.view().tiles).toHaveLength(6);
  });

  it('ends a trip left open past autoEndMinutes at its deadline, alighting riders, in the next check', () => {
    compose(settings({ autoEndMinutes: 60 }));
    bus.startTrip('button');
    const startedAt = nowMs;
    scan('W1');
    advance(58 * MIN);
    bus.tick();
    expect(bus.view().trip).not.toBeNull();
    advance(4 * MIN);
    bus.tick();
    expect(bus.view().trip).toBeNull();
    const [alighted, ended] = all().slice(-2);
    expect(alighted).toMatchObject({ workerId: 'W1', reasons: ['ALIGHTED_AT_TRIP_END'], wallMs: startedAt + 60 * MIN });
    expect(ended).toMatchObject({ reasons: ['TRIP_ENDED_TIMEOUT'], codeHash: hashOf('timeout'), wallMs: startedAt + 60 * MIN });
  });

  it('measures the time limit on the monotonic clock: a wall clock that jumps (GPS time after a boot without network) ends no trip', () => {
    compose(settings({ autoEndMinutes: 60 }));
    nowMs = Date.parse('1970-01-01T00:10:00Z');
    bus.startTrip('button');
    advance(10 * MIN);
    nowMs = T0 + 40 * 365 * 86_400_000;
    bus.tick();
    expect(bus.view().trip).not.toBeNull();
    advance(51 * MIN);
    bus.tick();
    expect(bus.view().trip).toBeNull();
    // Dated when the hour was up, on the clock of now: a minute before this check.
    expect(all().at(-1)).toMatchObject({ reasons: ['TRIP_ENDED_TIMEOUT'], wallMs: nowMs - MIN, monoUs: monoUs - MIN * 1000 });
  });

  it('a restart mid-trip takes the trip and its riders back; one left open past its limit while the unit was off ends at its deadline on start', () => {
    bus.startTrip('button');
    const tripId = bus.view().trip!.tripId;
    const startedAt = nowMs;
    scan('W1');
    scan('W2');
    scan('W1');
    bus.stop();
    gatekeeper.stop();

    compose(settings());
    bus.start();
    expect(bus.view().trip).toMatchObject({ tripId, aboard: 1, startedBy: 'button' });
    expect(scan('W2').decision).toMatchObject({ outcome: 'allow', direction: 'exit' });
    expect(scan('W3').decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    bus.stop();
    gatekeeper.stop();

    // Off for five hours: the next start is another boot (its monotonic clock starts again).
    bootId = 'boot-2';
    monoUs = 30_000_000;
    advance(5 * 60 * MIN);
    compose(settings());
    bus.start();
    expect(bus.view().trip).toBeNull();
    const [alighted, ended] = all().slice(-2);
    expect(alighted).toMatchObject({ workerId: 'W3', reasons: ['ALIGHTED_AT_TRIP_END'], tripId });
    expect(ended).toMatchObject({ reasons: ['TRIP_ENDED_TIMEOUT'], wallMs: startedAt + 180 * MIN, tripId });
    expect(new TripBook(db).get(tripId)).toMatchObject({ endReason: 'TRIP_ENDED_TIMEOUT', endedMs: startedAt + 180 * MIN });
  });

  it('ends the trip when the bus, back from the road, stays inside the depot geofence for dwellSeconds (with a fix)', () => {
    compose(settings({ depot: { ...DEPOT, radiusM: 150, dwellSeconds: 120 } }), true);
    expect(distanceM(DEPOT, AWAY)).toBeGreaterThan(5_000);
    position = DEPOT;
    bus.startTrip('button');
    // Waiting at the depot for riders is not the end of the trip.
    advance(5 * MIN);
    bus.tick();
    advance(5 * MIN);
    bus.tick();
    expect(bus.view().trip).not.toBeNull();
    position = AWAY;
    scan('W1');
    bus.tick();
    expect(all().at(-1)).toMatchObject({ workerId: 'W1', position: AWAY });
    position = { lat: DEPOT.lat + 0.0005, lon: DEPOT.lon };
    bus.tick();
    advance(60_000);
    bus.tick();
    position = null; // the fix is lost for a moment: the dwell starts again
    advance(30_000);
    bus.tick();
    position = DEPOT;
    advance(10_000);
    bus.tick();
    advance(110_000);
    bus.tick();
    expect(bus.view().trip).not.toBeNull();
    advance(10_000);
    bus.tick();
    expect(bus.view().trip).toBeNull();
    expect(all().slice(-2).map((e) => [e.reasons[0], e.workerId, e.position])).toEqual([
      ['ALIGHTED_AT_TRIP_END', 'W1', DEPOT],
      ['TRIP_ENDED_AT_DEPOT', null, DEPOT],
    ]);
  });

  it('records the position (or no fix) and a GPS-dated time on every event of a unit with GPS', () => {
    compose(settings(), true);
    position = null;
    gpsClock = true;
    bus.startTrip('button');
    scan('W1');
    position = AWAY;
    scan('W2');
    const trip = all();
    expect(trip.map((e) => [e.position, e.clockSource])).toEqual([
      [null, 'gps'],
      [null, 'gps'],
      [AWAY, 'gps'],
    ]);
    expect(bus.view().gps).toEqual({ state: 'fix', position: AWAY, datingFromGps: true });
  });

  it('a trip started on a roster older than the policy allows carries the bus-stale-data alert, and the driver screen says so', () => {
    rosterCheckedAt = T0 - 100 * 3_600_000;
    expect(bus.view().staleData).toBe(true);
    bus.startTrip('button');
    // The policy fails open at a bus: riders still board.
    expect(scan('W1').decision.outcome).toBe('allow');
    const alerts = events.unsentAlerts(10);
    expect(alerts.map((a) => [a.kind, a.event.reasons])).toEqual([['bus-stale-data', ['TRIP_STARTED']]]);
    rosterCheckedAt = nowMs - 3_600_000;
    expect(bus.view().staleData).toBe(false);
  });

  it('ending a trip writes its alightings and its end together or not at all', () => {
    bus.startTrip('button');
    scan('W1');
    scan('W2');
    const before = all().length;
    db.exec(`CREATE TRIGGER refuse_end BEFORE INSERT ON events WHEN NEW.reasons = 'TRIP_ENDED' BEGIN SELECT RAISE(ABORT, 'no end'); END`);
    expect(() => bus.endTrip('button')).toThrow(/no end/);
    expect(all()).toHaveLength(before);
    expect(bus.view().trip).toMatchObject({ aboard: 2 });
    db.exec('DROP TRIGGER refuse_end');
    bus.endTrip('button');
    expect(all().slice(-3).map((e) => e.reasons[0])).toEqual(['ALIGHTED_AT_TRIP_END', 'ALIGHTED_AT_TRIP_END', 'TRIP_ENDED']);
  });

  it('keeps nothing per event in memory: after many trips only the open trip\'s riders and the last tiles', () => {
    for (let t = 0; t < 20; t++) {
      scan('D1');
      for (const w of ['W1', 'W2', 'W3', 'W1', 'W4', 'W2']) scan(w);
      scan('D1');
    }
    expect(all()).toHaveLength(20 * (2 + 6 + 2));
    const view = bus.view();
    expect(view.trip).toBeNull();
    expect(view.tiles).toHaveLength(6);
    // What BusMode holds besides the settings: the open trip (none) and the tiles.
    const held = bus as unknown as { trip: unknown; tiles: unknown[] };
    expect(held.trip).toBeNull();
    expect(held.tiles.length).toBeLessThanOrEqual(6);
  });
});
