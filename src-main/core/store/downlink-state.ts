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

  /** When the hub issued the last transfer or confirmation we took (the hub's clock); null before any. */
  issuedAt(stream: string): number | null {
    const r = this.db.prepare('SELECT issued_at FROM downlink_cursors WHERE stream = ?').get(stream) as { issued_at: number | null } | undefined;
    return r?.issued_at ?? null;
  }

  /**
   * Applies a complete transfer: `apply` and the new cursor commit together, or neither does. The
   * data counts as confirmed at `issued.checkedAtMs` (the hub's signed issue time, capped at our
   * clock), not at arrival; `issued.hubMs` is that issue time as the hub stamped it.
   */
  commit(stream: string, to: number, atMs: number, issued: { hubMs: number; checkedAtMs: number }, apply: () => void): void {
    this.db
      .transaction(() => {
        apply();
        this.db
          .prepare(
            `INSERT INTO downlink_cursors (stream, cursor, applied_at, checked_at, issued_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (stream) DO UPDATE SET cursor = excluded.cursor, applied_at = excluded.applied_at,
               checked_at = excluded.checked_at, issued_at = excluded.issued_at`,
          )
          .run(stream, to, atMs, issued.checkedAtMs, issued.hubMs);
        this.db.prepare('DELETE FROM downlink_staging WHERE stream = ?').run(stream);
      })
      .immediate();
  }

  /**
   * The hub confirmed, in a message it signed and issued at `issued.hubMs`, that what we hold is
   * current. Only a confirmation issued after the last one counts, so a replayed one changes
   * nothing; `replaceHeld`: the issue time we hold is not to be trusted (it lies in the future) and
   * this one replaces it. A stream the hub has nothing in (revision 0) gets its row here. Returns
   * whether the data's age was renewed.
   */
  markChecked(stream: string, issued: { hubMs: number; checkedAtMs: number }, replaceHeld = false): boolean {
    return (
      this.db
        .prepare(
          `INSERT INTO downlink_cursors (stream, cursor, applied_at, checked_at, issued_at) VALUES (?, 0, NULL, ?, ?)
           ON CONFLICT (stream) DO UPDATE SET checked_at = excluded.checked_at, issued_at = excluded.issued_at
           WHERE issued_at IS NULL OR issued_at < excluded.issued_at OR ?`,
        )
        .run(stream, issued.checkedAtMs, issued.hubMs, replaceHeld ? 1 : 0).changes > 0
    );
  }
}
