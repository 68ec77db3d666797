import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type mqtt from 'mqtt';
import type { Logger } from 'pino';
import { backoffDelayMs, type Backoff } from '../base/common/backoff.js';
import type { BrokerSettings } from '../base/common/broker-settings.js';

/**
 * One MQTT link, used by the kiosk (uplink and downlink) and by the hub: connect with TLS client
 * certificates, subscribe, publish with the broker's acknowledgement, and reconnect with backoff.
 *
 * Failures are told apart: a refused identity or a refused subscription or publish (the broker's ACL
 * does not know this certificate for these topics) needs a person, so the link waits `authRetryMs`
 * and says so once, as an error; a network problem only needs patience, so it retries with a backoff
 * that keeps growing until a connection has stayed up for `stableAfterMs`. A link that connects and is
 * then dropped at once therefore never reconnects in a tight loop.
 *
 * The constructor only stores its dependencies.
 */

export type LinkState = 'stopped' | 'connecting' | 'online' | 'offline' | 'auth-failed';

export type LinkFault = 'auth' | 'network';

export interface MqttLinkOptions {
  broker: BrokerSettings;
  clientId: string;
  /** Topic filters subscribed (QoS 1) on every connection; the link is online once all are granted. */
  subscriptions: readonly string[];
  reconnect: Backoff;
  /** After the broker refused this identity or its topics, wait this long before trying again. */
  authRetryMs: number;
  /** The backoff starts again from its first step only after a connection lasted this long. */
  stableAfterMs?: number;
  /**
   * A kiosk publishes only its own topics, so a refused publish means its identity or the broker's ACL
   * is wrong: the link goes down and waits (true). The hub publishes to every device's topics, and one
   * refused topic must not cut off the rest (false: the publish fails, the link stays).
   */
  refusedPublishFailsLink?: boolean;
  /** Published by the broker if this client goes away without saying goodbye (retained). */
  will?: { topic: string; payload: string; retain: boolean };
  log: Logger;
}

export interface MqttLinkEvents {
  state: [state: LinkState, detail?: string];
  /** `retained`: a stored message the broker handed over on subscribing, not a live one. */
  message: [topic: string, payload: Buffer, retained: boolean];
}

export class LinkDownError extends Error {
  override name = 'LinkDownError';
}

/** MQTT 5 reason codes (CONNACK, SUBACK, PUBACK) and 3.1.1 return codes that mean "not you, not here". */
const REFUSED_CODES = new Set([4, 5, 0x86, 0x87, 0x8a, 0x8c]);

/** Connection options for mqtt.js; reconnecting is the link's job (with backoff and fault classes). */
export function mqttOptions(b: BrokerSettings, clientId: string, will?: MqttLinkOptions['will']): mqtt.IClientOptions {
  const read = (f: string | undefined) => (f ? readFileSync(f) : undefined);
  return {
    clientId,
    protocolVersion: b.protocolVersion,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    keepalive: 30,
    ca: read(b.ca),
    cert: read(b.cert),
    key: read(b.key),
    rejectUnauthorized: true,
    ...(will ? { will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1 as const, retain: will.retain } } : {}),
    ...(b.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
  };
}

/**
 * Tells a refused identity or refused topics (wrong or revoked certificate, not authorised) apart
 * from a network problem: the first needs a person, the second only patience.
 */
export function classifyLinkError(err: unknown): LinkFault {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = e?.code;
  if (typeof code === 'number' && REFUSED_CODES.has(code)) return 'auth';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (/not authori[sz]ed|bad user ?name or password|certificate|alert (bad|unknown|handshake)|ERR_SSL|self[- ]signed/i.test(`${String(code)} ${message}`)) {
    return 'auth';
  }
  return 'network';
}

/**
 * A refused subscription: 0x80 in MQTT 3.1.1 (the only failure code there; "unspecified" in 5) means
 * the broker's ACL said no, which waits for a person like a refused identity, not a network retry.
 */
export function classifySubscriptionError(err: unknown): LinkFault {
  return (err as { code?: unknown } | null)?.code === 0x80 ? 'auth' : classifyLinkError(err);
}

/** mqtt.js, loaded when a link first connects: a kiosk without a hub never carries it. */
let mqttModule: Promise<typeof import('mqtt')> | undefined;
const loadMqtt = () => (mqttModule ??= import('mqtt'));

export class MqttLink extends EventEmitter<MqttLinkEvents> {
  private client: mqtt.MqttClient | undefined;
  private currentState: LinkState = 'stopped';
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  /** The reason of the last refusal logged as an error, so a repeat is not logged again as one. */
  private lastRefusal: string | undefined;
  private fault: { kind: LinkFault; why: string } | undefined;

