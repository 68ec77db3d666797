import type { SqliteDatabase } from '../../../../base/node/sqlite.js';

/**
 * Hub keys have roles (pass, downlink) and are vouched for by an installed key, with a lifetime; the
 * keys held so far have none, so they are dropped and the keys stream starts again (the hub sends
 * them anew, with roles). Each stream remembers when the hub issued what it holds, so a replayed
 * "nothing new" cannot make old data look fresh, and a newer snapshot can replace data that claimed
 * a higher revision.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    DROP TABLE hub_keys;
    CREATE TABLE hub_keys (
      kid        TEXT    PRIMARY KEY,
      role       TEXT    NOT NULL,
      public_pem TEXT    NOT NULL,
      anchor_kid TEXT    NOT NULL,
      not_after  INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    DELETE FROM downlink_cursors WHERE stream = 'keys';
    DELETE FROM downlink_staging WHERE stream = 'keys';
    ALTER TABLE downlink_cursors ADD COLUMN issued_at INTEGER;
  `);
}
