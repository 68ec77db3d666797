import { EventEmitter } from 'node:events';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { backoffDelayMs, type Backoff } from '../base/common/backoff.js';
import { encodeBatch, type ClockAnchor, type WireEvent } from './batch-codec.js';
import type { BrokerSettings } from '../base/common/broker-settings.js';
import { classifyLinkError, disableNagle, mqttOptions } from './broker.js';
import { PROTOCOL_VERSION, PayloadError, parseJsonPayload, topics, type Alert, type BatchAck, type Heartbeat } from './protocol.js';

/** What the uplink needs of the event log: it is the outbox and the only source of truth. */
export interface Outbox {
  unsynced(limit: number, afterSeq?: number): WireEvent[];
  markSynced(firstSeq: number, lastSeq: number, atMs: number): number;
  unsentAlerts(limit: number): { kind: Alert['kind']; event: WireEvent; note?: string | null }[];
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
  /** No acknowledgement within this long: the batch is sent again (the hub ignores duplicates). */
  ackTimeoutMs: number;
  /** Batches sent ahead of their acknowledgements (a window), so encoding and hub commits overlap. */
  maxInFlight?: number;
  heartbeat?: { everyMs: number; figures(): HeartbeatFigures };
  extensions?: LinkExtension[];
  /** The kiosk's boot and monotonic clock, to anchor events to the hub's time. */
  clock?: { bootId: string; monoUs(): number };
  reconnect: Backoff;
  /** After an authentication failure, wait this long before trying again (a person must act). */
  authRetryMs: number;
}

export type LinkState = 'stopped' | 'connecting' | 'online' | 'offline' | 'auth-failed';

export interface UplinkEvents {
  state: [state: LinkState, detail?: string];
  acked: [ack: BatchAck];
  /** A batch was handed to the broker: its id, how many events, and the encoded size in bytes. */
  sent: [batchId: string, events: number, bytes: number];
}

interface InFlight {
  batchId: string;
  lastSeq: number;
  sentAtMs: number;
  sentMonoUs: number;
  timer: NodeJS.Timeout;
}

/**
 * Sends the event log to the hub in batches. An event is marked synced only when the hub's
 * acknowledgement covers it; mqtt.js's own queue is never relied on (one batch in flight, resent on
 * timeout or reconnect). The constructor only stores its dependencies.
 */
export class Uplink extends EventEmitter<UplinkEvents> {
  private client: mqtt.MqttClient | undefined;
  private currentState: LinkState = 'stopped';
  /** Sent and not yet acknowledged, in sequence order. */
  private inflight: InFlight[] = [];
  private waitTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private offsetMs: number | null = null;
  private anchor: ClockAnchor | null = null;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly alertsInFlight = new Set<number>();

  constructor(
    private readonly options: UplinkOptions,
    private readonly outbox: Outbox,
    private readonly log: Logger,
  ) {
    super();
  }

  get state(): LinkState {
    return this.currentState;
  }

  /** Hub clock minus ours, from the last acknowledgement (null until one arrives). */
  get clockOffsetMs(): number | null {
    return this.offsetMs;
  }

  start(): void {
    if (this.currentState !== 'stopped') return;
    this.connect();
  }

  async stop(): Promise<void> {
    this.setState('stopped');
    clearTimeout(this.waitTimer);
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    for (const e of this.options.extensions ?? []) e.onOffline();
    this.clearInflight();
    const client = this.client;
    this.client = undefined;
    await client?.endAsync(true);
  }

  /** New events were logged: alerts go at once, events when the window has room. */
  nudge(): void {
    if (this.currentState !== 'online') return;
    this.sendAlerts();
    if (!this.waitTimer) this.pump();
  }

