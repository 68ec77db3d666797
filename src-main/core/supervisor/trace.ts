import type { EventLog } from '../store/event-log.js';
import type { Roster } from '../store/roster.js';
import type { TraceCandidate, TraceContact, TraceNeighbour, TracePassage, TraceResult } from '../../../base/common/kiosk-trace.js';
import { foldForSearch } from './entry-log.js';

export type { TraceCandidate, TraceContact, TraceNeighbour, TracePassage, TraceResult };

/** A search lists at most this many workers to pick from. */
const MAX_CANDIDATES = 20;

/**
 * The kiosk's offline trace ("truy vết" at the gate): for one worker, who passed this checkpoint
 * within ±window of each of the worker's own passages, read from the kiosk's own event log with no
 * network. The worker's passages are their allowed scans (a refusal is not a passage); around each,
 * other named people's allowed scans at the same checkpoint are contacts, and their refused scans
 * are listed apart (they stood at the gate but were not let in; never why). Codes nobody could be
 * identified by are only counted. Events of the gate's inputs (passage sensor, emergency release)
 * are not scans and are left out; an admit the sensor saw nobody walk through still counts, since
 * the person was at the gate. Names come from the roster as it is now; people no longer on it show
 * by id.
 *
 * Cost: one indexed query for the worker's passages, then one wall-time range query per run of
 * overlapping windows (a worker's entry and exit minutes apart share one).
 */
export class WorkerTrace {
  constructor(
    private readonly events: EventLog,
    private readonly roster: Roster,
  ) {}

  /**
   * Workers matching a search by id or name (accents and case ignored), roster first. An exact id
   * is the only match; an id only in the log (no longer on the roster) matches exactly.
   */
  candidates(search: string): TraceCandidate[] {
    const raw = search.trim();
    if (!raw) return [];
    const exact = this.roster.get(raw);
    if (exact) return [{ workerId: exact.workerId, displayName: exact.displayName, team: exact.team }];
    const needle = foldForSearch(raw);
    const found: TraceCandidate[] = [];
    for (const w of this.roster.names()) {
      if (foldForSearch(w.workerId) === needle) return [{ workerId: w.workerId, displayName: w.displayName, team: w.team }];
      if (found.length < MAX_CANDIDATES && (foldForSearch(w.displayName).includes(needle) || foldForSearch(w.workerId).includes(needle))) {
        found.push({ workerId: w.workerId, displayName: w.displayName, team: w.team });
      }
    }
    if (found.length === 0 && this.events.passagesOf(raw, 0, Number.MAX_SAFE_INTEGER).length > 0) {
      return [{ workerId: raw, displayName: null, team: null }];
    }
    return found.sort((a, b) => (a.displayName ?? '').localeCompare(b.displayName ?? '', 'vi') || a.workerId.localeCompare(b.workerId));
  }

  trace(workerId: string, fromMs: number, toMs: number, windowMinutes: number): TraceResult {
    const windowMs = windowMinutes * 60_000;
    const names = new Map<string, { displayName: string; team: string } | null>();
    const who = (id: string) => {
      let w = names.get(id);
      if (w === undefined) {
        const r = this.roster.get(id);
        w = r ? { displayName: r.displayName, team: r.team } : null;
        names.set(id, w);
      }
      return w;
    };
    const self = who(workerId);
    const passages: TracePassage[] = this.events
      .passagesOf(workerId, fromMs, toMs)
      .sort((a, b) => a.wallMs - b.wallMs || a.seq - b.seq)
      .map((p) => ({ seq: p.seq, atMs: p.wallMs, direction: p.direction, checkpointId: p.checkpointId, passed: [], refused: [], unidentified: 0 }));

    // Runs of passages whose windows overlap: one range query each.
    for (let start = 0; start < passages.length; ) {
      let end = start + 1;
      while (end < passages.length && passages[end]!.atMs - windowMs <= passages[end - 1]!.atMs + windowMs) end++;
      const run = passages.slice(start, end);
      for (const [atMs, id, decision, direction, checkpointId] of this.events.scansNear(run[0]!.atMs - windowMs, run[run.length - 1]!.atMs + windowMs)) {
        if (id === workerId) continue;
        for (const p of run) {
          const gapMs = atMs - p.atMs;
          if (gapMs < -windowMs || gapMs > windowMs || checkpointId !== p.checkpointId) continue;
          if (id === null) {
            if (decision === 'deny') p.unidentified++;
            continue;
          }
          const w = who(id);
          const n: TraceNeighbour = { workerId: id, displayName: w?.displayName ?? null, team: w?.team ?? null, atMs, direction, gapMs };
          (decision === 'allow' ? p.passed : p.refused).push(n);
        }
      }
      start = end;
    }

    const contacts = tally(passages, (p) => p.passed);
    const refusedOnly = tally(passages, (p) => p.refused).filter((c) => !contacts.some((k) => k.workerId === c.workerId));
    return {
      worker: { workerId, displayName: self?.displayName ?? null, team: self?.team ?? null },
      fromMs,
      toMs,
      windowMinutes,
      passages,
      contacts,
      refusedOnly,
    };
  }
}

/** One row per person: at how many passages they were near, the closest gap, the last time. */
function tally(passages: readonly TracePassage[], of: (p: TracePassage) => TraceNeighbour[]): TraceContact[] {
  const byId = new Map<string, TraceContact & { lastPassage: number }>();
  passages.forEach((p, i) => {
    for (const n of of(p)) {
      const c = byId.get(n.workerId);
      const gap = Math.abs(n.gapMs);
      if (!c) {
        byId.set(n.workerId, { workerId: n.workerId, displayName: n.displayName, team: n.team, times: 1, closestGapMs: gap, lastAtMs: n.atMs, lastPassage: i });
        continue;
      }
      if (c.lastPassage !== i) {
        c.times++;
        c.lastPassage = i;
      }
      c.closestGapMs = Math.min(c.closestGapMs, gap);
      c.lastAtMs = Math.max(c.lastAtMs, n.atMs);
    }
  });
  return [...byId.values()]
    .map(({ lastPassage: _, ...c }) => c)
    .sort((a, b) => b.times - a.times || a.closestGapMs - b.closestGapMs || a.workerId.localeCompare(b.workerId));
}
