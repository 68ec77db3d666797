import type { EventLog } from '../store/event-log.js';
import type { Roster } from '../store/roster.js';
import { TRACE_NEIGHBOURS_SHOWN, type TraceCandidate, type TraceContact, type TraceNeighbour, type TracePassage, type TraceResult, type TraceVisitor } from '../../../base/common/kiosk-trace.js';
import { foldForSearch } from './entry-log.js';

export type { TraceCandidate, TraceContact, TraceNeighbour, TracePassage, TraceResult, TraceVisitor };

/** A visitor's name and visit as registered at this kiosk (null once purged or never registered here). */
export type VisitorVisitLookup = (visitorId: string) => { name: string; host: string; purpose: string } | null;

/** A search lists at most this many workers to pick from. */
const MAX_CANDIDATES = 20;
/** Roster rows searched between two turns of the event loop (a few ms of work). */
const ROSTER_PAGE = 2_000;

/**
 * The kiosk's offline trace ("truy vết" at the gate): for one worker, who passed this checkpoint
 * within ±window of each of the worker's own passages, read from the kiosk's own event log with no
 * network. The worker's passages are their allowed scans (a refusal is not a passage); around each,
 * other named people's allowed scans at the same checkpoint are contacts, and their refused scans
 * are listed apart (they stood at the gate but were not let in; never why). Codes nobody could be
 * identified by are only counted. Events of the gate's inputs (passage sensor, emergency release)
 * are not scans and are left out; an admit the sensor saw nobody walk through still counts, since
 * the person was at the gate. Names come from the roster as it is now; people no longer on it show
 * by id. Visitors (issue 14) who passed the same checkpoint within the window are listed apart by
 * their pseudonym, with the name and visit they registered here.
 *
 * Cost: one indexed query for the worker's passages, then one range query per run of overlapping
 * windows at a checkpoint (a worker's entry and exit minutes apart share one), on an index that
 * covers it (store migration 0019).
 */
export class WorkerTrace {
  constructor(
    private readonly events: EventLog,
    private readonly roster: Roster,
    private readonly visitorVisit?: VisitorVisitLookup,
  ) {}

