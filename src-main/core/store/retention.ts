import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DECLARATION_ANSWERS_KEPT_MS } from '../../../base/common/declaration.js';
import type { EventLog } from './event-log.js';
import type { Notices } from './notices.js';

const DAY_MS = 86_400_000;

export interface RetentionDeps {
  events: EventLog;
  notices: Notices;
  /** The audit trail, and exports still waiting to be sent to the hub, go with the events. */
  supervisor: { purgeAuditBefore(ms: number): number; purgeHubOutboxBefore?(ms: number): number };
  retentionDays: number;
  /** Registered visitors (issue 14) go with the events. */
  visitors?: { purgeBefore(ms: number): number };
  /** Without a hub nothing will ever sync: events older than the retention go whether synced or not. */
  syncs: boolean;
  /** Exported files (the supervisor's CSV/XLSX): they are for taking away, not for keeping here. */
  exportsDir?: string;
  exportsKeepMs?: number;
  log: Logger;
  now?: () => number;
  everyMs?: number;
}

/**
 * Personal data is kept only as long as it is needed (Decree 13/2023): events older than the
 * retention (once the hub has them; on a kiosk without a hub, regardless), the answers of
 * declarations after 14 days (the events stay), the supervisor audit trail with them, expired notices, and exported files after a day. Hourly, and at start.
 * `start()`/`stop()`; the constructor only stores its dependencies.
 */
export class Retention {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RetentionDeps) {}

  start(): void {
    this.purge();
    this.timer = setInterval(() => this.purge(), this.deps.everyMs ?? 3_600_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  purge(): { events: number; notices: number; audit: number; exports: number; declarationAnswers: number } {
    const { events, notices, supervisor, retentionDays, syncs, log } = this.deps;
    const now = this.deps.now?.() ?? Date.now();
    const cutoff = now - retentionDays * DAY_MS;
    const done = { events: 0, notices: 0, audit: 0, exports: 0, declarationAnswers: 0 };
    try {
      done.events = events.purgeBefore(cutoff, { unsyncedToo: !syncs });
      // Health answers go sooner than the events that carry them (14 days); the events stay.
      done.declarationAnswers = events.clearDeclarationBitsBefore(now - DECLARATION_ANSWERS_KEPT_MS, { unsyncedToo: !syncs });
      done.notices = notices.purgeExpired(now);
      done.audit = supervisor.purgeAuditBefore(cutoff);
      done.events += this.deps.visitors?.purgeBefore(cutoff) ?? 0;
      done.exports = this.purgeExports(now - (this.deps.exportsKeepMs ?? DAY_MS)) + (supervisor.purgeHubOutboxBefore?.(cutoff) ?? 0);
      if (done.events || done.notices || done.exports || done.declarationAnswers) log.info(done, 'old events, expired notices, old exports and old declaration answers purged');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'purge failed; will retry');
    }
    return done;
  }

  private purgeExports(beforeMs: number): number {
    const dir = this.deps.exportsDir;
    if (!dir) return 0;
    let n = 0;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      const file = join(dir, name);
      try {
        if (statSync(file).mtimeMs < beforeMs) {
          rmSync(file, { force: true });
          n++;
        }
      } catch {
        // Gone meanwhile.
      }
    }
    return n;
  }
}
