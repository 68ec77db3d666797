import type { DataChange, Notice } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { applyChangeSet } from './change-set.js';

const PRIORITY_ORDER = { urgent: 0, important: 1, info: 2 } as const;

/** The notices the kiosk shows; the hub's notices stream keeps them current. */
export class Notices {
  constructor(private readonly db: SqliteDatabase) {}

  applyChanges(kind: 'snapshot' | 'delta', changes: Iterable<DataChange<Notice>>): void {
    const put = this.db.prepare(
      `INSERT INTO notices (id, vi, en, priority, starts_at, expires_at) VALUES (@id, @vi, @en, @priority, @startsAtMs, @expiresAtMs)
       ON CONFLICT (id) DO UPDATE SET vi = excluded.vi, en = excluded.en, priority = excluded.priority,
         starts_at = excluded.starts_at, expires_at = excluded.expires_at`,
    );
    const del = this.db.prepare('DELETE FROM notices WHERE id = ?');
    applyChangeSet(this.db, kind, changes, {
      clear: () => this.db.prepare('DELETE FROM notices').run(),
      put: (_key, notice) => put.run(notice),
      remove: (key) => del.run(key),
    });
  }

  /** Notices in force now, most urgent first, then newest. */
  current(nowMs: number): Notice[] {
    const rows = this.db
      .prepare('SELECT * FROM notices WHERE starts_at <= ? AND expires_at > ? ORDER BY starts_at DESC')
      .all(nowMs, nowMs) as { id: string; vi: string; en: string | null; priority: Notice['priority']; starts_at: number; expires_at: number }[];
    return rows
      .map((r) => ({ id: r.id, vi: r.vi, en: r.en, priority: r.priority, startsAtMs: r.starts_at, expiresAtMs: r.expires_at }))
      .sort((a, b) => PRIORITY_ORDER[a.priority] - PRIORITY_ORDER[b.priority]);
  }

  purgeExpired(nowMs: number): number {
    return this.db.prepare('DELETE FROM notices WHERE expires_at <= ?').run(nowMs).changes;
  }
}
