import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteDatabase } from '../../../../base/node/sqlite.js';
import type { NewGateEvent } from '../../../../base/common/types.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { Roster } from '../../../../src-main/core/store/roster.js';
import { WorkerTrace } from '../../../../src-main/core/supervisor/trace.js';
import { loadSettings } from '../../../../src-main/core/config.js';
import { Kiosk } from '../../../../src-main/app/kiosk.js';
import { createLogger } from '../../../../base/node/logger.js';
import { healthyWorker, hubKeys, tempDir, writeKioskConfig } from '../../../helpers/fixtures.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** The case's first passage: 07:00 in Hanoi on 20 November. */
const T0 = Date.parse('2026-11-20T00:00:00Z');

function scan(workerId: string | null, atMs: number, over: Partial<NewGateEvent> = {}): NewGateEvent {
  return {
    wallMs: atMs,
    monoUs: atMs * 1000,
    bootId: 'b0',
    clockSynced: true,
    checkpointId: 'gate-a',
    zoneId: 'factory',
    direction: 'entry',
    credentialKind: workerId === null ? 'unknown' : 'pass',
    workerId,
    codeHash: workerId === null ? 'ab'.repeat(16) : null,
    decision: 'allow',
    reasons: [],
    source: 'serial',
    policyVersion: 1,
    ...over,
  };
}
const denied = (workerId: string | null, atMs: number, over: Partial<NewGateEvent> = {}) =>
  scan(workerId, atMs, { decision: 'deny', reasons: workerId === null ? ['MALFORMED_CODE'] : ['QUARANTINE_ACTIVE'], ...over });

