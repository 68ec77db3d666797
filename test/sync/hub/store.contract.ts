import { describe, expect, it } from 'vitest';
import { cursorOf, type EventCursor, type HubEvent, type HubStore, type PresenceEvent } from '../../../sync/hub/store.js';
import { typicalEvents } from '../../helpers/events.js';
import { busTripEvents } from '../../helpers/bus-events.js';

/** What every hub store must do; run against SQLite here and PostgreSQL where a server runs. */
export function hubStoreContract(name: string, open: () => Promise<{ store: HubStore; dispose(): Promise<void> }>): void {
  describe(`hub store contract: ${name}`, () => {
    async function withStore(fn: (s: HubStore) => Promise<void>): Promise<void> {
      const { store, dispose } = await open();
      try {
        await fn(store);
      } finally {
        await store.close();
        await dispose();
      }
    }

    const keyOf = (e: HubEvent) => `${e.deviceId}/${e.seq}`;

    const collect = async (store: HubStore, deviceId?: string) => {
      const out = [];
      for await (const e of store.events(deviceId ? { deviceId } : {})) out.push(e);
      return out;
    };

    it('stores a batch and returns every field', async () => {
      await withStore(async (store) => {
        const events = typicalEvents(50);
        const r = await store.ingest('kiosk-a', events, Date.now());
        expect(r).toEqual({ inserted: 50, duplicates: 0, contiguousSeq: 50, gaps: [] });
        const stored = await collect(store);
        expect(stored.map(({ deviceId, clock: _c, correctedWallMs: _w, ...e }) => ({ deviceId, e }))).toEqual(events.map((e) => ({ deviceId: 'kiosk-a', e })));
        expect(stored.every((e) => e.clock === 'synced' && e.correctedWallMs === e.wallMs)).toBe(true);
      });
    });

    it('dates events from a kiosk without a synchronised clock by the anchor of the same boot, else flags them', async () => {
      await withStore(async (store) => {
        const [a, b] = typicalEvents(2).map((e) => ({ ...e, clockSynced: false, wallMs: 0 }));
        const other = { ...b!, bootId: 'another-boot' };
        const anchor = { bootId: a!.bootId, monoUs: a!.monoUs - 5_000_000, hubTimeMs: 1_800_000_000_000 };
        await store.ingest('kiosk-a', [a!, other], 1, anchor);
        const [ea, eb] = await collect(store);
        expect(ea).toMatchObject({ clock: 'corrected', correctedWallMs: 1_800_000_005_000, wallMs: 0 });
        expect(eb).toMatchObject({ clock: 'unverified', correctedWallMs: null });
      });
    });

    it("reads a time range (from inclusive, to exclusive, by the hub's corrected time), pages it newest first and counts it by decision and reasons, for some devices or workers", async () => {
      await withStore(async (store) => {
        const a = typicalEvents(60);
        const b = typicalEvents(40, 1, a[10]!.wallMs - 500);
        await store.ingest('kiosk-a', a, 1);
        await store.ingest('kiosk-b', b, 1);
        // A kiosk without a synchronised clock: its event is in the range by the hub's corrected time, not by its own.
        const [late] = typicalEvents(1).map((e) => ({ ...e, clockSynced: false, wallMs: 0 }));
        await store.ingest('kiosk-c', [late!], 1, { bootId: late!.bootId, monoUs: late!.monoUs, hubTimeMs: a[20]!.wallMs + 1 });
        const sinceMs = a[10]!.wallMs;
        const untilMs = a[50]!.wallMs;
        const timeOf = (e: HubEvent) => e.correctedWallMs ?? e.wallMs;
        const all = (await collect(store)).filter((e) => timeOf(e) >= sinceMs && timeOf(e) < untilMs);
        expect(all.length).toBe(40 + b.filter((e) => e.wallMs >= sinceMs && e.wallMs < untilMs).length + 1);

        const ranged: HubEvent[] = [];
        for await (const e of store.events({ sinceMs, untilMs })) ranged.push(e);
        expect(ranged.map(keyOf).sort()).toEqual(all.map(keyOf).sort());
        expect(ranged.some((e) => e.deviceId === 'kiosk-c')).toBe(true);

        // Pages of 7, newest first, each starting below the last one's end, cover the range exactly once.
        const newestFirst = [...all].sort((x, y) => timeOf(y) - timeOf(x) || (y.deviceId < x.deviceId ? -1 : y.deviceId > x.deviceId ? 1 : y.seq - x.seq));
        const paged: HubEvent[] = [];
        let before: EventCursor | undefined;
        for (;;) {
          const page = await store.latestEvents({ sinceMs, untilMs, limit: 7, ...(before ? { before } : {}) });
          paged.push(...page);
          if (page.length < 7) break;
          before = cursorOf(page.at(-1)!);
        }
        expect(paged.map(keyOf)).toEqual(newestFirst.map(keyOf));

        // Only some devices, only some workers.
        const onB = await store.latestEvents({ deviceIds: ['kiosk-b', 'kiosk-x'], sinceMs, untilMs, limit: 1000 });
        expect(onB.map(keyOf).sort()).toEqual(all.filter((e) => e.deviceId === 'kiosk-b').map(keyOf).sort());
        const workers = [a[12]!.workerId!, a[13]!.workerId!];
        const theirs = await store.latestEvents({ workerIds: workers, sinceMs, untilMs, limit: 1000 });
        expect(theirs.map(keyOf).sort()).toEqual(all.filter((e) => e.workerId !== null && workers.includes(e.workerId)).map(keyOf).sort());

        // Counted by the store: the same totals as counting the range's events.
        const counts = await store.eventCounts({ sinceMs, untilMs });
        expect(counts.reduce((n, c) => n + c.count, 0)).toBe(all.length);
        const denied = counts.filter((c) => c.decision === 'deny');
        expect(denied.reduce((n, c) => n + c.count, 0)).toBe(all.filter((e) => e.decision === 'deny').length);
        expect(denied.find((c) => c.reasons.join(' ') === 'DECLARATION_MISSING VACCINATION_INSUFFICIENT')?.count).toBe(
          all.filter((e) => e.reasons.join(' ') === 'DECLARATION_MISSING VACCINATION_INSUFFICIENT').length,
        );
        expect(await store.eventCounts({ deviceIds: ['kiosk-x'], sinceMs, untilMs })).toEqual([]);
        // One way only: entries (the range holds exits too).
        expect(all.some((e) => e.direction === 'exit')).toBe(true);
        const entries = await store.eventCounts({ sinceMs, untilMs, direction: 'entry' });
        expect(entries.reduce((n, c) => n + c.count, 0)).toBe(all.filter((e) => e.direction === 'entry').length);
      });
    });

    it("gives every device's last contact and heartbeat in one call (unknown devices with nothing)", async () => {
      await withStore(async (store) => {
        const fleet = { enrolled: true, certDaysLeft: 300.5, settingsVersion: 2, settingsRefused: { version: 3, problems: ['gate.relay.pulseMs: too long'] } };
        const hb = { v: 1 as const, atMs: 5, software: '0.1.0', outboxDepth: 3, oldestUnsyncedAgeS: 2, scanner: 'ready' as const, gpio: 'simulated' as const, clockOffsetMs: null, rosterAgeS: null, policyVersion: 1, heldEvents: 0, disk: { freeBytes: 5e9, reserveInUse: false, level: 'ok' as const }, fleet };
        await store.recordHeartbeat('kiosk-a', hb, 10);
        await store.ingest('kiosk-b', typicalEvents(2), 20);
        const status = await store.deviceStatus(['kiosk-a', 'kiosk-b', 'kiosk-z']);
        expect(status.get('kiosk-a')).toEqual({ lastSeenMs: 10, heartbeat: hb });
        expect(status.get('kiosk-b')).toEqual({ lastSeenMs: 20, heartbeat: null });
        expect(status.get('kiosk-z')).toEqual({ lastSeenMs: null, heartbeat: null });
        expect((await store.deviceStatus([])).size).toBe(0);
        // Every device heard from, by a heartbeat or a batch (`safegate hub devices` lists them).
        expect(await store.heardDevices()).toEqual(['kiosk-a', 'kiosk-b']);
      });
    });

    it('is idempotent on (device, sequence number): a batch delivered twice is stored once', async () => {
      await withStore(async (store) => {
        const events = typicalEvents(20);
        await store.ingest('kiosk-a', events, 1);
        const again = await store.ingest('kiosk-a', events, 2);
        expect(again).toMatchObject({ inserted: 0, duplicates: 20, contiguousSeq: 20 });
        await store.ingest('kiosk-b', events, 3);
        expect(await collect(store, 'kiosk-a')).toHaveLength(20);
        expect(await collect(store)).toHaveLength(40);
      });
    });

    it("stores a group of several devices' batches in one call, each as ingest would: a duplicate, a gap and its filling inside one group, results in the order given", async () => {
      await withStore(async (store) => {
        const a = typicalEvents(30);
        const b = typicalEvents(12);
        await store.ingest('kiosk-a', a.slice(0, 10), 1);
        const [unsynced] = typicalEvents(1, 1).map((e) => ({ ...e, clockSynced: false, wallMs: 0 }));
        const anchor = { bootId: unsynced!.bootId, monoUs: unsynced!.monoUs - 2_000_000, hubTimeMs: 1_800_000_000_000 };
        const results = await store.ingestMany([
          // A device named last in the order of names, first in the group: results still come in the order given.
          { deviceId: 'kiosk-z', events: [unsynced!], receivedMs: 5, anchor },
          // kiosk-a: a batch already stored (a resend), then one past a gap, then the gap's filling, all in one group.
          { deviceId: 'kiosk-a', events: a.slice(0, 10), receivedMs: 5 },
          { deviceId: 'kiosk-b', events: b.slice(6, 12), receivedMs: 5 },
          { deviceId: 'kiosk-a', events: a.slice(20, 30), receivedMs: 5 },
          { deviceId: 'kiosk-a', events: a.slice(10, 20), receivedMs: 5 },
        ]);
        expect(results).toEqual([
          { inserted: 1, duplicates: 0, contiguousSeq: 1, gaps: [] },
          { inserted: 0, duplicates: 10, contiguousSeq: 10, gaps: [] },
          { inserted: 6, duplicates: 0, contiguousSeq: 0, gaps: [[1, 6]] },
          { inserted: 10, duplicates: 0, contiguousSeq: 10, gaps: [[11, 20]] },
          { inserted: 10, duplicates: 0, contiguousSeq: 30, gaps: [] },
        ]);
        expect((await collect(store, 'kiosk-a')).map((e) => e.seq)).toEqual(a.map((e) => e.seq));
        expect(await collect(store, 'kiosk-z')).toMatchObject([{ clock: 'corrected', correctedWallMs: 1_800_000_002_000 }]);
        // kiosk-b's gap closes when its first events come, alone or in a group.
        expect(await store.ingestMany([{ deviceId: 'kiosk-b', events: b.slice(0, 6), receivedMs: 6 }])).toEqual([
          { inserted: 6, duplicates: 0, contiguousSeq: 12, gaps: [] },
        ]);
        expect(await store.ingestMany([])).toEqual([]);
      });
    });

    it('keeps each alert once and the last heartbeat of each device', async () => {
      await withStore(async (store) => {
        const alert = { v: 1 as const, kind: 'quarantined-entry-attempt' as const, seq: 7, atMs: 1000, checkpointId: 'gate-a', workerId: 'W1', reasons: ['QUARANTINE_ACTIVE'] };
        expect(await store.recordAlert('kiosk-a', alert, 1)).toBe(true);
        expect(await store.recordAlert('kiosk-a', alert, 2)).toBe(false);
        const override = { ...alert, kind: 'supervisor-override' as const, seq: 8, reasons: ['SUPERVISOR_OVERRIDE'], note: 'Xét nghiệm âm tính tại chỗ' };
        expect(await store.recordAlert('kiosk-a', override, 3)).toBe(true);
        // An alert about the gate itself (the emergency release) names no worker, and reads back without one.
        const emergency = { v: 1 as const, kind: 'emergency-open' as const, seq: 9, atMs: 1000, checkpointId: 'gate-a', reasons: ['EMERGENCY_OPEN'] };
        expect(await store.recordAlert('kiosk-a', emergency, 4)).toBe(true);
        expect(await store.alerts()).toEqual([
          { ...alert, deviceId: 'kiosk-a' },
          { ...override, deviceId: 'kiosk-a' },
          { ...emergency, deviceId: 'kiosk-a' },
        ]);
        // Or only those named (the console's page of the alert book): unknown ones are not there.
        expect(await store.alerts([{ deviceId: 'kiosk-a', seq: 9 }, { deviceId: 'kiosk-b', seq: 7 }, { deviceId: 'kiosk-a', seq: 7 }])).toEqual([{ ...alert, deviceId: 'kiosk-a' }, { ...emergency, deviceId: 'kiosk-a' }]);
        expect(await store.alerts([])).toEqual([]);
        const hb = { v: 1 as const, atMs: 5, software: '0.1.0', outboxDepth: 3, oldestUnsyncedAgeS: 2, scanner: 'ready' as const, gpio: 'simulated' as const, clockOffsetMs: null, rosterAgeS: null, policyVersion: 1, heldEvents: 0, disk: { freeBytes: 5e9, reserveInUse: false, level: 'ok' as const }, fleet: null };
        await store.recordHeartbeat('kiosk-a', hb, 10);
        await store.recordHeartbeat('kiosk-a', { ...hb, outboxDepth: 0 }, 11);
        expect(await store.lastHeartbeat('kiosk-a')).toEqual({ ...hb, outboxDepth: 0 });
        expect(await store.lastHeartbeat('kiosk-b')).toBeUndefined();
        // A heartbeat stored before the fleet block existed reads back with the block's default (null).
        const { fleet: _none, ...older } = hb;
        await store.recordHeartbeat('kiosk-c', older as typeof hb, 12);
        expect(await store.lastHeartbeat('kiosk-c')).toEqual(hb);
        expect((await store.deviceStatus(['kiosk-c'])).get('kiosk-c')?.heartbeat).toEqual(hb);
      });
    });

    it('purges by its retention: old events, alerts and heartbeats go; a late resend of a purged event is still a duplicate', async () => {
      await withStore(async (store) => {
        const DAY = 86_400_000;
        const now = Date.parse('2026-11-27T01:00:00Z');
        const events = typicalEvents(10, 1, now - 40 * DAY).map((e, i) => (i < 5 ? e : { ...e, wallMs: now - DAY + i }));
        await store.ingest('kiosk-a', events, now - 40 * DAY);
        const alert = { v: 1 as const, kind: 'quarantined-entry-attempt' as const, seq: 2, atMs: now - 40 * DAY, checkpointId: 'gate-a', workerId: 'W1', reasons: ['QUARANTINE_ACTIVE'] };
        await store.recordAlert('kiosk-a', alert, now - 40 * DAY);
        await store.recordAlert('kiosk-a', { ...alert, seq: 9, atMs: now - DAY }, now - DAY);
        const hb = { v: 1 as const, atMs: 5, software: '0.1.0', outboxDepth: 0, oldestUnsyncedAgeS: null, scanner: 'ready' as const, gpio: 'simulated' as const, clockOffsetMs: null, rosterAgeS: null, policyVersion: 1, heldEvents: 0, disk: null, fleet: null };
        await store.recordHeartbeat('kiosk-old', hb, now - 40 * DAY);
        await store.recordHeartbeat('kiosk-a', hb, now - DAY);
        expect(await store.purgeBefore(now - 28 * DAY)).toEqual({ events: 5, alerts: 1, heartbeats: 1 });
        expect((await collect(store, 'kiosk-a')).map((e) => e.seq)).toEqual([6, 7, 8, 9, 10]);
        expect((await store.alerts()).map((a) => a.seq)).toEqual([9]);
        expect(await store.lastHeartbeat('kiosk-old')).toBeUndefined();
        // A kiosk that never heard the acknowledgement sends the purged events again: not stored again.
        expect(await store.ingest('kiosk-a', events.slice(0, 5), now)).toMatchObject({ inserted: 0, duplicates: 5, contiguousSeq: 10 });
        expect(await collect(store, 'kiosk-a')).toHaveLength(5);
      });
    });

    it("gives one worker's events and alerts (an access request), and on erasure keeps the passages but not who or why", async () => {
      await withStore(async (store) => {
        const events = typicalEvents(40).map((e, i) => (i % 10 === 1 ? { ...e, workerId: 'W-ERASE', reasons: i === 11 ? ['QUARANTINE_ACTIVE' as const] : [], decision: i === 11 ? ('deny' as const) : ('allow' as const) } : e));
        await store.ingest('kiosk-a', events.slice(0, 20), 1);
        await store.ingest('kiosk-b', events.slice(20).map((e, i) => ({ ...e, seq: i + 1 })), 1);
        const alert = { v: 1 as const, kind: 'quarantined-entry-attempt' as const, seq: 12, atMs: events[11]!.wallMs, checkpointId: 'gate-a', workerId: 'W-ERASE', reasons: ['QUARANTINE_ACTIVE'] };
        await store.recordAlert('kiosk-a', alert, 2);
        await store.recordAlert('kiosk-a', { ...alert, seq: 13, workerId: 'W-OTHER' }, 2);
        const mine = await store.personData('W-ERASE');
        expect(mine.events.map((e) => [e.deviceId, e.seq])).toEqual([['kiosk-a', 2], ['kiosk-a', 12], ['kiosk-b', 2], ['kiosk-b', 12]]);
        expect(mine.events[1]).toMatchObject({ workerId: 'W-ERASE', decision: 'deny', reasons: ['QUARANTINE_ACTIVE'] });
        expect(mine.alerts).toEqual([{ ...alert, deviceId: 'kiosk-a' }]);

        expect(await store.anonymiseWorker('W-ERASE')).toEqual({ events: 4, alerts: 1 });
        expect(await store.personData('W-ERASE')).toEqual({ events: [], alerts: [] });
        const kept = (await collect(store, 'kiosk-a')).find((e) => e.seq === 12)!;
        expect(kept).toMatchObject({ workerId: null, codeHash: null, reasons: [], decision: 'deny', checkpointId: 'gate-a', wallMs: events[11]!.wallMs });
        expect(await collect(store)).toHaveLength(40);
        expect((await store.alerts()).map((a) => a.workerId)).toEqual(['W-OTHER']);
        // A kiosk sending the batch again does not bring the person back.
        expect(await store.ingest('kiosk-a', events.slice(0, 20), 3)).toMatchObject({ inserted: 0, duplicates: 20 });
        expect((await store.personData('W-ERASE')).events).toEqual([]);
      });
    });

    it('reports gaps in a device\'s sequence and closes them when the missing events arrive', async () => {
      await withStore(async (store) => {
        const all = typicalEvents(30);
        await store.ingest('kiosk-a', all.slice(0, 10), 1);
        const r = await store.ingest('kiosk-a', [...all.slice(14, 20), ...all.slice(25, 30)], 2);
        expect(r).toMatchObject({ contiguousSeq: 10, gaps: [[11, 14], [21, 25]] });
        const closed = await store.ingest('kiosk-a', [...all.slice(10, 14), ...all.slice(20, 25)], 3);
        expect(closed).toMatchObject({ contiguousSeq: 30, gaps: [] });
      });
    });

    it("stamps events and alerts with their worker's organisation at receipt, filters by it, and never restamps one", async () => {
      await withStore(async (store) => {
        const events = typicalEvents(10).map((e, i) => ({ ...e, workerId: i < 5 ? 'W-A' : 'W-B' }));
        await store.ingest('kiosk-a', events, 1);
        await store.stampOrganisations(events.slice(0, 5).map((e) => ({ deviceId: 'kiosk-a', seq: e.seq, orgId: 'org-a' })));
        // Later the worker moves: a second stamp of the same events changes nothing.
        await store.stampOrganisations([{ deviceId: 'kiosk-a', seq: events[0]!.seq, orgId: 'org-b' }]);
        const a = await store.latestEvents({ orgId: 'org-a', limit: 100 });
        expect(a.map((e) => e.seq).sort((x, y) => x - y)).toEqual(events.slice(0, 5).map((e) => e.seq));
        expect(a.every((e) => e.orgId === 'org-a')).toBe(true);
        expect(await store.latestEvents({ orgId: 'org-b', limit: 100 })).toEqual([]);
        expect((await store.eventCounts({ orgId: 'org-a' })).reduce((n, c) => n + c.count, 0)).toBe(5);
        // An event of a worker on no list has no stamp.
        expect((await collect(store, 'kiosk-a')).filter((e) => e.orgId === undefined)).toHaveLength(5);
        const alert = { v: 1 as const, kind: 'quarantined-entry-attempt' as const, seq: 3, atMs: 5, checkpointId: 'gate-a', workerId: 'W-A', reasons: ['QUARANTINE_ACTIVE'] };
        await store.recordAlert('kiosk-a', alert, 2, 'org-a');
        await store.recordAlert('kiosk-a', { ...alert, seq: 4 }, 2);
        expect((await store.alerts()).map((x) => [x.seq, x.orgId])).toEqual([[3, 'org-a'], [4, undefined]]);
        // As the hub stores a group of batches: each event stamped from its batch's organisations, in the same call.
        await store.ingestMany([
          { deviceId: 'kiosk-b', events, receivedMs: 3, orgOf: new Map([['W-B', 'org-b']]) },
          { deviceId: 'kiosk-c', events, receivedMs: 3 },
        ]);
        expect((await store.latestEvents({ orgId: 'org-b', limit: 100 })).map((e) => `${e.deviceId}/${e.seq}`).sort()).toEqual(events.slice(5).map((e) => `kiosk-b/${e.seq}`).sort());
        expect(await store.latestEvents({ orgId: 'org-a', deviceId: 'kiosk-b', limit: 100 })).toEqual([]);
      });
    });

    it('an event keeps the organisation of its first receipt: a copy received later, after its worker moved, stamps nothing', async () => {
      await withStore(async (store) => {
        const events = typicalEvents(6).map((e, i) => ({ ...e, workerId: i < 3 ? 'W-A' : 'W-B' }));
        // W-A on org-a's list, W-B on none, when the batch first arrives; the watermark held back by a
        // gap (seq 1 missing), so the copy below is not skipped under the watermark but meets its rows.
        await store.ingestMany([{ deviceId: 'kiosk-a', events: events.slice(1), receivedMs: 1, orgOf: new Map([['W-A', 'org-a']]) }]);
        const again = await store.ingestMany([{ deviceId: 'kiosk-a', events, receivedMs: 2, orgOf: new Map([['W-A', 'org-b'], ['W-B', 'org-b']]) }]);
        expect(again[0]).toMatchObject({ inserted: 1, duplicates: 5, contiguousSeq: 6, gaps: [] });
        const byOrg = Object.fromEntries((await collect(store, 'kiosk-a')).map((e) => [e.seq, e.orgId ?? null]));
        expect(byOrg).toEqual({ 1: 'org-b', 2: 'org-a', 3: 'org-a', 4: null, 5: null, 6: null });
      });
    });

    it("reads presence for tracing: a worker's allowed events, and the allowed events at checkpoints within windows (each once, by the hub's corrected time), never a denied or nameless scan", async () => {
      await withStore(async (store) => {
        const t0 = Date.parse('2026-11-26T06:00:00Z');
        const base = typicalEvents(1)[0]!;
        const at = (seq: number, checkpointId: string, workerId: string | null, minute: number, extra: Partial<typeof base> = {}) => ({
          ...base, seq, checkpointId, workerId, wallMs: t0 + minute * 60_000, monoUs: base.monoUs + seq * 1_000_000,
          decision: 'allow' as const, reasons: [], direction: 'entry' as const, ...extra,
        });
        await store.ingest('kiosk-a', [
          at(1, 'canteen-1', 'W-1', 0),
          at(2, 'canteen-1', 'W-2', 10, { direction: 'exit' }),
          at(3, 'canteen-1', 'W-3', 20, { decision: 'deny', reasons: ['DECLARATION_MISSING'] }),
          at(4, 'canteen-1', null, 25, { decision: 'deny', reasons: ['MALFORMED_CODE'], codeHash: 'ab' }),
          at(5, 'zone-1', 'W-1', 30),
          at(6, 'canteen-1', 'W-4', 90),
        ], 1);
        // A kiosk without a synchronised clock, dated by its anchor: its corrected time counts, not its own.
        const skewed = { ...at(1, 'zone-1', 'W-2', -1000), clockSynced: false, bootId: 'boot-b' };
        await store.ingest('kiosk-b', [skewed], 1, { bootId: 'boot-b', monoUs: skewed.monoUs, hubTimeMs: t0 + 40 * 60_000 });
        const brief = (e: PresenceEvent) => `${e.deviceId}/${e.checkpointId}/${e.workerId}/${e.direction}/${(e.timeMs - t0) / 60_000}/${e.clock}`;

        expect((await store.workerPresence(['W-1', 'W-2', 'W-3'], t0, t0 + 60 * 60_000)).map(brief).sort()).toEqual([
          'kiosk-a/canteen-1/W-1/entry/0/synced',
          'kiosk-a/canteen-1/W-2/exit/10/synced',
          'kiosk-a/zone-1/W-1/entry/30/synced',
          'kiosk-b/zone-1/W-2/entry/40/corrected',
        ]);
        expect(await store.workerPresence([], t0, t0 + 60 * 60_000)).toEqual([]);
        // Overlapping windows of one checkpoint read each event once; the end is exclusive.
        const windows = [
          { checkpointId: 'canteen-1', sinceMs: t0, untilMs: t0 + 15 * 60_000 },
          { checkpointId: 'canteen-1', sinceMs: t0 + 5 * 60_000, untilMs: t0 + 30 * 60_000 },
          { checkpointId: 'canteen-1', sinceMs: t0 + 60 * 60_000, untilMs: t0 + 90 * 60_000 },
          { checkpointId: 'zone-1', sinceMs: t0 + 35 * 60_000, untilMs: t0 + 45 * 60_000 },
        ];
        expect((await store.checkpointPresence(windows)).map(brief).sort()).toEqual([
          'kiosk-a/canteen-1/W-1/entry/0/synced',
          'kiosk-a/canteen-1/W-2/exit/10/synced',
          'kiosk-b/zone-1/W-2/entry/40/corrected',
        ]);
        expect(await store.checkpointPresence([])).toEqual([]);

        // What each device reported: its first and last events' checkpoint and zone ids.
        await store.ingest('kiosk-c', [at(1, 'bus-old', 'W-5', 1, { zoneId: 'bus' }), at(2, 'bus-old', 'W-5', 2, { zoneId: 'bus' }), at(3, 'bus-1', 'W-5', 3, { zoneId: 'bus' })], 1);
        const reported = await store.reportedPlaces(['kiosk-a', 'kiosk-c', 'kiosk-none']);
        expect(reported.get('kiosk-c')).toEqual(expect.arrayContaining([{ checkpointId: 'bus-old', zoneId: 'bus' }, { checkpointId: 'bus-1', zoneId: 'bus' }]));
        expect(reported.get('kiosk-c')).toHaveLength(2);
        expect(reported.get('kiosk-a')).toEqual(expect.arrayContaining([{ checkpointId: 'canteen-1', zoneId: base.zoneId }]));
        expect(reported.has('kiosk-none')).toBe(false);
      });
    });

    it("stores a bus unit's trip once, delivered twice, with every field: trip, route, positions and no fix, GPS-dated times; a gate kiosk's events beside it carry none", async () => {
      await withStore(async (store) => {
        const first = busTripEvents({ routeId: 'route-2', riders: 6 });
        // A second trip, without a route, dated from the GPS (the unit booted with no network and no real-time clock).
        const second = busTripEvents({ firstSeq: first.length + 1, startMs: first.at(-1)!.wallMs + 600_000, tripId: 'Tmi0abcde-00ff11', gpsClock: true }).map((e) => ({ ...e, clockSynced: false }));
        const bus = [...first, ...second];
        expect(bus.some((e) => e.position === null) && bus.some((e) => e.source === 'trip') && bus.some((e) => e.source === 'evdev')).toBe(true);
        const gate = typicalEvents(20);
        expect(await store.ingest('bus-51b', bus, 1)).toMatchObject({ inserted: bus.length, duplicates: 0, contiguousSeq: bus.length });
        // Delivered again, in a group with a gate kiosk's first batch: nothing new of the bus.
        const again = await store.ingestMany([
          { deviceId: 'bus-51b', events: bus, receivedMs: 2 },
          { deviceId: 'kiosk-a', events: gate, receivedMs: 2 },
        ]);
        expect(again.map((r) => r.inserted)).toEqual([0, 20]);

        const stored = await collect(store, 'bus-51b');
        expect(stored.map(({ deviceId: _d, clock: _c, correctedWallMs: _w, ...e }) => e)).toEqual(bus);
        // Exactly, not nearly: a position is the micro-degrees the unit recorded.
        expect(stored.filter((e) => e.position).map((e) => e.position)).toStrictEqual(bus.filter((e) => e.position).map((e) => e.position));
        expect(stored.filter((e) => e.position === null)).toHaveLength(2);
        expect(stored.filter((e) => e.routeId === 'route-2')).toHaveLength(first.length);
        expect(stored.filter((e) => e.tripId === 'Tmi0abcde-00ff11')).toHaveLength(second.length);
        // GPS time is trusted as synchronised time, even from a unit whose system clock was not.
        expect(stored.filter((e) => e.clockSource === 'gps')).toHaveLength(second.length);
        expect(stored.every((e) => e.clock === 'synced' && e.correctedWallMs === e.wallMs)).toBe(true);

        for (const e of await collect(store, 'kiosk-a')) {
          expect(e).not.toHaveProperty('tripId');
          expect(e).not.toHaveProperty('routeId');
          expect(e).not.toHaveProperty('position');
          expect(e).not.toHaveProperty('clockSource');
        }
        // The newest-first pages and an access request return the same fields.
        const [latest] = await store.latestEvents({ deviceId: 'bus-51b', limit: 1 });
        expect(latest).toMatchObject({ ...bus.at(-1)! });
        const rider = bus.find((e) => e.position === null && e.workerId !== null)!;
        const { events } = await store.personData(rider.workerId!);
        expect(events.find((e) => e.seq === rider.seq)).toMatchObject({ tripId: rider.tripId, position: null, routeId: 'route-2' });
      });
    });

    it('stores the gate for everyone (issue 14) once, delivered twice, with every field: declaration answers, visitor ids, visit details; erasure drops the answers', async () => {
      await withStore(async (store) => {
        const base = typicalEvents(6);
        const visitorId = 'vk1.0123456789abcdef0123456789abcdef';
        const everyone = [
          base[0]!,
          { ...base[1]!, source: 'declaration' as const, declaration: { answers: 0 } },
          { ...base[2]!, source: 'declaration' as const, decision: 'deny' as const, reasons: ['DECLARATION_FLAGGED' as const], declaration: { answers: 2047 } },
          { ...base[3]!, source: 'visitor' as const, credentialKind: 'cccd' as const, workerId: null, codeHash: null, visitorId, decision: 'allow' as const, reasons: ['VISITOR_REGISTERED' as const],
            visit: { name: 'Khách Thử Nghiệm', host: 'Phòng nhân sự', purpose: 'Phỏng vấn', noticeVersion: 1 } },
          { ...base[4]!, source: 'visitor' as const, credentialKind: 'cccd' as const, workerId: null, codeHash: null, visitorId, decision: 'allow' as const, reasons: ['VISITOR_APPROVED' as const], visit: { decidedBy: 'sup-1' } },
          { ...base[5]!, credentialKind: 'dcc' as const, workerId: null, codeHash: null, visitorId, decision: 'allow' as const, reasons: [] },
        ];
        expect(await store.ingest('kiosk-e', everyone, 1)).toMatchObject({ inserted: 6, duplicates: 0, contiguousSeq: 6 });
        const bus = busTripEvents({ riders: 2 });
        const again = await store.ingestMany([
          { deviceId: 'kiosk-e', events: everyone, receivedMs: 2 },
          { deviceId: 'bus-1', events: [...bus.slice(0, 1), { ...bus[1]!, source: 'declaration' as const, declaration: { answers: 5 } }, ...bus.slice(2)], receivedMs: 2 },
        ]);
        expect(again.map((r) => r.inserted)).toEqual([0, bus.length]);
        const stored = await collect(store, 'kiosk-e');
        expect(stored.map(({ deviceId: _d, clock: _c, correctedWallMs: _w, ...e }) => e)).toEqual(everyone);
        expect(stored[0]).not.toHaveProperty('declaration');
        expect(stored[0]).not.toHaveProperty('visitorId');
        expect(stored[0]).not.toHaveProperty('visit');
        const busStored = await collect(store, 'bus-1');
        expect(busStored[1]).toMatchObject({ declaration: { answers: 5 }, tripId: bus[1]!.tripId });
        const [latest] = await store.latestEvents({ deviceId: 'kiosk-e', limit: 1 });
        expect(latest).toMatchObject(everyone[5]!);
        // Erasure of the declaring worker: the passage stays, not who, why or what they answered.
        await store.anonymiseWorker(everyone[2]!.workerId!);
        const after = (await collect(store, 'kiosk-e')).find((e) => e.seq === everyone[2]!.seq)!;
        expect(after.workerId).toBeNull();
        expect(after).not.toHaveProperty('declaration');
      });
    });

    it('a declaration or a visitor record (issue 14) is no passage: not presence for tracing, not counted with passagesOnly, not a bus rider', async () => {
      await withStore(async (store) => {
        const t0 = Date.parse('2026-11-26T06:00:00Z');
        const base = typicalEvents(1)[0]!;
        const at = (seq: number, workerId: string | null, minute: number, extra: Partial<typeof base> = {}) => ({
          ...base, seq, checkpointId: 'canteen-1', workerId, wallMs: t0 + minute * 60_000, monoUs: base.monoUs + seq * 1_000_000,
          decision: 'allow' as const, reasons: [], direction: 'entry' as const, source: 'serial' as const, ...extra,
        });
        const visitorId = 'vk1.0123456789abcdef0123456789abcdef';
        await store.ingest('kiosk-a', [
          at(1, 'W-1', 0),
          at(2, 'W-2', 1, { source: 'declaration', declaration: { answers: 0 } }),
          at(3, 'W-3', 2, { source: 'declaration', decision: 'deny', reasons: ['DECLARATION_FLAGGED'], declaration: { answers: 1 } }),
          at(4, null, 3, { source: 'visitor', credentialKind: 'cccd', visitorId, reasons: ['VISITOR_REGISTERED'], visit: { name: 'Khách', noticeVersion: 1 } }),
          at(5, null, 4, { source: 'visitor', credentialKind: 'cccd', visitorId, reasons: ['VISITOR_APPROVED'], visit: { decidedBy: 'sup-1' } }),
        ], 1);
        const window = { sinceMs: t0, untilMs: t0 + 60 * 60_000 };
        expect((await store.workerPresence(['W-1', 'W-2', 'W-3'], window.sinceMs, window.untilMs)).map((e) => e.workerId)).toEqual(['W-1']);
        expect((await store.checkpointPresence([{ checkpointId: 'canteen-1', ...window }])).map((e) => e.workerId)).toEqual(['W-1']);
        const total = (counts: { count: number }[]) => counts.reduce((n, c) => n + c.count, 0);
        expect(total(await store.eventCounts({ ...window }))).toBe(5);
        expect(await store.eventCounts({ ...window, passagesOnly: true })).toEqual([{ decision: 'allow', reasons: [], count: 1 }]);
        expect(total(await store.eventCounts({ ...window, direction: 'entry', passagesOnly: true }))).toBe(1);

        // On a bus: a declaration taken on the bus's screen during a trip is no boarding.
        const bus = busTripEvents({ riders: 2 });
        const rider = bus.find((e) => e.workerId !== null && e.source !== 'trip' && e.direction === 'entry')!;
        const declared = bus.map((e) => (e.seq === rider.seq ? { ...e, source: 'declaration' as const, declaration: { answers: 0 } } : e));
        await store.ingest('bus-1', bus, 1);
        await store.ingest('bus-2', declared, 1);
        const [plain] = await store.trips({ deviceId: 'bus-1' });
        const [withDeclaration] = await store.trips({ deviceId: 'bus-2' });
        expect(withDeclaration!.riders.length).toBe(plain!.riders.length - 1);
      });
    });

    it("reads a visitor's allowed passages (issue 14) by pseudonym and by checkpoint windows, and their registrations with the visit, never their records as passages", async () => {
      await withStore(async (store) => {
        const t0 = Date.parse('2026-11-26T06:00:00Z');
        const base = typicalEvents(1)[0]!;
        const v1 = 'vk1.0123456789abcdef0123456789abcdef';
        const v2 = 'vk1.fedcba9876543210fedcba9876543210';
        const at = (seq: number, checkpointId: string, visitorId: string, minute: number, extra: Partial<typeof base> = {}) => ({
          ...base, seq, checkpointId, workerId: null, codeHash: null, credentialKind: 'cccd' as const, visitorId, wallMs: t0 + minute * 60_000, monoUs: base.monoUs + seq * 1_000_000,
          decision: 'allow' as const, reasons: [], direction: 'entry' as const, source: 'camera' as const, ...extra,
        });
        await store.ingest('kiosk-a', [
          at(1, 'gate-1', v1, 0, { source: 'visitor', reasons: ['VISITOR_REGISTERED'], visit: { name: 'Khách Một', host: 'Kho', purpose: 'Giao hàng', noticeVersion: 1 } }),
          at(2, 'gate-1', v1, 1, { source: 'visitor', reasons: ['VISITOR_APPROVED'], visit: { decidedBy: 'sup-1' } }),
          at(3, 'gate-1', v1, 2),
          at(4, 'gate-1', v2, 3, { decision: 'deny', reasons: ['VISITOR_NOT_REGISTERED'] }),
          at(5, 'zone-1', v1, 10),
          at(6, 'zone-1', v1, 20, { direction: 'exit' }),
          { ...at(7, 'zone-1', v1, 30), visitorId: undefined, workerId: 'W-1' },
          at(8, 'gate-1', v1, 40, { direction: 'exit' }),
        ], 1);
        const brief = (e: PresenceEvent) => `${e.checkpointId}/${e.workerId}/${e.direction}/${(e.timeMs - t0) / 60_000}`;
        expect((await store.visitorPresence([v1, v2], t0, t0 + 40 * 60_000)).map(brief).sort()).toEqual([`gate-1/${v1}/entry/2`, `zone-1/${v1}/entry/10`, `zone-1/${v1}/exit/20`]);
        expect(await store.visitorPresence([], t0, t0 + 60 * 60_000)).toEqual([]);
        expect((await store.visitorCheckpointPresence([{ checkpointId: 'zone-1', sinceMs: t0, untilMs: t0 + 60 * 60_000 }, { checkpointId: 'gate-1', sinceMs: t0 + 30 * 60_000, untilMs: t0 + 60 * 60_000 }])).map(brief).sort()).toEqual([
          `gate-1/${v1}/exit/40`,
          `zone-1/${v1}/entry/10`,
          `zone-1/${v1}/exit/20`,
        ]);
        // A worker's passage at the same place is no visitor's; a worker's read does not return visitors.
        expect((await store.checkpointPresence([{ checkpointId: 'zone-1', sinceMs: t0, untilMs: t0 + 60 * 60_000 }])).map((e) => e.workerId)).toEqual(['W-1']);
        expect(await store.visitorRegistrations([v1, v2])).toEqual([{ visitorId: v1, timeMs: t0, name: 'Khách Một', host: 'Kho', purpose: 'Giao hàng' }]);
      });
    });

    it('reports at most the first 100 gaps, and moves the watermark up to the first one only', async () => {
      await withStore(async (store) => {
        const all = typicalEvents(400);
        // Every other event from seq 2: 200 one-event gaps (seq 1, 3, 5, ...).
        const r = await store.ingest('kiosk-a', all.filter((e) => e.seq % 2 === 0), 1);
        expect(r.contiguousSeq).toBe(0);
        expect(r.gaps).toHaveLength(100);
        expect(r.gaps.slice(0, 2)).toEqual([[1, 1], [3, 3]]);
        expect(r.gaps.at(-1)).toEqual([199, 199]);
        const filled = await store.ingest('kiosk-a', all.filter((e) => e.seq % 2 === 1 && e.seq < 100), 2);
        expect(filled).toMatchObject({ contiguousSeq: 100, inserted: 50 });
        expect(filled.gaps[0]).toEqual([101, 101]);
      });
    });
  });
}