  private setState(state: LinkState, detail?: string): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state, detail);
  }

  private connect(): void {
    this.setState('connecting');
    const client = mqtt.connect(this.options.broker.url, mqttOptions(this.options.broker, this.options.deviceId));
    this.client = client;
    let fault: ReturnType<typeof classifyLinkError> = 'network';
    let why = '';
    client.on('connect', () => {
      this.attempt = 0;
      disableNagle(client);
      const extensions = this.options.extensions ?? [];
      const filters = [topics.acks(this.options.deviceId), ...extensions.flatMap((e) => e.topics)];
      client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) {
          this.log.error({ err: err.message }, 'cannot subscribe to acknowledgements');
          client.end(true);
          return;
        }
        this.log.info('hub link online');
        this.setState('online');
        this.clearInflight();
        this.alertsInFlight.clear();
        this.sendAlerts();
        this.pump();
        this.startHeartbeat(client);
        for (const e of extensions) e.onOnline((topic, payload) => client.publish(topic, payload, { qos: 1 }));
      });
    });
    client.on('message', (topic, payload) => {
      if (topic === topics.acks(this.options.deviceId)) return this.onAck(payload);
      const ext = this.options.extensions?.find((e) => e.topics.includes(topic));
      try {
        ext?.onMessage(topic, payload);
      } catch (err) {
        // Bad input must never take the kiosk down; the extension's own checks say why.
        this.log.error({ err: (err as Error).message, topic }, 'message handling failed');
      }
    });
    client.on('error', (err) => {
      fault = classifyLinkError(err);
      why = err.message;
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = undefined;
      client.removeAllListeners();
      client.on('error', () => {});
      client.end(true);
      this.clearInflight();
      clearInterval(this.heartbeatTimer);
      for (const e of this.options.extensions ?? []) e.onOffline();
      if (this.currentState === 'stopped') return;
      if (fault === 'auth') {
        this.log.error({ why, retryInMs: this.options.authRetryMs }, 'hub refused this device\'s identity; check its certificate');
        this.setState('auth-failed', why);
        this.reconnectTimer = setTimeout(() => this.connect(), this.options.authRetryMs);
        return;
      }
      const delay = backoffDelayMs(this.attempt++, this.options.reconnect);
      if (this.attempt === 1 || this.attempt % 20 === 0) this.log.warn({ why: why || 'connection closed', retryInMs: delay }, 'hub link offline');
      this.setState('offline', why || 'connection closed');
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  /** Forgets every batch in flight: what they held is still unsynced and will be sent again. */
  private clearInflight(): void {
    for (const f of this.inflight) clearTimeout(f.timer);
    this.inflight = [];
  }

  private pump(): void {
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    const client = this.client;
    const window = this.options.maxInFlight ?? 8;
    const { maxEvents, maxBytes, maxAgeMs } = this.options.batch;
    while (this.currentState === 'online' && client && this.inflight.length < window) {
      const afterSeq = this.inflight.at(-1)?.lastSeq ?? 0;
      let events = this.outbox.unsynced(maxEvents, afterSeq);
      if (events.length === 0) return;
      const ageMs = Date.now() - events[0]!.wallMs;
      if (events.length < maxEvents && ageMs >= 0 && ageMs < maxAgeMs) {
        // Wait for company, but no longer than the oldest event's allowance.
        this.waitTimer = setTimeout(() => this.pump(), maxAgeMs - ageMs);
        return;
      }
      let bytes = this.encode(events);
      while (bytes.length > maxBytes && events.length > 1) {
        events = events.slice(0, Math.ceil(events.length / 2));
        bytes = this.encode(events);
      }
      this.send(client, events, bytes);
    }
  }

  private send(client: mqtt.MqttClient, events: WireEvent[], bytes: Uint8Array): void {
    const lastSeq = events.at(-1)!.seq;
    const batchId = `${events[0]!.seq}-${lastSeq}`;
    this.inflight.push({
      batchId,
      lastSeq,
      sentAtMs: Date.now(),
      sentMonoUs: this.monoUs(),
      timer: setTimeout(() => {
        this.log.warn({ batchId }, 'no acknowledgement in time; sending again');
        this.clearInflight();
        this.pump();
      }, this.options.ackTimeoutMs),
    });
    client.publish(topics.events(this.options.deviceId), Buffer.from(bytes), { qos: 1 }, (err) => {
      if (err && this.inflight.some((f) => f.batchId === batchId)) {
        this.log.warn({ batchId, err: err.message }, 'batch not accepted by the broker; sending again');
        this.clearInflight();
        setImmediate(() => this.pump());
      }
    });
    this.emit('sent', batchId, events.length, bytes.length);
  }

  /** Alerts jump the event backlog; each is marked sent once the broker has accepted it. */
  private sendAlerts(): void {
    const client = this.client;
    if (!client) return;
    for (const { kind, event, note } of this.outbox.unsentAlerts(50)) {
      if (this.alertsInFlight.has(event.seq) || !event.workerId) continue;
      const alert: Alert = {
        v: PROTOCOL_VERSION,
        kind,
        seq: event.seq,
        atMs: event.wallMs,
        checkpointId: event.checkpointId,
        workerId: event.workerId,
        reasons: event.reasons,
        ...(note ? { note } : {}),
      };
      this.alertsInFlight.add(event.seq);
      client.publish(topics.alerts(this.options.deviceId), JSON.stringify(alert), { qos: 1 }, (err) => {
        this.alertsInFlight.delete(event.seq);
        if (err) this.log.warn({ seq: event.seq, err: err.message }, 'alert not accepted by the broker; will retry');
        else this.outbox.markAlertSent(event.seq, Date.now());
      });
    }
  }

  private startHeartbeat(client: mqtt.MqttClient): void {
    clearInterval(this.heartbeatTimer);
    const hb = this.options.heartbeat;
    if (!hb) return;
    const beat = (): void => {
      const payload: Heartbeat = { v: PROTOCOL_VERSION, atMs: Date.now(), clockOffsetMs: this.offsetMs, ...hb.figures() };
      client.publish(topics.heartbeat(this.options.deviceId), JSON.stringify(payload), { qos: 0 });
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

  private onAck(payload: Buffer): void {
    let ack: BatchAck;
    try {
      ack = parseJsonPayload('acks', payload);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      this.log.warn({ err: err.message }, 'acknowledgement refused');
      return;
    }
    const now = Date.now();
    const marked = this.outbox.markSynced(ack.firstSeq, ack.lastSeq, now);
    const acked = this.inflight.find((f) => f.batchId === ack.batchId);
    if (acked) {
      clearTimeout(acked.timer);
      this.inflight = this.inflight.filter((f) => f !== acked);
      // The hub stamped its clock somewhere between our send and now: take the middle.
      this.offsetMs = ack.hubTimeMs - (acked.sentAtMs + now) / 2;
      const clock = this.options.clock;
      if (clock) this.anchor = { bootId: clock.bootId, monoUs: Math.round((acked.sentMonoUs + this.monoUs()) / 2), hubTimeMs: ack.hubTimeMs };
    }
    if (ack.gaps.length) this.log.warn({ gaps: ack.gaps }, 'hub reports missing sequence numbers');
    this.log.debug({ batchId: ack.batchId, lastSeq: ack.lastSeq, marked }, 'batch acknowledged');
    this.emit('acked', ack);
    setImmediate(() => this.pump());
  }
}
