import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { AlertBook } from '../../../../sync/hub/notify/alert-book.js';
import { HubWatch } from '../../../../sync/hub/notify/hub-watch.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { listedWorker } from '../../../helpers/listed-worker.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const at = (iso: string) => Date.parse(iso);
const MIN = 60_000;

describe.each(directoryBackends)("the hub's own alerts on $name (silent kiosks, stale lists, missing tests at 15:00 in the province)", (backend) => {
  let directory: HubDirectory;
  let book: AlertBook;
  let watch: HubWatch;
  const seen = new Map<string, number>();

  beforeEach(async () => {
    seen.clear();
    directory = await HubDirectory.open(await backend.target());
    book = new AlertBook({ sql: directory.sql });
    watch = new HubWatch({
      book,
      zone: ZONE,
      silentKioskMs: 15 * MIN,
      sources: {
        sites: () => directory.sites(),
        lastSeen: async (ids) => new Map(ids.filter((id) => seen.has(id)).map((id) => [id, seen.get(id)!])),
        listCompliance: (now, zone) => directory.listCompliance(now, zone),
      },
    });
  });
  afterEach(async () => {
    await directory.close();
  });

  it('a kiosk silent past the limit raises one device alert per silence; heard again and silent again, another', async () => {
    await directory.addOrganisation({ id: 'may-a', name: 'May A', kind: 'company' });
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.assignSite('xuong-1', ['gate-1', 'gate-2', 'gate-new']);
    // A list uploaded this morning: no compliance alert in the way.
    const t0 = at('2026-11-27T02:00:00Z'); // 09:00 in the province
    await directory.uploadWorkers('may-a', [listedWorker('a1', t0)], { nowMs: t0 });
    seen.set('gate-1', t0);
    seen.set('gate-2', t0 + 10 * MIN);
    // gate-new was never heard from: not watched.

    expect(await watch.check(t0 + 15 * MIN)).toEqual([]);
    const first = await watch.check(t0 + 16 * MIN);
    expect(first.map((r) => [r.kind, r.subject])).toEqual([['kiosk-silent', 'gate-1']]);
    expect(await book.get(first[0]!.alertId)).toMatchObject({ source: 'hub', kind: 'kiosk-silent', category: 'device', orgId: null, siteId: 'xuong-1', deviceId: 'gate-1', atMs: t0 + 15 * MIN });
    // Still silent: the same episode, no new alert.
    expect(await watch.check(t0 + 60 * MIN)).toEqual([{ alertId: expect.any(String), kind: 'kiosk-silent', subject: 'gate-2' }]);
    expect(await watch.check(t0 + 90 * MIN)).toEqual([]);
    // gate-1 is heard again, then falls silent again: a new episode.
    seen.set('gate-1', t0 + 100 * MIN);
    expect(await watch.check(t0 + 110 * MIN)).toEqual([]);
    const again = await watch.check(t0 + 116 * MIN);
    expect(again.map((r) => r.subject)).toEqual(['gate-1']);
    expect(again[0]!.alertId).not.toBe(first[0]!.alertId);
    expect((await book.list()).filter((a) => a.kind === 'kiosk-silent')).toHaveLength(3);
  });

  it('after a hub or broker outage no kiosk is silent until it stays unheard a further limit once the hub hears again; nothing while the link is down', async () => {
    await directory.addOrganisation({ id: 'may-a', name: 'May A', kind: 'company' });
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.assignSite('xuong-1', ['gate-1', 'gate-2', 'gate-3']);
    const t0 = at('2026-11-27T02:00:00Z'); // 09:00 in the province
    await directory.uploadWorkers('may-a', [listedWorker('a1', t0)], { nowMs: t0 });
    // Every kiosk heard at t0; then the broker goes down for an hour (heartbeats are not queued).
    for (const d of ['gate-1', 'gate-2', 'gate-3']) seen.set(d, t0);
    let linkUp: number | undefined = t0 - 60 * MIN;
    const linked = new HubWatch({
      book,
      zone: ZONE,
      silentKioskMs: 15 * MIN,
      linkUpSinceMs: () => linkUp,
      sources: {
        sites: () => directory.sites(),
        lastSeen: async (ids) => new Map(ids.filter((id) => seen.has(id)).map((id) => [id, seen.get(id)!])),
        listCompliance: (now, zone) => directory.listCompliance(now, zone),
      },
    });
    linkUp = undefined;
    expect(await linked.check(t0 + 30 * MIN)).toEqual([]);
    // The link is back at t0 + 60 min: the kiosks get a further 15 minutes from then.
    linkUp = t0 + 60 * MIN;
    expect(await linked.check(t0 + 61 * MIN)).toEqual([]);
    seen.set('gate-1', t0 + 62 * MIN);
    seen.set('gate-2', t0 + 63 * MIN);
    expect(await linked.check(t0 + 75 * MIN)).toEqual([]);
    const silent = await linked.check(t0 + 76 * MIN);
    expect(silent.map((r) => r.subject)).toEqual(['gate-3']);
    expect(await book.get(silent[0]!.alertId)).toMatchObject({ atMs: t0 + 75 * MIN, dedupKey: `hub:kiosk-silent:gate-3:${t0}` });

    // A hub process started after an outage of its own (no link source): silence counts from its start.
    const restarted = new HubWatch({
      book,
      zone: ZONE,
      silentKioskMs: 15 * MIN,
      now: () => t0 + 200 * MIN,
      everyMs: 3_600_000,
      sources: {
        sites: () => directory.sites(),
        lastSeen: async (ids) => new Map(ids.filter((id) => seen.has(id)).map((id) => [id, seen.get(id)!])),
        listCompliance: (now, zone) => directory.listCompliance(now, zone),
      },
    });
    restarted.start(); // checks at once, at t0 + 200 min: nothing
    await restarted.stop();
    expect(await restarted.check(t0 + 215 * MIN)).toEqual([]);
    expect((await restarted.check(t0 + 216 * MIN)).map((r) => r.subject).sort()).toEqual(['gate-1', 'gate-2']);
    expect((await book.list()).filter((a) => a.kind === 'kiosk-silent')).toHaveLength(3);
  });

  it("an organisation's list older than 3 days raises one compliance alert a day; no list by 15:00 in the province one a day, after 15:00 only", async () => {
    for (const id of ['fresh', 'old']) {
      await directory.addOrganisation({ id, name: id, kind: 'company' });
      await directory.addSite({ id: `${id}-site`, orgId: id });
    }
    await directory.uploadWorkers('old', [listedWorker('o1', at('2026-11-23T05:00:00Z'))], { nowMs: at('2026-11-23T05:00:00Z') }); // 4 days before
    await directory.uploadWorkers('fresh', [listedWorker('f1', at('2026-11-27T03:00:00Z'))], { nowMs: at('2026-11-27T03:00:00Z') }); // 10:00 today

    // 14:59 in the province (07:59 UTC): only the stale list.
    const morning = await watch.check(at('2026-11-27T07:59:00Z'));
    expect(morning.map((r) => [r.kind, r.subject])).toEqual([['list-stale', 'old']]);
    expect(await book.get(morning[0]!.alertId)).toMatchObject({ category: 'compliance', orgId: 'old', siteId: null, dedupKey: 'hub:list-stale:old:2026-11-27' });
    // 15:01: the tests are missing for 'old' (fresh sent its list before 15:00).
    const missing = await watch.check(at('2026-11-27T08:01:00Z'));
    expect(missing.map((r) => [r.kind, r.subject])).toEqual([['tests-missing', 'old']]);
    expect(await book.get(missing[0]!.alertId)).toMatchObject({ category: 'compliance', orgId: 'old', atMs: at('2026-11-27T08:00:00Z') });
    // 23:59 the same day in the province: nothing new.
    expect(await watch.check(at('2026-11-27T16:59:00Z'))).toEqual([]);
    // 00:01 the next day in the province (17:01 UTC): the stale list again (a new day); the tests are not due yet.
    expect((await watch.check(at('2026-11-27T17:01:00Z'))).map((r) => [r.kind, r.subject])).toEqual([['list-stale', 'old']]);
    // 15:01 the next day: both organisations missed today's tests.
    expect((await watch.check(at('2026-11-28T08:01:00Z'))).map((r) => [r.kind, r.subject]).sort()).toEqual([
      ['tests-missing', 'fresh'],
      ['tests-missing', 'old'],
    ]);
  });

  it("a list that came after 15:00 does not cancel the day's missing-tests alert, whenever the hub checks; one before 15:00 (province time) does", async () => {
    for (const id of ['late', 'early', 'yesterday']) {
      await directory.addOrganisation({ id, name: id, kind: 'company' });
      await directory.addSite({ id: `${id}-site`, orgId: id });
    }
    // 'yesterday' sent its list at 14:00 yesterday (province): fresh, but not today's.
    await directory.uploadWorkers('yesterday', [listedWorker('y1', at('2026-11-26T07:00:00Z'))], { nowMs: at('2026-11-26T07:00:00Z') });
    // 'early' at 14:59 today, 'late' at 15:30 today (province), while the hub was down (its last check 14:00).
    expect((await watch.check(at('2026-11-27T07:00:00Z'))).map((r) => [r.kind, r.subject]).sort()).toEqual([
      ['list-stale', 'early'], // no list yet
      ['list-stale', 'late'],
    ]);
    await directory.uploadWorkers('early', [listedWorker('e1', at('2026-11-27T07:59:00Z'))], { nowMs: at('2026-11-27T07:59:00Z') });
    await directory.uploadWorkers('late', [listedWorker('l1', at('2026-11-27T08:30:00Z'))], { nowMs: at('2026-11-27T08:30:00Z') });
    // The hub is back at 16:00.
    const back = await watch.check(at('2026-11-27T09:00:00Z'));
    expect(back.map((r) => [r.kind, r.subject]).sort()).toEqual([
      ['tests-missing', 'late'],
      ['tests-missing', 'yesterday'],
    ]);
    expect(await book.get(back.find((r) => r.subject === 'late')!.alertId)).toMatchObject({ dedupKey: 'hub:tests-missing:late:2026-11-27', atMs: at('2026-11-27T08:00:00Z') });
    expect(await watch.check(at('2026-11-27T10:00:00Z'))).toEqual([]);
  });
});
