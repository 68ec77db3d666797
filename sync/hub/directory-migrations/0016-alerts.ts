import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Alerts that reach people (sync/hub/notify/alert-book.ts): who is told (`alert_recipients`), every
 * alert the hub has to tell (`hub_alert_book`: a kiosk's, whose worker and reasons stay in the event
 * store's hub_alerts row it points at, or the hub's own: a silent kiosk, a stale list, missing tests),
 * and one delivery per alert and recipient (`alert_deliveries`), retried until the receiver accepts it.
 * `change_seq` orders every change of an alert (raised, acknowledged, a delivery's state) for the
 * console's live push: writers are serialised, so the next value is the largest plus one.
 * Nothing here names a worker: e-mails and webhooks are made from these rows only.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE alert_recipients (
      recipient_id TEXT    PRIMARY KEY,
      org_id       TEXT,
      site_id      TEXT,
      channel      TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
      address      TEXT    NOT NULL,
      secret       TEXT,
      categories   TEXT,
      created_ms   INTEGER NOT NULL,
      disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
      removed_ms   INTEGER
    ) STRICT;
    CREATE INDEX alert_recipients_org ON alert_recipients (org_id);

    CREATE TABLE hub_alert_book (
      alert_id        TEXT    PRIMARY KEY,
      dedup_key       TEXT    NOT NULL UNIQUE,
      source          TEXT    NOT NULL CHECK (source IN ('kiosk', 'hub')),
      kind            TEXT    NOT NULL,
      category        TEXT    NOT NULL CHECK (category IN ('health', 'override', 'gate', 'device', 'compliance')),
      org_id          TEXT,
      site_id         TEXT,
      checkpoint_id   TEXT,
      device_id       TEXT,
      seq             INTEGER,
      at_ms           INTEGER NOT NULL,
      raised_ms       INTEGER NOT NULL,
      acknowledged_by TEXT,
      acknowledged_ms INTEGER,
      change_seq      INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX hub_alert_book_raised ON hub_alert_book (raised_ms);
    CREATE INDEX hub_alert_book_org ON hub_alert_book (org_id, raised_ms);
    CREATE INDEX hub_alert_book_change ON hub_alert_book (change_seq);

    CREATE TABLE alert_deliveries (
      alert_id        TEXT    NOT NULL REFERENCES hub_alert_book (alert_id),
      recipient_id    TEXT    NOT NULL REFERENCES alert_recipients (recipient_id),
      channel         TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
      state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
      attempts        INTEGER NOT NULL DEFAULT 0,
      created_ms      INTEGER NOT NULL,
      next_attempt_ms INTEGER NOT NULL,
      lease_until_ms  INTEGER,
      last_error      TEXT,
      last_attempt_ms INTEGER,
      sent_ms         INTEGER,
      PRIMARY KEY (alert_id, recipient_id)
    ) STRICT;
    CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_ms);
    CREATE INDEX alert_deliveries_recipient ON alert_deliveries (recipient_id);
  `);
}
