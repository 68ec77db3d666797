import { EventEmitter } from 'node:events';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../../base/common/backoff.js';
import { BatchFormatError, decodeBatch } from '../batch-codec.js';
import type { BrokerSettings } from '../../base/common/broker-settings.js';
import { disableNagle, mqttOptions } from '../broker.js';
import { PROTOCOL_VERSION, PayloadError, hubSubscriptions, parseJsonPayload, parseTopic, topics, type Alert, type BatchAck } from '../protocol.js';
import type { HubDirectory } from './directory.js';
import type { HubStore, IngestResult } from './store.js';
import type { KeyObject } from 'node:crypto';

export interface HubOptions {
  broker: BrokerSettings;
  /** Unique per hub process; several processes share the load through shared subscriptions. */
  clientId: string;
  /** Off for brokers without $share support (the embedded aedes): then run one hub process only. */
  sharedSubscription?: boolean;
  /** What the hub publishes to kiosks, and the key it signs with; without them it only ingests. */
  downlink?: { directory: HubDirectory; signingKey: KeyObject };
}

export interface HubEvents {
  ingested: [deviceId: string, result: IngestResult & { batchId: string }];
  alert: [deviceId: string, alert: Alert];
  rejected: [topic: string, reason: string];
}

/**
 * The reference hub: takes event batches from every kiosk (MQTT shared subscription, so several hub
 * processes can share the load), commits them durably and idempotently, and only then acknowledges
 * them. The constructor only stores its dependencies.
 */
export class Hub extends EventEmitter<HubEvents> {
  private client: mqtt.MqttClient | undefined;
  private stopped = true;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: HubOptions,
    private readonly store: HubStore,
    private readonly log: Logger,
  ) {
    super();
  }

  async start(): Promise<void> {
    this.stopped = false;
    await new Promise<void>((resolve) => this.connect(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.endAsync(true);
  }

  private connect(onOnline?: () => void): void {
    const client = mqtt.connect(this.options.broker.url, mqttOptions(this.options.broker, this.options.clientId));
    this.client = client;
    // Batches of one device may be handled by any hub process; ingest is idempotent, so order of
    // arrival across processes does not matter. Within this process they are handled one at a time.
    let queue = Promise.resolve();
    client.on('connect', () => {
      this.attempt = 0;
      disableNagle(client);
      const shared = this.options.sharedSubscription !== false;
      const filters = shared
        ? [hubSubscriptions.events, hubSubscriptions.alerts, hubSubscriptions.heartbeat, hubSubscriptions.syncRequest]
        : [topics.events('+'), topics.alerts('+'), topics.heartbeat('+'), topics.syncRequest('+')];
      client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) this.log.error({ err: err.message }, 'cannot subscribe to event batches');
        else {
          this.log.info({ clientId: this.options.clientId }, 'hub online');
          onOnline?.();
        }
      });
    });
    client.on('message', (topic, payload) => {
      queue = queue.then(() => this.onMessage(client, topic, payload)).catch((err: unknown) => {
        this.log.error({ err: (err as Error).message, topic }, 'message not stored; the kiosk will send it again');
      });
    });
    client.on('error', (err) => this.log.warn({ err: err.message }, 'broker connection error'));
    client.on('close', () => {
      if (this.client !== client || this.stopped) return;
      this.client = undefined;
      client.removeAllListeners();
      client.on('error', () => {});
      client.end(true);
      const delay = backoffDelayMs(this.attempt++, { initialMs: 200, maxMs: 10_000 });
      this.reconnectTimer = setTimeout(() => this.connect(onOnline), delay);
    });
  }

  private async onMessage(client: mqtt.MqttClient, topic: string, payload: Buffer): Promise<void> {
    const t = parseTopic(topic);
    if (!t) return this.reject(topic, 'not a SafeGate topic');
    if (t.name === 'events') return this.onBatch(client, t.deviceId, topic, payload);
    if (t.name === 'syncRequest') return this.onSyncRequest(client, t.deviceId, topic, payload);
    if (t.name !== 'alerts' && t.name !== 'heartbeat') return this.reject(topic, 'not a topic the hub reads');
    try {
      if (t.name === 'alerts') {
        const alert = parseJsonPayload('alerts', payload);
        if (await this.store.recordAlert(t.deviceId, alert, Date.now())) {
          this.log.warn({ deviceId: t.deviceId, kind: alert.kind, seq: alert.seq }, 'alert from a checkpoint');
          this.emit('alert', t.deviceId, alert);
        }
      } else {
        await this.store.recordHeartbeat(t.deviceId, parseJsonPayload('heartbeat', payload), Date.now());
      }
    } catch (err) {
      if (err instanceof PayloadError) return this.reject(topic, err.message);
      throw err;
    }
  }

  private async onBatch(client: mqtt.MqttClient, deviceId: string, topic: string, payload: Buffer): Promise<void> {
    const t = { deviceId };
    let batch;
    try {
      batch = decodeBatch(payload);
    } catch (err) {
      if (err instanceof BatchFormatError) return this.reject(topic, err.message);
      throw err;
    }
    // The broker's ACL ties the topic to the sender's certificate; the payload must agree with it.
    if (batch.deviceId !== t.deviceId) return this.reject(topic, `batch names device ${batch.deviceId}`);
    const result = await this.store.ingest(t.deviceId, batch.events, Date.now(), batch.anchor);
    const ack: BatchAck = {
      v: PROTOCOL_VERSION,
      batchId: batch.batchId,
      firstSeq: batch.events[0]!.seq,
      lastSeq: batch.events.at(-1)!.seq,
      hubTimeMs: Date.now(),
      gaps: result.gaps,
    };
    this.emit('ingested', t.deviceId, { ...result, batchId: batch.batchId });
    await client.publishAsync(topics.acks(t.deviceId), JSON.stringify(ack), { qos: 1 });
  }

  private async onSyncRequest(client: mqtt.MqttClient, deviceId: string, topic: string, payload: Buffer): Promise<void> {
    const downlink = this.options.downlink;
    if (!downlink) return;
    let req;
    try {
      req = parseJsonPayload('syncRequest', payload);
    } catch (err) {
      if (err instanceof PayloadError) return this.reject(topic, err.message);
      throw err;
    }
    let sent = 0;
    for (const p of downlink.directory.respondSigned(req, Date.now(), downlink.signingKey)) {
      await client.publishAsync(topics.downlink(deviceId), Buffer.from(p), { qos: 1 });
      sent++;
    }
    this.log.debug({ deviceId, stream: req.stream, cursor: req.cursor, parts: sent }, 'sync request answered');
  }

  private reject(topic: string, reason: string): void {
    this.log.warn({ topic, reason }, 'batch rejected');
    this.emit('rejected', topic, reason);
  }
}
