import type { Logger } from 'pino';
import type { DataChange, DccSignerRecord } from '../../../base/common/types.js';
import { DccTrustError, signerFromDer, type DccSigner, type TrustList } from '../../../base/node/dcc/index.js';
import { applyChangeSet } from '../store/change-set.js';
import type { SqliteDatabase } from '../store/database.js';

/**
 * The HC1 signers this kiosk holds (issue 14 part G2): what the hub's `dcc` downlink stream brought,
 * kept in the store's dcc_signers table (migration 0023). The downlink verified each part with a hub
 * downlink key and each certificate as X.509 before the applier runs, so the rows are trusted here
 * like the roster. The constructor only stores its dependencies.
 */
export class DccSigners {
  /** The list built from the table; undefined: to be built again (after an apply). */
  private cached: TrustList | null | undefined;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly log?: Logger,
  ) {}

  /**
   * Applies a transfer: a snapshot replaces every signer, a delta adds, replaces and removes. Runs
   * inside the downlink's transaction (with its cursor), so it opens none of its own.
   */
  applyChanges(kind: 'snapshot' | 'delta', changes: Iterable<DataChange<DccSignerRecord>>): number {
    const put = this.db.prepare('INSERT INTO dcc_signers (kid, country, der) VALUES (?, ?, ?) ON CONFLICT (kid) DO UPDATE SET country = excluded.country, der = excluded.der');
    const remove = this.db.prepare('DELETE FROM dcc_signers WHERE kid = ?');
    const n = applyChangeSet(this.db, kind, changes, {
      clear: () => this.db.prepare('DELETE FROM dcc_signers').run(),
      put: (kid, s) => put.run(kid, s.country ?? null, Buffer.from(s.certificate, 'base64')),
      remove: (kid) => remove.run(kid),
    });
    // Built again on the next read, from what the transaction leaves (committed or rolled back).
    this.cached = undefined;
    this.log?.info({ kind, changes: n, signers: this.count() }, 'HC1 signers applied');
    return n;
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM dcc_signers').get() as { n: number }).n;
  }

  /** The trust list in force: every signer held, or null when there is none. */
  list(): TrustList | null {
    if (this.cached === undefined) this.cached = this.build();
    return this.cached;
  }

  private build(): TrustList | null {
    const rows = this.db.prepare('SELECT kid, country, der FROM dcc_signers ORDER BY kid').all() as { kid: string; country: string | null; der: Buffer }[];
    const signers: DccSigner[] = [];
    for (const r of rows) {
      try {
        signers.push(signerFromDer(new Uint8Array(r.der), `signer ${r.kid}`, { kid: r.kid, ...(r.country !== null ? { country: r.country } : {}) }));
      } catch (err) {
        // Checked on arrival, so only a damaged store gets here: that signer is not used, the others are.
        this.log?.warn({ kid: r.kid, reason: err instanceof DccTrustError ? err.message : 'unreadable' }, 'a stored HC1 signer is not used');
      }
    }
    return signers.length > 0 ? { signers } : null;
  }
}
