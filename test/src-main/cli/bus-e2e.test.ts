import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { TRIP_ID_PATTERN, type BusView } from '../../../base/common/bus.js';
import builtInPolicy from '../../../base/common/policy/default-policy.json' with { type: 'json' };
import { SAFEGATE_BIN, safegate, safegateProcess, type RunningProcess } from '../../helpers/cli.js';
import { hubKeys, passFor, tempDir, waitFor } from '../../helpers/fixtures.js';
import { freePort, TestBroker, TestCertificates } from '../../helpers/mosquitto.js';
import { fixCycle, noFixCycle } from '../../helpers/nmea.js';
import { PtyPair } from '../../helpers/pty.js';

const DEVICE = 'bus-kiosk-01';
const DRIVER = 'W-DRV1';
const RIDERS = ['W-R1', 'W-R2', 'W-R3', 'W-R4', 'W-R5'] as const;
const [R1, R2, R3, R4, R5] = RIDERS;
/**
 * The GPS's clock runs this far ahead of the system clock (a unit without a real-time clock boots
 * with the time it last saved): events dated from the GPS are told apart from events dated by the
 * system clock, which the kiosk is told never to trust (clock.syncedWhen never).
 */
const GPS_AHEAD_MS = 6 * 60_000;
/** How far a GPS-dated time may be from the GPS time at the scan (sentences queued on a loaded machine). */
const DATING_SLACK_MS = 60_000;

interface Point {
  lat: number;
  lon: number;
}
/** Where the bus is at each stage (six decimals: what the wire keeps). */
const A: Point = { lat: 10.980512, lon: 106.674301 };
const B: Point = { lat: 10.984077, lon: 106.681925 };
const C: Point = { lat: 10.991236, lon: 106.690518 };
const D: Point = { lat: -10.5, lon: -106.250001 }; // southern and western hemispheres, to check the signs
const E: Point = { lat: 10.962004, lon: 106.701772 };

/** One event the bus unit must have recorded (and the hub must hold), in order. */
interface Expected {
  workerId: string | null;
  direction: 'entry' | 'exit';
  decision: 'allow' | 'deny';
  reasons: string[];
  source: string;
  /** A fix, or null for "no fix". */
  position: Point | null;
  trip: 1 | 2;
  /** GPS time window at the scan. */
  fromMs: number;
  toMs: number;
}

interface HubRow {
  seq: number;
  wall_ms: number;
  worker_id: string | null;
  code_hash: string | null;
  credential_kind: string;
  direction: string;
  decision: string;
  reasons: string;
  source: string;
  trip_id: string | null;
  route_id: string | null;
  lat: number | null;
  lon: number | null;
  position: string | null;
  clock_source: string | null;
  clock_synced: number;
}

interface HubTripJson {
  tripId: string;
  deviceId: string;
  routeId: string | null;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  driverWorkerId: string | null;
  clock: string;
  startPosition: Point | null;
  endPosition: Point | null;
  refused: number;
  riders: { workerId: string; boardedAt: string; alightedAt: string | null; alightedBy: string | null; boardedPosition: Point | null; alightedPosition: Point | null }[];
}

