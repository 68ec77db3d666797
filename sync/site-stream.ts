import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { LinkExtension } from './uplink.js';
import {
  PROTOCOL_VERSION,
  PayloadError,
  parseSiteStream,
  topics,
  type LivePassage,
  type LiveRetraction,
  type SiteDeclaration,
  type SitePassage,
  type SiteRetraction,
} from './protocol.js';

/** Where the passages the stream brings are kept (the kiosk's store). */
export interface SitePassageSink {
  /** Records passages seen at the site's other kiosks; returns how many were news. */
  record(passages: readonly SitePassage[]): number;
  /** Takes back admits at the site's other kiosks that nobody went through; returns how many changed what is known. */
  retract(retractions: readonly SiteRetraction[]): number;
  /** Keeps workers' health declarations (time and flag) newer than their roster records hold; returns how many changed one. */
  declare?(declarations: readonly SiteDeclaration[]): number;
}

export interface SiteStreamOptions {
  deviceId: string;
  /** The site this kiosk belongs to (its settings); a stream for any other site is refused. */
  siteId: string;
  /** The stream counts as fresh while the hub was heard within this long. */
  freshMs: number;
  /** A monotonic clock in ms (freshness must not jump with the wall clock). */
  monotonicMs?: () => number;
  /** The wall clock passages are dated by (epoch ms). */
  wallMs?: () => number;
}

export interface SiteStreamEvents {
  /** Passages from the site's other kiosks were recorded (`news`: how many changed what is known). */
  passages: [passages: SitePassage[], news: number];
  /** Admits at the site's other kiosks were taken back (nobody went through). */
  retractions: [retractions: SiteRetraction[], news: number];
  /** Workers' health declarations arrived (`news`: how many changed a roster record). */
  declarations: [declarations: SiteDeclaration[], news: number];
}

/**
 * The kiosk's end of the live site stream (an extension of the uplink's MQTT link).
 *
 * Up: each allowed passage is published at once on the device's own `passages` topic, for the hub
 * to relay to the site. This is only the fast path for the other kiosks' anti-passback: the same
 * event still reaches the hub exactly once in an event batch, and a passage that cannot be published
 * now (link down) is not retried here (the hub relays it from the batch when that arrives).
 *
 * Down: the hub's messages on the device's own `site` topic (the broker lets only hub processes
 * publish there); a message for another site is refused. Every valid message, a beat included, makes
 * the stream fresh; it goes stale `freshMs` after the last one, and at once when the link drops.
 * A beat proves only that the hub is up: each message also names the site's devices the hub cannot
 * hear, and while another device is among them the stream is not current (what it records reaches
 * nobody now). The hub does not know which way a device's checkpoint faces, so any other silent
 * device counts. `currentSinceMs` says since when it has been current without a break: what the other
 * kiosks saw during a break (this kiosk or another offline, the hub down) is not relayed live, so it
 * cannot be known.
 *
 * The constructor only stores its dependencies.
 */
export class SiteStream extends EventEmitter<SiteStreamEvents> implements LinkExtension {
  readonly topics: string[];
  private publish: ((topic: string, payload: string) => void) | undefined;
  private lastHeardMono: number | null = null;
  /** Wall time the stream last became current after not being (it has been current since, if it is now). */
  private freshSinceMs = 0;
  /** The site's other devices the hub said it cannot hear, in its last message. */
  private othersOffline: string[] = [];
  private readonly monotonicMs: () => number;
  private readonly wallMs: () => number;

  constructor(
    private readonly options: SiteStreamOptions,
    private readonly sink: SitePassageSink,
    private readonly log: Logger,
  ) {
    super();
    this.topics = [topics.site(options.deviceId)];
    this.monotonicMs = options.monotonicMs ?? (() => performance.now());
    this.wallMs = options.wallMs ?? Date.now;
  }

  /** Heard from the hub within `freshMs`: passages at the site's other kiosks are known. */
  isFresh(): boolean {
    return this.lastHeardMono !== null && this.monotonicMs() - this.lastHeardMono <= this.options.freshMs;
  }

  /**
   * Wall time (epoch ms) since which the stream has been fresh without a break, or null while it is
   * stale: passages at the site's other kiosks are known from then on, not before.
   */
  currentSinceMs(): number | null {
    return this.isCurrent() ? this.freshSinceMs : null;
  }