  constructor(private readonly options: MqttLinkOptions) {
    super();
  }

  get state(): LinkState {
    return this.currentState;
  }

  start(): void {
    if (this.currentState !== 'stopped') return;
    this.connect();
  }

  async stop(beforeClose?: (publish: (topic: string, payload: string, retain?: boolean) => Promise<void>) => Promise<void>): Promise<void> {
    const client = this.client;
    if (client && this.currentState === 'online' && beforeClose) {
      await beforeClose((topic, payload, retain = false) => this.publish(topic, payload, { qos: 1, retain })).catch(() => undefined);
    }
    this.setState('stopped');
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.stableTimer);
    this.client = undefined;
    await client?.endAsync(true);
  }

  /**
   * Publishes and resolves once the broker has it (QoS 1: its acknowledgement; QoS 0: written to the
   * socket). Rejects when the link is down or the broker refuses it; a refusal also takes the link
   * down (see the class comment).
   */
  publish(topic: string, payload: string | Uint8Array, opts: { qos: 0 | 1; retain?: boolean } = { qos: 1 }): Promise<void> {
    const client = this.client;
    if (!client || this.currentState !== 'online') return Promise.reject(new LinkDownError('the hub link is not online'));
    const body = typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    return new Promise<void>((resolve, reject) => {
      client.publish(topic, body, { qos: opts.qos, retain: opts.retain ?? false }, (err) => {
        if (!err) return resolve();
        if (this.client === client && this.options.refusedPublishFailsLink !== false && classifyLinkError(err) === 'auth') {
          this.fail(client, 'auth', `publish to ${topic} refused: ${err.message}`);
        }
        reject(err);
      });
    });
  }

  private setState(state: LinkState, detail?: string): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state, detail);
  }

  /** Ends this connection for a reason; the close handler schedules the next attempt. */
  private fail(client: mqtt.MqttClient, kind: LinkFault, why: string): void {
    if (!this.fault || kind === 'auth') this.fault = { kind, why };
    client.end(true);
  }

  private connect(): void {
    this.setState('connecting');
    loadMqtt().then(
      (m) => {
        if (this.currentState === 'connecting') this.connectWith(m.default);
      },
      (err: unknown) => this.options.log.fatal({ err: (err as Error).message }, 'cannot load the MQTT client'),
    );
  }

  private connectWith(mqttJs: Pick<typeof mqtt, 'connect'>): void {
    const { log } = this.options;
    const client = mqttJs.connect(this.options.broker.url, mqttOptions(this.options.broker, this.options.clientId, this.options.will));
    this.client = client;
    this.fault = undefined;
    client.on('connect', () => {
      // No Nagle: acknowledgements are small packets, and each round trip would wait ~40 ms for it.
      (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
      client.subscribe([...this.options.subscriptions], { qos: 1 }, (err) => {
        if (this.client !== client) return;
        if (err) return this.fail(client, classifySubscriptionError(err), `subscription refused: ${err.message}`);
        this.setState('online');
        clearTimeout(this.stableTimer);
        this.stableTimer = setTimeout(() => {
          this.attempt = 0;
          this.lastRefusal = undefined;
        }, this.options.stableAfterMs ?? 30_000);
      });
    });
    client.on('message', (topic, payload, packet) => this.emit('message', topic, payload, packet.retain));
    client.on('error', (err) => {
      if (!this.fault || classifyLinkError(err) === 'auth') this.fault = { kind: classifyLinkError(err), why: err.message };
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = undefined;
      clearTimeout(this.stableTimer);
      client.removeAllListeners();
      client.on('error', () => {});
      client.end(true);
      if (this.currentState === 'stopped') return;
      const fault = this.fault ?? { kind: 'network' as const, why: 'connection closed' };
      if (fault.kind === 'auth') {
        if (this.lastRefusal !== fault.why) {
          log.error({ why: fault.why, retryInMs: this.options.authRetryMs }, "the broker refused this device's identity or topics; check its certificate and the broker's ACL");
          this.lastRefusal = fault.why;
        } else {
          log.debug({ why: fault.why, retryInMs: this.options.authRetryMs }, 'the broker refused us again');
        }
        this.attempt++;
        this.setState('auth-failed', fault.why);
        this.reconnectTimer = setTimeout(() => this.connect(), this.options.authRetryMs);
        return;
      }
      const delay = backoffDelayMs(this.attempt++, this.options.reconnect);
      if (this.attempt === 1 || this.attempt % 20 === 0) log.warn({ why: fault.why, retryInMs: delay, attempt: this.attempt }, 'hub link offline');
      this.setState('offline', fault.why);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }
}
