import type { Database } from 'better-sqlite3';
import type { DccTrustStorage } from './trust-holder.js';

/** The kiosk store's dcc_trust table (migration 0023): the signed list as received, one row. */
export class SqliteDccTrustStorage implements DccTrustStorage {
  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {}

  load(): { version: number; signed: Uint8Array } | null {
    const row = this.db.prepare('SELECT version, signed FROM dcc_trust WHERE id = 1').get() as { version: number; signed: Buffer } | undefined;
    return row ? { version: row.version, signed: new Uint8Array(row.signed) } : null;
  }

  save(version: number, signed: Uint8Array): void {
    this.db
      .prepare(
        `INSERT INTO dcc_trust (id, version, signed, received_ms) VALUES (1, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET version = excluded.version, signed = excluded.signed, received_ms = excluded.received_ms`,
      )
      .run(version, Buffer.from(signed), this.now());
  }
}
