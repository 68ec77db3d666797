import type { Statement } from 'better-sqlite3';
import type { Direction } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';

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
 * What the gate core knows of the site's other kiosks: their passages, and since when that knowledge
 * is current. An entry-only checkpoint refuses for anti-passback only on an entry made while the
 * stream has been current without a break since: otherwise the person may have left by another
 * kiosk while this one heard nothing, and its own log alone would refuse them wrongly.
 */
export interface SitePassages {
  /**
   * Wall time (epoch ms) since which the site stream has been fresh without a break (passages at the
   * zone's other kiosks are known from then on), or null while it is stale.
   */
  currentSinceMs(): number | null;
  /** The person's latest passage in the zone at another kiosk, as far as is known. */
  lastPassage(workerId: string, zoneId: string): { direction: Direction; atMs: number } | null;
}

/**
 * The site's other kiosks' passages (migration 0014): the latest per person and zone, which is all
 * anti-passback asks. Kept only as long as the anti-passback reset needs them (`purgeBefore`).
 */
export class RemotePassages {
  private readonly upsert: Statement;
  private readonly lastStmt: Statement;
  private readonly purgeStmt: Statement;

  constructor(private readonly db: SqliteDatabase) {
    this.upsert = db.prepare(`
      INSERT INTO remote_passages (worker_id, zone_id, direction, at_ms, device_id, checkpoint_id, seq)
      VALUES (@workerId, @zoneId, @direction, @atMs, @deviceId, @checkpointId, @seq)
      ON CONFLICT (worker_id, zone_id) DO UPDATE SET
        direction = excluded.direction, at_ms = excluded.at_ms, device_id = excluded.device_id,
        checkpoint_id = excluded.checkpoint_id, seq = excluded.seq
      WHERE excluded.at_ms > remote_passages.at_ms`);
    this.lastStmt = db.prepare('SELECT direction, at_ms FROM remote_passages WHERE worker_id = ? AND zone_id = ?');
    this.purgeStmt = db.prepare('DELETE FROM remote_passages WHERE at_ms < ?');
  }

  /**
   * Keeps passages newer than what is held for the same person and zone (a repeat or an older one
   * changes nothing); those before `notBeforeMs` are not kept at all. Returns how many were news.
   */
  record(passages: readonly RemotePassage[], notBeforeMs: number): number {
    const fresh = passages.filter((p) => p.atMs >= notBeforeMs);
    if (!fresh.length) return 0;
    return this.db.transaction(() => fresh.reduce((n, p) => n + this.upsert.run(p).changes, 0))();
  }

  lastPassage(workerId: string, zoneId: string): { direction: Direction; atMs: number } | null {
    const row = this.lastStmt.get(workerId, zoneId) as { direction: Direction; at_ms: number } | undefined;
    return row ? { direction: row.direction, atMs: row.at_ms } : null;
  }

  /** Forgets passages older than the cutoff (the anti-passback reset); returns how many. */
  purgeBefore(atMs: number): number {
    return this.purgeStmt.run(atMs).changes;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM remote_passages').get() as { n: number }).n;
  }
}
