import type { Database } from 'better-sqlite3';

/**
 * Visitors registered at this kiosk (issue 14): the pseudonym (a keyed hash of the ID number or
 * certificate identifier, base/node/visitor-keyring.ts), the key it was made under, the name and the
 * visit, the declaration's time and whether it was flagged, and a named supervisor's decision.
 * Never the ID number, address or date of birth. Purged with the events (store.retentionDays).
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE visitors (
      visitor_id          TEXT    PRIMARY KEY,
      key_id              TEXT    NOT NULL,
      credential_kind     TEXT    NOT NULL CHECK (credential_kind IN ('cccd', 'dcc')),
      name                TEXT    NOT NULL,
      host                TEXT    NOT NULL,
      purpose             TEXT    NOT NULL,
      notice_version      INTEGER NOT NULL,
      registered_ms       INTEGER NOT NULL,
      registered_seq      INTEGER NOT NULL,
      declared_ms         INTEGER,
      declaration_flagged INTEGER CHECK (declaration_flagged IN (0, 1)),
      decision            TEXT    CHECK (decision IN ('approved', 'refused')),
      decided_by          TEXT,
      decided_ms          INTEGER
    ) STRICT;
    CREATE INDEX visitors_registered ON visitors (registered_ms);
  `);
}
