import { dayKeyIn, timeOfDayIn } from '../../../base/common/time.js';
import { TEST_RESULTS_DEADLINE, type ListCompliance } from '../directory.js';
import type { AlertBook, HubAlertKind, RaisedAlert } from './alert-book.js';

/**
 * The hub's own alerts, checked every minute in `safegate hub run` (`check(nowMs)` for tests):
 * - `kiosk-silent` (category device): a kiosk assigned to a site (`safegate hub device assign`) not
 *   heard from (heartbeat or batch) for longer than `silentKioskMs`: one alert per silence, keyed by
 *   when it was last heard (`hub:kiosk-silent:<device>:<last seen ms>`), so it is raised again only
 *   after the kiosk was heard and fell silent again. A kiosk the hub never heard from is not
 *   watched (it may not be installed yet). Organisation none, site the kiosk's. Heartbeats are not
 *   queued while the hub cannot hear them (QoS 0), so silence counts from the later of the last
 *   heard and when this process could hear again: the watch's start and the hub's broker link
 *   coming up (`linkUpSinceMs`); while the link is down the rule is skipped. After a hub or broker
 *   outage a kiosk is silent only when it stays unheard a further `silentKioskMs`.
 * - `list-stale` (compliance): an organisation whose list is older than 3 days (or that never sent
 *   one), by the directory's list compliance: one per organisation and day (province zone).
 * - `tests-missing` (compliance): no list with test results by 15:00 today (province zone): one per
 *   organisation and day, raised after the deadline. A list that came after 15:00 does not cancel
 *   it (a hub that checks only after the late list, having been down at 15:00, still raises it).
 *   The rule is the organisation's list (which carries the workers' test dates and results) coming
 *   in today before 15:00, not each worker's test date: those live in the roster records' JSON, and
 *   reading every worker's each minute is not worth it; a list re-sent with stale test dates counts.
 * Every hub process may run it: the dedup keys make a second raise of the same alert harmless.
 */

export interface HubWatchSources {
  /** Every site with its assigned devices (the directory's site map). */
  sites(): Promise<Map<string, string[]>>;
  /** When the hub last heard from each device (the store). */
  lastSeen(deviceIds: readonly string[]): Promise<Map<string, number>>;
  /** Every organisation's list age and today's list (the directory). */
  listCompliance(nowMs: number, zone: string): Promise<ListCompliance[]>;
}

export interface HubWatchOptions {
  book: AlertBook;
  sources: HubWatchSources;
  zone: string;
  silentKioskMs: number;
  /**
   * Since when the hub's broker link has been up (epoch ms), undefined while it is down (Hub
   * `linkUpSinceMs`). Without it the link is taken as up since the watch started.
   */
  linkUpSinceMs?: () => number | undefined;
  /** The watch hears nothing from before this (epoch ms); `start()` sets it to its own time when unset. */
  watchingSinceMs?: number;
  everyMs?: number;
  now?: () => number;
  log?: { warn(obj: object, msg: string): void };
}

export class HubWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  private watchingSinceMs: number | undefined;
  private linkUpSinceMs: (() => number | undefined) | undefined;

  constructor(private readonly o: HubWatchOptions) {
    this.watchingSinceMs = o.watchingSinceMs;
    this.linkUpSinceMs = o.linkUpSinceMs;
  }

  /** The hub's link state, when the hub is made after the watch (`safegate hub run`). */
  setLink(linkUpSinceMs: () => number | undefined): void {
    this.linkUpSinceMs = linkUpSinceMs;
  }

  start(): void {
    if (this.timer) return;
    this.watchingSinceMs ??= (this.o.now ?? Date.now)();
    const tick = () => {
      this.running ??= this.check((this.o.now ?? Date.now)())
        .catch((err: unknown) => this.o.log?.warn({ err: (err as Error).message }, 'hub alert watch failed; trying again next minute'))
        .finally(() => (this.running = undefined));
    };
    this.timer = setInterval(tick, this.o.everyMs ?? 60_000);
    this.timer.unref?.();
    tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Raises what is due at `nowMs`; the alerts it raised anew. */
  async check(nowMs: number): Promise<{ alertId: string; kind: HubAlertKind; subject: string }[]> {
    const raised: { alertId: string; kind: HubAlertKind; subject: string }[] = [];
    const raise = async (kind: HubAlertKind, subject: string, period: string, a: Omit<RaisedAlert, 'dedupKey' | 'source' | 'kind' | 'checkpointId' | 'seq'> & { checkpointId?: string | null }) => {
      const r = await this.o.book.raise({ dedupKey: `hub:${kind}:${subject}:${period}`, source: 'hub', kind, checkpointId: null, seq: null, ...a }, nowMs);
      if (r.isNew) raised.push({ alertId: r.alertId, kind, subject });
    };

    // While the hub cannot hear kiosks, their silence says nothing.
    const linkUp = this.linkUpSinceMs ? this.linkUpSinceMs() : (this.watchingSinceMs ?? Number.NEGATIVE_INFINITY);
    if (linkUp !== undefined) {
      const hearingSince = Math.max(linkUp, this.watchingSinceMs ?? Number.NEGATIVE_INFINITY);
      const sites = await this.o.sources.sites();
      const siteOf = new Map<string, string>();
      for (const [siteId, devices] of sites) for (const d of devices) siteOf.set(d, siteId);
      const seen = await this.o.sources.lastSeen([...siteOf.keys()]);
      for (const [deviceId, siteId] of siteOf) {
        const last = seen.get(deviceId);
        if (last === undefined) continue;
        const from = Math.max(last, hearingSince);
        if (nowMs - from <= this.o.silentKioskMs) continue;
        // One alert per episode: keyed by when it was last heard.
        await raise('kiosk-silent', deviceId, String(last), { category: 'device', orgId: null, siteId, deviceId, atMs: from + this.o.silentKioskMs });
      }
    }

    const day = dayKeyIn(nowMs, this.o.zone);
    for (const c of await this.o.sources.listCompliance(nowMs, this.o.zone)) {
      if (c.outOfCompliance) await raise('list-stale', c.orgId, day, { category: 'compliance', orgId: c.orgId, siteId: null, deviceId: null, atMs: nowMs });
      // When it happened: the deadline passed.
      if (c.todaysList === 'missing' || c.todaysList === 'late') await raise('tests-missing', c.orgId, day, { category: 'compliance', orgId: c.orgId, siteId: null, deviceId: null, atMs: timeOfDayIn(nowMs, TEST_RESULTS_DEADLINE, this.o.zone) });
    }
    return raised;
  }
}