const micro = (p: Point | null) => (p ? { lat: Math.round(p.lat * 1e6), lon: Math.round(p.lon * 1e6) } : null);

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(SAFEGATE_BIN, args, { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The issue's first "done means" line, every part a real process: a bus unit (`safegate run
 * --headless`, checkpoint kind bus, capacity 3) with a serial scanner on one socat pty and an NMEA GPS
 * receiver on another, its system clock never trusted (so events are dated from the GPS), offline: the
 * broker it points at is down. A driver card opens trip 1, riders board, one is refused as the bus is
 * full, riders alight (one while the GPS has lost its fix), the driver card ends the trip (the riders
 * still aboard alight with it); `safegate trip start --route` opens trip 2, the kiosk is killed
 * (SIGKILL) mid-trip and restarted (the trip survives), `safegate trip end` ends it. Then Mosquitto
 * comes up on that port with the hub (`safegate hub run`): the hub holds every event of both trips
 * exactly once, with its trip, route, position (or no fix) and GPS time, and `safegate hub trips
 * --json` lists both trips with every rider.
 */
describe('a bus unit offline runs two trips; when the broker comes up the hub holds both with every rider, position and GPS time exactly once (real processes)', () => {
  const dir = tempDir('safegate-bus-e2e-');
  const children: ChildProcess[] = [];
  const ptys: PtyPair[] = [];
  let broker: TestBroker | undefined;
  let feeding = false;
  let feeder: Promise<void> | undefined;

  afterAll(async () => {
    feeding = false;
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    // Unplugged first: a write blocked on a pty nobody reads any more then fails instead of hanging.
    for (const pty of ptys) await pty.unplug();
    await feeder?.catch(() => {});
    await broker?.stop();
    dir.remove();
  });

  it('driver card, boarding, a full bus, alighting with and without a fix, trip end, a second trip across a SIGKILL, then the backlog at the hub', async () => {
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    certs.issue(DEVICE);
    const brokerPort = await freePort();
    broker = new TestBroker(dir.path, certs);
    broker.port = brokerPort;
    const tls = (name: string) => ({ url: `mqtts://127.0.0.1:${brokerPort}`, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) });

    const scanner = new PtyPair(dir.path, 'scanner');
    const gps = new PtyPair(dir.path, 'gps');
    ptys.push(scanner, gps);
    await scanner.plug();
    await gps.plug();
    const keys = hubKeys(dir.path);

    // Riders scan in and out within seconds: no repeat-scan window.
    const policyFile = join(dir.path, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ ...builtInPolicy, params: { ...builtInPolicy.params, repeatScanSeconds: 0 } }));
    const roster = join(dir.path, 'roster.csv');
    const declared = new Date(Date.now() - 3_600_000).toISOString();
    writeFileSync(roster, `worker_id,display_name,company,team,declared_at,vaccine_doses\n${[DRIVER, ...RIDERS].map((id) => `${id},Công nhân ${id},Công ty A,Tổ 1,${declared},2`).join('\n')}\n`);

    const config = join(dir.path, 'kiosk.yaml');
    writeFileSync(
      config,
      stringify({
        device: { id: DEVICE },
        checkpoint: { id: 'bus-51b', name: 'Xe 51B-123.45', kind: 'bus', zone: 'shuttle', direction: 'both' },
        bus: {
          plate: '51B-123.45',
          capacity: 3,
          routes: [
            { id: 'r1', name: 'KTX Vĩnh Tân – KCN Tân Đông Hiệp' },
            { id: 'r2', name: 'KTX Bình An – KCN Sóng Thần' },
          ],
          drivers: [DRIVER],
        },
        gps: { source: 'nmea', path: gps.devicePath, baudRate: 9600, fixMaxAgeSeconds: 5, clock: true },
        scanner: { source: 'serial', path: scanner.devicePath, suffix: 'CR', baudRate: 115200 },
        gate: { gpio: 'simulated', relay: { pulseMs: 20, maxOnMs: 2_000 }, greenLight: { pulseMs: 20, maxOnMs: 2_000 }, redLight: { pulseMs: 20, maxOnMs: 2_000 }, buzzer: { pulseMs: 20, maxOnMs: 2_000 } },
        store: { path: 'safegate.db' },
        hub: { keysDir: 'keys', broker: tls(DEVICE), batch: { maxEvents: 8, maxAgeMs: 200 }, heartbeatSeconds: 5 },
        clock: { syncedWhen: 'never' },
        policy: { file: policyFile },
        log: { level: 'info' },
      }),
    );
    const imported = safegate(['roster', 'import', roster, '--config', config]);
    expect(imported.status, imported.stderr).toBe(0);

    // The receiver: a fix cycle (RMC + GGA) or a no-fix cycle every 200 ms, dated from the GPS clock.
    let sky = A as Point | 'no-fix' | 'silent';
    const gpsNow = () => Date.now() + GPS_AHEAD_MS;
    feeding = true;
    feeder = (async () => {
      while (feeding) {
        const now = sky;
        if (now === 'no-fix') await gps.write(noFixCycle(gpsNow()));
        else if (now !== 'silent') await gps.write(fixCycle({ ...now, utcMs: gpsNow() }));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    let kiosk: RunningProcess;
    const startKiosk = async () => {
      const k = safegateProcess(['run', '--config', config, '--headless']);
      children.push(k.child);
      await waitFor(() => (k.logs.some((l) => l.msg === 'scanner connected') ? true : undefined), 'the bus unit listening to its scanner', 30_000);
      kiosk = k;
    };
    await startKiosk();

    const tripStatus = async (): Promise<BusView> => {
      const r = await cli(['trip', 'status', '--json', '--config', config]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as BusView;
    };
    /** Moves the bus (or loses the fix) and waits until the unit's GPS says so. */
    const goTo = async (where: Point | 'no-fix') => {
      sky = where;
      await until(
        async () => {
          const g = (await tripStatus()).gps;
          if (where === 'no-fix') return g.state !== 'fix' && g.position === null ? true : undefined;
          return g.state === 'fix' && g.position?.lat === where.lat && g.position.lon === where.lon ? true : undefined;
        },
        `the unit's GPS at ${JSON.stringify(where)}`,
        30_000,
      );
    };

    const expected: Expected[] = [];
    let here: Point | null = A;
    let trip: 1 | 2 = 1;
    const expect1 = (e: Omit<Expected, 'position' | 'trip' | 'fromMs' | 'toMs'>, fromMs: number) =>
      expected.push({ ...e, position: here, trip, fromMs, toMs: gpsNow() });
    /** One scan on the scanner pty; resolves with the kiosk's log line for it. */
    const scan = async (code: string, what: string): Promise<Record<string, unknown>> => {
      const k = kiosk;
      const before = k.logs.length;
      await scanner.write(`${code}\r`);
      return waitFor(() => k.logs.slice(before).find((l) => l.msg === 'scan' || l.msg === 'driver card'), what, 30_000);
    };
    const rider = async (workerId: string, direction: 'entry' | 'exit', decision: 'allow' | 'deny' = 'allow', reasons: string[] = []) => {
      const from = gpsNow();
      const logged = await scan(passFor(keys, workerId, { issuedAgoMs: 3_600_000 }), `${workerId} ${direction}`);
      expect(logged, JSON.stringify(logged)).toMatchObject({ msg: 'scan', outcome: decision, direction, reasons });
      expect1({ workerId, direction, decision, reasons, source: 'serial' }, from);
    };
    const alightedAtEnd = (workerIds: string[], from: number) => {
      for (const workerId of workerIds) expect1({ workerId, direction: 'exit', decision: 'allow', reasons: ['ALIGHTED_AT_TRIP_END'], source: 'trip' }, from);
    };
    const driverCard = () => passFor(keys, DRIVER, { issuedAgoMs: 3_600_000 });

    // ---- Trip 1: the driver's card opens it, at A.
    await goTo(A);
    let from = gpsNow();
    expect(await scan(driverCard(), 'the driver card opening trip 1')).toMatchObject({ msg: 'driver card', outcome: 'allow', reasons: ['TRIP_STARTED'] });
    expect1({ workerId: DRIVER, direction: 'entry', decision: 'allow', reasons: ['TRIP_STARTED'], source: 'trip' }, from);
    const open1 = (await tripStatus()).trip;
    expect(open1).toMatchObject({ startedBy: 'driver-card', aboard: 0 });
    expect(open1!.tripId).toMatch(TRIP_ID_PATTERN);
    await rider(R1, 'entry');
    await rider(R2, 'entry');
    await goTo(B);
    here = B;
    await rider(R3, 'entry');
    expect((await tripStatus()).trip).toMatchObject({ tripId: open1!.tripId, aboard: 3 });
    await rider(R4, 'entry', 'deny', ['BUS_FULL']);
    await rider(R1, 'exit');
    await rider(R4, 'entry');
    // The fix is lost mid-trip: the alighting records "no fix".
    await goTo('no-fix');
    here = null;
    await rider(R2, 'exit');
    await goTo(C);
    here = C;
    // The driver's card again ends it: R3 and R4 are still aboard and alight with it.
    from = gpsNow();
    expect(await scan(driverCard(), 'the driver card ending trip 1')).toMatchObject({ msg: 'driver card', outcome: 'allow', reasons: ['TRIP_ENDED'] });
    alightedAtEnd([R3, R4], from);
    expect1({ workerId: DRIVER, direction: 'exit', decision: 'allow', reasons: ['TRIP_ENDED'], source: 'trip' }, from);
    expect((await tripStatus()).trip).toBeNull();

    // ---- Trip 2: opened by the command, on route r2, at D.
    trip = 2;
    await goTo(D);
    here = D;
    from = gpsNow();
    const started = await cli(['trip', 'start', '--route', 'r2', '--config', config]);
    expect(started.status, started.stderr).toBe(0);
    expect1({ workerId: null, direction: 'entry', decision: 'allow', reasons: ['TRIP_STARTED'], source: 'trip' }, from);
    const open2 = (await tripStatus()).trip;
    expect(open2).toMatchObject({ routeId: 'r2', startedBy: 'command', aboard: 0 });
    expect(open2!.tripId).not.toBe(open1!.tripId);
    await rider(R5, 'entry');
    await rider(R1, 'entry');
    await goTo(E);
    here = E;
    await rider(R5, 'exit');
    // Riders alighted by the end of trip 1 board the next one.
    await rider(R3, 'entry');

    // The unit loses power mid-trip (SIGKILL); restarted, it takes the open trip back.
    sky = 'silent';
    kiosk!.child.kill('SIGKILL');
    await once(kiosk!.child, 'exit');
    await startKiosk();
    await goTo(E);
    expect((await tripStatus()).trip).toMatchObject({ tripId: open2!.tripId, routeId: 'r2', aboard: 2 });
    await rider(R2, 'entry');
    await rider(R4, 'entry', 'deny', ['BUS_FULL']);
    from = gpsNow();
    const ended = await cli(['trip', 'end', '--config', config]);
    expect(ended.status, ended.stderr).toBe(0);
    alightedAtEnd([R1, R3, R2], from);
    expect1({ workerId: null, direction: 'exit', decision: 'allow', reasons: ['TRIP_ENDED'], source: 'trip' }, from);
    expect((await tripStatus()).trip).toBeNull();
    const noTrip = await cli(['trip', 'end', '--config', config]);
    expect(noTrip.status).toBe(1);
    expect(noTrip.stderr).toMatch(/no trip/i);

    // Everything so far is in the unit's store, none of it acknowledged: the broker was never up.
    const kioskDb = new Database(join(dir.path, 'safegate.db'), { readonly: true });
    const kioskRows = kioskDb
      .prepare('SELECT seq, wall_ms, worker_id, code_hash, credential_kind, direction, decision, reasons, source, trip_id, route_id, lat, lon, position, clock_source, clock_synced, synced_at FROM events ORDER BY seq')
      .all() as (HubRow & { synced_at: number | null })[];
    kioskDb.close();
    expect(kioskRows).toHaveLength(expected.length);
    expect(kioskRows.filter((r) => r.synced_at !== null)).toEqual([]);

    // ---- The broker comes up on the port the unit points at, with the hub.
    await broker.start();
    const hubConfig = join(dir.path, 'hub.yaml');
    writeFileSync(hubConfig, stringify({ id: 'hub.1', broker: tls('hub.1'), store: { path: 'hub.db' }, console: { enabled: false }, log: { level: 'info' } }));
    const hub = safegateProcess(['hub', 'run', '--config', hubConfig], undefined, { env: { DATABASE_URL: '' } });
    children.push(hub.child);
    await waitFor(() => (hub.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'hub online', 30_000);

    const hubDb = new Database(join(dir.path, 'hub.db'), { readonly: true });
    const hubRows = (): HubRow[] =>
      hubDb
        .prepare(
          'SELECT seq, wall_ms, worker_id, code_hash, credential_kind, direction, decision, reasons, source, trip_id, route_id, lat, lon, position, clock_source, clock_synced FROM hub_events WHERE device_id = ? ORDER BY seq',
        )
        .all(DEVICE) as HubRow[];
    try {
      const atHub = await until(() => {
        const rows = hubRows();
        return rows.length >= expected.length ? rows : undefined;
      }, `all ${expected.length} events at the hub`, 120_000);
      // The unit's outbox drained (every event acknowledged).
      await until(async () => {
        const db = new Database(join(dir.path, 'safegate.db'), { readonly: true });
        try {
          return (db.prepare('SELECT count(*) AS n FROM events WHERE synced_at IS NULL').get() as { n: number }).n === 0 ? true : undefined;
        } finally {
          db.close();
        }
      }, 'the unit\'s outbox drained', 60_000);

      // Exactly once: the same events, the same fields, as the unit recorded them; nothing else.
      expect(atHub.map((r) => r.seq)).toEqual(kioskRows.map((r) => r.seq));
      expect(atHub).toEqual(kioskRows.map(({ synced_at: _s, ...r }) => r));

      // And they are what happened: who, which way, why, where, in which trip, GPS-dated.
      const tripIds = { 1: open1!.tripId, 2: open2!.tripId };
      // The alightings at a trip's end come in the store's order: compare each group as a set.
      const key = (r: { worker_id: string | null; reasons: string }) => `${r.reasons}:${r.worker_id ?? ''}`;
      const sortGroups = <T extends { reasons: string; worker_id: string | null }>(rows: T[]) => {
        const out = [...rows];
        for (let i = 0; i < out.length; ) {
          let j = i;
          while (j < out.length && out[j]!.reasons === 'ALIGHTED_AT_TRIP_END') j++;
          if (j > i) out.splice(i, j - i, ...out.slice(i, j).sort((a, b) => key(a).localeCompare(key(b))));
          i = j + 1;
        }
        return out;
      };
      const want = sortGroups(expected.map((e) => ({ ...e, worker_id: e.workerId, reasons: e.reasons.join(' ') })));
      const got = sortGroups(atHub);
      expect(got.map((r) => [r.worker_id, r.direction, r.decision, r.reasons, r.source, r.trip_id])).toEqual(
        want.map((e) => [e.worker_id, e.direction, e.decision, e.reasons, e.source, tripIds[e.trip]]),
      );
      expect(got.map((r) => (r.position === 'fix' ? micro({ lat: r.lat!, lon: r.lon! }) : r.position))).toEqual(want.map((e) => (e.position ? micro(e.position) : 'no-fix')));
      for (const [i, r] of got.entries()) {
        const e = want[i]!;
        expect(r.clock_source, `event ${r.seq}`).toBe('gps');
        expect(r.clock_synced, `event ${r.seq}`).toBe(1);
        // Dated from the GPS, not the system clock (which runs GPS_AHEAD_MS behind it).
        expect(r.wall_ms, `event ${r.seq} time`).toBeGreaterThanOrEqual(e.fromMs - DATING_SLACK_MS);
        expect(r.wall_ms, `event ${r.seq} time`).toBeLessThanOrEqual(e.toMs + DATING_SLACK_MS);
        if (e.source === 'trip' && e.workerId === null) expect(r.code_hash, `event ${r.seq}`).toMatch(/^[0-9a-f]{32}$/);
      }
      expect(new Set(atHub.filter((r) => r.trip_id === tripIds[2]).map((r) => r.route_id))).toEqual(new Set(['r2']));

      // `safegate hub trips --json`: both trips, every rider, the refusals, GPS clock, start and end places.
      const listed = await cli(['hub', 'trips', '--json', '--config', hubConfig], { DATABASE_URL: '' });
      expect(listed.status, listed.stderr).toBe(0);
      const trips = listed.stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as HubTripJson);
      expect(trips.map((t) => t.tripId)).toEqual([tripIds[2], tripIds[1]]); // newest first
      const [t2, t1] = trips as [HubTripJson, HubTripJson];
      const iso = (seqOf: (r: HubRow) => boolean) => new Date(atHub.find(seqOf)!.wall_ms).toISOString();
      const byRider = (t: HubTripJson) => [...t.riders].sort((a, b) => a.boardedAt.localeCompare(b.boardedAt) || a.workerId.localeCompare(b.workerId));

      expect(t1).toMatchObject({
        deviceId: DEVICE,
        endReason: 'TRIP_ENDED',
        driverWorkerId: DRIVER,
        clock: 'gps',
        refused: 1,
        startedAt: iso((r) => r.trip_id === tripIds[1] && r.reasons === 'TRIP_STARTED'),
        endedAt: iso((r) => r.trip_id === tripIds[1] && r.reasons === 'TRIP_ENDED'),
      });
      expect(micro(t1.startPosition)).toEqual(micro(A));
      expect(micro(t1.endPosition)).toEqual(micro(C));
      expect(byRider(t1).map((r) => [r.workerId, r.alightedBy, micro(r.boardedPosition), micro(r.alightedPosition)])).toEqual([
        [R1, 'scan', micro(A), micro(B)],
        [R2, 'scan', micro(A), null],
        [R3, 'trip-end', micro(B), micro(C)],
        [R4, 'trip-end', micro(B), micro(C)],
      ]);
      expect(t2).toMatchObject({ deviceId: DEVICE, routeId: 'r2', endReason: 'TRIP_ENDED', driverWorkerId: null, clock: 'gps', refused: 1 });
      expect(micro(t2.startPosition)).toEqual(micro(D));
      expect(micro(t2.endPosition)).toEqual(micro(E));
      expect(byRider(t2).map((r) => [r.workerId, r.alightedBy, micro(r.boardedPosition), micro(r.alightedPosition)])).toEqual([
        [R5, 'scan', micro(D), micro(E)],
        [R1, 'trip-end', micro(D), micro(E)],
        [R3, 'trip-end', micro(E), micro(E)],
        [R2, 'trip-end', micro(E), micro(E)],
      ]);
      for (const t of [t1, t2]) for (const r of t.riders) if (r.alightedAt !== null) expect(r.alightedAt >= r.boardedAt, `${t.tripId} ${r.workerId}`).toBe(true);
    } finally {
      hubDb.close();
    }
  }, 360_000);
});
