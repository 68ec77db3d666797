import type { Statement } from 'better-sqlite3';
import { parsePolicy, type Policy } from '../policy/policy.js';
import type { DataChange, PolicyDocument, Revocation } from '../types.js';
import type { SqliteDatabase } from './database.js';

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
