import type { HubDirectory } from '../directory.js';
import type { LoadedHubSettings } from '../settings.js';
import type { HubStore } from '../store.js';
import { AlertBook } from './alert-book.js';
import { Dispatcher } from './dispatcher.js';
import { HubWatch } from './hub-watch.js';
import { createMailer, smtpOptionsOf, type Mailer } from './mailer.js';

/**
 * Alerts in `safegate hub run`, composed from the hub settings' `alerts`: the book on the directory's
 * database, the mailer (also for the reports' e-mail), the dispatcher sending deliveries, and the
 * watch raising the hub's own alerts. `start` after the hub is up; `stop` before the directory closes.
 */
export interface AlertService {
  book: AlertBook;
  mailer: Mailer;
  dispatcher: Dispatcher;
  watch: HubWatch;
  /** `linkUpSinceMs`: the hub's broker link (Hub `linkUpSinceMs`), so a kiosk's silence counts only while the hub can hear it. */
  start(options?: { linkUpSinceMs?: () => number | undefined }): void;
  stop(): Promise<void>;
}

type Log = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };

export function alertSettingsOf(loaded: Pick<LoadedHubSettings, 'settings' | 'smtpPasswordPath'>) {
  const a = loaded.settings.alerts;
  return {
    smtp: smtpOptionsOf(loaded.settings, loaded.smtpPasswordPath),
    from: a.from,
    consoleUrl: a.consoleUrl,
    zone: loaded.settings.time.zone,
    retryFirstMs: Math.round(a.retryFirstSeconds * 1_000),
    retryMaxMs: Math.round(a.retryMaxSeconds * 1_000),
    webhookTimeoutMs: a.webhookTimeoutSeconds * 1_000,
    undeliveredAfterAttempts: a.undeliveredAfterAttempts,
    undeliveredAfterMs: a.undeliveredAfterMinutes * 60_000,
    silentKioskMs: a.silentKioskMinutes * 60_000,
  };
}

export function openAlertService(options: { loaded: Pick<LoadedHubSettings, 'settings' | 'smtpPasswordPath'>; directory: HubDirectory; store: Pick<HubStore, 'lastSeen'>; log: Log }): AlertService {
  const s = alertSettingsOf(options.loaded);
  const { directory, store, log } = options;
  const book = new AlertBook({ sql: directory.sql, undeliveredAfterAttempts: s.undeliveredAfterAttempts, undeliveredAfterMs: s.undeliveredAfterMs });
  const mailer = createMailer(s.smtp, s.from);
  if (!mailer.configured) log.warn({}, 'no alerts.smtp in the hub settings: e-mail deliveries wait (recorded as failed) until it is set');
  const dispatcher = new Dispatcher({ book, mailer, consoleUrl: s.consoleUrl, zone: s.zone, retryFirstMs: s.retryFirstMs, retryMaxMs: s.retryMaxMs, webhookTimeoutMs: s.webhookTimeoutMs, log });
  const watch = new HubWatch({
    book,
    zone: s.zone,
    silentKioskMs: s.silentKioskMs,
    sources: { sites: () => directory.sites(), lastSeen: (ids) => store.lastSeen(ids), listCompliance: (now, zone) => directory.listCompliance(now, zone) },
    log,
  });
  return {
    book,
    mailer,
    dispatcher,
    watch,
    start(o = {}) {
      if (o.linkUpSinceMs) watch.setLink(o.linkUpSinceMs);
      dispatcher.start();
      watch.start();
    },
    async stop() {
      await watch.stop();
      await dispatcher.stop();
      mailer.close();
    },
  };
}
