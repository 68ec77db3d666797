import type { Database } from 'better-sqlite3';

/**
 * Supervisors made at the hub (`safegate hub supervisor add`, the `supervisors` downlink stream) sit
 * beside this kiosk's own (`safegate supervisor add`): `origin` says which. Only the downlink adds,
 * changes or removes a hub supervisor; their PIN hash is peppered on arrival like every other.
 */
export function up(db: Database): void {
  db.exec(`ALTER TABLE supervisors ADD COLUMN origin TEXT NOT NULL DEFAULT 'local' CHECK (origin IN ('local', 'hub'));`);
}
