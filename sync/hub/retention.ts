import type { Logger } from 'pino';
import { DECLARATION_ANSWERS_KEPT_MS } from '../../base/common/declaration.js';
import type { HubStore } from './store.js';
import type { PassRegistry } from './passes.js';
import type { HubExports } from './exports.js';
import type { Declarations } from './declarations.js';
import type { Visits } from './visits.js';
import type { SavedTraces } from './traces.js';
import type { AlertBook } from './notify/alert-book.js';

const DAY_MS = 86_400_000;

/**
 * The hub keeps personal data only as long as the province's retention says (Decree 13/2023):
 * events, alerts and heartbeats older than `retentionDays` are purged at start and hourly (the answer
 * bits of kiosk declarations after 14 days, keeping the events), and so
 * are the pass registry's passes that expired longer ago than that (when given). A failed
 * purge is logged and tried again at the next turn. `start()`/`stop()`, like the kiosk's Retention.
 */
export class HubRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: { store: Pick<HubStore, 'purgeBefore'> & Partial<Pick<HubStore, 'clearDeclarationBitsBefore'>>; passes?: Pick<PassRegistry, 'purgeExpired'>; exports?: Pick<HubExports, 'purgeBefore'>; declarations?: Pick<Declarations, 'purge'>; visits?: Pick<Visits, 'purge'>; traces?: Pick<SavedTraces, 'purgeBefore'>; alerts?: Pick<AlertBook, 'purgeBefore'>; retentionDays: number; log: Logger; everyMs?: number; now?: () => number },
  ) {}

  /** Purges once (resolves when done), then every hour. */
  async start(): Promise<void> {
    await this.purge();
    this.timer = setInterval(() => void this.purge(), this.deps.everyMs ?? 3_600_000);
    this.timer.unref();
  }

  /** Stops the timer and waits for a purge under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  purge(): Promise<void> {
    const { store, retentionDays, log } = this.deps;
    const now = this.deps.now?.() ?? Date.now();
    this.running = this.running.then(async () => {
      try {
        const done = await store.purgeBefore(now - retentionDays * DAY_MS);
        if (done.events || done.alerts || done.heartbeats) log.info(done, 'hub store purged by its retention');
        // Kiosk declarations' answer bits go after 14 days; the events stay for retentionDays.
        const answers = await store.clearDeclarationBitsBefore?.(now - DECLARATION_ANSWERS_KEPT_MS);
        if (answers) log.info({ declarationAnswers: answers }, 'answers of kiosk declarations older than 14 days erased from the hub store');
        const expired = await this.deps.passes?.purgeExpired(now - retentionDays * DAY_MS);
        if (expired?.passes) log.info(expired, 'expired passes purged from the pass registry by its retention');
        const exports = await this.deps.exports?.purgeBefore(now - retentionDays * DAY_MS);
        if (exports?.exports) log.info(exports, 'kiosk exports purged by the retention');
        // Health declarations: their answers after 14 days, the rest after retentionDays (counts only in the log).
        const declarations = await this.deps.declarations?.purge(retentionDays);
        if (declarations?.answers || declarations?.declarations) log.info(declarations, 'phone declarations purged by the retention');
        const visits = await this.deps.visits?.purge(retentionDays);
        if (visits) log.info({ visits }, 'checkpoint visits purged by the retention');
        const traces = await this.deps.traces?.purgeBefore(now - retentionDays * DAY_MS);
        if (traces?.traces) log.info(traces, 'saved traces purged by the retention');
        // The alert book names no one, but follows the store's alerts; an alert still undelivered stays.
        const book = await this.deps.alerts?.purgeBefore(now - retentionDays * DAY_MS);
        if (book?.alerts) log.info(book, 'alert book purged by the retention');
      } catch (err) {
        log.error({ err: (err as Error).message }, 'purge failed; will retry');
      }
    });
    return this.running;
  }
}
