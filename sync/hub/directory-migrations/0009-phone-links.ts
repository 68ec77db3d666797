import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Personal phone links (sync/hub/phone-links.ts): one per worker and phone, made by an organisation's
 * manager or an operator, opened once on the worker's phone to bind a phone pass to the key the phone
 * made. The token itself is never stored: only its SHA-256 (it is 256 random bits, so a hash cannot
 * be reversed by guessing). A link is open until it is used, expires or is retired by a newer link
 * for the same worker; `pass_id` is the phone pass its use issued.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE phone_links (
      link_id     TEXT    PRIMARY KEY CHECK (length(link_id) = 16),
      token_hash  BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
      worker_id   TEXT    NOT NULL,
      org_id      TEXT    NOT NULL REFERENCES organisations (org_id),
      made_by     TEXT    NOT NULL,
      made_ms     INTEGER NOT NULL,
      expires_ms  INTEGER NOT NULL CHECK (expires_ms > made_ms),
      used_ms     INTEGER,
      retired_ms  INTEGER,
      pass_id     TEXT
    ) STRICT;
    CREATE INDEX phone_links_worker ON phone_links (worker_id, made_ms);
    CREATE INDEX phone_links_org ON phone_links (org_id, made_ms);
  `);
}
