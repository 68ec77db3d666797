import type { Database } from 'better-sqlite3';

/**
 * The HC1 trust list the hub sent (issue 14 part G): the signed document exactly as received (a
 * COSE_Sign1 over { format, version, document }, see src-main/core/dcc/trust-holder.ts), one row,
 * so a restart verifies it again offline and uses it. Only a newer version replaces it.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE dcc_trust (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      version INTEGER NOT NULL CHECK (version >= 1),
      signed BLOB NOT NULL,
      received_ms INTEGER NOT NULL
    ) STRICT;
  `);
}
