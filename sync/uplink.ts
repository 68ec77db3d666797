import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { backoffDelayMs, type Backoff } from '../base/common/backoff.js';
import type { BrokerSettings } from '../base/common/broker-settings.js';
import { GATE_ALERT_KINDS } from '../base/common/types.js';
import { encodeBatch, type ClockAnchor, type WireEvent } from './batch-codec.js';
import { MqttLink, type LinkState } from './mqtt-link.js';
import {
  HUB_STATUS_TOPIC,
  PROTOCOL_VERSION,
  PayloadError,
  parseJsonPayload,
  topics,
  type Alert,
  type AlertAck,
  type BatchAck,
  type Heartbeat,
  type Presence,
} from './protocol.js';

export type { LinkState };

/** What the uplink needs of the event log: it is the outbox and the only source of truth. */
export interface Outbox {
  unsynced(limit: number, afterSeq?: number): WireEvent[];
  markSynced(firstSeq: number, lastSeq: number, atMs: number): number;
  unsentAlerts(limit: number): { kind: Alert['kind']; event: WireEvent; note?: string | null }[];
  /** The hub has stored this alert: it leaves the outbox. */
  markAlertSent(seq: number, atMs: number): void;
}

/** More traffic over the same connection (the downlink): its topics are subscribed on connect. */
export interface LinkExtension {
  readonly topics: string[];
  onOnline(publish: (topic: string, payload: string) => void): void;
  onOffline(): void;
  onMessage(topic: string, payload: Buffer): void;
}

/** Figures for the heartbeat that only the kiosk knows. */
export type HeartbeatFigures = Omit<Heartbeat, 'v' | 'atMs' | 'clockOffsetMs'>;

export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
  /** A batch smaller than maxEvents waits at most this long for company. */
  maxAgeMs: number;
}

export interface UplinkOptions {
  deviceId: string;
  broker: BrokerSettings;
  batch: BatchLimits;
  /**
   * No acknowledgement within this long: the batch or alert is sent again (the hub ignores
   * duplicates). Longer while the hub's acknowledgements take longer (AckRoundTrips), and a batch
   * that goes unacknowledged again waits longer each time (see ackWaitMs).
   */
  ackTimeoutMs: number;
  /** The longest a batch waits for its acknowledgement before it goes again; default max(ackTimeoutMs, 60 s). */
  ackTimeoutMaxMs?: number;
  /** Batches sent ahead of their acknowledgements (a window), so encoding and hub commits overlap. */
  maxInFlight?: number;
  heartbeat?: { everyMs: number; figures(): HeartbeatFigures };
  extensions?: LinkExtension[];
  /** The kiosk's boot and monotonic clock, to anchor events to the hub's time. */
  clock?: { bootId: string; monoUs(): number };
  reconnect: Backoff;
  /** After the broker refused this device's identity or topics, wait this long before trying again (a person must act). */
  authRetryMs: number;
  /** The reconnect backoff starts again from its first step only after a connection lasted this long. */
  stableAfterMs?: number;
  /**
   * Keep the device's presence (retained) for every hub process: online once connected, offline on a
   * clean stop, and offline by the broker (the link's will) when the link is cut without a goodbye.
   */
  presence?: boolean;
}

export interface UplinkEvents {
  state: [state: LinkState, detail?: string];
  acked: [ack: BatchAck];
  /** A batch was handed to the broker: its id, how many events, and the encoded size in bytes. */
  sent: [batchId: string, events: number, bytes: number];
  /** The hub stored an alert. */
  alertAcked: [seq: number];
}

interface InFlight {
  batchId: string;
  firstSeq: number;
  lastSeq: number;
  sentAtMs: number;
  /** When it was first sent: an acknowledgement of a batch sent again is timed from here. */
  firstSentAtMs: number;
  sentMonoUs: number;
  /** Times sent (the first included). */
  sends: number;
  /**
   * Sent again for another reason than its own timeout (a hub came online, a gap report): its
   * acknowledgement says when the hub came back, not how long the hub takes, so it is not timed.
   */
  untimed: boolean;
  timer: NodeJS.Timeout;
  /** When `timer` sends it again. */
  dueAtMs: number;
}

