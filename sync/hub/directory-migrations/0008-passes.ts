import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * The hub's pass registry: every pass the hub signs (sync/hub/passes.ts), whose worker and
 * organisation it is for, when it was issued, when it expires and when it was revoked. A phone-bound
 * pass keeps the phone's public key (SPKI DER); a printed pass keeps its QR text so that its sheet can
 * be printed again (cleared once the pass is revoked).
 *
 * Two triggers keep the registry and what kiosks download in step, in the same transaction whatever
 * path made the change:
 * - a pass that becomes revoked goes on the revocations stream (a record keyed by its pass id, at the
 *   stream's next revision), so kiosks refuse it;
 * - a worker who leaves the roster (an organisation's upload without them, `hub roster remove`, a
 *   province-wide import with --replace, an erasure) has every live pass revoked.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE passes (
      pass_id     TEXT    PRIMARY KEY CHECK (length(pass_id) = 16),
      worker_id   TEXT    NOT NULL,
      org_id      TEXT    NOT NULL REFERENCES organisations (org_id),
      kind        TEXT    NOT NULL CHECK (kind IN ('printed', 'phone')),
      issued_ms   INTEGER NOT NULL,
      expires_ms  INTEGER NOT NULL CHECK (expires_ms > issued_ms),
      revoked_ms  INTEGER,
      revoked_why TEXT    CHECK (revoked_why IN ('pass', 'worker', 'removed', 'rebound', 'erased')),
      holder_key  BLOB,
      code        TEXT,
      CHECK ((kind = 'phone') = (holder_key IS NOT NULL)),
      CHECK ((revoked_ms IS NULL) = (revoked_why IS NULL))
    ) STRICT;
    CREATE INDEX passes_worker ON passes (worker_id, issued_ms);
    CREATE INDEX passes_org ON passes (org_id, issued_ms);

    CREATE TRIGGER passes_revoked_are_published AFTER UPDATE OF revoked_ms ON passes
    WHEN OLD.revoked_ms IS NULL AND NEW.revoked_ms IS NOT NULL
    BEGIN
      INSERT INTO stream_revisions (stream, rev) VALUES ('revocations', 1)
        ON CONFLICT (stream) DO UPDATE SET rev = rev + 1;
      INSERT INTO records (stream, key, value, deleted, rev)
        VALUES ('revocations', NEW.pass_id, json_object('passId', NEW.pass_id, 'revokedAtMs', NEW.revoked_ms), 0,
                (SELECT rev FROM stream_revisions WHERE stream = 'revocations'))
        ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value, deleted = 0, rev = excluded.rev;
    END;

    CREATE TRIGGER removed_workers_lose_their_passes AFTER UPDATE OF deleted ON records
    WHEN NEW.stream = 'roster' AND OLD.deleted = 0 AND NEW.deleted = 1
    BEGIN
      UPDATE passes SET revoked_ms = CAST(unixepoch('subsec') * 1000 AS INTEGER), revoked_why = 'removed', code = NULL
        WHERE worker_id = NEW.key AND revoked_ms IS NULL AND expires_ms > CAST(unixepoch('subsec') * 1000 AS INTEGER);
    END;
  `);
}
