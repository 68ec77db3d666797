import type { Database } from 'better-sqlite3';

/**
 * A session key per supervisor: a random value set when the supervisor is added and each time their
 * PIN is set, wherever that happens (the kiosk, `safegate supervisor set-pin` in another process, a
 * remove and re-add under the same id). A sign-in session remembers the key it started under and ends
 * at its next request once the stored key differs. Existing rows get one at once.
 */
export function up(db: Database): void {
  db.exec(`
    ALTER TABLE supervisors ADD COLUMN session_key TEXT NOT NULL DEFAULT '';
    UPDATE supervisors SET session_key = lower(hex(randomblob(16)));
  `);
}