/**
 * How long a batch sent `sends` times waits for its acknowledgement before it goes again: the
 * acknowledgement timeout the first time, then growing (doubling, with jitter, between the timeout
 * and twice the step, up to `maxMs`). A hub that is slow rather than gone — a province at its peak —
 * is not buried under copies of what it is already working through, and kiosks that lost their
 * acknowledgements together do not resend in step.
 */
export function ackWaitMs(sends: number, ackTimeoutMs: number, maxMs: number, random = Math.random): number {
  if (sends <= 1) return ackTimeoutMs;
  return Math.max(ackTimeoutMs, backoffDelayMs(sends - 1, { initialMs: ackTimeoutMs, maxMs }, random));
}

/**
 * How long a batch in flight that a gap report names may go unacknowledged before it is sent again:
 * two round trips, the smoothed one or the one of the acknowledgement that reported the gap,
 * whichever is longer (a batch sent before the acknowledged one and still unanswered after twice its
 * round trip was lost; before that it is more likely queued at another hub process).
 */
export function gapPatienceMs(srttMs: number, reportRoundTripMs: number): number {
  return 2 * Math.max(srttMs, reportRoundTripMs);
}

/**
 * Round trips to the hub as they are: a smoothed time and its variation (as TCP keeps them,
 * RFC 6298). The first wait for an acknowledgement is the configured timeout, or longer while the hub
 * answers slower than that (a province at its peak): a batch merely queued at a busy hub is then not
 * sent again, which would only add to its queue.
 */
export class AckRoundTrips {
  srttMs: number;
  private rttVarMs: number;
  /** The latest round trip: while a peak builds, hub queues grow faster than the smoothed time follows. */
  private latestMs = 0;
  constructor(initialMs = 500) {
    this.srttMs = initialMs;
    this.rttVarMs = initialMs / 2;
  }
  /** A batch acknowledged `ms` after it was first sent. */
  sample(ms: number): void {
    this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.srttMs - ms);
    this.srttMs = 0.875 * this.srttMs + 0.125 * ms;
    this.latestMs = ms;
  }
  /**
   * The first wait: the timeout, or if longer the smoothed round trip plus four variations, or twice
   * the latest round trip (a hub whose queue is growing answers each batch later than the one
   * before); never above `maxMs`.
   */
  timeoutMs(ackTimeoutMs: number, maxMs: number): number {
    return Math.max(ackTimeoutMs, Math.min(maxMs, Math.round(Math.max(this.srttMs + 4 * this.rttVarMs, 2 * this.latestMs))));
  }
}

/**
 * Sends the event log to the hub in batches, and alerts ahead of them. An event or an alert leaves
 * the outbox only when the hub's acknowledgement says it is stored; mqtt.js's own queue is never
 * relied on. Up to `maxInFlight` batches travel ahead of their acknowledgements; whatever is not
 * acknowledged is sent again after `ackTimeoutMs` (then after longer and longer waits, see ackWaitMs),
 * at once when a hub comes online (its retained status) or names the batch's events in a gap report,
 * and after every reconnect.
 * The constructor only stores its dependencies.
 */
export class Uplink extends EventEmitter<UplinkEvents> {
  private link: MqttLink | undefined;
  /** Sent and not yet acknowledged, in sequence order. */
  private inflight: InFlight[] = [];
  private readonly alertsInFlight = new Map<number, NodeJS.Timeout>();
  private waitTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private offsetMs: number | null = null;
  private anchor: ClockAnchor | null = null;
  /** Recent send-to-acknowledgement times, to tell a lost batch from a slow one. */
  private readonly rtt = new AckRoundTrips();

  constructor(
    private readonly options: UplinkOptions,
    private readonly outbox: Outbox,
    private readonly log: Logger,
  ) {
    super();
  }

