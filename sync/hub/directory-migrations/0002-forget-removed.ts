import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/** A removed record keeps only its key and revision (a tombstone), never the removed person's data. */
export function up(db: SqliteDatabase): void {
  db.exec(`UPDATE records SET value = 'null' WHERE deleted = 1;`);
}
