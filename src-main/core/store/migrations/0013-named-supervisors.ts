import type { Database } from 'better-sqlite3';

/**
 * Named supervisors: each has an id, a display name and a PIN of their own (its scrypt hash, peppered
 * as before), with a lockout per supervisor that grows with repeated lockouts (`lockouts` in a row),
 * kept across restarts. The single kiosk PIN of before becomes the supervisor `supervisor`, so an
 * upgraded kiosk still lets its supervisor in (with the lockout it had). From now on audit rows and
 * overrides record who did them; an override also records its reason code, and the supervisor's
 * name at the time (the account may be removed later, the record stays readable).
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE supervisors (
      id            TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 32),
      name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
      hash          TEXT    NOT NULL,
      created_ms    INTEGER NOT NULL,
      last_login_ms INTEGER,
      failed        INTEGER NOT NULL DEFAULT 0,
      lockouts      INTEGER NOT NULL DEFAULT 0,
      locked_until  INTEGER
    ) STRICT;
    INSERT INTO supervisors (id, name, hash, created_ms, failed, locked_until)
      SELECT 'supervisor', 'supervisor', p.hash, p.set_at, l.failed, l.locked_until
      FROM supervisor_pin p, supervisor_lockout l;
    DROP TABLE supervisor_pin;
    DROP TABLE supervisor_lockout;
    ALTER TABLE supervisor_audit ADD COLUMN supervisor_id TEXT;
    ALTER TABLE overrides ADD COLUMN supervisor_id TEXT;
    ALTER TABLE overrides ADD COLUMN supervisor_name TEXT;
    ALTER TABLE overrides ADD COLUMN reason_code TEXT NOT NULL DEFAULT 'other';
    CREATE INDEX overrides_allowed ON overrides (allowed_seq);
  `);
}