  get state(): LinkState {
    return this.link?.state ?? 'stopped';
  }

  /** Hub clock minus ours, from the last acknowledgement (null until one arrives). */
  get clockOffsetMs(): number | null {
    return this.offsetMs;
  }

  start(): void {
    if (this.link) return;
    const { deviceId } = this.options;
    const extensions = this.options.extensions ?? [];
    const link = new MqttLink({
      broker: this.options.broker,
      clientId: deviceId,
      subscriptions: [topics.acks(deviceId), HUB_STATUS_TOPIC, ...extensions.flatMap((e) => e.topics)],
      reconnect: this.options.reconnect,
      authRetryMs: this.options.authRetryMs,
      ...(this.options.stableAfterMs !== undefined ? { stableAfterMs: this.options.stableAfterMs } : {}),
      ...(this.options.presence ? { will: { topic: topics.presence(deviceId), payload: presence(false), retain: true } } : {}),
      log: this.log,
    });
    this.link = link;
    link.on('state', (state, detail) => {
      if (state === 'online') this.onOnline(link);
      else this.onOffline();
      this.emit('state', state, detail);
    });
    link.on('message', (topic, payload, retained) => this.onMessage(topic, payload, retained));
    link.start();
  }

  async stop(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    this.onOffline();
    await link?.stop(this.options.presence ? (publish) => publish(topics.presence(this.options.deviceId), presence(false), true) : undefined);
  }

  /** New events were logged: alerts go at once, events when the window has room. */
  nudge(): void {
    if (this.state !== 'online') return;
    this.sendAlerts();
    if (!this.waitTimer) this.pump();
  }

  private onOnline(link: MqttLink): void {
    this.log.info('hub link online');
    if (this.options.presence) {
      link.publish(topics.presence(this.options.deviceId), presence(true), { qos: 1, retain: true }).catch((err: unknown) => {
        this.log.debug({ err: (err as Error).message }, 'presence not taken');
      });
    }
    this.clearInflight();
    this.clearAlerts();
    this.sendAlerts();
    this.pump();
    this.startHeartbeat();
    for (const e of this.options.extensions ?? []) {
      e.onOnline((topic, payload) => {
        link.publish(topic, payload, { qos: 1 }).catch((err: unknown) => this.log.debug({ err: (err as Error).message, topic }, 'publish not taken'));
      });
    }
  }

  /**
   * Sends a heartbeat at once while online (the next ones count from now): the hub hears a changed
   * figure, such as a settings version applied or refused, without waiting for the next beat.
   */
  heartbeatNow(): void {
    if (this.heartbeatTimer !== undefined) this.startHeartbeat();
  }

  private onOffline(): void {
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.clearInflight();
    this.clearAlerts();
    for (const e of this.options.extensions ?? []) e.onOffline();
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (topic === topics.acks(this.options.deviceId)) return this.onAck(payload);
    // A retained status is the past (handed over on subscribing); only a live announcement is news.
    if (topic === HUB_STATUS_TOPIC) return retained ? undefined : this.onHubStatus(payload);
    const ext = this.options.extensions?.find((e) => e.topics.includes(topic));
    try {
      ext?.onMessage(topic, payload);
    } catch (err) {
      // Bad input must never take the kiosk down; the extension's own checks say why.
      this.log.error({ err: (err as Error).message, topic }, 'message handling failed');
    }
  }

  /** Forgets every batch in flight: what they held is still unsynced and will be sent again. */
  private clearInflight(): void {
    for (const f of this.inflight) clearTimeout(f.timer);
    this.inflight = [];
  }

  private clearAlerts(): void {
    for (const timer of this.alertsInFlight.values()) clearTimeout(timer);
    this.alertsInFlight.clear();
  }

