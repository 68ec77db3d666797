import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { SqliteHubStore, type HubStore } from '../../../sync/hub/store.js';
import { TraceError, Tracer, type TraceResult } from '../../../sync/hub/trace.js';
import { SavedTraces, viewOf } from '../../../sync/hub/traces.js';
import type { Visits } from '../../../sync/hub/visits.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';
import { addVisitors, at, buildTraceScenario, EXPECTED_F1, EXPECTED_F2, V1, V2, V3, V4, V5 } from './trace-scenario.js';

const DAY = 86_400_000;
const minutes = (ms: number | null) => (ms === null ? null : (ms - at(0)) / 60_000);
const contactsOf = (r: TraceResult) => r.contacts.map((c) => [c.workerId, c.kind, c.degree, c.overlapMinutes, [...new Set(c.exposures.map((x) => x.place.key))], [...new Set(c.exposures.flatMap((x) => (x.viaWorkerId ? [x.viaWorkerId] : [])))]]);

describe.each(directoryBackends)('visitors in hub traces (issue 14): store and directory on $name', (backend) => {
  let store: HubStore;
  let directory: HubDirectory;
  let visits: Visits;
  const dir = tempDir('safegate-trace-visitors-');

  beforeEach(async () => {
    const target = await backend.target();
    directory = await HubDirectory.open(target);
    store = target.kind === 'postgres' ? await PgHubStore.open(((await backend.target()) as { url: string }).url) : new SqliteHubStore(`${dir.path}/hub-${Math.random().toString(36).slice(2)}.db`);
    ({ visits } = await buildTraceScenario(store, directory));
    await addVisitors(store, directory);
  }, 60_000);
  afterEach(async () => {
    await store.close();
    await directory.close();
  });

  it("makes a visitor at a narrow place an F1 (and F2) like a worker, named by their visit, and leaves the workers' contacts as they were", async () => {
    const r = await new Tracer({ store, directory, visits }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY, secondDegree: true });
    expect(r.caseKind).toBe('worker');
    const workers = r.contacts.filter((c) => c.kind === 'worker');
    expect(workers.map((c) => [c.workerId, c.degree, c.overlapMinutes])).toEqual([...EXPECTED_F1.map((c) => [c.workerId, 1, c.minutes]), ...EXPECTED_F2.map((c) => [c.workerId, 2, c.minutes])]);
    expect(contactsOf(r).filter(([, kind]) => kind === 'visitor')).toEqual([
      [V1, 'visitor', 1, 30, ['zone:xuong-1:khu-a'], []],
      // Ate at 335: after C's sitting (300 to 330), within K1's stay (310 to 345).
      [V5, 'visitor', 2, 10, ['canteen:nha-an'], ['K1']],
    ]);
    const v1 = r.contacts.find((c) => c.workerId === V1)!;
    // Their organisation is the host's: the one whose site they met the case at.
    expect(v1).toMatchObject({ orgId: 'may-a', visitor: { name: 'Khách Một', host: 'Phòng nhân sự', purpose: 'Phỏng vấn' } });
    expect(v1.exposures.map((x) => [minutes(x.fromMs), minutes(x.toMs), x.source])).toEqual([[100, 130, 'kiosk']]);
    // Ranked among the workers by minutes: after B1 (30, and "B1" sorts first), before K1 (20).
    expect(r.contacts.map((c) => c.workerId).slice(3, 6)).toEqual(['B1', V1, 'K1']);
    // The gate's registration and approval events are records, not presence; a refused visitor is nobody's contact.
    expect(r.contacts.map((c) => c.workerId)).not.toContain(V4);
  });

  it("lists the visitors on the case's site while the case was there (not as contacts): entry, exit or none, overlap with the case's presence at the site's places", async () => {
    const r = await new Tracer({ store, directory, visits }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY });
    expect(r.visitorsOnSite!.map((v) => [v.visitorId, v.siteId, minutes(v.enteredMs), minutes(v.leftMs), v.overlapMinutes, v.visitor?.host, v.unverifiedClock])).toEqual([
      // In 55 to 200; C was in the zone 60 to 290.
      [V1, 'xuong-1', 55, 200, 140, 'Phòng nhân sự', false],
      // Never scanned out: on site until the reset time; C was at the team 400 to 460.
      [V2, 'xuong-1', 440, null, 20, 'Tổ may 1', false],
      [V3, 'xuong-1', 110, 125, 15, 'Bảo trì', false],
    ]);
    expect(r.visitorsOnSite![0]!.visitor).toEqual({ name: 'Khách Một', host: 'Phòng nhân sự', purpose: 'Phỏng vấn' });
    expect(r.visitorsOnSite!.map((v) => v.orgId)).toEqual(['may-a', 'may-a', 'may-a']);
    // V2 and V3 were never at a narrow place: not contacts.
    for (const v of [V2, V3]) expect(r.contacts.map((c) => c.workerId)).not.toContain(v);

    // A period that ends before V2 came: V2 is not listed; one that starts after C left the zone: neither are V1 and V3.
    const morning = await new Tracer({ store, directory, visits }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(300) });
    expect(morning.visitorsOnSite!.map((v) => [v.visitorId, v.overlapMinutes])).toEqual([[V1, 140], [V3, 15]]);
    const evening = await new Tracer({ store, directory, visits }).trace({ workerId: 'C', fromMs: at(300), toMs: at(0) + DAY });
    expect(evening.visitorsOnSite!.map((v) => v.visitorId)).toEqual([V2]);
  });

  it('traces a visitor as the case: their narrow-place contacts, their visits to sites, and the other visitors on site with them', async () => {
    const r = await new Tracer({ store, directory, visits }).trace({ visitorId: V1, fromMs: at(0) - DAY, toMs: at(0) + DAY });
    expect(r).toMatchObject({ caseWorkerId: V1, caseKind: 'visitor' });
    expect(r.casePresence.map((p) => [p.place.key, minutes(p.fromMs), minutes(p.toMs)])).toEqual([['zone:xuong-1:khu-a', 100, 130]]);
    expect(r.contacts.map((c) => [c.workerId, c.kind, c.overlapMinutes, c.orgId])).toEqual([
      ['C', 'worker', 30, 'may-a'],
      ['Z1', 'worker', 30, 'may-a'],
      // By phone at the zone's checkpoint, 120 to 180.
      ['PZ', 'worker', 10, 'may-a'],
    ]);
    expect(r.caseVisits!.map((v) => [v.siteId, minutes(v.enteredMs), minutes(v.leftMs), v.visitor])).toEqual([['xuong-1', 55, 200, { name: 'Khách Một', host: 'Phòng nhân sự', purpose: 'Phỏng vấn' }]]);
    expect(r.visitorsOnSite!.map((v) => [v.visitorId, v.overlapMinutes])).toEqual([[V3, 15]]);

    // A visitor who came after: their visit alone, no contacts.
    const v2 = await new Tracer({ store, directory, visits }).trace({ visitorId: V2, fromMs: at(0) - DAY, toMs: at(0) + DAY });
    expect(v2).toMatchObject({ casePresence: [], contacts: [], visitorsOnSite: [] });
    expect(v2.caseVisits!.map((v) => [minutes(v.enteredMs), v.leftMs])).toEqual([[440, null]]);
    // Refused at the gate: known by the registration, no visit, no presence.
    expect(await new Tracer({ store, directory, visits }).trace({ visitorId: V4, fromMs: at(0) - DAY, toMs: at(0) + DAY })).toMatchObject({ casePresence: [], contacts: [], caseVisits: [] });
  });

  it("saves a trace with its visitors; a manager sees the visitors on their organisation's sites and the visitor contacts met there, another organisation's manager none of them", async () => {
    await directory.addOrganisation({ id: 'may-b', name: 'Công ty May B', kind: 'company' }, at(-2_000));
    const r = await new Tracer({ store, directory, visits }).trace({ workerId: 'C', fromMs: at(0) - DAY, toMs: at(0) + DAY, secondDegree: true });
    const saved = new SavedTraces({ sql: directory.sql, now: () => at(2_000) });
    const t = await saved.save({ result: r, secondDegree: true, startedBy: 'health', scopeOrgId: null, caseOrgId: 'may-a' });
    const visitorsOf = (v: { result: TraceResult }) => [v.result.contacts.filter((c) => c.kind === 'visitor').map((c) => c.workerId), (v.result.visitorsOnSite ?? []).map((x) => x.visitorId)];
    expect(visitorsOf((await saved.view(t.traceId))!)).toEqual([[V1, V5], [V1, V2, V3]]);
    expect(visitorsOf((await saved.view(t.traceId, 'may-a'))!)).toEqual([[V1, V5], [V1, V2, V3]]);
    // May B's manager may not open C's trace at all; shown the same trace as theirs, they would see no visitor of May A's site.
    expect(await saved.view(t.traceId, 'may-b')).toBeUndefined();
    const asB = viewOf(t, 'may-b');
    expect(visitorsOf(asB)).toEqual([[], []]);
    expect(asB.contactsElsewhere).toBe(r.contacts.length);
    // A visitor contact is marked as told like a worker.
    expect(await saved.markNotified(t.traceId, V1, 'health', undefined)).toMatchObject({ workerId: V1, by: 'health' });
  });

  it('refuses a visitor named otherwise than by a pseudonym, one the hub does not know, and a case named twice', async () => {
    const tracer = new Tracer({ store, directory, visits });
    const period = { fromMs: at(0) - DAY, toMs: at(0) + DAY };
    await expect(tracer.trace({ visitorId: '079123456789', ...period })).rejects.toThrow(new TraceError('a visitor is named by their pseudonym: v<key id>.<32 hex digits>'));
    await expect(tracer.trace({ visitorId: `vk1.${'f'.repeat(32)}`, ...period })).rejects.toThrow(/no visitor vk1\.f+ is known to this hub/);
    await expect(tracer.trace({ workerId: 'C', visitorId: V1, ...period })).rejects.toThrow(/not both/);
    await expect(tracer.trace({ ...period })).rejects.toThrow(/a worker id is required/);
  });
});
