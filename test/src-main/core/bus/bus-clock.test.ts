import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TRIP_ID_PATTERN } from '../../../../base/common/bus.js';
import { defaultPolicy } from '../../../../base/common/policy/policy.js';
import type { GateEvent } from '../../../../base/common/types.js';
import { HubKeyring, generateSigningKeyPair } from '../../../../base/node/keys.js';
import { silentLogger } from '../../../../base/node/logger.js';
import { issuePass } from '../../../../base/node/pass.js';
import type { GateActuator } from '../../../../device/gpio/gate-signals.js';
import { BusMode, DRIVER_CARD_GRACE_MS, type BusSettings } from '../../../../src-main/core/bus/bus-mode.js';
import { GpsDatedClock, type ClockReading } from '../../../../src-main/core/clock.js';
import { Gatekeeper } from '../../../../src-main/core/gatekeeper.js';
import { openStore, type SqliteDatabase } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { HeldSpool } from '../../../../src-main/core/store/held-spool.js';
import { Roster } from '../../../../src-main/core/store/roster.js';
import { healthyWorker, tempDir } from '../../../helpers/fixtures.js';

const T0 = Date.parse('2026-11-27T05:30:00Z');
const MIN = 60_000;
const DAY = 86_400_000;
const CP = { id: 'bus-61b', name: 'Xe 61B', kind: 'bus' as const, zone: 'bus-61b', direction: 'both' as const };

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
 * A bus unit that boots with no network and no real-time clock: its system clock is days behind and
 * unsynchronised, the GPS time comes and goes (a fix lost in a tunnel, a cold start in the depot), and
 * the unit restarts overnight. Real SQLite, the real Gatekeeper, BusMode and GpsDatedClock; the system
 * clock, the monotonic clock and the GPS samples are injected.
 */
