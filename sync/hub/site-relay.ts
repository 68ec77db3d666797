import type { Logger } from 'pino';
import { TokenBuckets } from '../../base/common/token-bucket.js';
import type { WireEvent } from '../batch-codec.js';
import { isRecordSource } from './store.js';
import {
  MAX_SITE_DEVICES,
  MAX_SITE_ITEMS,
  PROTOCOL_VERSION,
  topics,
  type LivePassage,
  type LiveRetraction,
  type SiteDeclaration,
  type SiteItem,
  type SitePassage,
  type SiteRetraction,
  type SiteStreamMessage,
} from '../protocol.js';

/** How long the site map, once read, is taken as known (see SiteRelay.siteMap). */
const SITE_LOOKUP_MS = 2_000;

/** Which devices share a site: the hub's own mapping (HubDirectory, one query), never what a device claims. */
export interface SiteMap {
  /** Every site with its devices. */
  sites(): Promise<Map<string, string[]>>;
}

export interface SiteRelayOptions {
  /** This hub process (hub.1, ...), named in every message. */
  hubId: string;
  sites: SiteMap;
  /** Every site's devices hear from the hub at least this often, a beat when there is no news. */
  beatMs: number;
  /** A passage older than this (from a late batch) is not relayed: no kiosk's anti-passback needs it. */
  maxAgeMs: number;
  /**
   * A passage dated more than this ahead of the hub's clock is refused (a far-ahead clock or a forged
   * time would pin a person inside or out); one less ahead is dated at the hub's clock. Default 10 s.
   */
  maxAheadMs?: number;
  /** Revoked devices (sync/hub/fleet/revocation.ts): always offline to their site, whatever their last presence said. */
  isRevoked?: (deviceId: string) => boolean;
  /** Live reports per device: this many at once, then one per `everyMs` (default 100, then 20 a second: several lanes at shift change). */
  liveRate?: { burst: number; everyMs: number };
  /**
   * When each device was last heard of by any hub process (the hub store), for devices whose link
   * presence is unknown; read once per beat. Without it such a device counts as offline.
   */
  lastSeen?: (deviceIds: string[]) => Promise<Map<string, number>>;
  /** A device without a presence, not heard of for this long, is offline (default 3 minutes: three heartbeats). */
  silentAfterMs?: number;
  /** Publishes to one device's topic (the hub's MQTT link). */
  publish: (topic: string, payload: string) => Promise<void>;
  log: Logger;
  now?: () => number;
}

/** Passages remembered as relayed, so the same one from a batch is not sent again. */
const RELAYED_MEMORY = 100_000;

