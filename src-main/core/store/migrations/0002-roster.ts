import type { Database } from 'better-sqlite3';

/** The local roster: who may be admitted, with the status fields the province uses. Times in ms. */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE workers (
      worker_id           TEXT    PRIMARY KEY,
      display_name        TEXT    NOT NULL,
      company             TEXT    NOT NULL DEFAULT '',
      team                TEXT    NOT NULL DEFAULT '',
      declared_at         INTEGER,
      declaration_flagged INTEGER NOT NULL DEFAULT 0 CHECK (declaration_flagged IN (0, 1)),
      test_result         TEXT    CHECK (test_result IN ('negative', 'positive')),
      tested_at           INTEGER,
      vaccine_doses       INTEGER NOT NULL DEFAULT 0 CHECK (vaccine_doses >= 0),
      quarantine_until    INTEGER,
      case_status         TEXT    NOT NULL DEFAULT 'none' CHECK (case_status IN ('none', 'F0', 'F1')),
      updated_at          INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
  `);
}
