import type { Database } from 'better-sqlite3';

/**
 * The HC1 signers the hub sent (issue 14 part G2, the `dcc` downlink stream): one row per signer
 * certificate, by its kid, as the downlink applies it (the part was verified with a hub downlink key
 * and every certificate checked as X.509 on arrival), so the kiosk checks certificates offline and
 * after a restart.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE dcc_signers (
      kid TEXT PRIMARY KEY,
      country TEXT,
      der BLOB NOT NULL
    ) STRICT;
  `);
}