const admitKey = (deviceId: string, workerId: string, zoneId: string) => `${deviceId} ${workerId} ${zoneId}`;

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
  private readonly pending = new Map<string, SiteItem[]>();
  private flushScheduled = false;
  private readonly relayed = new Set<string>();
  private beatTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly liveReports: TokenBuckets;
  /** Each device's link presence (retained, with a will), as every hub process hears it. */
  private readonly presence = new Map<string, boolean>();
  /** The store's last-seen times, for devices without a presence (refreshed each beat). */
  private lastSeenMs = new Map<string, number>();
  /** The latest admit relayed per device, person and zone: a batch's ADMITTED_NOT_PASSED names no admit. */
  private readonly lastAdmit = new Map<string, number>();
  /** The site map as last read (see siteMap), and the read under way. */
  private snapshot: { bySite: Map<string, string[]>; byDevice: Map<string, string>; atMs: number } | undefined;
  private reading: Promise<{ bySite: Map<string, string[]>; byDevice: Map<string, string>; atMs: number }> | undefined;

  constructor(private readonly options: SiteRelayOptions) {
    this.now = options.now ?? Date.now;
    const rate = options.liveRate ?? { burst: 100, everyMs: 50 };
    this.liveReports = new TokenBuckets(rate.burst, rate.everyMs);
  }

  start(): void {
    if (this.beatTimer) return;
    void this.beat();
    this.beatTimer = setInterval(() => void this.beat(), this.options.beatMs);
  }

  stop(): void {
    clearInterval(this.beatTimer);
    this.beatTimer = undefined;
    this.pending.clear();
  }

  /** A device's link presence (its retained message; the will says offline when the link is cut). Never rejects. */
  async onPresence(deviceId: string, online: boolean): Promise<void> {
    if (this.presence.get(deviceId) === online) return;
    this.presence.set(deviceId, online);
    // The site hears at once, not at the next beat: anti-passback may be refusing on it now.
    try {
      const site = await this.siteOf(deviceId);
      if (site === undefined) return;
      const members = await this.membersOf(site);
      const offline = this.offlineMembers(members);
      for (const device of members) this.send(device, site, [], offline);
    } catch (err) {
      this.options.log.error({ err: (err as Error).message, deviceId }, 'site map unreadable: presence not relayed (the next beat carries it)');
    }
  }

  /**
   * A passage or retraction a kiosk reported live (already validated; the topic's device is the
   * sender: the broker's ACL lets a certificate publish only its own passages topic). The zone and
   * checkpoint it names are the device's own claim: the hub holds no device's zones to check them
   * against, but only its own site's kiosks hear it, and only about the people it names.
   */
  async onLivePassage(deviceId: string, p: LivePassage | LiveRetraction): Promise<'queued' | 'no-site' | 'too-old' | 'duplicate' | 'future' | 'rate-limited'> {
    if (!this.liveReports.take(deviceId, this.now())) return 'rate-limited';
    const common = { deviceId, seq: p.seq, atMs: p.atMs, checkpointId: p.checkpointId, zoneId: p.zoneId, direction: p.direction, workerId: p.workerId };
    const site = await this.siteOf(deviceId);
    const r = this.offer('kind' in p ? { kind: 'retraction', admitSeq: p.admitSeq, ...common } : { kind: 'passage', ...common }, site);
    if (r === 'future') this.options.log.warn({ deviceId, seq: p.seq, aheadMs: p.atMs - this.now() }, 'live passage dated ahead of the hub clock: not relayed');
    return r;
  }

  /**
   * Events a batch brought: the allowed passages among them not relayed yet go to the site too, and
   * so does an admit's ADMITTED_NOT_PASSED, as a retraction, when this process relayed the admit (the
   * event does not name its admit: it is the latest one of that person there).
   */
  async onIngested(deviceId: string, events: readonly WireEvent[]): Promise<number> {
    let queued = 0;
    let ahead = 0;
    // Every event of a batch is the device's own: its site is looked up once.
    const site = events.some((e) => e.workerId !== null) ? await this.siteOf(deviceId) : undefined;
    for (const e of events) {
      // A bus trip's events are no passage through the site's zones: the trip decides a rider's
      // direction on the bus, and riders alighted by the trip's end never scanned out anywhere.
      // Nor is a declaration (or a visitor's registration or approval, issue 14): a record taken at the
      // kiosk, not a passage; a declaration reaches the site as one (onDeclaration).
      if (e.workerId === null || e.tripId !== undefined || e.source === 'trip' || isRecordSource(e.source)) continue;
      const common = { deviceId, seq: e.seq, atMs: e.wallMs, checkpointId: e.checkpointId, zoneId: e.zoneId, direction: e.direction, workerId: e.workerId };
      let item: SitePassage | SiteRetraction | undefined;
      if (e.decision === 'allow') item = { kind: 'passage', ...common };
      else if (e.reasons.includes('ADMITTED_NOT_PASSED')) {
        const admitSeq = this.lastAdmit.get(admitKey(deviceId, e.workerId, e.zoneId));
        if (admitSeq !== undefined && admitSeq < e.seq) item = { kind: 'retraction', admitSeq, ...common };
      }
      if (!item) continue;
      const r = this.offer(item, site);
      if (r === 'queued') queued++;
      else if (r === 'future') ahead++;
    }
    if (ahead) this.options.log.warn({ deviceId, passages: ahead }, 'passages in a batch dated ahead of the hub clock: not relayed (is the kiosk clock right?)');
    return queued;
  }

  /**
   * A worker's health declaration (time and flag only), for every device of the sites whose kiosks
   * serve them (the directory says which): it goes out with the next flush. Returns how many sites.
   */
  onDeclaration(siteIds: readonly string[], declaration: Omit<SiteDeclaration, 'kind'>): number {
    let queued = 0;
    for (const site of siteIds) {
      const item: SiteDeclaration = { kind: 'declaration', workerId: declaration.workerId, declaredAtMs: Math.min(declaration.declaredAtMs, this.now()), flagged: declaration.flagged };
      const list = this.pending.get(site);
      if (list) list.push(item);
      else this.pending.set(site, [item]);
      queued++;
    }
    if (queued && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => void this.flush());
    }
    return queued;
  }

  /**
   * The site's devices this process cannot hear now: presence offline, or silent without a presence.
   * The hub does not know which way each device's checkpoint faces, so every silent device is named.
   */
  offlineMembers(members: readonly string[]): string[] {
    const silentAfter = this.options.silentAfterMs ?? 180_000;
    const now = this.now();
    return members.filter((d) => {
      if (this.options.isRevoked?.(d)) return true;
      const online = this.presence.get(d);
      if (online !== undefined) return !online;
      const seen = this.lastSeenMs.get(d);
      return seen === undefined || now - seen > silentAfter;
    });
  }

  /**
   * The whole site map, read at most once per SITE_LOOKUP_MS (one query however many devices: every
   * batch a hub stores asks its device's site, a round trip each when the directory is in
   * PostgreSQL), so the reports of one turn of the event loop share one answer and go out together.
   * A device placed at (or taken out of) a site is relayed as such within that time.
   */
  private siteMap(): Promise<{ bySite: Map<string, string[]>; byDevice: Map<string, string>; atMs: number }> {
    const now = this.now();
    const held = this.snapshot;
    if (held && now - held.atMs < SITE_LOOKUP_MS && now >= held.atMs) return Promise.resolve(held);
    this.reading ??= this.options.sites
      .sites()
      .then((bySite) => {
        const byDevice = new Map<string, string>();
        for (const [site, devices] of bySite) for (const d of devices) byDevice.set(d, site);
        this.snapshot = { bySite, byDevice, atMs: now };
        return this.snapshot;
      })
      .finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async siteOf(deviceId: string): Promise<string | undefined> {
    return (await this.siteMap()).byDevice.get(deviceId);
  }

  private async membersOf(site: string): Promise<string[]> {
    return (await this.siteMap()).bySite.get(site) ?? [];
  }

  /** `site`: the site of the item's device (looked up by the caller), undefined for a device in none. */
  private offer(item: SitePassage | SiteRetraction, site: string | undefined): 'queued' | 'no-site' | 'too-old' | 'duplicate' | 'future' {
    const key = `${item.deviceId}:${item.seq}`;
    if (this.relayed.has(key)) return 'duplicate';
    const now = this.now();
    if (item.atMs < now - this.options.maxAgeMs) return 'too-old';
    // Not relayed; the caller says so once (a batch from a kiosk whose clock runs ahead holds thousands).
    if (item.atMs > now + (this.options.maxAheadMs ?? 10_000)) return 'future';
    // Never later than the hub's clock: a kiosk keeps the latest per person, and a time ahead would win over the truth.
    item.atMs = Math.min(item.atMs, now);
    if (site === undefined) return 'no-site';
    this.remember(key);
    if (item.kind === 'passage') this.rememberAdmit(admitKey(item.deviceId, item.workerId, item.zoneId), item.seq);
    const list = this.pending.get(site);
    if (list) list.push(item);
    else this.pending.set(site, [item]);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => void this.flush());
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

  private rememberAdmit(key: string, seq: number): void {
    this.lastAdmit.delete(key);
    this.lastAdmit.set(key, seq);
    if (this.lastAdmit.size > RELAYED_MEMORY) {
      const oldest = this.lastAdmit.keys().next().value;
      if (oldest !== undefined) this.lastAdmit.delete(oldest);
    }
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const pending = [...this.pending];
    this.pending.clear();
    for (const [site, items] of pending) {
      let members;
      try {
        members = await this.membersOf(site);
      } catch (err) {
        this.options.log.error({ err: (err as Error).message, site }, 'site map unreadable: site stream items not relayed');
        continue;
      }
      const offline = this.offlineMembers(members);
      for (const device of members) {
        // A kiosk knows its own passages: it gets only the others'.
        const forDevice = items.filter((i) => i.kind === 'declaration' || i.deviceId !== device);
        for (let i = 0; i < forDevice.length; i += MAX_SITE_ITEMS) this.send(device, site, forDevice.slice(i, i + MAX_SITE_ITEMS), offline);
      }
    }
  }

  private async beat(): Promise<void> {
    let sites;
    try {
      sites = (await this.siteMap()).bySite;
    } catch (err) {
      this.options.log.error({ err: (err as Error).message }, 'site map unreadable: no beat');
      return;
    }
    for (const [site, members] of sites) {
      const offline = this.offlineMembers(members);
      for (const device of members) this.send(device, site, [], offline);
    }
    this.refreshLastSeen([...sites.values()].flat());
  }

  private refreshLastSeen(devices: string[]): void {
    const lastSeen = this.options.lastSeen;
    const unknown = devices.filter((d) => !this.presence.has(d));
    if (!lastSeen || !unknown.length) return;
    lastSeen(unknown).then(
      (seen) => (this.lastSeenMs = seen),
      (err: unknown) => this.options.log.warn({ err: (err as Error).message }, "devices' last-seen times unreadable"),
    );
  }

  /** `offline`: the site's devices this process cannot hear (offlineMembers). */
  private send(deviceId: string, site: string, items: SiteItem[], offline: string[]): void {
    const message: SiteStreamMessage = { v: PROTOCOL_VERSION, site, hub: this.options.hubId, sentAtMs: this.now(), items, offline: offline.slice(0, MAX_SITE_DEVICES) };
    this.options.publish(topics.site(deviceId), JSON.stringify(message)).catch((err: unknown) => {
      this.options.log.debug({ err: (err as Error).message, deviceId }, 'site stream message not sent');
    });
  }
}