  /** Fresh, and no other device of the site is offline as far as the hub can tell. */
  private isCurrent(): boolean {
    return this.isFresh() && this.othersOffline.length === 0;
  }

  /** The site's other devices the hub cannot hear now (its last message; empty while stale). */
  offlineDevices(): readonly string[] {
    return this.isFresh() ? this.othersOffline : [];
  }

  /** Milliseconds since the hub was last heard on the stream, or null if not on this connection. */
  heardAgoMs(): number | null {
    return this.lastHeardMono === null ? null : Math.max(0, this.monotonicMs() - this.lastHeardMono);
  }

  /** Reports an allowed passage to the site at once (fire and forget; see the class comment). */
  report(passage: Omit<LivePassage, 'v'>): void {
    const publish = this.publish;
    if (!publish) return;
    publish(topics.passages(this.options.deviceId), JSON.stringify({ v: PROTOCOL_VERSION, ...passage } satisfies LivePassage));
  }

  /**
   * Takes back a passage reported earlier: the passage sensor saw nobody go through (fire and forget
   * like `report`; if it is lost, the hub relays it from the batch).
   */
  retract(retraction: Omit<LiveRetraction, 'v' | 'kind'>): void {
    const publish = this.publish;
    if (!publish) return;
    publish(topics.passages(this.options.deviceId), JSON.stringify({ v: PROTOCOL_VERSION, kind: 'retraction', ...retraction } satisfies LiveRetraction));
  }

  onOnline(publish: (topic: string, payload: string) => void): void {
    this.publish = publish;
  }

  onOffline(): void {
    this.publish = undefined;
    // Nothing can arrive while the link is down: the stream is stale from now, not freshMs later.
    this.lastHeardMono = null;
    this.othersOffline = [];
  }

  onMessage(topic: string, payload: Buffer): void {
    if (topic !== this.topics[0]) return;
    let message;
    try {
      message = parseSiteStream(payload);
    } catch (err) {
      if (err instanceof PayloadError) {
        this.log.warn({ reason: err.message }, 'site stream message refused');
        return;
      }
      throw err;
    }
    if (message.site !== this.options.siteId) {
      // The hub's site map and this kiosk's settings disagree: someone must look, and nothing is taken.
      this.log.error({ site: message.site, ownSite: this.options.siteId, hub: message.hub }, "site stream for another site refused; check the hub's device assignment and checkpoint.site");
      return;
    }
    if (message.skipped.unknownKind || message.skipped.invalid) {
      this.log.warn({ ...message.skipped, hub: message.hub }, 'site stream items skipped (unknown kind or invalid)');
    }
    const wasCurrent = this.isCurrent();
    const wasOffline = this.othersOffline;
    this.othersOffline = message.offline.filter((d) => d !== this.options.deviceId);
    this.lastHeardMono = this.monotonicMs();
    if (this.isCurrent() && !wasCurrent) this.freshSinceMs = this.wallMs();
    if (this.othersOffline.join() !== wasOffline.join()) {
      this.log.info({ offline: this.othersOffline }, this.othersOffline.length ? "site devices the hub cannot hear: their exits are not known here" : 'the hub hears every site device again');
    }
    const own = this.options.deviceId;
    const passages = message.items.filter((i): i is SitePassage => i.kind === 'passage' && i.deviceId !== own);
    const retractions = message.items.filter((i): i is SiteRetraction => i.kind === 'retraction' && i.deviceId !== own);
    if (passages.length) {
      const news = this.sink.record(passages);
      this.log.debug({ passages: passages.length, news }, 'site passages received');
      this.emit('passages', passages, news);
    }
    if (retractions.length) {
      const news = this.sink.retract(retractions);
      this.log.debug({ retractions: retractions.length, news }, 'site retractions received');
      this.emit('retractions', retractions, news);
    }
    const declarations = message.items.filter((i): i is SiteDeclaration => i.kind === 'declaration');
    if (declarations.length && this.sink.declare) {
      const news = this.sink.declare(declarations);
      // Counts only: a declaration's flag is health data and never goes in a log.
      this.log.debug({ declarations: declarations.length, news }, 'health declarations received');
      this.emit('declarations', declarations, news);
    }
  }
}
