import type { Statement } from 'better-sqlite3';
import type { StagedTransfer, StreamCursor } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';

export type { StagedTransfer, StreamCursor };


/** Cursors and staged parts of the downlink streams (migration 0005). */
export class DownlinkState {
  /** Read on every scan (the roster's age), so prepared once. */
  private readonly cursorStmt: Statement;

  constructor(private readonly db: SqliteDatabase) {
    this.cursorStmt = db.prepare('SELECT cursor, applied_at, checked_at FROM downlink_cursors WHERE stream = ?');
  }

  cursor(stream: string): StreamCursor {
    const r = this.cursorStmt.get(stream) as
      | { cursor: number; applied_at: number | null; checked_at: number | null }
      | undefined;
    return r ? { cursor: r.cursor, appliedAt: r.applied_at, checkedAt: r.checked_at } : { cursor: 0, appliedAt: null, checkedAt: null };
  }

  staged(stream: string): StagedTransfer | undefined {
    const rows = this.db.prepare('SELECT kind, from_rev, to_rev, part, parts FROM downlink_staging WHERE stream = ? ORDER BY part').all(stream) as {
      kind: 'snapshot' | 'delta';
      from_rev: number;
      to_rev: number;
      part: number;
      parts: number;
    }[];
    const first = rows[0];
    if (!first) return undefined;
    return { kind: first.kind, from: first.from_rev, to: first.to_rev, parts: first.parts, have: rows.map((r) => r.part) };
  }

  /** Stages one verified part; a part of a different transfer replaces whatever was staged. */
  stage(stream: string, t: Omit<StagedTransfer, 'have'>, part: number, body: Uint8Array): StagedTransfer {
    this.db
      .transaction(() => {
        const cur = this.staged(stream);
        if (cur && (cur.kind !== t.kind || cur.from !== t.from || cur.to !== t.to || cur.parts !== t.parts)) {
          this.db.prepare('DELETE FROM downlink_staging WHERE stream = ?').run(stream);
        }
        this.db
          .prepare(
            `INSERT INTO downlink_staging (stream, kind, from_rev, to_rev, part, parts, body) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (stream, part) DO NOTHING`,
          )
          .run(stream, t.kind, t.from, t.to, part, t.parts, body);
      })
      .immediate();
    return this.staged(stream)!;
  }

  stagedBodies(stream: string): Uint8Array[] {
    return (this.db.prepare('SELECT body FROM downlink_staging WHERE stream = ? ORDER BY part').all(stream) as { body: Buffer }[]).map(
      (r) => new Uint8Array(r.body),
    );
  }

  /** Applies a complete transfer: `apply` and the new cursor commit together, or neither does. */
  commit(stream: string, to: number, atMs: number, apply: () => void): void {
    this.db
      .transaction(() => {
        apply();
        this.db
          .prepare(
            `INSERT INTO downlink_cursors (stream, cursor, applied_at, checked_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (stream) DO UPDATE SET cursor = excluded.cursor, applied_at = excluded.applied_at, checked_at = excluded.checked_at`,
          )
          .run(stream, to, atMs, atMs);
        this.db.prepare('DELETE FROM downlink_staging WHERE stream = ?').run(stream);
      })
      .immediate();
  }

  /** The hub confirmed that what we hold is current. */
  markChecked(stream: string, atMs: number): void {
    this.db.prepare('UPDATE downlink_cursors SET checked_at = ? WHERE stream = ?').run(atMs, stream);
  }
}