  private pump(): void {
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    const window = this.options.maxInFlight ?? 8;
    const { maxEvents, maxAgeMs } = this.options.batch;
    while (this.state === 'online' && this.inflight.length < window) {
      const afterSeq = this.inflight.at(-1)?.lastSeq ?? 0;
      const events = this.outbox.unsynced(maxEvents, afterSeq);
      if (events.length === 0) return;
      const ageMs = Date.now() - events[0]!.wallMs;
      if (events.length < maxEvents && ageMs >= 0 && ageMs < maxAgeMs) {
        // Wait for company, but no longer than the oldest event's allowance.
        this.waitTimer = setTimeout(() => this.pump(), maxAgeMs - ageMs);
        return;
      }
      let encoded: { events: WireEvent[]; bytes: Uint8Array };
      try {
        encoded = this.encodeWithin(events);
      } catch (err) {
        // Never expected (the log holds only what the gate wrote): the events stay, the kiosk keeps
        // gating, and sync tries again in a minute rather than crash or skip an event.
        this.log.error({ err: (err as Error).message, fromSeq: events[0]!.seq }, 'cannot encode events for the hub; sync paused');
        this.waitTimer = setTimeout(() => this.pump(), 60_000);
        return;
      }
      const { events: batch, bytes } = encoded;
      const first = batch[0]!.seq;
      const last = batch.at(-1)!.seq;
      const f: InFlight = { batchId: `${first}-${last}`, firstSeq: first, lastSeq: last, sentAtMs: 0, firstSentAtMs: 0, sentMonoUs: 0, sends: 0, untimed: false, timer: setTimeout(() => undefined, 0), dueAtMs: 0 };
      this.inflight.push(f);
      this.send(f, batch, bytes);
    }
  }

  /** Encodes as many of the events as fit in maxBytes (halving until they do). */
  private encodeWithin(events: WireEvent[]): { events: WireEvent[]; bytes: Uint8Array } {
    let bytes = this.encode(events);
    while (bytes.length > this.options.batch.maxBytes && events.length > 1) {
      events = events.slice(0, Math.ceil(events.length / 2));
      bytes = this.encode(events);
    }
    return { events, bytes };
  }

  /** Publishes a batch (first time or again) and arms its acknowledgement timeout. */
  private send(f: InFlight, events: WireEvent[], bytes: Uint8Array): void {
    const link = this.link;
    if (!link) return;
    clearTimeout(f.timer);
    f.sentAtMs = Date.now();
    if (f.sends === 0) f.firstSentAtMs = f.sentAtMs;
    f.sentMonoUs = this.monoUs();
    f.sends++;
    const { ackTimeoutMs } = this.options;
    const maxMs = this.options.ackTimeoutMaxMs ?? Math.max(ackTimeoutMs, 60_000);
    const waitMs = ackWaitMs(f.sends, this.rtt.timeoutMs(ackTimeoutMs, maxMs), maxMs);
    this.armTimeout(f, f.sentAtMs + waitMs);
    link.publish(topics.events(this.options.deviceId), bytes, { qos: 1 }).catch((err: unknown) => {
      // Refused or cut off: the link is going down and everything in flight goes again once it is back.
      if (this.inflight.includes(f)) this.log.debug({ batchId: f.batchId, err: (err as Error).message }, 'batch not taken by the broker');
    });
    this.emit('sent', f.batchId, events.length, bytes.length);
  }

  /**
   * Sends `f` again at `dueAtMs` unless acknowledged by then. A batch sent once is first given as
   * long as the round trips measured meanwhile ask (AckRoundTrips.timeoutMs): it was armed before the
   * acknowledgements that showed the hub falling behind, and is most likely queued there too.
   */
  private armTimeout(f: InFlight, dueAtMs: number): void {
    clearTimeout(f.timer);
    f.dueAtMs = dueAtMs;
    f.timer = setTimeout(() => {
      const now = Date.now();
      if (f.sends === 1) {
        const { ackTimeoutMs } = this.options;
        const stretched = f.sentAtMs + this.rtt.timeoutMs(ackTimeoutMs, this.options.ackTimeoutMaxMs ?? Math.max(ackTimeoutMs, 60_000));
        if (stretched > now + 10) return this.armTimeout(f, stretched);
      }
      this.log.warn({ batchId: f.batchId, sends: f.sends, waitedMs: now - f.sentAtMs }, 'no acknowledgement in time; sending again');
      this.resend(f);
    }, Math.max(0, dueAtMs - Date.now()));
  }

