import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassRegistry } from '../../sync/hub/passes.js';
import { erasePerson, exportPerson } from '../../sync/hub/person-data.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { tempDir } from '../helpers/fixtures.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import type { TracePlace, TraceResult } from '../../sync/hub/trace.js';
import { SavedTraces, TRACE_ID_PATTERN } from '../../sync/hub/traces.js';
import { directoryBackends } from '../helpers/directory-db.js';

const T0 = Date.parse('2026-11-20T01:00:00Z');
const MIN = 60_000;
const canteen: TracePlace = { key: 'canteen:nha-an', kind: 'canteen', checkpointId: 'nha-an', name: 'Nhà ăn', siteId: 'xuong-1' };

/** A Tracer's answer, written by hand: the saved-trace book only keeps and shows it. */
function result(): TraceResult {
  const exposure = (fromMs: number, viaWorkerId?: string) => ({ place: canteen, fromMs, toMs: fromMs + 20 * MIN, overlapMinutes: 20, source: 'kiosk' as const, unverifiedClock: false, ...(viaWorkerId ? { viaWorkerId } : {}) });
  return {
    caseWorkerId: 'case-1',
    fromMs: T0,
    toMs: T0 + 14 * 86_400_000,
    options: { canteenWindowMinutes: 30, resetHours: 16 },
    casePresence: [{ place: canteen, fromMs: T0, toMs: T0 + 30 * MIN, source: 'kiosk', unverifiedClock: false }],
    contacts: [
      { workerId: 'a-1', degree: 1, orgId: 'org-a', exposures: [exposure(T0)], overlapMinutes: 20, unverifiedClock: false, rank: 1 },
      { workerId: 'b-1', degree: 1, orgId: 'org-b', exposures: [exposure(T0)], overlapMinutes: 20, unverifiedClock: false, rank: 2 },
      { workerId: 'a-2', degree: 2, orgId: 'org-a', exposures: [exposure(T0 + 86_400_000, 'b-1')], overlapMinutes: 20, unverifiedClock: false, rank: 3 },
    ],
  };
}

