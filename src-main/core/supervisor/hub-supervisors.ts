import { randomBytes } from 'node:crypto';
import type { DataChange, HubSupervisor } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { applyChangeSet } from '../store/change-set.js';
import { pepperLegacyPinHash } from './pin.js';

/**
 * The supervisors the hub sends this kiosk (the `supervisors` stream: its site's), kept in the same
 * table as the kiosk's own with origin 'hub', so the supervisor desk signs them in the same way (PIN,
 * lockout, sessions). Their PIN hash is peppered with this kiosk's pepper as it is stored. A removal
 * at the hub removes them here (their open session ends: their session key is gone); a kiosk's own
 * supervisor is never touched, and a hub record whose id a local supervisor holds is skipped.
 */
export class HubSupervisors {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly pinPepper: Buffer,
  ) {}

  applyChanges(kind: 'snapshot' | 'delta', changes: Iterable<DataChange<HubSupervisor>>, nowMs = Date.now()): number {
    const held = this.db.prepare('SELECT origin, name, hash FROM supervisors WHERE id = ?');
    const insert = this.db.prepare("INSERT INTO supervisors (id, name, hash, created_ms, session_key, origin) VALUES (?, ?, ?, ?, ?, 'hub')");
    // A new PIN ends the open session (a new session key) and clears the lockout, as `supervisor set-pin` does.
    const update = this.db.prepare("UPDATE supervisors SET name = ?, hash = ?, session_key = ?, failed = 0, lockouts = 0, locked_until = NULL WHERE id = ? AND origin = 'hub'");
    const rename = this.db.prepare("UPDATE supervisors SET name = ? WHERE id = ? AND origin = 'hub'");
    const remove = this.db.prepare("DELETE FROM supervisors WHERE id = ? AND origin = 'hub'");
    const audit = this.db.prepare('INSERT INTO supervisor_audit (at_ms, action, detail, supervisor_id) VALUES (?, ?, ?, ?)');
    const gone = (id: string) => {
      if (remove.run(id).changes) audit.run(nowMs, 'supervisor-removed', 'by the hub', id);
    };
    return applyChangeSet(this.db, kind, changes, {
      clear: () => {
        for (const { id } of this.db.prepare("SELECT id FROM supervisors WHERE origin = 'hub'").all() as { id: string }[]) gone(id);
      },
      remove: gone,
      put: (id, s) => {
        const row = held.get(id) as { origin: string; name: string; hash: string } | undefined;
        const hash = pepperLegacyPinHash(s.pinHash, this.pinPepper);
        if (!row) {
          insert.run(id, s.name, hash, nowMs, randomBytes(16).toString('hex'));
          audit.run(nowMs, 'supervisor-added', `${s.name} (by the hub)`, id);
        } else if (row.origin !== 'hub') return;
        else if (row.hash !== hash) update.run(s.name, hash, randomBytes(16).toString('hex'), id);
        else if (row.name !== s.name) rename.run(s.name, id);
      },
    });
  }
}
