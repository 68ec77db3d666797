import type { Logger } from 'pino';
import type { WireEvent } from '../batch-codec.js';
import { MAX_SITE_ITEMS, PROTOCOL_VERSION, topics, type LivePassage, type SitePassage, type SiteStreamMessage } from '../protocol.js';

/** Which devices share a site: the hub's own mapping (HubDirectory), never what a device claims. */
export interface SiteMap {
  siteOf(deviceId: string): string | undefined;
  siteMembers(siteId: string): string[];
  sites(): Map<string, string[]>;
}

export interface SiteRelayOptions {
  /** This hub process (hub.1, ...), named in every message. */
  hubId: string;
  sites: SiteMap;
  /** Every site's devices hear from the hub at least this often, a beat when there is no news. */
  beatMs: number;
  /** A passage older than this (from a late batch) is not relayed: no kiosk's anti-passback needs it. */
  maxAgeMs: number;
  /** Publishes to one device's topic (the hub's MQTT link). */
  publish: (topic: string, payload: string) => Promise<void>;
  log: Logger;
  now?: () => number;
}

/** Passages remembered as relayed, so the same one from a batch is not sent again. */
const RELAYED_MEMORY = 100_000;

/**
 * The hub's end of the live site stream: one stream per site, delivered to each of the site's devices
 * on its own `site` topic (the broker's ACL lets a device read only its own, and only hub processes
 * write them), so who belongs to which site is decided here, from the hub's site map.
 *
 * A kiosk reports each allowed passage at once (`onLivePassage`); passages that reach the hub only in
 * an event batch (the kiosk was offline, or the live report was lost) are relayed from the batch
 * (`onIngested`) unless this process already relayed them. Passages arriving in the same turn of the
 * event loop go out together. Every `beatMs` each device hears a beat, so a kiosk can tell a quiet
 * site from a dead stream. With several hub processes each one beats and relays what it receives; a
 * kiosk keeps only the latest passage per person, so a passage relayed twice changes nothing.
 *
 * The constructor only stores its dependencies.
 */
export class SiteRelay {
  private readonly pending = new Map<string, SitePassage[]>();
  private flushScheduled = false;
  private readonly relayed = new Set<string>();
  private beatTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: SiteRelayOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.beatTimer) return;
    this.beat();
    this.beatTimer = setInterval(() => this.beat(), this.options.beatMs);
  }

  stop(): void {
    clearInterval(this.beatTimer);
    this.beatTimer = undefined;
    this.pending.clear();
  }

  /** A passage a kiosk reported live (already validated; the topic's device is the sender). */
  onLivePassage(deviceId: string, p: LivePassage): 'queued' | 'no-site' | 'too-old' | 'duplicate' {
    return this.offer({ kind: 'passage', deviceId, seq: p.seq, atMs: p.atMs, checkpointId: p.checkpointId, zoneId: p.zoneId, direction: p.direction, workerId: p.workerId });
  }

  /** Events a batch brought: the allowed passages among them not relayed yet go to the site too. */
  onIngested(deviceId: string, events: readonly WireEvent[]): number {
    let queued = 0;
    for (const e of events) {
      if (e.decision !== 'allow' || e.workerId === null) continue;
      const item: SitePassage = { kind: 'passage', deviceId, seq: e.seq, atMs: e.wallMs, checkpointId: e.checkpointId, zoneId: e.zoneId, direction: e.direction, workerId: e.workerId };
      if (this.offer(item) === 'queued') queued++;
    }
    return queued;
  }

  private offer(item: SitePassage): 'queued' | 'no-site' | 'too-old' | 'duplicate' {
    const key = `${item.deviceId}:${item.seq}`;
    if (this.relayed.has(key)) return 'duplicate';
    if (item.atMs < this.now() - this.options.maxAgeMs) return 'too-old';
    const site = this.options.sites.siteOf(item.deviceId);
    if (site === undefined) return 'no-site';
    this.remember(key);
    const list = this.pending.get(site);
    if (list) list.push(item);
    else this.pending.set(site, [item]);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return 'queued';
  }

  private remember(key: string): void {
    this.relayed.add(key);
    if (this.relayed.size > RELAYED_MEMORY) {
      // A Set iterates in insertion order: the oldest goes first.
      const oldest = this.relayed.values().next().value;
      if (oldest !== undefined) this.relayed.delete(oldest);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = [...this.pending];
    this.pending.clear();
    for (const [site, items] of pending) {
      const members = this.options.sites.siteMembers(site);
      for (const device of members) {
        // A kiosk knows its own passages: it gets only the others'.
        const forDevice = items.filter((i) => i.deviceId !== device);
        for (let i = 0; i < forDevice.length; i += MAX_SITE_ITEMS) this.send(device, site, forDevice.slice(i, i + MAX_SITE_ITEMS));
      }
    }
  }

  private beat(): void {
    let sites;
    try {
      sites = this.options.sites.sites();
    } catch (err) {
      this.options.log.error({ err: (err as Error).message }, 'site map unreadable: no beat');
      return;
    }
    for (const [site, members] of sites) for (const device of members) this.send(device, site, []);
  }

  private send(deviceId: string, site: string, items: SitePassage[]): void {
    const message: SiteStreamMessage = { v: PROTOCOL_VERSION, site, hub: this.options.hubId, sentAtMs: this.now(), items };
    this.options.publish(topics.site(deviceId), JSON.stringify(message)).catch((err: unknown) => {
      this.options.log.debug({ err: (err as Error).message, deviceId }, 'site stream message not sent');
    });
  }
}
