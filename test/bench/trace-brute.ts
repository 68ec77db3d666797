/**
 * The brute-force contact count of `npm run bench:trace`, written apart from sync/hub/trace.ts to
 * catch its mistakes. It reads every event (and phone check-in) with plain SQL scans, works out
 * every worker's presence intervals per place by the rules of the trace API (briefed in
 * s19-trace-api.md), all in memory, and answers a trace by comparing intervals directly:
 *   - only allowed events with a worker; a kiosk event's checkpoint is the one its device is placed
 *     at, else its own checkpoint id when registered; a gate, or an unregistered checkpoint, makes
 *     no presence;
 *   - the place: `zone:<site>:<event zone id>` for a zone checkpoint (a zone's checkpoints
 *     together), else `<kind>:<checkpoint>`; a phone check-in is at its checkpoint's place;
 *   - canteen: each scan is a sitting [t, t + window);
 *   - other kinds, per worker and place in time order: an entry opens presence; the next exit
 *     closes it; the next entry, or the reset time (entry + resetHours), closes an open one first;
 *     an exit with nothing open makes no presence;
 *   - a contact: another worker with an interval at the same place overlapping one of the case's
 *     within [fromMs, toMs] by more than nothing. F2: every F1's contacts from that F1's first
 *     exposure to the case (the start of their earliest overlap) to toMs, less the case and the F1s.
 */
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import type { HubDirectory } from '../../sync/hub/directory.js';

interface Interval {
  worker: number;
  place: number;
  from: number;
  to: number;
}

/** One allowed event's fields the count needs. */
type Row = [workerId: string, deviceId: string, checkpointId: string, zoneId: string, direction: string, timeMs: number];

export class BruteForce {
  private readonly workerIndex = new Map<string, number>();
  readonly workerIds: string[] = [];
  private readonly placeIndex = new Map<string, number>();
  readonly placeKeys: string[] = [];
  private byPlace: Interval[][] = [];
  private byWorker: Interval[][] = [];
  private readonly resetMs: number;
  private readonly canteenMs: number;
  /** Events that made presence (at a place that makes contacts), and phone check-ins. */
  counted = { events: 0, visits: 0 };

  private constructor(options: { canteenWindowMinutes: number; resetHours: number }) {
    this.resetMs = options.resetHours * 3_600_000;
    this.canteenMs = options.canteenWindowMinutes * 60_000;
  }

