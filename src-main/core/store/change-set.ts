import type { DataChange } from '../../../base/common/types.js';
import type { SqliteDatabase } from './database.js';

/** Where one kind of downloaded record is kept: how to empty it, store one record, remove one. */
export interface ChangeTarget<T> {
  clear(): void;
  /** `fresh`: the table was just cleared by a snapshot, so a plain insert will do (much cheaper than an upsert). */
  put(key: string, value: T, fresh: boolean): void;
  remove(key: string): void;
}

/**
 * Applies downloaded changes, the one rule for every stream: a snapshot replaces everything, a delta
 * updates and removes. One transaction (a savepoint inside the caller's, e.g. the downlink's commit
 * with its cursor). Returns how many changes were applied.
 */
export function applyChangeSet<T>(db: SqliteDatabase, kind: 'snapshot' | 'delta', changes: Iterable<DataChange<T>>, target: ChangeTarget<T>): number {
  let n = 0;
  db.transaction(() => {
    const fresh = kind === 'snapshot';
    if (fresh) target.clear();
    for (const c of changes) {
      n++;
      if (c.deleted) target.remove(c.key);
      else target.put(c.key, c.value, fresh);
    }
  })();
  return n;
}
