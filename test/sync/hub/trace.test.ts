import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { SqliteHubStore, type HubStore } from '../../../sync/hub/store.js';
import { publishedResetHours, TraceError, Tracer, type TraceResult } from '../../../sync/hub/trace.js';
import type { VisitRecord, Visits, VisitWindow } from '../../../sync/hub/visits.js';
import { traceExportRows } from '../../../sync/hub/traces.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';
import { addShuttleTrips, at, buildTraceScenario, EXPECTED_F1, EXPECTED_F2, NOT_CONTACTS, SHUTTLE_TRIP_1, SHUTTLE_TRIP_2 } from './trace-scenario.js';

const DAY = 86_400_000;

/** Each contact as worker, degree, rank, minutes, and where (with whom for F2). */
function summary(r: TraceResult) {
  return r.contacts.map((c) => ({
    workerId: c.workerId,
    degree: c.degree,
    rank: c.rank,
    minutes: c.overlapMinutes,
    places: [...new Set(c.exposures.map((x) => x.place.key))],
    via: [...new Set(c.exposures.flatMap((x) => (x.viaWorkerId ? [x.viaWorkerId] : [])))],
  }));
}

describe.each(directoryBackends)('tracing at the hub: store and directory on $name', (backend) => {
  let store: HubStore;
  let directory: HubDirectory;
  let visits: Visits;
  const dir = tempDir('safegate-trace-');

  beforeEach(async () => {
    const target = await backend.target();
    directory = await HubDirectory.open(target);
    // The event store on the same kind of database as the directory.
    store = target.kind === 'postgres' ? await PgHubStore.open((await backend.target() as { url: string }).url) : new SqliteHubStore(`${dir.path}/hub-${Math.random().toString(36).slice(2)}.db`);
    ({ visits } = await buildTraceScenario(store, directory));
  }, 60_000);
  afterEach(async () => {
    await store.close();
    await directory.close();
  });

  it('reads the phone check-ins kept in the directory without the phone keys (a hub that takes no uploads now still traces them)', async () => {
    const withKeys = await new Tracer({ store, directory, visits }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY, secondDegree: true });
    const keyless = await new Tracer({ store, directory }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY, secondDegree: true });
    expect(keyless.casePresence.some((p) => p.source === 'phone')).toBe(true);
    expect(keyless).toEqual(withKeys);
  });

  it('finds exactly the F1 of the hand-built day (bus, canteen, zone, phone check-in at a team code), ranked, with overlap minutes and the clock marks', async () => {
    const tracer = new Tracer({ store, directory, visits });
    const r = await tracer.trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY });
    expect(summary(r)).toEqual(EXPECTED_F1.map((c, i) => ({ workerId: c.workerId, degree: 1, rank: i + 1, minutes: c.minutes, places: [c.place], via: [] })));
    for (const w of NOT_CONTACTS) expect(r.contacts.map((c) => c.workerId)).not.toContain(w);
    expect(r.options).toEqual({ canteenWindowMinutes: 30, resetHours: 16 });

    // The case's own presence: the gate makes none; the zone is one place across its two checkpoints.
    expect(r.casePresence.map((p) => [p.place.key, (p.fromMs - at(0)) / 60_000, (p.toMs - at(0)) / 60_000, p.source])).toEqual([
      ['bus:xe-1', 0, 40, 'kiosk'],
      ['zone:xuong-1:khu-a', 60, 290, 'kiosk'],
      ['canteen:nha-an', 300, 330, 'kiosk'],
      ['team:to-may-1', 400, 460, 'phone'],
    ]);
    expect(r.casePresence[1]!.place).toEqual({ key: 'zone:xuong-1:khu-a', kind: 'zone', checkpointId: 'khu-a1', name: 'Khu A cửa 1', siteId: 'xuong-1' });

    const byId = new Map(r.contacts.map((c) => [c.workerId, c]));
    // Where and when, by the minute.
    const minutes = (id: string) => byId.get(id)!.exposures.map((x) => [(x.fromMs - at(0)) / 60_000, (x.toMs - at(0)) / 60_000, x.overlapMinutes, x.source, x.unverifiedClock]);
    expect(minutes('B1')).toEqual([[10, 40, 30, 'kiosk', false]]);
    expect(minutes('B2')).toEqual([[0, 5, 5, 'kiosk', false]]);
    // At a kiosk placed on the bus that sends an old checkpoint id.
    expect(minutes('B4')).toEqual([[20, 30, 10, 'kiosk', false]]);
    expect(minutes('K1')).toEqual([[310, 330, 20, 'kiosk', false]]);
    expect(minutes('K2')).toEqual([[300, 310, 10, 'kiosk', false]]);
    // Entered 14 h 40 min before the case and never left: present until the reset time (16 h).
    expect(minutes('Z3')).toEqual([[60, 80, 20, 'kiosk', false]]);
    expect(minutes('Z1')).toEqual([[100, 200, 100, 'kiosk', false]]);
    // A kiosk the hub could not date: the contact stands, marked.
    expect(minutes('Z4')).toEqual([[150, 170, 20, 'kiosk', true]]);
    expect(byId.get('Z4')!.unverifiedClock).toBe(true);
    expect(r.contacts.filter((c) => c.unverifiedClock).map((c) => c.workerId)).toEqual(['Z4']);
    expect(minutes('P1')).toEqual([[420, 460, 40, 'phone', false]]);
    expect(byId.get('P1')!.orgId).toBe('may-a');
  });

  it("makes each bus trip its own place: riders of the same trip are contacts from boarding to alighting (by scan or by the trip's end), the driver for the whole trip; another trip of the same bus, a refusal and a marker with no worker make none", async () => {
    await addShuttleTrips(store, directory);
    const tracer = new Tracer({ store, directory, visits });
    const r = await tracer.trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY });
    const trip1 = `trip:bus-shuttle:${SHUTTLE_TRIP_1}`;
    const trip2 = `trip:bus-shuttle:${SHUTTLE_TRIP_2}`;
    // The day's contacts are as before; the trip adds its own.
    expect(summary(r).filter((c) => !c.places.includes(trip1)).map((c) => [c.workerId, c.minutes, c.places])).toEqual(EXPECTED_F1.map((c) => [c.workerId, c.minutes, [c.place]]));
    const onTrip = r.contacts.filter((c) => c.exposures.some((x) => x.place.key === trip1));
    const minutes = (x: { fromMs: number; toMs: number }) => [(x.fromMs - at(0)) / 60_000, (x.toMs - at(0)) / 60_000];
    expect(onTrip.map((c) => [c.workerId, c.overlapMinutes, ...c.exposures.map((x) => [...minutes(x), x.unverifiedClock])])).toEqual([
      ['D9', 55, [525, 580, false]],
      ['R1', 50, [530, 580, false]],
      ['R2', 10, [540, 550, false]],
    ]);
    for (const w of ['R3', 'RX']) expect(r.contacts.map((c) => c.workerId)).not.toContain(w);
    const casePresence = r.casePresence.find((p) => p.place.key === trip1)!;
    expect(minutes(casePresence)).toEqual([525, 580]);
    expect(casePresence.place).toEqual({ key: trip1, kind: 'bus', checkpointId: 'xe-2', name: 'Xe đưa rước ca 2', siteId: 'xuong-1', tripId: SHUTTLE_TRIP_1 });

    // The driver as the case: present from the card that opened each trip to its end, even one ended by the button (no worker).
    const d = await tracer.trace({ workerId: 'D9', fromMs: at(0) - DAY, toMs: at(0) + DAY });
    expect(d.casePresence.map((p) => [p.place.key, ...minutes(p)])).toEqual([
      [trip1, 520, 580],
      [trip2, 600, 640],
    ]);
    expect(d.contacts.map((c) => [c.workerId, c.overlapMinutes, [...new Set(c.exposures.map((x) => x.place.key))]])).toEqual([
      ['C', 55, [trip1]],
      ['R1', 50, [trip1]],
      ['R3', 15, [trip2]],
      ['R2', 10, [trip1]],
    ]);

    // The health authority's sheet names the bus and the trip.
    const view = { ...r, traceId: 'x', caseOrgId: null, scopeOrgId: null, secondDegree: false, startedBy: 'test', startedMs: 0, contacts: r.contacts.length, notified: 0, result: r, notifiedMarks: [], contactsElsewhere: 0 };
    const sheet = traceExportRows(view, new Map(), 'Asia/Ho_Chi_Minh', 'vi');
    expect(sheet.find((row) => row[2] === 'R1')!.slice(6, 9)).toEqual([`Xe đưa rước ca 2 (chuyến ${SHUTTLE_TRIP_1})`, 'Xe đưa đón', 'xe-2']);
  });

  it("keys a phone check-in at a zone checkpoint by the zone its kiosks report: it meets the kiosks' presence there, and the case's own check-in opens no second presence", async () => {
    const r = await new Tracer({ store, directory, visits }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY });
    const pz = r.contacts.find((c) => c.workerId === 'PZ')!;
    expect(pz.exposures.map((x) => [x.place.key, (x.fromMs - at(0)) / 60_000, (x.toMs - at(0)) / 60_000, x.source])).toEqual([['zone:xuong-1:khu-a', 120, 180, 'phone']]);

    // The case also checks in by phone at the zone's first checkpoint at 08:40, inside the kiosks' 08:00 to 11:50.
    const mine: VisitRecord[] = [{ visitId: 'case-in', workerId: 'C', checkpointId: 'khu-a1', siteId: 'xuong-1', direction: 'in', atMs: at(100), receivedAtMs: at(100) + 2_000, timeVerified: true, codeKind: 'static' }];
    const withCase = {
      within: async (w: VisitWindow) => [
        ...(await visits.within(w)),
        ...mine.filter((v) => (!w.workerIds || w.workerIds.includes(v.workerId)) && (!w.checkpointIds || w.checkpointIds.includes(v.checkpointId)) && v.atMs >= w.sinceMs && v.atMs < w.untilMs),
      ],
    };
    const r2 = await new Tracer({ store, directory, visits: withCase }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY });
    const zone = r2.casePresence.filter((p) => p.place.kind === 'zone');
    expect(zone.map((p) => [p.place.key, (p.fromMs - at(0)) / 60_000, (p.toMs - at(0)) / 60_000])).toEqual([
      ['zone:xuong-1:khu-a', 60, 100],
      ['zone:xuong-1:khu-a', 100, 290],
    ]);
    expect(r2.contacts.find((c) => c.workerId === 'Z1')!.overlapMinutes).toBe(100);
  });

  it('keeps each kiosk placement over time (placed, moved to another site, taken out): the history tracing reads', async () => {
    await directory.assignSite('xuong-2', ['kiosk-bus2'], at(3_000));
    await directory.placeDevices('xe-1', ['kiosk-bus2'], at(4_000));
    await directory.placeDevices('xe-1', ['kiosk-bus2'], at(4_500)); // no change: nothing appended
    await directory.unassignSite(['kiosk-bus2'], at(5_000));
    const rows = await directory.sql.all<{ since_ms: number | string; checkpoint_id: string | null }>(sql`SELECT since_ms, checkpoint_id FROM device_placements WHERE device_id = 'kiosk-bus2' ORDER BY since_ms`);
    expect(rows.map((r) => [(Number(r.since_ms) - at(0)) / 60_000, r.checkpoint_id])).toEqual([
      [-2_000, 'xe-1'],
      [2_000, 'to-may-1'],
      [3_000, null],
      [4_000, 'xe-1'],
      [5_000, null],
    ]);
    // Its events of the day still count on the bus where it was then.
    const r = await new Tracer({ store, directory, visits }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY });
    expect(r.contacts.find((c) => c.workerId === 'B4')?.exposures.map((x) => x.place.key)).toEqual(['bus:xe-1']);
  });

  it('adds the F2 on request: contacts of the F1 who are neither the case nor an F1, each with the F1 they met', async () => {
    const tracer = new Tracer({ store, directory, visits });
    const r = await tracer.trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY, secondDegree: true });
    expect(summary(r)).toEqual([
      ...EXPECTED_F1.map((c, i) => ({ workerId: c.workerId, degree: 1, rank: i + 1, minutes: c.minutes, places: [c.place], via: [] })),
      ...EXPECTED_F2.map((c, i) => ({ workerId: c.workerId, degree: 2, rank: EXPECTED_F1.length + i + 1, minutes: c.minutes, places: [c.place], via: [c.via] })),
    ]);
    // Z2 left the zone at 55, before Z3 met the case there at 60: Z3 had nothing to pass on yet.
    expect(r.contacts.map((c) => c.workerId)).not.toContain('Z2');
  });

  it("counts a presence that began before the period (the reads are padded by the reset time), and takes the canteen window and reset time it is given", async () => {
    // From 08:10: the case entered the zone at 08:00, Z3 (in since the night before) overlaps 08:10 to 08:20.
    const r = await new Tracer({ store, directory, visits }).trace({ workerId: 'C', fromMs: at(70), toMs: at(0) + DAY });
    expect(r.casePresence[0]).toMatchObject({ fromMs: at(70), toMs: at(290) });
    expect(r.contacts.find((c) => c.workerId === 'Z3')?.overlapMinutes).toBe(10);
    expect(r.contacts.map((c) => c.workerId)).not.toContain('B1');

    // A 45-minute sitting makes K3 (30 min after the case) and K4 (40 min) contacts; a 14-hour reset drops Z3.
    const wide = await new Tracer({ store, directory, visits }, { canteenWindowMinutes: 45, resetHours: 14 }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY });
    const ids = wide.contacts.map((c) => [c.workerId, c.overlapMinutes]);
    expect(ids).toContainEqual(['K3', 15]);
    expect(ids).toContainEqual(['K4', 5]);
    expect(ids.map(([w]) => w)).not.toContain('Z3');
  });

  it('refuses an unknown worker, a period backwards or over 60 days; a worker with no presence has no contacts', async () => {
    const tracer = new Tracer({ store, directory, visits });
    await expect(tracer.trace({ workerId: 'NOBODY', fromMs: at(0) - DAY, toMs: at(0) })).rejects.toThrow(new TraceError('no worker NOBODY is known to this hub (on no list, no passage)'));
    await expect(tracer.trace({ workerId: 'C', fromMs: at(0), toMs: at(0) - 1 })).rejects.toThrow(/starts after it ends/);
    await expect(tracer.trace({ workerId: 'C', fromMs: at(0) - 61 * DAY, toMs: at(0) })).rejects.toThrow(/at most 60 days/);
    const gateOnly = await tracer.trace({ workerId: 'G1', fromMs: at(0) - DAY, toMs: at(0) + DAY });
    expect(gateOnly).toMatchObject({ casePresence: [], contacts: [] });
    // The policy the hub publishes gives the reset time.
    expect(await publishedResetHours(directory)).toBeUndefined();
  });
});