  /** Reads the registry, the check-ins and every event (SQLite store file, or a PostgreSQL store URL). */
  static async load(
    source: { sqlitePath: string } | { postgresUrl: string },
    directory: HubDirectory,
    options: { canteenWindowMinutes: number; resetHours: number },
  ): Promise<BruteForce> {
    const brute = new BruteForce(options);
    const placed = new Map(
      (await directory.sql.all<{ device_id: string; checkpoint_id: string | null }>(sql`SELECT device_id, checkpoint_id FROM device_sites`))
        .filter((r) => r.checkpoint_id !== null)
        .map((r) => [r.device_id, r.checkpoint_id!]),
    );
    const checkpoints = new Map(
      (await directory.sql.all<{ checkpoint_id: string; site_id: string; kind: string }>(sql`SELECT checkpoint_id, site_id, kind FROM checkpoints`)).map((r) => [r.checkpoint_id, r]),
    );
    const worker: number[] = [];
    const place: number[] = [];
    const time: number[] = [];
    /** 1: an entry (or a check-in), 0: an exit; canteen scans are sittings whatever their direction. */
    const entry: number[] = [];
    const add = (workerId: string, placeKey: string, t: number, isEntry: boolean) => {
      let w = brute.workerIndex.get(workerId);
      if (w === undefined) {
        w = brute.workerIds.length;
        brute.workerIndex.set(workerId, w);
        brute.workerIds.push(workerId);
      }
      let p = brute.placeIndex.get(placeKey);
      if (p === undefined) {
        p = brute.placeKeys.length;
        brute.placeIndex.set(placeKey, p);
        brute.placeKeys.push(placeKey);
      }
      worker.push(w);
      place.push(p);
      time.push(t);
      entry.push(isEntry ? 1 : 0);
    };
    const onRow = ([workerId, deviceId, checkpointId, zoneId, direction, t]: Row) => {
      const cp = placed.get(deviceId) ?? (checkpoints.has(checkpointId) ? checkpointId : undefined);
      if (cp === undefined) return;
      const { kind, site_id: site } = checkpoints.get(cp)!;
      if (kind === 'gate') return;
      brute.counted.events++;
      add(workerId, kind === 'zone' ? `zone:${site}:${zoneId}` : `${kind}:${cp}`, t, direction === 'entry');
    };
    if ('sqlitePath' in source) {
      const db = new Database(source.sqlitePath, { readonly: true });
      try {
        const rows = db
          .prepare(
            `SELECT worker_id, device_id, checkpoint_id, zone_id, direction, coalesce(corrected_wall_ms, wall_ms)
             FROM hub_events WHERE decision = 'allow' AND worker_id IS NOT NULL`,
          )
          .raw()
          .iterate() as Iterable<Row>;
        for (const r of rows) onRow(r);
      } finally {
        db.close();
      }
    } else {
      const client = new pg.Client({ connectionString: source.postgresUrl });
      await client.connect();
      try {
        let after: [string, number] = ['', 0];
        for (;;) {
          const { rows } = await client.query<{ worker_id: string | null; decision: string; device_id: string; checkpoint_id: string; zone_id: string; direction: string; t: string; seq: string }>(
            `SELECT worker_id, decision, device_id, checkpoint_id, zone_id, direction, coalesce(corrected_wall_ms, wall_ms) AS t, seq FROM hub_events
             WHERE (device_id, seq) > ($1, $2) ORDER BY device_id, seq LIMIT 200000`,
            after,
          );
          if (rows.length === 0) break;
          // decision is tested here, not in the WHERE, so the keyset query pages by the primary key.
          for (const r of rows) if (r.worker_id !== null && r.decision === 'allow') onRow([r.worker_id, r.device_id, r.checkpoint_id, r.zone_id, r.direction, Number(r.t)]);
          const last = rows[rows.length - 1]!;
          after = [last.device_id, Number(last.seq)];
        }
      } finally {
        await client.end();
      }
    }
    for (const v of await directory.sql.all<{ worker_id: string; checkpoint_id: string; direction: string; at_ms: number }>(sql`SELECT worker_id, checkpoint_id, direction, at_ms FROM visits`)) {
      const c = checkpoints.get(v.checkpoint_id);
      if (!c || c.kind === 'gate') continue;
      if (c.kind === 'zone') throw new Error('the generator makes no phone check-ins at zones (their zone id would be unknown)');
      brute.counted.visits++;
      add(v.worker_id, `${c.kind}:${v.checkpoint_id}`, Number(v.at_ms), v.direction === 'in');
    }
    brute.build(worker, place, time, entry);
    return brute;
  }

  /** Every worker's intervals per place, from the events grouped by worker (a counting sort) then by place and time. */
  private build(worker: number[], place: number[], time: number[], entry: number[]): void {
    const n = worker.length;
    const counts = new Int32Array(this.workerIds.length + 1);
    for (let i = 0; i < n; i++) counts[worker[i]! + 1]!++;
    for (let w = 1; w < counts.length; w++) counts[w]! += counts[w - 1]!;
    const order = new Int32Array(n);
    const next = counts.slice();
    for (let i = 0; i < n; i++) order[next[worker[i]!]!++] = i;
    this.byPlace = this.placeKeys.map(() => []);
    this.byWorker = this.workerIds.map(() => []);
    for (let w = 0; w < this.workerIds.length; w++) {
      const mine = Array.from(order.subarray(counts[w]!, counts[w + 1]!)).sort((a, b) => place[a]! - place[b]! || time[a]! - time[b]! || entry[a]! - entry[b]!);
      let open: number | null = null;
      let at = -1;
      const push = (from: number, to: number) => {
        const iv = { worker: w, place: at, from, to };
        this.byPlace[at]!.push(iv);
        this.byWorker[w]!.push(iv);
      };
      for (const i of mine) {
        if (place[i] !== at) {
          if (open !== null) push(open, open + this.resetMs);
          open = null;
          at = place[i]!;
        }
        const t = time[i]!;
        if (this.placeKeys[at]!.startsWith('canteen:')) push(t, t + this.canteenMs);
        else if (entry[i] === 1) {
          if (open !== null) push(open, Math.min(t, open + this.resetMs));
          open = t;
        } else if (open !== null) {
          push(open, Math.min(t, open + this.resetMs));
          open = null;
        }
      }
      if (open !== null) push(open, open + this.resetMs);
    }
    for (const list of this.byPlace) list.sort((a, b) => a.from - b.from);
  }

