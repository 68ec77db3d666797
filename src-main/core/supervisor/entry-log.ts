import { isRecordOnly, type EventLog } from '../store/event-log.js';
import type { GateEvent } from '../../../base/common/types.js';
import type { Roster } from '../store/roster.js';
import type { EntryLogRow, EntryLogSummary, OverrideRecord } from '../../../base/common/types.js';

export type { EntryLogRow, EntryLogSummary, OverrideRecord };

/** What the reader needs to know of overrides: the record on either of its rows, and whether a deny may still be overridden. */
export interface OverrideLookup {
  of(seq: number, decision: 'allow' | 'deny'): OverrideRecord | null;
  overridable(e: GateEvent): boolean;
}

export interface EntryLogQuery {
  fromMs: number;
  toMs: number;
  /** Matches worker id, name (accents and case ignored) or team. */
  search?: string | undefined;
  decision?: 'allow' | 'deny' | 'all' | undefined;
  /** The roll-call: only the passage that put each person inside now is exported (exports only). */
  insideNow?: boolean | undefined;
}


/** Lower-case without Vietnamese diacritics, so "nguyen van an" finds "Nguyễn Văn An". */
export function foldForSearch(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toLowerCase();
}

/**
 * Reads the entry log for the supervisor screen and exports. Names come from the roster as it is
 * now; a person no longer on the roster shows by id only.
 */
export class EntryLogReader {
  constructor(
    private readonly events: EventLog,
    private readonly roster: Roster,
    private readonly overrides: OverrideLookup,
    /** A registered visitor's name by pseudonym (issue 14); absent: visitors show without a name. */
    private readonly visitorName?: (visitorId: string) => string | null,
  ) {}

  *rows(query: EntryLogQuery): Generator<EntryLogRow> {
    const needle = query.search?.trim() ? foldForSearch(query.search.trim()) : null;
    const names = new Map<string, { displayName: string; team: string } | null>();
    for (const e of this.events.between(query.fromMs, query.toMs)) {
      if (query.decision && query.decision !== 'all' && e.decision !== query.decision) continue;
      const who = this.lookup(e, names);
      if (needle) {
        const hay = foldForSearch([e.workerId ?? '', who?.displayName ?? '', who?.team ?? ''].join(' '));
        if (!hay.includes(needle)) continue;
      }
      const override = this.overrides.of(e.seq, e.decision);
      yield {
        seq: e.seq,
        atMs: e.wallMs,
        direction: e.direction,
        decision: e.decision,
        workerId: e.workerId,
        displayName: who?.displayName ?? null,
        team: who?.team ?? null,
        reasons: e.reasons,
        source: e.source,
        overriddenBySeq: e.decision === 'deny' ? (override?.allowedSeq ?? null) : null,
        override,
        overridable: override === null && this.overrides.overridable(e),
        ...(e.visitorId !== undefined ? { visitorId: e.visitorId } : {}),
      };
    }
  }

  /** Entries, exits and refusals in the window; with `search`, only those it matches, as in rows(). */
  summary(fromMs: number, toMs: number, search?: string): EntryLogSummary {
    const s: EntryLogSummary = { entries: 0, exits: 0, denied: 0 };
    const needle = search?.trim() ? foldForSearch(search.trim()) : null;
    const names = new Map<string, { displayName: string; team: string } | null>();
    for (const e of this.events.between(fromMs, toMs)) {
      // Events of the gate's inputs (emergency release, passage outcomes) are not scans; nor are declarations and visitor records.
      if (e.source === 'input' || isRecordOnly(e.source)) continue;
      if (needle) {
        const who = this.lookup(e, names);
        if (!foldForSearch([e.workerId ?? '', who?.displayName ?? '', who?.team ?? ''].join(' ')).includes(needle)) continue;
      }
      if (e.decision === 'deny') s.denied++;
      else if (e.direction === 'entry') s.entries++;
      else s.exits++;
    }
    return s;
  }

  /**
   * People whose last passage in the window was an entry: inside now, as far as this box knows. With a
   * passage sensor (`passedOnly`) a passage counts only once the sensor saw the person go through (its
   * PASSED event, which copies the admit's direction); an admit nobody walked through changes nothing.
   * Without one, every allowed scan counts, as it always has.
   */
  inside(
    fromMs: number,
    toMs: number,
    options: { passedOnly?: boolean } = {},
  ): { workerId: string; displayName: string | null; team: string | null; sinceMs: number; visitor?: true }[] {
    const last = new Map<string, GateEvent>();
    for (const e of this.events.between(fromMs, toMs)) {
      // A visitor (issue 14) counts by their pseudonym; a passage sensor's event names no visitor, so
      // with a sensor a visitor's admit counts as it is (the sensor's PASSED copies only a worker id).
      const who = e.workerId ?? e.visitorId;
      if (e.decision !== 'allow' || !who || isRecordOnly(e.source)) continue;
      const confirmed = e.source === 'input' && e.reasons.includes('PASSED');
      const counts = options.passedOnly && e.workerId !== null ? confirmed : e.source !== 'input';
      if (counts) last.set(who, e);
    }
    const names = new Map<string, { displayName: string; team: string } | null>();
    return [...last.values()]
      .filter((e) => e.direction === 'entry')
      .map((e) => {
        if (e.workerId === null && e.visitorId !== undefined) {
          return { workerId: e.visitorId, displayName: this.visitorName?.(e.visitorId) ?? null, team: null, sinceMs: e.wallMs, visitor: true as const };
        }
        const who = this.lookup(e, names);
        return { workerId: e.workerId!, displayName: who?.displayName ?? null, team: who?.team ?? null, sinceMs: e.wallMs };
      })
      .sort((a, b) => a.sinceMs - b.sinceMs);
  }

  /** The roll-call as log rows: for each person inside now, the passage that put them there. */
  insideRows(fromMs: number, toMs: number, options: { passedOnly?: boolean } = {}): EntryLogRow[] {
    const since = new Map(this.inside(fromMs, toMs, options).map((w) => [w.workerId, w.sinceMs]));
    const rows: EntryLogRow[] = [];
    for (const r of this.rows({ fromMs, toMs, decision: 'allow' })) {
      const key = r.workerId ?? r.visitorId ?? null;
      if (key !== null && since.get(key) === r.atMs) {
        rows.push(r);
        since.delete(key);
      }
    }
    return rows;
  }

  private lookup(e: GateEvent, cache: Map<string, { displayName: string; team: string } | null>): { displayName: string; team: string } | null {
    if (!e.workerId) {
      if (e.visitorId === undefined || !this.visitorName) return null;
      const name = this.visitorName(e.visitorId);
      return name === null ? null : { displayName: name, team: '' };
    }
    let who = cache.get(e.workerId);
    if (who === undefined) {
      const w = this.roster.get(e.workerId);
      who = w ? { displayName: w.displayName, team: w.team } : null;
      cache.set(e.workerId, who);
    }
    return who;
  }
}
