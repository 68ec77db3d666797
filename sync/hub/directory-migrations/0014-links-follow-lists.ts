import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * A phone link is the organisation's to give only while the worker is on its list
 * (sync/hub/phone-links.ts). When a worker leaves an organisation's list, whatever path does it (an
 * upload without them, `hub roster remove`, a province-wide import with --replace, an erasure, their
 * row moving to another organisation), their open links of that organisation are retired in the
 * same transaction, `retired_why = 'left'` (a newer link for the same worker is `'replaced'`; links
 * retired before this migration have NULL, which reads as replaced). Open links whose worker has
 * already left the organisation's list are retired here too.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    ALTER TABLE phone_links ADD COLUMN retired_why TEXT CHECK (retired_why IN ('replaced', 'left'));

    UPDATE phone_links SET retired_ms = CAST(unixepoch('subsec') * 1000 AS INTEGER), retired_why = 'left'
      WHERE used_ms IS NULL AND retired_ms IS NULL
        AND NOT EXISTS (SELECT 1 FROM hub_workers w WHERE w.worker_id = phone_links.worker_id AND w.org_id = phone_links.org_id);

    CREATE TRIGGER workers_leaving_a_list_lose_their_links AFTER DELETE ON hub_workers
    BEGIN
      UPDATE phone_links SET retired_ms = CAST(unixepoch('subsec') * 1000 AS INTEGER), retired_why = 'left'
        WHERE worker_id = OLD.worker_id AND org_id = OLD.org_id AND used_ms IS NULL AND retired_ms IS NULL;
    END;

    CREATE TRIGGER workers_moving_lose_their_links AFTER UPDATE OF org_id ON hub_workers
    WHEN NEW.org_id IS NOT OLD.org_id
    BEGIN
      UPDATE phone_links SET retired_ms = CAST(unixepoch('subsec') * 1000 AS INTEGER), retired_why = 'left'
        WHERE worker_id = OLD.worker_id AND org_id = OLD.org_id AND used_ms IS NULL AND retired_ms IS NULL;
    END;

    CREATE TRIGGER removed_workers_lose_their_links AFTER UPDATE OF deleted ON records
    WHEN NEW.stream = 'roster' AND OLD.deleted = 0 AND NEW.deleted = 1
    BEGIN
      UPDATE phone_links SET retired_ms = CAST(unixepoch('subsec') * 1000 AS INTEGER), retired_why = 'left'
        WHERE worker_id = NEW.key AND used_ms IS NULL AND retired_ms IS NULL;
    END;
  `);
}