  /**
   * Workers matching a search by id or name (accents and case ignored), at most 20, roster first.
   * An exact id (letter case aside) is the only match; an id only in the log (no longer on the
   * roster) matches exactly. The roster is read in pages, giving the event loop back between them:
   * a 100,000-worker roster takes a few hundred ms to search by name.
   */
  async candidates(search: string): Promise<TraceCandidate[]> {
    const raw = search.trim();
    if (!raw) return [];
    const exactId = this.roster.get(raw) ? raw : this.roster.idIgnoringCase(raw);
    const exact = exactId === undefined ? undefined : this.roster.get(exactId);
    if (exact) return [{ workerId: exact.workerId, displayName: exact.displayName, team: exact.team }];
    const needle = foldForSearch(raw);
    const found: TraceCandidate[] = [];
    for (let after = ''; found.length < MAX_CANDIDATES; ) {
      const page = this.roster.namesAfter(after, ROSTER_PAGE);
      for (const w of page) {
        if (found.length < MAX_CANDIDATES && (foldForSearch(w.displayName).includes(needle) || foldForSearch(w.workerId).includes(needle))) {
          found.push({ workerId: w.workerId, displayName: w.displayName, team: w.team });
        }
      }
      if (page.length < ROSTER_PAGE) break;
      after = page[page.length - 1]!.workerId;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (found.length === 0 && this.events.passagesOf(raw, 0, Number.MAX_SAFE_INTEGER).length > 0) {
      return [{ workerId: raw, displayName: null, team: null }];
    }
    return found.sort((a, b) => (a.displayName ?? '').localeCompare(b.displayName ?? '', 'vi') || a.workerId.localeCompare(b.workerId));
  }

  /** The trace in one go (tests, the bench). */
  trace(workerId: string, fromMs: number, toMs: number, windowMinutes: number): TraceResult {
    const steps = this.steps(workerId, fromMs, toMs, windowMinutes);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /**
   * The trace in turns of at most about `turnMs` of work, giving the event loop back in between: a
   * month of a busy gate takes about 100 ms of CPU, and the gate underneath must not wait that long
   * to answer a scan.
   */
  async traceInTurns(workerId: string, fromMs: number, toMs: number, windowMinutes: number, turnMs = 10): Promise<TraceResult> {
    const steps = this.steps(workerId, fromMs, toMs, windowMinutes);
    let turnStart = performance.now();
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      if (performance.now() - turnStart >= turnMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turnStart = performance.now();
      }
    }
  }

  /** The trace, yielding after each range read. */
  private *steps(workerId: string, fromMs: number, toMs: number, windowMinutes: number): Generator<void, TraceResult> {
    const windowMs = windowMinutes * 60_000;
    // By checkpoint, then time: a run of overlapping windows is read at one checkpoint.
    const own = this.events
      .passagesOf(workerId, fromMs, toMs)
      .sort((a, b) => (a.checkpointId < b.checkpointId ? -1 : a.checkpointId > b.checkpointId ? 1 : a.wallMs - b.wallMs || a.seq - b.seq));
    const passages: TracePassage[] = [];
    // Per person: [passages near, closest gap, last time, index of the last passage counted].
    const passed = new Map<string, [number, number, number, number]>();
    const refused = new Map<string, [number, number, number, number]>();
    const count = (into: Map<string, [number, number, number, number]>, id: string, gap: number, atMs: number, index: number) => {
      const c = into.get(id);
      if (!c) into.set(id, [1, gap, atMs, index]);
      else {
        if (c[3] !== index) {
          c[0]++;
          c[3] = index;
        }
        if (gap < c[1]) c[1] = gap;
        if (atMs > c[2]) c[2] = atMs;
      }
    };

    // Visitors' passages in the whole period (few): matched to the worker's passages in memory.
    const visitorScans = new Map<string, Scan[]>();
    if (own.length > 0) {
      for (const [atMs, id, checkpointId] of this.events.visitorPassages(fromMs - windowMs, toMs + windowMs)) {
        const list = visitorScans.get(checkpointId);
        if (list) list.push([atMs, id]);
        else visitorScans.set(checkpointId, [[atMs, id]]);
      }
    }
    const visitorsNear = new Map<string, [number, number, number, number]>();

    // Runs of passages whose windows overlap: one range query each.
    for (let start = 0; start < own.length; ) {
      let end = start + 1;
      while (end < own.length && own[end]!.checkpointId === own[start]!.checkpointId && own[end]!.wallMs - windowMs <= own[end - 1]!.wallMs + windowMs) end++;
      const run = own.slice(start, end).map((p) => ({ ...p, passed: [] as Scan[], refused: [] as Scan[], unidentified: 0 }));
      const [checkpointId, lo, hi] = [run[0]!.checkpointId, run[0]!.wallMs - windowMs, run[run.length - 1]!.wallMs + windowMs];
      for (const row of this.events.passagesNear(checkpointId, lo, hi)) {
        if (row[1] === workerId) continue;
        for (const p of run) if (Math.abs(row[0] - p.wallMs) <= windowMs) p.passed.push(row);
      }
      for (const [atMs, id] of this.events.refusalsNear(checkpointId, lo, hi)) {
        if (id === workerId) continue;
        for (const p of run) {
          if (Math.abs(atMs - p.wallMs) > windowMs) continue;
          if (id === null) p.unidentified++;
          else p.refused.push([atMs, id]);
        }
      }
      for (const [i, p] of run.entries()) {
        // Passage by passage, so each counts a person once however their scans interleave with the next one's.
        for (const [atMs, id] of p.passed) count(passed, id, Math.abs(atMs - p.wallMs), atMs, start + i);
        for (const [atMs, id] of p.refused) count(refused, id, Math.abs(atMs - p.wallMs), atMs, start + i);
        for (const [atMs, id] of visitorScans.get(checkpointId) ?? []) {
          if (Math.abs(atMs - p.wallMs) <= windowMs) count(visitorsNear, id, Math.abs(atMs - p.wallMs), atMs, start + i);
        }
        passages.push({
          seq: p.seq,
          atMs: p.wallMs,
          direction: p.direction,
          checkpointId: p.checkpointId,
          passed: closest(p.passed, p.wallMs),
          passedCount: p.passed.length,
          refused: closest(p.refused, p.wallMs),
          refusedCount: p.refused.length,
          unidentified: p.unidentified,
        });
      }
      start = end;
      yield;
    }

    const known = this.roster.namesOf([workerId, ...passed.keys(), ...[...refused.keys()].filter((id) => !passed.has(id))]);
    const names = (id: string) => {
      const r = known.get(id);
      return { displayName: r?.displayName ?? null, team: r?.team ?? null };
    };
    const people = (from: Map<string, [number, number, number, number]>): TraceContact[] =>
      [...from]
        .map(([id, [times, closestGapMs, lastAtMs]]) => ({ workerId: id, ...names(id), times, closestGapMs, lastAtMs }))
        .sort((a, b) => b.times - a.times || a.closestGapMs - b.closestGapMs || a.workerId.localeCompare(b.workerId));
    passages.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    for (const id of passed.keys()) refused.delete(id);
    return {
      worker: { workerId, ...names(workerId) },
      fromMs,
      toMs,
      windowMinutes,
      passages,
      contacts: people(passed),
      refusedOnly: people(refused),
      visitors: [...visitorsNear]
        .map(([visitorId, [times, closestGapMs, lastAtMs]]): TraceVisitor => {
          const v = this.visitorVisit?.(visitorId) ?? null;
          return { visitorId, name: v?.name ?? null, host: v?.host ?? null, purpose: v?.purpose ?? null, times, closestGapMs, lastAtMs };
        })
        .sort((a, b) => b.times - a.times || a.closestGapMs - b.closestGapMs || a.visitorId.localeCompare(b.visitorId)),
    };
  }
}

/** A named person's scan as the log reads it for the trace: [wallMs, workerId]. */
type Scan = [number, string];

/** The scans (in time order) closest in time to `atMs`, at most TRACE_NEIGHBOURS_SHOWN, in time order. */
function closest(scans: readonly Scan[], atMs: number): TraceNeighbour[] {
  let hi = scans.findIndex((s) => s[0] >= atMs);
  if (hi < 0) hi = scans.length;
  let lo = hi;
  while (hi - lo < TRACE_NEIGHBOURS_SHOWN && (lo > 0 || hi < scans.length)) {
    if (lo === 0) hi++;
    else if (hi === scans.length) lo--;
    else if (atMs - scans[lo - 1]![0] <= scans[hi]![0] - atMs) lo--;
    else hi++;
  }
  return scans.slice(lo, hi).map(([wallMs, id]) => ({ workerId: id, atMs: wallMs, gapMs: wallMs - atMs }));
}