  private longest = 0;

  /** Workers with at least one interval (the cases are drawn from them), in id order. */
  workersWithPresence(): string[] {
    return this.workerIds.filter((_, w) => this.byWorker[w]!.length > 0).sort();
  }

  /** The contacts (worker ids) of these workers' intervals within [fromMs, toMs], less `excluded`. */
  private contactsOf(workers: Iterable<number>, fromMs: number, toMs: number, excluded: Set<number>, overlapMs?: Map<number, number>, firstMs?: Map<number, number>): Set<number> {
    if (this.longest === 0) this.longest = Math.max(this.resetMs, this.canteenMs);
    const out = new Set<number>();
    for (const w of workers) {
      for (const a of this.byWorker[w]!) {
        const lo = Math.max(a.from, fromMs);
        const hi = Math.min(a.to, toMs);
        if (lo >= hi) continue;
        const list = this.byPlace[a.place]!;
        // Intervals are at most `longest` long: the first that may overlap starts after lo - longest.
        let i = firstFromAtLeast(list, lo - this.longest);
        for (; i < list.length && list[i]!.from < hi; i++) {
          const b = list[i]!;
          if (b.worker === w || excluded.has(b.worker)) continue;
          const overlap = Math.min(hi, b.to) - Math.max(lo, b.from);
          if (overlap > 0) {
            out.add(b.worker);
            overlapMs?.set(b.worker, (overlapMs.get(b.worker) ?? 0) + overlap);
            const start = Math.max(lo, b.from);
            if (firstMs && start < (firstMs.get(b.worker) ?? Infinity)) firstMs.set(b.worker, start);
          }
        }
      }
    }
    return out;
  }

  /**
   * F1 (and F2 when asked) of a case, as worker ids, and each F1's overlap with the case in minutes
   * (the sum over every pair of their intervals at one place).
   */
  trace(caseId: string, fromMs: number, toMs: number, secondDegree = false): { f1: Set<string>; f2: Set<string>; f1Minutes: Map<string, number> } {
    const c = this.workerIndex.get(caseId);
    if (c === undefined) return { f1: new Set(), f2: new Set(), f1Minutes: new Map() };
    const overlapMs = new Map<number, number>();
    const firstMs = new Map<number, number>();
    const f1 = this.contactsOf([c], fromMs, toMs, new Set([c]), overlapMs, firstMs);
    // F2: an F1's contacts from the F1's first exposure to the case on (who met them before could not have caught it from them).
    const f2 = new Set<number>();
    if (secondDegree) for (const f of f1) for (const w of this.contactsOf([f], Math.max(fromMs, firstMs.get(f)!), toMs, new Set([c, ...f1]))) f2.add(w);
    const ids = (s: Set<number>) => new Set([...s].map((w) => this.workerIds[w]!));
    return { f1: ids(f1), f2: ids(f2), f1Minutes: new Map([...overlapMs].map(([w, ms]) => [this.workerIds[w]!, ms / 60_000])) };
  }
}

function firstFromAtLeast(list: Interval[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.from < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
