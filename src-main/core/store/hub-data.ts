import type { Statement } from 'better-sqlite3';
import { parsePolicy, type Policy } from '../../../base/common/policy/policy.js';
import type { DataChange, HubKeyRecord, PolicyDocument, Revocation } from '../../../base/common/types.js';
import { publicKeyWithId, type HubKeyring } from '../../../base/node/keys.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/** Revoked passes from the hub; looked up on every pass scan (primary key). */
export class Revocations {
  private readonly has: Statement;

  constructor(private readonly db: SqliteDatabase) {
    this.has = db.prepare('SELECT 1 FROM revoked_passes WHERE pass_id = ?');
  }

  isRevoked(passId: string): boolean {
    return this.has.get(passId) !== undefined;
  }

  applyChanges(kind: 'snapshot' | 'delta', changes: Iterable<DataChange<Revocation>>): void {
    const put = this.db.prepare('INSERT INTO revoked_passes (pass_id, revoked_at) VALUES (?, ?) ON CONFLICT (pass_id) DO NOTHING');
    const del = this.db.prepare('DELETE FROM revoked_passes WHERE pass_id = ?');
    this.db.transaction(() => {
      if (kind === 'snapshot') this.db.prepare('DELETE FROM revoked_passes').run();
      for (const c of changes) {
        if (c.deleted) del.run(c.key);
        else put.run(c.value.passId, c.value.revokedAtMs);
      }
    })();
  }
}

/** The policy the hub sent; a document older than the one held is ignored. */
export class DownloadedPolicy {
  constructor(private readonly db: SqliteDatabase) {}

  current(): Policy | undefined {
    const row = this.db.prepare('SELECT document FROM downloaded_policy WHERE id = 1').get() as { document: string } | undefined;
    return row ? parsePolicy(JSON.parse(row.document), 'downloaded policy') : undefined;
  }

  applyChanges(_kind: 'snapshot' | 'delta', changes: Iterable<DataChange<PolicyDocument>>): void {
    for (const c of changes) {
      if (c.deleted) continue; // the hub replaces policies, it never leaves a kiosk without one
      const policy = parsePolicy(c.value.document, 'policy from the hub');
      const held = this.db.prepare('SELECT version FROM downloaded_policy WHERE id = 1').get() as { version: number } | undefined;
      if (held && held.version >= policy.version) continue;
      this.db
        .prepare('INSERT INTO downloaded_policy (id, version, document) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, document = excluded.document')
        .run(policy.version, JSON.stringify(c.value.document));
    }
  }
}

/**
 * Hub signing keys received over the downlink, merged into the kiosk's keyring. Only keys that came
 * this way can be retired this way: the keys IT staff installed (hub.keysDir) stay trusted until
 * they remove them, so one stolen key cannot lock a kiosk out of its hub.
 */
export class DownloadedKeys {
  constructor(private readonly db: SqliteDatabase) {}

  /** Adds every stored key to the keyring (at start-up). */
  loadInto(ring: HubKeyring): void {
    for (const r of this.db.prepare('SELECT kid, public_pem FROM hub_keys').all() as { kid: string; public_pem: string }[]) {
      ring.add(publicKeyWithId(r.public_pem, r.kid), 'hub (downloaded)');
    }
  }

  applyChanges(kind: 'snapshot' | 'delta', changes: Iterable<DataChange<HubKeyRecord>>, ring: HubKeyring): void {
    const put = this.db.prepare('INSERT INTO hub_keys (kid, public_pem) VALUES (?, ?) ON CONFLICT (kid) DO UPDATE SET public_pem = excluded.public_pem');
    const del = this.db.prepare('DELETE FROM hub_keys WHERE kid = ?');
    this.db.transaction(() => {
      if (kind === 'snapshot') {
        for (const r of this.db.prepare('SELECT kid FROM hub_keys').all() as { kid: string }[]) {
          if (ring.get(r.kid)?.source === 'hub (downloaded)') ring.remove(r.kid);
        }
        this.db.prepare('DELETE FROM hub_keys').run();
      }
      for (const c of changes) {
        if (c.deleted) {
          if (del.run(c.key).changes && ring.get(c.key)?.source === 'hub (downloaded)') ring.remove(c.key);
        } else {
          put.run(c.value.kid, c.value.publicPem);
          if (!ring.get(c.value.kid)) ring.add(publicKeyWithId(c.value.publicPem, c.value.kid), 'hub (downloaded)');
        }
      }
    })();
  }
}