describe('the offline trace on the kiosk', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: SqliteDatabase;
  let events: EventLog;
  let roster: Roster;
  let tracer: WorkerTrace;

  beforeEach(() => {
    dir = tempDir('safegate-trace-');
    db = openStore(join(dir.path, 'kiosk.db'));
    events = new EventLog(db);
    roster = new Roster(db);
    roster.upsertAll(
      [
        healthyWorker('CASE', T0, { displayName: 'Nguyễn Văn Ca', team: 'Tổ 3' }),
        ...['A', 'B', 'C', 'D', 'E', 'F', 'H', 'J'].map((id) => healthyWorker(id, T0, { displayName: `Trần Thị ${id}`, team: 'Tổ 1' })),
        healthyWorker('N2', T0, { displayName: 'Nguyễn Văn Hai', team: 'Tổ 2' }),
      ],
    );
    tracer = new WorkerTrace(events, roster);
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  /** The case's log: in at 07:00, out at 16:00, refused the next morning; and the people around. */
  function seed(): void {
    events.appendMany(
      [
        scan('CASE', T0),
        scan('CASE', T0 + 9 * HOUR, { direction: 'exit' }),
        denied('CASE', T0 + DAY),
        // Around 07:00.
        scan('A', T0 - 10 * MIN),
        scan('A', T0 - 9 * MIN, { source: 'input', reasons: ['PASSED'] }), // the sensor's event: not a second scan
        scan('B', T0 + 15 * MIN), // on the window's edge: in
        scan('C', T0 + 15 * MIN + 1000), // a second past it: out
        scan('D', T0 + 5 * MIN, { checkpointId: 'gate-b' }), // another checkpoint (before this box was moved)
        denied('E', T0 + 2 * MIN), // refused, never let in: listed apart
        denied('F', T0 + 3 * MIN),
        scan('F', T0 + 4 * MIN, { reasons: ['SUPERVISOR_OVERRIDE'] }), // let through after all: a contact
        denied(null, T0 + MIN), // a code nobody could be identified by: counted only
        // Around 16:00.
        scan('A', T0 + 9 * HOUR + MIN, { direction: 'exit' }),
        scan('GONE', T0 + 9 * HOUR - 3 * MIN, { direction: 'exit' }), // no longer on the roster: by id
        // Near the case's refusal the next day: not a passage of the case.
        scan('H', T0 + DAY + MIN),
        // Before the period asked for.
        scan('CASE', T0 - 20 * DAY),
        scan('J', T0 - 20 * DAY + MIN),
      ].map((event) => ({ event, alert: undefined })),
    );
  }

  it('lists who passed within the window of each of the worker\'s passages, at the same checkpoint, refusals apart', () => {
    seed();
    const r = tracer.trace('CASE', T0 - 14 * DAY, T0 + 14 * DAY, 15);
    expect(r.worker).toEqual({ workerId: 'CASE', displayName: 'Nguyễn Văn Ca', team: 'Tổ 3' });
    expect(r.passages.map((p) => [p.atMs - T0, p.direction])).toEqual([
      [0, 'entry'],
      [9 * HOUR, 'exit'],
    ]);
    const [morning, evening] = r.passages;
    expect(morning!.passed.map((n) => [n.workerId, n.gapMs / MIN])).toEqual([
      ['A', -10],
      ['F', 4],
      ['B', 15],
    ]);
    expect(morning!.refused.map((n) => [n.workerId, n.gapMs / MIN])).toEqual([
      ['E', 2],
      ['F', 3],
    ]);
    expect(morning).toMatchObject({ passedCount: 3, refusedCount: 2, unidentified: 1 });
    expect(evening!.passed).toEqual([
      { workerId: 'GONE', atMs: T0 + 9 * HOUR - 3 * MIN, gapMs: -3 * MIN },
      { workerId: 'A', atMs: T0 + 9 * HOUR + MIN, gapMs: MIN },
    ]);
    expect(evening!.refused).toEqual([]);
    expect(r.contacts).toEqual([
      { workerId: 'A', displayName: 'Trần Thị A', team: 'Tổ 1', times: 2, closestGapMs: MIN, lastAtMs: T0 + 9 * HOUR + MIN },
      { workerId: 'GONE', displayName: null, team: null, times: 1, closestGapMs: 3 * MIN, lastAtMs: T0 + 9 * HOUR - 3 * MIN },
      { workerId: 'F', displayName: 'Trần Thị F', team: 'Tổ 1', times: 1, closestGapMs: 4 * MIN, lastAtMs: T0 + 4 * MIN },
      { workerId: 'B', displayName: 'Trần Thị B', team: 'Tổ 1', times: 1, closestGapMs: 15 * MIN, lastAtMs: T0 + 15 * MIN },
    ]);
    // F was let through after the refusal: a contact, not "refused only". Never a reason.
    expect(r.refusedOnly).toEqual([{ workerId: 'E', displayName: 'Trần Thị E', team: 'Tổ 1', times: 1, closestGapMs: 2 * MIN, lastAtMs: T0 + 2 * MIN }]);
    expect(JSON.stringify(r)).not.toContain('QUARANTINE');
    expect(JSON.stringify(r)).not.toContain('MALFORMED');
  });

  it('widens and narrows with the window, and keeps to the period', () => {
    seed();
    const ids = (minutes: number, from = T0 - 14 * DAY) => tracer.trace('CASE', from, T0 + 14 * DAY, minutes).contacts.map((c) => c.workerId).sort();
    expect(ids(5)).toEqual(['A', 'F', 'GONE']);
    expect(ids(30)).toEqual(['A', 'B', 'C', 'F', 'GONE']);
    // The period reaching back 21 days takes in the case's passage 20 days ago, and J beside it.
    expect(ids(5, T0 - 21 * DAY)).toEqual(['A', 'F', 'GONE', 'J']);
    // A period with none of the worker's passages: nobody.
    expect(tracer.trace('CASE', T0 + 2 * DAY, T0 + 3 * DAY, 60)).toMatchObject({ passages: [], contacts: [], refusedOnly: [] });
  });

  it('counts a person once per passage of the worker, however many times they scanned near it', () => {
    // Two passages of the case 20 minutes apart: their windows overlap and are read in one range.
    events.appendMany(
      [scan('CASE', T0), scan('CASE', T0 + 20 * MIN, { direction: 'exit' }), scan('B', T0 + 10 * MIN), scan('B', T0 + 12 * MIN, { direction: 'exit' }), scan('C', T0 + 34 * MIN)].map(
        (event) => ({ event, alert: undefined }),
      ),
    );
    const r = tracer.trace('CASE', T0 - DAY, T0 + DAY, 15);
    expect(r.passages.map((p) => p.passed.map((n) => `${n.workerId}${n.gapMs / MIN}`))).toEqual([
      ['B10', 'B12'],
      ['B-10', 'B-8', 'C14'],
    ]);
    expect(r.contacts.map((c) => [c.workerId, c.times, c.closestGapMs / MIN])).toEqual([
      ['B', 2, 8],
      ['C', 1, 14],
    ]);
  });

  it('lists at a passage the closest neighbours only, by time, and counts them all', () => {
    // 30 people a minute apart from 07:00 (a minute after the case's entry at 06:59:30), and 30 before it.
    const people = Array.from({ length: 60 }, (_, i) => `P${String(i).padStart(2, '0')}`);
    roster.upsertAll(people.map((id) => healthyWorker(id, T0)));
    events.appendMany(
      [scan('CASE', T0 - 30_000), ...people.map((id, i) => scan(id, T0 + (i - 30) * 30_000 - 15_000))].sort((a, b) => a.wallMs - b.wallMs).map((event) => ({ event, alert: undefined })),
    );
    const [p] = tracer.trace('CASE', T0 - DAY, T0 + DAY, 60).passages;
    expect(p!.passedCount).toBe(60);
    // The 20 closest: 10 either side, the nearest 15 s away.
    expect(p!.passed.map((n) => n.workerId)).toEqual(people.slice(20, 40));
    expect(p!.passed.map((n) => n.gapMs / 1000)).toEqual(Array.from({ length: 20 }, (_, i) => (i - 10) * 30 + 15));
    expect(tracer.trace('CASE', T0 - DAY, T0 + DAY, 60).contacts).toHaveLength(60);
  });

  it('finds the worker by id or by name without accents, lists several to pick from, and an id only the log still knows', async () => {
    seed();
    expect(await tracer.candidates('CASE')).toEqual([{ workerId: 'CASE', displayName: 'Nguyễn Văn Ca', team: 'Tổ 3' }]);
    expect((await tracer.candidates('case')).map((c) => c.workerId)).toEqual(['CASE']);
    expect((await tracer.candidates('van ca')).map((c) => c.workerId)).toEqual(['CASE']);
    expect((await tracer.candidates('nguyen van')).map((c) => c.displayName)).toEqual(['Nguyễn Văn Ca', 'Nguyễn Văn Hai']);
    expect(await tracer.candidates('GONE')).toEqual([{ workerId: 'GONE', displayName: null, team: null }]);
    expect(await tracer.candidates('nobody at all')).toEqual([]);
    expect(await tracer.candidates('   ')).toEqual([]);
  });

  it('searches a large roster page by page, at most 20 to pick from, and traces in turns with the same answer', async () => {
    seed();
    roster.upsertAll(Array.from({ length: 4_500 }, (_, i) => healthyWorker(`X${String(i).padStart(5, '0')}`, T0, { displayName: `Đỗ Thị Xuân ${i}` })));
    roster.upsertAll([healthyWorker('Z-LAST', T0, { displayName: 'Vũ Văn Cuối' })]);
    expect(await tracer.candidates('do thi xuan')).toHaveLength(20);
    // Past the second page of 2,000.
    expect((await tracer.candidates('vu van cuoi')).map((c) => c.workerId)).toEqual(['Z-LAST']);
    expect((await tracer.candidates('x04499')).map((c) => c.workerId)).toEqual(['X04499']);
    // Something else queued on the event loop once the trace has started runs before it ends.
    let ranMeanwhile = false;
    const tracing = tracer.traceInTurns('CASE', T0 - 14 * DAY, T0 + 14 * DAY, 15, 0);
    setImmediate(() => (ranMeanwhile = true));
    expect(await tracing).toEqual(tracer.trace('CASE', T0 - 14 * DAY, T0 + 14 * DAY, 15));
    expect(ranMeanwhile).toBe(true);
  });

  it('lists visitors who passed near the worker apart, by the name and visit registered here; their registration records and other checkpoints are not passages', () => {
    seed();
    const v1 = `vk1.${'1'.repeat(32)}`;
    const v2 = `vk1.${'2'.repeat(32)}`;
    const v3 = `vk1.${'3'.repeat(32)}`;
    const visitor = (visitorId: string, atMs: number, over: Partial<NewGateEvent> = {}) => scan(null, atMs, { credentialKind: 'cccd', codeHash: null, visitorId, ...over });
    events.appendMany(
      [
        // V1 registers at 06:50 (a record, not a passage), enters at 07:05 and leaves at 15:58: near both passages.
        visitor(v1, T0 - 10 * MIN, { source: 'visitor', reasons: ['VISITOR_REGISTERED'], visit: { name: 'Khách Một', host: 'Kho', purpose: 'Giao hàng', noticeVersion: 1 } }),
        visitor(v1, T0 + 5 * MIN, { source: 'camera' }),
        visitor(v1, T0 + 9 * HOUR - 2 * MIN, { source: 'camera', direction: 'exit' }),
        // V2 at another checkpoint; V3 refused: neither is near.
        visitor(v2, T0 + MIN, { source: 'camera', checkpointId: 'gate-b' }),
        visitor(v3, T0 + 2 * MIN, { source: 'camera', decision: 'deny', reasons: ['VISITOR_APPROVAL_PENDING'] }),
      ].map((event) => ({ event, alert: undefined })),
    );
    const visits: Record<string, { name: string; host: string; purpose: string }> = { [v1]: { name: 'Khách Một', host: 'Kho', purpose: 'Giao hàng' } };
    const r = new WorkerTrace(events, roster, (id) => visits[id] ?? null).trace('CASE', T0 - 14 * DAY, T0 + 14 * DAY, 15);
    expect(r.visitors).toEqual([{ visitorId: v1, name: 'Khách Một', host: 'Kho', purpose: 'Giao hàng', times: 2, closestGapMs: 2 * MIN, lastAtMs: T0 + 9 * HOUR - 2 * MIN }]);
    // Workers' contacts are as before: a visitor is not among them.
    expect(r.contacts.map((c) => c.workerId)).toEqual(tracer.trace('CASE', T0 - 14 * DAY, T0 + 14 * DAY, 15).contacts.map((c) => c.workerId));
    // A visitor purged from the kiosk's visitors is still listed, by pseudonym.
    expect(tracer.trace('CASE', T0 - 14 * DAY, T0 + 14 * DAY, 15).visitors.map((v) => [v.visitorId, v.name])).toEqual([[v1, null]]);
    // A one-minute window: neither of V1's scans (5 and 2 minutes from the case's) is near.
    expect(new WorkerTrace(events, roster).trace('CASE', T0 - 14 * DAY, T0 + 14 * DAY, 1).visitors).toEqual([]);
  });

  it('reads the worker\'s passages by the worker index and the people around by an index that covers the read', () => {
    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array.from(sql.matchAll(/\?/g), () => 1)) as { detail: string }[]).map((r) => r.detail).join('; ');
    expect(
      plan(`SELECT seq, wall_ms, direction, checkpoint_id FROM events WHERE worker_id = ? AND decision = 'allow' AND source <> 'input' AND wall_ms >= ? AND wall_ms < ? ORDER BY seq`),
    ).toContain('USING INDEX events_worker_allowed');
    // Without INDEXED BY, as the planner would choose by itself: the covering index, no table reads, no sort.
    for (const decision of ["decision = 'allow' AND worker_id IS NOT NULL", "decision = 'deny'"]) {
      expect(plan(`SELECT wall_ms, worker_id FROM events WHERE checkpoint_id = ? AND wall_ms >= ? AND wall_ms <= ? AND ${decision} AND source <> 'input' ORDER BY wall_ms`)).toBe(
        'SEARCH events USING COVERING INDEX events_trace (checkpoint_id=? AND wall_ms>? AND wall_ms<?)',
      );
    }
  });
});