describe.each(directoryBackends)('saved traces and notified marks on $name', (backend) => {
  let directory: HubDirectory;
  let traces: SavedTraces;
  let now = T0;

  beforeEach(async () => {
    now = T0 + 15 * 86_400_000;
    directory = await HubDirectory.open(await backend.target());
    traces = new SavedTraces({ sql: directory.sql, now: () => now });
  });
  afterEach(async () => {
    await directory.close();
  });

  it('keeps a trace whole and lists it, newest first, to those who may open it', async () => {
    const health = await traces.save({ result: result(), secondDegree: true, startedBy: 'bs-lan', scopeOrgId: null, caseOrgId: 'org-c' });
    now += 1000;
    const manager = await traces.save({ result: result(), secondDegree: false, startedBy: 'ql-a', scopeOrgId: 'org-a', caseOrgId: 'org-a' });
    expect(health.traceId).toMatch(TRACE_ID_PATTERN);
    expect(health).toMatchObject({ caseWorkerId: 'case-1', caseOrgId: 'org-c', scopeOrgId: null, secondDegree: true, startedBy: 'bs-lan', contacts: 3, notified: 0, options: { canteenWindowMinutes: 30, resetHours: 16 } });
    expect((await traces.get(health.traceId))?.result).toEqual(result());
    expect((await traces.list()).map((t) => t.traceId)).toEqual([manager.traceId, health.traceId]);
    // A manager of org-a: their own organisation's trace only (the health officer's case was org-c's).
    expect((await traces.list('org-a')).map((t) => t.traceId)).toEqual([manager.traceId]);
    expect(await traces.get(health.traceId, 'org-a')).toBeUndefined();
    expect(await traces.exists(health.traceId)).toBe(true);
    // A health officer's trace of org-b's worker is open to org-b's managers.
    const ofB = await traces.save({ result: result(), secondDegree: false, startedBy: 'bs-lan', scopeOrgId: null, caseOrgId: 'org-b' });
    expect((await traces.list('org-b')).map((t) => t.traceId)).toEqual([ofB.traceId]);
  });

  it("shows a manager their organisation's contacts only, with a count of the others and no name of another's F1", async () => {
    const t = await traces.save({ result: result(), secondDegree: true, startedBy: 'ql-a', scopeOrgId: 'org-a', caseOrgId: 'org-a' });
    const all = await traces.view(t.traceId);
    expect(all?.result.contacts.map((c) => c.workerId)).toEqual(['a-1', 'b-1', 'a-2']);
    expect(all?.contactsElsewhere).toBe(0);
    const mine = await traces.view(t.traceId, 'org-a');
    expect(mine?.result.contacts.map((c) => c.workerId)).toEqual(['a-1', 'a-2']);
    expect(mine?.contactsElsewhere).toBe(1);
    expect(JSON.stringify(mine)).not.toContain('b-1');
  });

  it('marks a contact as told once (the first mark stays), refuses a worker the viewer may not see, and purges with the retention', async () => {
    const t = await traces.save({ result: result(), secondDegree: true, startedBy: 'bs-lan', scopeOrgId: null, caseOrgId: 'org-a' });
    const first = await traces.markNotified(t.traceId, 'a-1', 'ql-a', 'org-a');
    expect(first).toEqual({ workerId: 'a-1', by: 'ql-a', atMs: now });
    now += 60_000;
    expect(await traces.markNotified(t.traceId, 'a-1', 'bs-lan')).toEqual(first);
    expect(await traces.markNotified(t.traceId, 'b-1', 'ql-a', 'org-a')).toBeUndefined();
    expect(await traces.markNotified(t.traceId, 'nobody', 'bs-lan')).toBeUndefined();
    expect(await traces.markNotified(t.traceId, 'b-1', 'bs-lan')).toMatchObject({ workerId: 'b-1', by: 'bs-lan' });
    expect((await traces.get(t.traceId))?.notifiedMarks.map((m) => m.workerId)).toEqual(['a-1', 'b-1']);
    expect((await traces.view(t.traceId, 'org-a'))?.notifiedMarks.map((m) => m.workerId)).toEqual(['a-1']);
    expect((await traces.list())[0]).toMatchObject({ contacts: 3, notified: 2 });
    // A manager's list counts what opening the trace shows them: their organisation's contacts and those marked, not the totals.
    const view = (await traces.view(t.traceId, 'org-a'))!;
    expect((await traces.list('org-a'))[0]).toMatchObject({ traceId: t.traceId, contacts: 2, notified: 1 });
    expect([view.result.contacts.length, view.notified]).toEqual([2, 1]);

    expect(await traces.purgeBefore(t.startedMs)).toEqual({ traces: 0 });
    expect(await traces.purgeBefore(t.startedMs + 1)).toEqual({ traces: 1 });
    expect(await traces.list()).toEqual([]);
    const left = await directory.sql.get<{ n: number }>((await import('kysely')).sql`SELECT count(*) AS n FROM trace_notified`);
    expect(Number(left?.n)).toBe(0);
  });

  it("Decree 13: a worker's access request lists the traces they are in; erasure deletes those of them as the case and takes them out of the others", async () => {
    const dir = tempDir('safegate-traces-person-');
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      const sources = { directory, passes: new PassRegistry({ sql: directory.sql }), store, audit: () => undefined, now: () => now };
      const ofCase = await traces.save({ result: result(), secondDegree: true, startedBy: 'bs-lan', scopeOrgId: null, caseOrgId: 'org-a' });
      now += 1000;
      const other = await traces.save({ result: { ...result(), caseWorkerId: 'case-2' }, secondDegree: true, startedBy: 'bs-lan', scopeOrgId: null, caseOrgId: 'org-a' });
      await traces.markNotified(other.traceId, 'b-1', 'bs-lan');
      expect((await exportPerson(sources, 'b-1', 'op')).traces).toEqual([
        { traceId: ofCase.traceId, as: 'contact', startedMs: now - 1000, startedBy: 'bs-lan', fromMs: T0, toMs: T0 + 14 * 86_400_000, notified: null },
        { traceId: other.traceId, as: 'contact', startedMs: now, startedBy: 'bs-lan', fromMs: T0, toMs: T0 + 14 * 86_400_000, notified: { workerId: 'b-1', by: 'bs-lan', atMs: now } },
      ]);
      expect((await exportPerson(sources, 'case-2', 'op')).traces).toEqual([expect.objectContaining({ traceId: other.traceId, as: 'case' })]);

      // b-1 (an F1, and the F1 that a-2 met) leaves both traces; the rest of each stays.
      expect(await erasePerson(sources, 'b-1', 'op')).toMatchObject({ tracesDeleted: 0, tracesChanged: 2 });
      const left = await traces.get(other.traceId);
      expect(left?.result.contacts.map((c) => c.workerId)).toEqual(['a-1', 'a-2']);
      expect(left?.contacts).toBe(2);
      expect(JSON.stringify(left)).not.toContain('b-1');
      await expect(exportPerson(sources, 'b-1', 'op')).rejects.toThrow(/holds nothing/);
      // The case of a trace: the trace goes.
      expect(await erasePerson(sources, 'case-2', 'op')).toMatchObject({ tracesDeleted: 1 });
      expect((await traces.list()).map((t) => t.traceId)).toEqual([ofCase.traceId]);
    } finally {
      await store.close();
      dir.remove();
    }
  });
});
