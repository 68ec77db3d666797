import type { Database } from 'better-sqlite3';

/** Government notices from the hub, kept and shown until they expire. Times in ms. */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE notices (
      id         TEXT    PRIMARY KEY,
      vi         TEXT    NOT NULL,
      en         TEXT,
      priority   TEXT    NOT NULL CHECK (priority IN ('info', 'important', 'urgent')),
      starts_at  INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX notices_expiry ON notices (expires_at);
  `);
}
