import type { Database } from 'better-sqlite3';

/** Hub signing keys received over the downlink (signed by a key already trusted), for rotation. */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE hub_keys (
      kid        TEXT PRIMARY KEY,
      public_pem TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;
  `);
}
