import type { Statement } from 'better-sqlite3';
import { KEY_ROLES, isKeyRole } from '../../../base/common/key-roles.js';
import { parsePolicy, type Policy } from '../../../base/common/policy/policy.js';
import type { DataChange, HubKeyRecord, PolicyDocument, Revocation } from '../../../base/common/types.js';
import { publicKeyWithId, type HubKeyring } from '../../../base/node/keys.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { applyChangeSet } from './change-set.js';

const DAY_MS = 86_400_000;

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
    applyChangeSet(this.db, kind, changes, {
      clear: () => this.db.prepare('DELETE FROM revoked_passes').run(),
      put: (_key, r) => put.run(r.passId, r.revokedAtMs),
      remove: (key) => del.run(key),
    });
  }
}

/**
 * The policy the hub sent. The stream decides which document is current (its transfers are signed,
 * ordered and replay-checked), so the latest transfer's document replaces the held one even if it
 * carries a lower version: a document that once claimed a huge version cannot freeze the policy.
 */
export class DownloadedPolicy {
  constructor(private readonly db: SqliteDatabase) {}

  current(): Policy | undefined {
    const row = this.db.prepare('SELECT document FROM downloaded_policy WHERE id = 1').get() as { document: string } | undefined;
    return row ? parsePolicy(JSON.parse(row.document), 'downloaded policy') : undefined;
  }

  applyChanges(kind: 'snapshot' | 'delta', changes: Iterable<DataChange<PolicyDocument>>): void {
    const put = this.db.prepare(
      'INSERT INTO downloaded_policy (id, version, document) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, document = excluded.document',
    );
    applyChangeSet(this.db, kind, changes, {
      // The hub replaces policies; it never leaves a kiosk without one, so neither a snapshot nor a removal empties it.
      clear: () => undefined,
      remove: () => undefined,
      put: (_key, p) => put.run(parsePolicy(p.document, 'policy from the hub').version, JSON.stringify(p.document)),
    });
  }
}

/** A key from the keys stream with the installed downlink key that vouched for it (signed its part). */
export type DownloadedKeyRecord = HubKeyRecord & { anchorKid: string };

const DOWNLOADED = 'hub (downloaded)';

/**
 * Hub signing keys received over the downlink, merged into the kiosk's keyring. They never outrank
 * or outlive the keys IT staff installed (hub.keysDir): only an installed downlink key may sign the
 * keys stream; each downloaded key is trusted only while the installed key that vouched for it is,
 * and for at most its role's delivered lifetime; only keys that came this way can be retired this
 * way, so one stolen key cannot lock a kiosk out of its hub.
 */
export class DownloadedKeys {
  constructor(private readonly db: SqliteDatabase) {}

  /** Adds every stored key to the keyring (at start-up); the keyring checks anchors and lifetimes on use. */
  loadInto(ring: HubKeyring): void {
    const rows = this.db.prepare('SELECT kid, role, public_pem, anchor_kid, not_after FROM hub_keys').all() as {
      kid: string;
      role: string;
      public_pem: string;
      anchor_kid: string;
      not_after: number;
    }[];
    for (const r of rows) {
      if (!isKeyRole(r.role)) continue;
      try {
        ring.add(publicKeyWithId(r.public_pem, r.kid), { role: r.role, origin: 'downloaded', anchorKid: r.anchor_kid, notAfterMs: r.not_after, source: DOWNLOADED });
      } catch {
        // A key that now conflicts with an installed one (same key, other role) stays untrusted.
      }
    }
  }

  applyChanges(kind: 'snapshot' | 'delta', changes: Iterable<DataChange<DownloadedKeyRecord>>, ring: HubKeyring, nowMs = Date.now()): void {
    const put = this.db.prepare(
      `INSERT INTO hub_keys (kid, role, public_pem, anchor_kid, not_after) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (kid) DO UPDATE SET role = excluded.role, public_pem = excluded.public_pem, anchor_kid = excluded.anchor_kid, not_after = excluded.not_after`,
    );
    const del = this.db.prepare('DELETE FROM hub_keys WHERE kid = ?');
    const forget = (kid: string) => {
      if (ring.lookup(kid)?.origin === 'downloaded') ring.remove(kid);
    };
    applyChangeSet(this.db, kind, changes, {
      clear: () => {
        for (const r of this.db.prepare('SELECT kid FROM hub_keys').all() as { kid: string }[]) forget(r.kid);
        this.db.prepare('DELETE FROM hub_keys').run();
      },
      remove: (kid) => {
        if (del.run(kid).changes) forget(kid);
      },
      put: (_key, k) => {
        const lifetimeEnd = nowMs + KEY_ROLES[k.role].maxDeliveredLifetimeDays * DAY_MS;
        const notAfter = Math.min(k.notAfterMs ?? lifetimeEnd, lifetimeEnd);
        const installed = ring.lookup(k.kid)?.origin === 'installed';
        put.run(k.kid, k.role, k.publicPem, k.anchorKid, notAfter);
        if (!installed) {
          forget(k.kid);
          ring.add(publicKeyWithId(k.publicPem, k.kid), { role: k.role, origin: 'downloaded', anchorKid: k.anchorKid, notAfterMs: notAfter, source: DOWNLOADED });
        }
      },
    });
  }
}
