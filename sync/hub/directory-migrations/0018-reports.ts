import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Reports (sync/hub/reports/): what the scheduler has done each day, and the labour lists it made.
 *
 * - `report_runs`: one row per piece of scheduled work and day (a summary e-mail to one address, an
 *   organisation's labour list), keyed by what it is (`summary:<day>:<org or province>:<address>`,
 *   `labour-list:<day>:<org>`, `labour-notice:<day>:<org>:<address>`). A hub process claims a row
 *   with a lease before doing the work and marks it done after, so two hub processes or a restart do
 *   it once a day; a failed attempt keeps the row claimed until a later lease (retried, counted).
 * - `labour_lists`: the CV 2242 list of each organisation as the scheduler last made it (XLSX), kept
 *   for download in the console; one per organisation, replaced by the next day's, since it holds ID
 *   numbers, phones and test results (Decree 13: no more copies than the law's purpose needs).
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE report_runs (
      run_key        TEXT    PRIMARY KEY,
      kind           TEXT    NOT NULL CHECK (kind IN ('summary', 'labour-list', 'labour-notice')),
      day            TEXT    NOT NULL,
      org_id         TEXT,
      address        TEXT,
      state          TEXT    NOT NULL CHECK (state IN ('claimed', 'done')),
      lease_until_ms INTEGER NOT NULL,
      attempts       INTEGER NOT NULL CHECK (attempts >= 0),
      last_error     TEXT,
      done_ms        INTEGER
    ) STRICT;
    CREATE INDEX report_runs_day ON report_runs (day);

    CREATE TABLE labour_lists (
      org_id  TEXT    PRIMARY KEY,
      day     TEXT    NOT NULL,
      made_ms INTEGER NOT NULL,
      workers INTEGER NOT NULL CHECK (workers >= 0),
      body    BLOB    NOT NULL
    ) STRICT;
  `);
}
