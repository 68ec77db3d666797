import type { Statement } from 'better-sqlite3';
import { replacesDeclaration } from '../../../base/common/declaration.js';
import { DEFAULT_TIME_ZONE } from '../../../base/common/time.js';
import type { Direction } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * How far ahead of this kiosk's synchronised clock a remote passage may be dated and still be kept
 * (the hub dates none ahead of its own clock; this covers the two clocks' difference).
 */
export const REMOTE_PASSAGE_MAX_AHEAD_MS = 10_000;

/** An allowed passage at another kiosk of this site, as the live site stream reported it. */
export interface RemotePassage {
  workerId: string;
  zoneId: string;
  direction: Direction;
  atMs: number;
  deviceId: string;
  checkpointId: string;
  seq: number;
}

/**
 * An admit at another kiosk that its passage sensor saw nobody go through: the passage `admitSeq`
 * of `deviceId` is taken back (`atMs` is when the kiosk logged that).
 */
export interface RemoteRetraction {
  workerId: string;
  zoneId: string;
  deviceId: string;
  admitSeq: number;
  atMs: number;
}

/**
 * What the gate core knows of the site's other kiosks: their passages, and since when that knowledge
 * is current. An entry-only checkpoint refuses for anti-passback only on an entry made while the
 * stream has been current without a break since: otherwise the person may have left by another
 * kiosk while this one heard nothing, and its own log alone would refuse them wrongly.
 */
export interface SitePassages {
  /**
   * Wall time (epoch ms) since which the site stream has been current without a break (passages at
   * the zone's other kiosks are known from then on), or null while it is not.
   */
  currentSinceMs(): number | null;
  /** The person's latest passage in the zone at another kiosk, as far as is known. */
  lastPassage(workerId: string, zoneId: string): { direction: Direction; atMs: number } | null;
}

interface Row {
  direction: Direction;
  at_ms: number;
  device_id: string;
  seq: number;
  prev_direction: Direction | null;
  prev_at_ms: number | null;
  prev_device_id: string | null;
  prev_seq: number | null;
}

/**
 * The site's other kiosks' passages (migrations 0014, 0016): the latest per person and zone, which is
 * all anti-passback asks, and the one it replaced, so a retraction of the latest puts that back.
 * Kept only as long as the anti-passback reset needs them (`purge`).
 */
export class RemotePassages {
  private readonly upsert: Statement;
  private readonly lastStmt: Statement;
  private readonly rowStmt: Statement;
  private readonly retractedStmt: Statement;
  private readonly rememberRetraction: Statement;
  private readonly restorePrev: Statement;
  private readonly clearPrev: Statement;
  private readonly deleteRow: Statement;
  private readonly purgeStmt: Statement;
  private readonly purgeRetractions: Statement;

  constructor(private readonly db: SqliteDatabase) {
    // SQLite evaluates every SET against the old row: prev_* take what is being replaced.
    this.upsert = db.prepare(`
      INSERT INTO remote_passages (worker_id, zone_id, direction, at_ms, device_id, checkpoint_id, seq)
      VALUES (@workerId, @zoneId, @direction, @atMs, @deviceId, @checkpointId, @seq)
      ON CONFLICT (worker_id, zone_id) DO UPDATE SET
        prev_direction = remote_passages.direction, prev_at_ms = remote_passages.at_ms,
        prev_device_id = remote_passages.device_id, prev_checkpoint_id = remote_passages.checkpoint_id,
        prev_seq = remote_passages.seq,
        direction = excluded.direction, at_ms = excluded.at_ms, device_id = excluded.device_id,
        checkpoint_id = excluded.checkpoint_id, seq = excluded.seq
      WHERE excluded.at_ms > remote_passages.at_ms`);
    this.lastStmt = db.prepare('SELECT direction, at_ms FROM remote_passages WHERE worker_id = ? AND zone_id = ?');
    this.rowStmt = db.prepare('SELECT * FROM remote_passages WHERE worker_id = ? AND zone_id = ?');
    this.retractedStmt = db.prepare('SELECT 1 FROM remote_retractions WHERE device_id = ? AND seq = ?');
    this.rememberRetraction = db.prepare('INSERT INTO remote_retractions (device_id, seq, at_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
    this.restorePrev = db.prepare(`
      UPDATE remote_passages SET direction = prev_direction, at_ms = prev_at_ms, device_id = prev_device_id,
        checkpoint_id = prev_checkpoint_id, seq = prev_seq,
        prev_direction = NULL, prev_at_ms = NULL, prev_device_id = NULL, prev_checkpoint_id = NULL, prev_seq = NULL
      WHERE worker_id = ? AND zone_id = ?`);
    this.clearPrev = db.prepare(`
      UPDATE remote_passages SET prev_direction = NULL, prev_at_ms = NULL, prev_device_id = NULL, prev_checkpoint_id = NULL, prev_seq = NULL
      WHERE worker_id = ? AND zone_id = ?`);
    this.deleteRow = db.prepare('DELETE FROM remote_passages WHERE worker_id = ? AND zone_id = ?');
    this.purgeStmt = db.prepare('DELETE FROM remote_passages WHERE at_ms < ? OR at_ms > ?');
    this.purgeRetractions = db.prepare('DELETE FROM remote_retractions WHERE at_ms < ?');
  }

  /**
   * Keeps passages newer than what is held for the same person and zone (a repeat or an older one
   * changes nothing); those before `notBeforeMs`, after `notAfterMs` (dated ahead of this kiosk's
   * clock) or already retracted are not kept at all. Returns how many were news.
   */
  record(passages: readonly RemotePassage[], notBeforeMs: number, notAfterMs = Number.POSITIVE_INFINITY): number {
    const fresh = passages.filter((p) => p.atMs >= notBeforeMs && p.atMs <= notAfterMs);
    if (!fresh.length) return 0;
    return this.db.transaction(() =>
      fresh.reduce((n, p) => (this.retractedStmt.get(p.deviceId, p.seq) ? n : n + this.upsert.run(p).changes), 0),
    )();
  }

  /**
   * Takes back admits nobody went through: if one is the latest passage held for its person and
   * zone, the passage it replaced comes back (or the row goes, if there was none). Each is remembered,
   * so the admit arriving later (a batch relayed late) is not kept. Returns how many changed a row.
   */
  retract(retractions: readonly RemoteRetraction[]): number {
    if (!retractions.length) return 0;
    return this.db.transaction(() => {
      let changed = 0;
      for (const r of retractions) {
        this.rememberRetraction.run(r.deviceId, r.admitSeq, r.atMs);
        const row = this.rowStmt.get(r.workerId, r.zoneId) as Row | undefined;
        if (!row) continue;
        if (row.device_id === r.deviceId && row.seq === r.admitSeq) {
          changed += (row.prev_at_ms === null ? this.deleteRow : this.restorePrev).run(r.workerId, r.zoneId).changes;
        } else if (row.prev_device_id === r.deviceId && row.prev_seq === r.admitSeq) {
          changed += this.clearPrev.run(r.workerId, r.zoneId).changes;
        }
      }
      return changed;
    })();
  }

  lastPassage(workerId: string, zoneId: string): { direction: Direction; atMs: number } | null {
    const row = this.lastStmt.get(workerId, zoneId) as { direction: Direction; at_ms: number } | undefined;
    return row ? { direction: row.direction, atMs: row.at_ms } : null;
  }

  /**
   * Forgets passages older than the cutoff (the anti-passback reset) and those dated after
   * `futureAfterMs` (ahead of a synchronised clock: a bad clock or a forged time must not pin anyone
   * inside or out), and retractions older than the cutoff; returns how many passages.
   */
  purge(beforeMs: number, futureAfterMs = Number.POSITIVE_INFINITY): number {
    return this.db.transaction(() => {
      this.purgeRetractions.run(beforeMs);
      // SQLite has no infinity literal for an INTEGER column: the largest int64 stands for "no bound".
      return this.purgeStmt.run(beforeMs, Number.isFinite(futureAfterMs) ? futureAfterMs : Number.MAX_SAFE_INTEGER).changes;
    })();
  }

  /** Forgets passages older than the cutoff; returns how many. */
  purgeBefore(atMs: number): number {
    return this.purge(atMs);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM remote_passages').get() as { n: number }).n;
  }
}

/** A worker's health declaration as the site stream brings it: when, and whether any answer was a warning. */
export interface RemoteDeclaration {
  workerId: string;
  declaredAtMs: number;
  flagged: boolean;
}

/**
 * Declarations made on workers' phones (relayed live by the hub) and on this kiosk's screen: each goes
 * into the worker's roster record by the one rule of which declaration stands (base/common/declaration.ts
 * replacesDeclaration: never older over newer; a flagged one stands for the rest of its day in the
 * province zone). The hub puts the same into the record it sends at the next download, so a kiosk that
 * missed the live message still gets it, and a health officer's clearance comes that way. A worker not
 * on this kiosk's roster is skipped; one dated ahead of `notAfterMs` (this kiosk's clock) is not believed.
 */
export class RemoteDeclarations {
  private readonly held: Statement;
  private readonly update: Statement;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly zone: string = DEFAULT_TIME_ZONE,
  ) {
    this.held = db.prepare('SELECT declared_at, declaration_flagged FROM workers WHERE worker_id = ?');
    this.update = db.prepare('UPDATE workers SET declared_at = ?, declaration_flagged = ? WHERE worker_id = ?');
  }

  /** Returns how many changed a roster record. */
  apply(declarations: readonly RemoteDeclaration[], notAfterMs = Number.POSITIVE_INFINITY): number {
    const fresh = declarations.filter((d) => d.declaredAtMs <= notAfterMs);
    if (!fresh.length) return 0;
    return this.db.transaction(() =>
      fresh.reduce((n, d) => {
        const held = this.held.get(d.workerId) as { declared_at: number | null; declaration_flagged: number } | undefined;
        if (!held || !replacesDeclaration({ declaredAtMs: held.declared_at, flagged: held.declaration_flagged === 1 }, d, this.zone)) return n;
        return n + this.update.run(d.declaredAtMs, d.flagged ? 1 : 0, d.workerId).changes;
      }, 0),
    )();
  }
}