  /** Sends one batch in flight again, with the same events (those still unacknowledged). */
  private resend(f: InFlight): void {
    if (!this.inflight.includes(f) || this.state !== 'online') return;
    const events = this.outbox.unsynced(f.lastSeq - f.firstSeq + 1, f.firstSeq - 1).filter((e) => e.seq <= f.lastSeq);
    if (events.length === 0) {
      // Acknowledged meanwhile (e.g. by another hub process's late acknowledgement).
      clearTimeout(f.timer);
      this.inflight = this.inflight.filter((x) => x !== f);
      setImmediate(() => this.pump());
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = this.encode(events);
    } catch (err) {
      this.log.error({ err: (err as Error).message, batchId: f.batchId }, 'cannot encode events for the hub; sync paused');
      return;
    }
    this.send(f, events, bytes);
  }

  /** Alerts jump the event backlog; each leaves the outbox only when the hub says it stored it. */
  private sendAlerts(): void {
    const link = this.link;
    if (!link || this.state !== 'online') return;
    for (const { kind, event, note } of this.outbox.unsentAlerts(50)) {
      // An alert about a person needs their id; the gate's own (emergency release) names nobody.
      const gateAlert = GATE_ALERT_KINDS.includes(kind);
      if (this.alertsInFlight.has(event.seq) || (!event.workerId && !gateAlert)) continue;
      const alert: Alert = {
        v: PROTOCOL_VERSION,
        kind,
        seq: event.seq,
        atMs: event.wallMs,
        checkpointId: event.checkpointId,
        ...(gateAlert ? {} : { workerId: event.workerId! }),
        reasons: event.reasons,
        ...(note ? { note } : {}),
      };
      this.alertsInFlight.set(
        event.seq,
        setTimeout(() => {
          this.alertsInFlight.delete(event.seq);
          this.log.warn({ seq: event.seq }, 'no acknowledgement for an alert in time; sending again');
          this.sendAlerts();
        }, this.options.ackTimeoutMs),
      );
      link.publish(topics.alerts(this.options.deviceId), JSON.stringify(alert), { qos: 1 }).catch((err: unknown) => {
        this.log.debug({ seq: event.seq, err: (err as Error).message }, 'alert not taken by the broker; it goes again');
      });
    }
  }