describe('the trace through the screen API', () => {
  let dir: ReturnType<typeof tempDir>;
  let kiosk: Kiosk;

  beforeEach(() => {
    dir = tempDir('safegate-trace-api-');
    hubKeys(dir.path);
    kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path)), { headless: true, log: createLogger({ level: 'silent' }) });
  });
  afterEach(async () => {
    await kiosk.stop();
    dir.remove();
  });

  it('answers only a signed-in supervisor, refuses a bad window or period, picks among several, and audits the period, window and counts, never who was traced', async () => {
    const now = Date.now();
    kiosk.roster.upsertAll([healthyWorker('W1', now, { displayName: 'Lê Văn Một' }), healthyWorker('W2', now, { displayName: 'Lê Văn Hai' })]);
    kiosk.events.appendMany([scan('W1', now - HOUR), scan('W2', now - HOUR + 7 * MIN)].map((event) => ({ event, alert: undefined })));
    const call = (params: Record<string, unknown>) => kiosk.screenService.dispatch('supervisor.trace', params);
    const period = { fromMs: now - 14 * DAY, toMs: now + MIN };

    expect(await call({ token: 'x'.repeat(32), search: 'W1', ...period })).toMatchObject({ ok: false, error: { code: 'not-signed-in' } });
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '975310' });
    const login = await kiosk.supervisor.login('lan', '975310');
    if (!login.ok) throw new Error('no login');
    const { token } = login;
    expect(await call({ token, search: 'W1', ...period, windowMinutes: 7 })).toMatchObject({ ok: false, error: { code: 'bad-request', message: expect.stringContaining('5, 15, 30, 60') } });
    expect(await call({ token, search: 'W1', fromMs: now - 40 * DAY, toMs: now })).toMatchObject({ ok: false, error: { code: 'bad-request', message: expect.stringContaining('32 days') } });
    expect(await call({ token, search: '  ', ...period })).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    expect(await call({ token, workerId: 'Bad Id', ...period })).toMatchObject({ ok: false, error: { code: 'bad-request' } });

    const several = await call({ token, search: 'le van', ...period });
    expect(several).toMatchObject({ ok: true, result: { trace: null } });
    if (!several.ok) throw new Error('refused');
    expect((several.result as { candidates: { workerId: string }[] }).candidates.map((c) => c.workerId)).toEqual(['W2', 'W1']);
    const picked = await call({ token, workerId: 'W1', ...period });
    expect(picked).toMatchObject({ ok: true, result: { trace: { worker: { workerId: 'W1' }, windowMinutes: 15, contacts: [{ workerId: 'W2', closestGapMs: 7 * MIN }] } } });
    const traced = kiosk.supervisor.auditTrail().filter((a) => a.action === 'view-trace');
    expect(traced.map((a) => a.detail)).toEqual([
      'search: 2 workers matched',
      `${new Date(period.fromMs).toISOString()}..${new Date(period.toMs).toISOString()}, ±15 min: 1 contacts`,
    ]);
    // Who was traced (likely a case) is never on the trail: neither the worker nor the search text.
    for (const a of traced) for (const personal of ['W1', 'W2', 'le van', 'Lê Văn']) expect(a.detail).not.toContain(personal);
  });
});