describe('bus mode on an unsynchronised clock with GPS time', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: SqliteDatabase;
  let events: EventLog;
  let roster: Roster;
  let bus: BusMode;
  let gk: Gatekeeper;
  let act: RecordingActuator;
  /** The system clock (unsynchronised), the monotonic clock of this boot, the real time. */
  let sysWall: number;
  let mono: number;
  let realWall: number;
  let bootId: string;
  let gpsSample: { utcMs: number; atMonoUs: number } | null;
  let clock: GpsDatedClock;
  let gpsClockEnabled: boolean;
  const key = generateSigningKeyPair();
  const ring = new HubKeyring();
  ring.add(createPublicKey(key.publicPem), { role: 'pass', source: 'test' });
  const passes = new Map<string, string>();
  const pass = (w: string): string => {
    let text = passes.get(w);
    if (!text) {
      text = issuePass(key.privatePem, { workerId: w, issuer: 'h', issuedAt: new Date(T0 - 300 * DAY), expiresAt: new Date(T0 + 30 * DAY) });
      passes.set(w, text);
    }
    return text;
  };
  const advance = (ms: number) => {
    sysWall += ms;
    mono += ms * 1000;
    realWall += ms;
  };
  const gpsNow = () => {
    gpsSample = { utcMs: realWall, atMonoUs: mono };
  };
  const settings: BusSettings = { plate: 'X', capacity: 40, routes: [], drivers: ['D1'], autoEndMinutes: 180 };
  const compose = () => {
    clock = new GpsDatedClock({ read: (): ClockReading => ({ wallMs: sysWall, monoUs: mono, bootId, synced: false }) }, () => gpsSample, gpsClockEnabled);
    events = new EventLog(db);
    roster = new Roster(db);
    bus = new BusMode({
      bus: settings,
      checkpoint: CP,
      db,
      events,
      clock,
      position: () => null,
      policy: () => defaultPolicy(),
      codeHashKey: 'k',
      log: silentLogger,
      driverCardGraceMs: DRIVER_CARD_GRACE_MS,
    });
    act = new RecordingActuator();
    gk = new Gatekeeper({
      checkpoint: CP,
      events,
      roster,
      keyring: ring,
      policy: () => defaultPolicy(),
      clock,
      actuator: act,
      badgePattern: /^[A-Za-z0-9]{1,20}$/,
      codeHashKey: 'k',
      log: silentLogger,
      held: new HeldSpool({ file: join(dir.path, 'run', 'held.jsonl'), dir: join(dir.path, 'run'), db, events, log: silentLogger }),
      bus,
      position: () => null,
    });
    gk.on('passage', (p) => bus.notePassage(p));
    bus.start();
  };
  const scan = (w: string, gap = MIN) => {
    advance(gap);
    return gk.handleScan({ text: pass(w), source: 'serial', receivedAtNs: process.hrtime.bigint() });
  };
  const all = (): GateEvent[] => [...events.since(0)];

  beforeEach(() => {
    dir = tempDir('safegate-bus-clock-');
    db = openStore(join(dir.path, 'kiosk.db'));
    realWall = T0;
    sysWall = T0 - 3 * DAY;
    mono = 1_000_000_000;
    bootId = 'boot-1';
    gpsSample = null;
    gpsClockEnabled = true;
    compose();
    roster.upsertAll(['D1', 'W1', 'W2', 'W3'].map((id) => healthyWorker(id, T0)));
  });
  afterEach(() => {
    bus.stop();
    gk.stop();
    if (db.open) db.close();
    dir.remove();
  });

  it('a fix lost for minutes mid-trip: a rider aboard still alights (recorded, dated after the boarding, GPS time carried)', () => {
    gpsNow();
    scan('D1');
    const boarded = scan('W1');
    scan('W2');
    expect(bus.view().trip!.aboard).toBe(2);
    gpsSample = null; // a tunnel: the tracker answers no time once the fix is stale
    const out = scan('W1', 2 * MIN);
    expect(out.decision.outcome).toBe('allow');
    expect(out.decision.direction).toBe('exit');
    const stored = events.get(out.seq!)!;
    expect(stored.wallMs).toBe(realWall);
    expect(stored.clockSource).toBe('gps');
    expect(stored.wallMs).toBeGreaterThan(events.get(boarded.seq!)!.wallMs);
    expect(bus.view().trip!.aboard).toBe(1);
    expect(all().filter((e) => e.workerId === 'W1').map((e) => e.direction)).toEqual(['entry', 'exit']);
  });

  it('the repeat window is elapsed (monotonic) time: a wall clock stepped back neither makes a later scan a repeat nor lets a repeat through', () => {
    // gps.clock false: the system clock alone, and it is stepped back by hand between scans.
    bus.stop();
    gk.stop();
    gpsClockEnabled = false;
    compose();
    scan('W1');
    sysWall -= DAY;
    // One second later by the monotonic clock: the same scan again, whatever the wall clock says.
    expect(scan('W1', 1_000).decision.outcome).toBe('repeat');
    // A minute later: a new scan (the alighting), though the wall clock now reads a day earlier.
    const again = scan('W1', MIN);
    expect(again.decision.outcome).not.toBe('repeat');
    expect(again.seq).not.toBeNull();
  });

  it('a supervisor override carries the trip, route, position and clock of its moment, never the denied scan\'s', () => {
    gpsNow();
    scan('D1');
    roster.upsertAll([{ ...healthyWorker('W3', T0), vaccineDoses: 0 }]);
    const denied = scan('W3');
    expect(denied.decision.outcome).toBe('deny');
    const deniedEvent = events.get(denied.seq!)!;
    expect(deniedEvent).toMatchObject({ tripId: bus.view().trip!.tripId, clockSource: 'gps' });
    scan('D1'); // the trip ends
    expect(bus.view().trip).toBeNull();
    // Another boot: no GPS time yet, the system clock unsynchronised.
    bus.stop();
    gk.stop();
    bootId = 'boot-2';
    mono = 50_000_000;
    gpsSample = null;
    compose();
    advance(MIN);
    const c = gk.now();
    expect(c.source).toBeUndefined();
    // As the supervisor desk makes it: the denied scan's person, the clock of now.
    const p = gk.admitOverride(
      { ...deniedEvent, wallMs: c.wallMs, monoUs: c.monoUs, bootId: c.bootId, clockSynced: c.synced, decision: 'allow', reasons: ['SUPERVISOR_OVERRIDE'] },
      null,
      (e) => events.append(e),
    );
    const stored = events.get(p.seq!)!;
    expect(stored.tripId).toBeUndefined();
    expect(stored.routeId).toBeUndefined();
    expect(stored.clockSource).toBeUndefined();
    expect(stored.clockSynced).toBe(false);
    expect(stored.position).toBeNull(); // this unit has GPS and no fix now
    expect(stored.workerId).toBe('W3');
  });

  it('a rider the site stream last saw boarding another bus of the zone (alighted by its trip end, never scanned out) boards this one: no anti-passback on a bus', () => {
    gpsNow();
    bus.stop();
    gk.stop();
    const boardedElsewhere = realWall - 10 * 3_600_000;
    bus = new BusMode({ bus: settings, checkpoint: CP, db, events, clock, position: () => null, policy: () => defaultPolicy(), codeHashKey: 'k', log: silentLogger });
    gk = new Gatekeeper({
      checkpoint: CP,
      events,
      roster,
      keyring: ring,
      policy: () => defaultPolicy(),
      clock,
      actuator: act,
      badgePattern: /^[A-Za-z0-9]{1,20}$/,
      codeHashKey: 'k',
      log: silentLogger,
      held: new HeldSpool({ file: join(dir.path, 'run', 'held.jsonl'), dir: join(dir.path, 'run'), db, events, log: silentLogger }),
      bus,
      position: () => null,
      sitePassages: { currentSinceMs: () => realWall - 60_000, lastPassage: (w: string) => (w === 'W1' ? { direction: 'entry' as const, atMs: boardedElsewhere } : null) },
    });
    bus.start();
    scan('D1');
    const r = scan('W1');
    expect(r.decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
  });

  it("a restart overnight on an RTC-less unit with no fix yet: last evening's open trip ends at start-up, dated at its last event (its boot, no position); the morning's rider boards a new trip", () => {
    gpsNow();
    scan('D1');
    const lastScan = scan('W1'); // the evening trip; W1 never scans out
    const evening = bus.view().trip!.tripId;
    const last = events.get(lastScan.seq!)!;
    bus.stop();
    gk.stop();
    // Power off before the depot dwell; fake-hwclock restores about the shutdown time; 12 h later, no fix in the garage.
    const shutdownWall = clock.read().wallMs;
    realWall += 12 * 3_600_000;
    sysWall = shutdownWall;
    mono = 30_000_000;
    bootId = 'boot-2';
    gpsSample = null;
    compose();
    expect(bus.view().trip).toBeNull();
    const [alighted, ended] = all().slice(-2);
    for (const e of [alighted!, ended!]) {
      expect(e).toMatchObject({ tripId: evening, wallMs: last.wallMs, monoUs: last.monoUs, bootId: 'boot-1', clockSynced: true, clockSource: 'gps' });
      expect(e.position).toBeUndefined();
    }
    expect(alighted).toMatchObject({ workerId: 'W1', reasons: ['ALIGHTED_AT_TRIP_END'] });
    expect(ended!.reasons).toEqual(['TRIP_ENDED_TIMEOUT']);
    const morning = scan('W1');
    expect(morning.decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    expect(bus.view().trip!.tripId).not.toBe(evening);
  });

  it('a trip opened before the first fix is not ended when GPS time arrives days ahead; it ends on the monotonic clock', () => {
    scan('W1');
    scan('W2'); // a first-scan trip dated by the system clock, 3 days behind
    const first = bus.view().trip!.tripId;
    advance(10 * MIN);
    gpsNow(); // the first fix: the wall time jumps 3 days forward
    bus.tick();
    expect(bus.view().trip?.tripId).toBe(first);
    expect(scan('W1').decision).toMatchObject({ outcome: 'allow', direction: 'exit' });
    advance(180 * MIN);
    bus.tick();
    expect(bus.view().trip).toBeNull();
    const end = all().at(-1)!;
    expect(end).toMatchObject({ tripId: first, reasons: ['TRIP_ENDED_TIMEOUT'], bootId: 'boot-1', clockSource: 'gps' });
    expect(end.position).toBeUndefined();
  });

  it('a unit whose clock starts at the epoch (no fake-hwclock) makes trip ids of its own pattern', () => {
    sysWall = 1_000;
    bus.startTrip('button');
    const tripId = bus.view().trip!.tripId;
    expect(tripId).toMatch(TRIP_ID_PATTERN);
    expect(tripId.startsWith('T000000')).toBe(true);
    expect(all().at(-1)).toMatchObject({ tripId, reasons: ['TRIP_STARTED'], wallMs: 1_000 });
  });

  it('a driver refused for health (a confirmed case in quarantine) is refused like a rider: no trip starts, the same alert is queued', () => {
    gpsNow();
    roster.upsertAll([{ ...healthyWorker('D1', T0), caseStatus: 'F0' as const, quarantineUntil: T0 + 10 * DAY }]);
    const d = scan('D1');
    expect(d.decision.outcome).toBe('deny');
    expect(d.decision.reasons).toContain('CASE_F0');
    expect(bus.view().trip).toBeNull();
    expect(act.calls.at(-1)).not.toBe('admit');
    expect(events.unsentAlerts(10).map((a) => a.kind)).toEqual(['confirmed-case-entry-attempt']);
    expect(all().filter((e) => e.source === 'trip')).toEqual([]);
  });

  it("a driver card on a trip riders opened takes it over (a start marker naming the driver, same trip) instead of ending it; a closing card within a minute of the start is ignored", () => {
    gpsNow();
    scan('W1');
    scan('W2');
    const tripId = bus.view().trip!.tripId;
    const d = scan('D1');
    expect(d.decision).toMatchObject({ outcome: 'allow', direction: 'entry', reasons: ['TRIP_STARTED'] });
    expect(act.calls.at(-1)).toBe('admit');
    expect(bus.view().trip).toMatchObject({ tripId, aboard: 2 });
    expect(all().filter((e) => e.reasons.includes('ALIGHTED_AT_TRIP_END'))).toEqual([]);
    expect(events.get(d.seq!)).toMatchObject({ tripId, workerId: 'D1', source: 'trip', direction: 'entry', reasons: ['TRIP_STARTED'] });
    // Taken over: the driver's card again ends it (after the grace), even after a restart of the process.
    bus.stop();
    gk.stop();
    compose();
    const ended = scan('D1');
    expect(ended.decision.reasons).toEqual(['TRIP_ENDED']);
    expect(bus.view().trip).toBeNull();
    // A new trip by the card, and the driver scans again 6 s later (the repeat window is 5 s): ignored, the trip stays open.
    expect(scan('D1').decision.reasons).toEqual(['TRIP_STARTED']);
    const next = bus.view().trip!.tripId;
    const before = all().length;
    const again = scan('D1', 6_000);
    expect(again.decision.outcome).toBe('repeat');
    expect(act.calls.at(-1)).toBe('repeat');
    expect(all().length).toBe(before);
    expect(bus.view().trip?.tripId).toBe(next);
    expect(scan('D1', DRIVER_CARD_GRACE_MS).decision.reasons).toEqual(['TRIP_ENDED']);
  });

  it('a restart whose boot id is unchanged but whose monotonic clock is before the trip\'s start is another boot: the open trip of unknown age ends at start-up', () => {
    scan('W1'); // a first-scan trip on the unsynchronised clock
    const tripId = bus.view().trip!.tripId;
    bus.stop();
    gk.stop();
    mono = 20_000_000; // the boot id reads the same (a container, a broken /proc), the monotonic clock started again
    compose();
    expect(bus.view().trip).toBeNull();
    expect(all().at(-1)).toMatchObject({ tripId, reasons: ['TRIP_ENDED_TIMEOUT'] });
    expect(scan('W1').decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
  });
});