  private startHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    const hb = this.options.heartbeat;
    const link = this.link;
    if (!hb || !link) return;
    const beat = (): void => {
      const payload: Heartbeat = { v: PROTOCOL_VERSION, atMs: Date.now(), clockOffsetMs: this.offsetMs, ...hb.figures() };
      link.publish(topics.heartbeat(this.options.deviceId), JSON.stringify(payload), { qos: 0 }).catch(() => undefined);
    };
    beat();
    this.heartbeatTimer = setInterval(beat, hb.everyMs);
  }

  private encode(events: WireEvent[]): Uint8Array {
    const batchId = `${events[0]!.seq}-${events.at(-1)!.seq}`;
    return encodeBatch({ deviceId: this.options.deviceId, batchId, events, anchor: this.anchor });
  }

  private monoUs(): number {
    return this.options.clock?.monoUs() ?? 0;
  }

  /** A hub process came online: whatever is in flight may have been lost while it was away. */
  private onHubStatus(payload: Buffer): void {
    let status;
    try {
      status = parseJsonPayload('hubStatus', payload);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      this.log.warn({ err: err.message }, 'hub status refused');
      return;
    }
    if (!status.online || (this.inflight.length === 0 && this.alertsInFlight.size === 0)) return;
    this.log.info({ hub: status.hub, batches: this.inflight.length, alerts: this.alertsInFlight.size }, 'a hub came online: sending what is unacknowledged again');
    for (const f of [...this.inflight]) {
      f.untimed = true;
      this.resend(f);
    }
    this.clearAlerts();
    this.sendAlerts();
  }

  private onAck(payload: Buffer): void {
    let ack;
    try {
      ack = parseJsonPayload('acks', payload);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      this.log.warn({ err: err.message }, 'acknowledgement refused');
      return;
    }
    if ('kind' in ack) return this.onAlertAck(ack);
    const now = Date.now();
    const marked = this.outbox.markSynced(ack.firstSeq, ack.lastSeq, now);
    const acked = this.inflight.find((f) => f.batchId === ack.batchId);
    if (acked) {
      clearTimeout(acked.timer);
      this.inflight = this.inflight.filter((f) => f !== acked);
      // The hub stamped its clock somewhere between our send and now: take the middle.
      this.offsetMs = ack.hubTimeMs - (acked.sentAtMs + now) / 2;
      // A batch sent again is timed from its first sending: which copy was acknowledged is not known,
      // and timing from the last would keep a hub that is slower than the timeout looking fast. But
      // only a batch sent at most twice, each time on its own timeout, and answered within the longest
      // wait: one that waited out an outage (sent many times, or again when the hub came back) measures
      // the outage, and would keep every later batch waiting a minute for its first resend.
      const roundTripMs = Math.max(0, now - acked.firstSentAtMs);
      const maxMs = this.options.ackTimeoutMaxMs ?? Math.max(this.options.ackTimeoutMs, 60_000);
      if (!acked.untimed && acked.sends <= 2 && roundTripMs <= maxMs) this.rtt.sample(roundTripMs);
      const clock = this.options.clock;
      if (clock) this.anchor = { bootId: clock.bootId, monoUs: Math.round((acked.sentMonoUs + this.monoUs()) / 2), hubTimeMs: ack.hubTimeMs };
    }
    if (ack.gaps.length) {
      // The hub never got these. A batch in flight that holds them and is older than two round trips
      // was lost: send it again now; a younger one may still be queued at another hub process, so it
      // goes again once it is that old (or on its own timeout, if sooner), unless acknowledged by then.
      // The round trip is the one this acknowledgement itself took when that is longer than the
      // smoothed one: at a peak, hub queues grow faster than the smoothed time follows, and two hub
      // processes' queues differ by about that much, so the earlier batch is late, not lost.
      const lost = this.inflight.filter((f) => ack.gaps.some(([from, to]) => f.firstSeq <= to && f.lastSeq >= from));
      this.log.warn({ gaps: ack.gaps, resending: lost.map((f) => f.batchId) }, 'hub reports missing sequence numbers');
      const patience = gapPatienceMs(this.rtt.srttMs, acked ? now - acked.sentAtMs : 0);
      for (const f of lost) {
        const age = now - f.sentAtMs;
        if (age >= patience) {
          f.untimed = true;
          this.resend(f);
        } else if (f.sentAtMs + patience < f.dueAtMs) {
          f.untimed = true;
          clearTimeout(f.timer);
          f.dueAtMs = f.sentAtMs + patience;
          f.timer = setTimeout(() => this.resend(f), patience - age);
        }
      }
    }
    this.log.debug({ batchId: ack.batchId, lastSeq: ack.lastSeq, marked }, 'batch acknowledged');
    this.emit('acked', ack);
    setImmediate(() => this.pump());
  }

  private onAlertAck(ack: AlertAck): void {
    this.outbox.markAlertSent(ack.seq, Date.now());
    clearTimeout(this.alertsInFlight.get(ack.seq));
    this.alertsInFlight.delete(ack.seq);
    this.log.debug({ seq: ack.seq }, 'alert acknowledged');
    this.emit('alertAcked', ack.seq);
  }
}

function presence(online: boolean): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, online, atMs: Date.now() } satisfies Presence);
}
