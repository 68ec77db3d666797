import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, type WireEvent } from '../../../sync/batch-codec.js';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import Database from 'better-sqlite3';
import { SqliteHubStore, type HubStore } from '../../../sync/hub/store.js';
import { sqliteTripKeys } from '../../../sync/hub/trips.js';
import { busTripEvents } from '../../helpers/bus-events.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir } from '../../helpers/fixtures.js';
import { TestPostgres } from '../../helpers/postgres.js';

/**
 * The hub's trips read model (sync/hub/trips.ts) on both stores: bus events ingested as a batch
 * would bring them, read back as trips with their riders.
 */
const dir = tempDir('safegate-trips-');
const server = new TestPostgres(dir.path);
let n = 0;

beforeAll(async () => {
  await server.start();
}, 120_000);
afterAll(async () => {
  await server.stop();
  dir.remove();
});

const T0 = Date.parse('2026-11-26T05:30:00Z');

tripsContract('SQLite', async () => new SqliteHubStore(join(dir.path, `hub-${++n}.db`)));
tripsContract('PostgreSQL', async () => PgHubStore.open(await server.createDatabase(`hub_trips_${++n}`)));

function tripsContract(name: string, open: () => Promise<HubStore>): void {
  describe(`hub trips: ${name}`, () => {
    async function withStore(fn: (s: HubStore) => Promise<void>): Promise<void> {
      const store = await open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    }

    it('makes a trip of its events: driver, route, start and end, every boarding with its alighting (by scan or by the end), refusals, positions', async () => {
      await withStore(async (store) => {
        const events = busTripEvents({ routeId: 'R1', gpsClock: true });
        // Delivered twice: still one trip with each rider once.
        await store.ingest('bus-1', events, T0 + 3_600_000);
        await store.ingest('bus-1', events, T0 + 3_700_000);
        const trips = await store.trips({});
        expect(trips).toHaveLength(1);
        const at = (i: number) => events[i]!;
        const pos = (i: number) => (at(i).position ? { lat: at(i).position!.lat, lon: at(i).position!.lon } : null);
        // busTripEvents: 0 start, 1-5 board, 6 full, 7 malformed, 8-10 scan out, 11-12 alighted at the end, 13 end.
        expect(trips[0]).toEqual({
          tripId: events[0]!.tripId,
          deviceId: 'bus-1',
          checkpointId: 'bus-51b',
          routeId: 'R1',
          startedAt: at(0).wallMs,
          endedAt: at(13).wallMs,
          endReason: 'TRIP_ENDED',
          driverWorkerId: 'D000007',
          clock: 'gps',
          startPosition: pos(0),
          endPosition: pos(13),
          riders: [1, 2, 3, 4, 5].map((b) => {
            const out = b + 7;
            return {
              workerId: at(b).workerId,
              boardedAt: at(b).wallMs,
              alightedAt: at(out).wallMs,
              alightedBy: b <= 3 ? 'scan' : 'trip-end',
              boardedPosition: pos(b),
              alightedPosition: pos(out),
            };
          }),
          refused: 2,
        });
        // The rider scanned while the GPS had no fix has no boarding position (not a made-up one).
        expect(trips[0]!.riders[1]!.boardedPosition).toBeNull();
        expect(trips[0]!.riders.map((r) => r.alightedBy)).toEqual(['scan', 'scan', 'scan', 'trip-end', 'trip-end']);
      });
    });

    it('reads a trip the same whether its events came through the batch codec (format 3) or not', async () => {
      await withStore(async (store) => {
        const events = busTripEvents({ routeId: 'R1', gpsClock: true, riders: 7 });
        const sent = decodeBatch(encodeBatch({ deviceId: 'bus-1', batchId: 'b-1', events })).events;
        await store.ingest('bus-1', sent, T0);
        await store.ingest('bus-2', events, T0);
        const [one, two] = await Promise.all([store.trips({ deviceId: 'bus-1' }), store.trips({ deviceId: 'bus-2' })]);
        expect(one[0]!.riders).toHaveLength(7);
        expect(one.map((t) => ({ ...t, deviceId: 'bus-2' }))).toEqual(two);
      });
    });

    it('lists trips newest first, by device, by trip, by period and up to a limit; a gate kiosk makes none', async () => {
      await withStore(async (store) => {
        const a1 = busTripEvents({ startMs: T0, tripId: 'Tmhfa0001-aaaaa1' });
        const a2 = busTripEvents({ firstSeq: a1.length + 1, startMs: T0 + 7_200_000, tripId: 'Tmhfa0002-aaaaa2' });
        const b1 = busTripEvents({ startMs: T0 + 3_600_000, tripId: 'Tmhfa0003-bbbbb1' });
        await store.ingest('bus-a', [...a1, ...a2], T0 + 9_000_000);
        await store.ingest('bus-b', b1, T0 + 9_000_000);
        await store.ingest('gate-1', typicalEvents(30), T0 + 9_000_000);
        const ids = (list: { tripId: string }[]) => list.map((t) => t.tripId);
        expect(ids(await store.trips({}))).toEqual(['Tmhfa0002-aaaaa2', 'Tmhfa0003-bbbbb1', 'Tmhfa0001-aaaaa1']);
        expect(ids(await store.trips({ deviceId: 'bus-a' }))).toEqual(['Tmhfa0002-aaaaa2', 'Tmhfa0001-aaaaa1']);
        expect(ids(await store.trips({ tripId: 'Tmhfa0003-bbbbb1' }))).toEqual(['Tmhfa0003-bbbbb1']);
        expect(ids(await store.trips({ deviceId: 'bus-a', tripId: 'Tmhfa0003-bbbbb1' }))).toEqual([]);
        expect(ids(await store.trips({ limit: 2 }))).toEqual(['Tmhfa0002-aaaaa2', 'Tmhfa0003-bbbbb1']);
        // A period: trips with an event in it (from inclusive, to exclusive), each whole.
        const inPeriod = await store.trips({ fromMs: T0 + 3_000_000, toMs: a2[0]!.wallMs + 1 });
        expect(ids(inPeriod)).toEqual(['Tmhfa0002-aaaaa2', 'Tmhfa0003-bbbbb1']);
        expect(inPeriod[0]!.riders).toHaveLength(5);
        expect(inPeriod[0]!.startedAt).toBe(a2[0]!.wallMs);
        expect(ids(await store.trips({ fromMs: a2.at(-1)!.wallMs + 1 }))).toEqual([]);
        expect(ids(await store.trips({ keys: [{ deviceId: 'bus-b', tripId: 'Tmhfa0003-bbbbb1' }, { deviceId: 'bus-b', tripId: 'Tmhfa0001-aaaaa1' }] }))).toEqual(['Tmhfa0003-bbbbb1']);
        expect(await store.trips({ deviceId: 'gate-1' })).toEqual([]);
      });
    });

    it('an open trip has no end and its riders no alighting; one who boards twice appears twice; an exit with no boarding is no rider', async () => {
      await withStore(async (store) => {
        const all = busTripEvents({ riders: 2 });
        // Start, two boardings (index 1 and 2), then cut before the refusals: the trip is still open.
        const open = all.slice(0, 3);
        const base = open.at(-1)!;
        const more: WireEvent[] = [
          { ...base, seq: 4, wallMs: base.wallMs + 60_000, direction: 'exit', workerId: 'W020000' },
          { ...base, seq: 5, wallMs: base.wallMs + 120_000, direction: 'entry', workerId: 'W020000' },
          { ...base, seq: 6, wallMs: base.wallMs + 180_000, direction: 'exit', workerId: 'W055555' },
        ];
        await store.ingest('bus-1', [...open, ...more], T0);
        const [trip] = await store.trips({});
        expect(trip).toMatchObject({ endedAt: null, endReason: null, endPosition: null, refused: 0 });
        expect(trip!.riders.map((r) => [r.workerId, r.boardedAt, r.alightedAt, r.alightedBy])).toEqual([
          ['W020000', open[1]!.wallMs, base.wallMs + 60_000, 'scan'],
          ['W020037', open[2]!.wallMs, null, null],
          ['W020000', base.wallMs + 120_000, null, null],
        ]);
      });
    });

    it("a trip opened by the button has no driver; its clock is the weakest of its events'", async () => {
      await withStore(async (store) => {
        const events = busTripEvents({ riders: 2 }).map((e, i) =>
          i === 0 ? { ...e, workerId: null, credentialKind: 'unknown' as const, codeHash: '0123456789abcdef0123456789abcdef' } : i === 3 ? { ...e, clockSynced: false } : e,
        );
        await store.ingest('bus-1', events, T0);
        const [trip] = await store.trips({});
        expect(trip!.driverWorkerId).toBeNull();
        // Event 3 came from a clock the hub could not date (no anchor): the whole trip says so.
        expect(trip!.clock).toBe('unverified');
        expect(trip!.riders).toHaveLength(2);
      });
    });

    it("a driver card that took over a trip a rider's first scan opened is its driver, and the trip is still one", async () => {
      await withStore(async (store) => {
        const base = busTripEvents({ riders: 2 });
        const start = base[0]!;
        // Opened by a rider's first scan (no person), then the driver's card took it over: a second TRIP_STARTED naming them.
        const opened = { ...start, workerId: null, credentialKind: 'unknown' as const, codeHash: '0123456789abcdef0123456789abcdef' };
        const takeover = { ...start, seq: base.at(-1)!.seq + 1, wallMs: start.wallMs + 30_000, monoUs: start.monoUs + 30_000_000 };
        await store.ingest('bus-1', [opened, ...base.slice(1), takeover], T0);
        const trips = await store.trips({});
        expect(trips).toHaveLength(1);
        expect(trips[0]!.driverWorkerId).toBe(start.workerId);
        expect(trips[0]!.startedAt).toBe(start.wallMs);
        expect(trips[0]!.riders).toHaveLength(2);
      });
    });

    it("a manager's read names only the riders (and driver) their organisation's list held, and counts the others", async () => {
      await withStore(async (store) => {
        const events = busTripEvents({ riders: 4 });
        const orgOf = new Map([
          ['W020000', 'org-a'],
          ['W020074', 'org-a'],
          ['W020037', 'org-b'],
          ['D000007', 'org-b'],
        ]);
        await store.ingestMany([{ deviceId: 'bus-1', events, receivedMs: T0, orgOf }]);
        const [mine] = await store.trips({ orgId: 'org-a' });
        expect(mine!.riders.map((r) => r.workerId)).toEqual(['W020000', 'W020074']);
        expect(mine!.ridersElsewhere).toBe(2);
        expect(mine!.driverWorkerId).toBeNull();
        const [theirs] = await store.trips({ orgId: 'org-b' });
        expect(theirs!.riders.map((r) => r.workerId)).toEqual(['W020037']);
        expect(theirs!.driverWorkerId).toBe('D000007');
        const [all] = await store.trips({});
        expect(all!.riders).toHaveLength(4);
        expect(all!.ridersElsewhere).toBeUndefined();
      });
    });
  });
}

describe('hub trips on SQLite: query plans', () => {
  it("reads a bus unit's trips from the trip index alone, a period's through the time index, and never walks every event", async () => {
    const path = join(dir.path, 'plan.db');
    const store = new SqliteHubStore(path);
    await store.ingest('bus-a', busTripEvents(), T0);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const plan = (q: Parameters<typeof sqliteTripKeys>[0]) => {
        const { sql, params } = sqliteTripKeys(q);
        return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail).join('\n');
      };
      expect(plan({ deviceId: 'bus-a', limit: 20 })).toMatch(/USING COVERING INDEX hub_events_trip/);
      expect(plan({ fromMs: T0, toMs: T0 + 86_400_000 })).toMatch(/USING INDEX hub_events_time/);
      expect(plan({})).toMatch(/USING (COVERING )?INDEX hub_events_trip/);
      for (const q of [{ deviceId: 'bus-a' }, { fromMs: T0 }, {}, { tripId: 'Tmhfa0001-aaaaa1' }]) expect(plan(q)).not.toMatch(/SCAN hub_events(?! USING)|PRIMARY KEY/);
    } finally {
      db.close();
    }
  });
});
