import { TokenBuckets } from '../../base/common/token-bucket.js';
import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { BrokerSettings } from '../../base/common/broker-settings.js';
import { BatchFormatError, decodeBatch, type WireEvent } from '../batch-codec.js';
import { MqttLink } from '../mqtt-link.js';
import {
  HUB_STATUS_TOPIC,
  PROTOCOL_VERSION,
  PayloadError,
  hubSubscriptions,
  parseJsonPayload,
  parseTopic,
  topics,
  type Alert,
  type AlertAck,
  type BatchAck,
  type HubStatus,
} from '../protocol.js';
import type { HubDirectory } from './directory.js';
import { KioskDeclarations } from './declarations.js';
import { kioskRaisedAlert, type AlertBook } from './notify/alert-book.js';
import { DeviceLanes } from './device-lanes.js';
import { IngestGroups } from './ingest-groups.js';
import { SiteRelay, type SiteMap } from './site-relay.js';
import { cutOffAtBroker, DYNSEC_RESPONSE_TOPIC, parseDynsecResponse, type CutOffResult, type DynsecResponse, type RevokedDevices } from './fleet/revocation.js';
import { SettingsPusher, SettingsReportRecorder } from './fleet/device-settings.js';
import type { HubStore, IngestRequest, IngestResult } from './store.js';

export interface HubOptions {
  broker: BrokerSettings;
  /** Unique per hub process (hub.1, hub.2, ...): its certificate's CN and client id. */
  clientId: string;
  /** Off for brokers without $share support (the embedded aedes): then run one hub process only. */
  sharedSubscription?: boolean;
  /** What the hub publishes to kiosks, and the key it signs with; without them it only ingests. */
  downlink?: { directory: HubDirectory; signingKey: KeyObject };
  /**
   * The directory kiosk declarations are recorded in (issue 14: the declarations table, the worker's
   * record, the site stream); absent: the downlink's, if any. A hub without a signing key still records them.
   */
  declarations?: { directory: HubDirectory; /** The province time zone: a flagged declaration stands for the rest of its day in it. */ zone?: string };
  /** How often this process looks for new remote settings to send at once (default 2 s). */
  settingsPushMs?: number;
  /**
   * The live site stream: allowed passages relayed to the other devices of the sender's site, and a
   * beat every `beatMs`. Without it the hub relays nothing and kiosks' site streams stay stale.
   */
  siteStream?: { sites: SiteMap; beatMs: number; maxAgeMs: number };
  /**
   * Alerts that reach people (sync/hub/notify/): every kiosk alert is raised in the book, with the
   * site of its device, before the kiosk is acknowledged. Without it alerts stay in the store only.
   */
  alerts?: { book: AlertBook; directory: Pick<HubDirectory, 'siteOf' | 'organisationsOf'> };
  /**
   * Devices whose batches, alerts and heartbeats are handled at once (each device's own one at a
   * time, in order). Default 128: their batches go to the store together, in group commits of up to
   * a quarter as many batches, three groups at a time, so they do not each hold one of the store's
   * connections; while three groups are being committed, the hub decodes and prepares the next one
   * (with 32 devices, two groups of 16 at a time and nothing prepared, it sat idle waiting for the
   * database instead).
   */
  concurrency?: number;
  /**
   * Revoked devices (sync/hub/fleet/revocation.ts): whatever still arrives from one is dropped before
   * anything else looks at it. With it the hub also hears the broker's dynamic-security plugin, so
   * `cutOff` can deny revoked devices at the broker over this process's own connection.
   */
  revoked?: Pick<RevokedDevices, 'has' | 'refuse'>;
}

const DEFAULT_CONCURRENCY = 128;
/** Group commits being stored at once, and the share of `concurrency` one group holds at most. */
const GROUPS_IN_FLIGHT = 3;

export interface HubEvents {
  ingested: [deviceId: string, result: IngestResult & { batchId: string }];
  alert: [deviceId: string, alert: Alert];
  rejected: [topic: string, reason: string];
  /** A batch's declarations taken on the kiosk's screen (issue 14): how many were new, and relayed to sites. */
  declarations: [deviceId: string, counts: { recorded: number; relayed: number }];
}

/** Where the hub's answers go: the broker, or a test. */
export type HubReply = (topic: string, payload: string | Uint8Array) => Promise<void>;

/**
 * The reference hub: takes event batches and alerts from every kiosk (MQTT shared subscription, so
 * several hub processes can share the load), stores them durably and idempotently, and only then
 * acknowledges them; answers kiosks' sync requests with signed parts; announces itself online
 * (retained, with a will that says offline) so kiosks resend what is unacknowledged at once.
 * The constructor only stores its dependencies.
 */
export class Hub extends EventEmitter<HubEvents> {
  private link: MqttLink | undefined;
  /** Since when the broker link has been up without a break (epoch ms), undefined while it is down. */
  private onlineSinceMs: number | undefined;
  /**
   * Batches of one device may be handled by any hub process; within this process, one at a time and
   * in order, while other devices' run alongside.
   */
  private lanes: DeviceLanes | undefined;
  /** Acknowledgements handed to the broker and not yet taken by it. */
  private readonly replies = new Set<Promise<void>>();
  private downlinkQueue: Promise<void> = Promise.resolve();
  /** Full answers per device and stream: a few at once (a kiosk coming online asks for each), then one per 15 s. */
  private readonly syncRequests = new TokenBuckets(4, 15_000);
  private relay: SiteRelay | undefined;
  /** Batches being handled at once are stored together (a group commit). */
  private readonly ingestGroups: IngestGroups;
  /** Declarations taken on kiosks' screens into the directory (with the downlink's directory only). */
  private readonly kioskDeclarations: KioskDeclarations | undefined;
  private readonly dynsecListeners = new Set<(responses: DynsecResponse[]) => void>();
  /** What devices report about their remote settings (the heartbeat's fleet block), into the directory on change. */
  private settingsReports: SettingsReportRecorder | undefined;
  /** Sends devices their new remote settings at once (`hub device set` only writes the directory). */
  private settingsPusher: SettingsPusher | undefined;

  constructor(
    private readonly options: HubOptions,
    private readonly store: HubStore,
    private readonly log: Logger,
  ) {
    super();
    const directory = options.declarations?.directory ?? options.downlink?.directory;
    this.kioskDeclarations = directory ? new KioskDeclarations({ sql: directory.sql, directory, log: this.log, ...(options.declarations?.zone ? { zone: options.declarations.zone } : {}) }) : undefined;
    this.ingestGroups = new IngestGroups({
      // One directory lookup for the whole group, not one per batch (a round trip each on PostgreSQL).
      ingestMany: async (batches) => this.store.ingestMany(await this.organisationsAtReceipt(batches)),
      maxInFlight: GROUPS_IN_FLIGHT,
      maxBatches: Math.max(1, Math.ceil((options.concurrency ?? DEFAULT_CONCURRENCY) / (GROUPS_IN_FLIGHT + 1))),
    });
  }

  /** Connects and resolves once subscribed (the hub then keeps reconnecting by itself). */
  async start(): Promise<void> {
    if (this.link) return;
    const shared = this.options.sharedSubscription !== false;
    const site = this.options.siteStream;
    const link = new MqttLink({
      broker: this.options.broker,
      clientId: this.options.clientId,
      subscriptions: [
        ...(shared
          ? [hubSubscriptions.events, hubSubscriptions.alerts, hubSubscriptions.heartbeat, hubSubscriptions.syncRequest, ...(site ? [hubSubscriptions.passages] : [])]
          : [topics.events('+'), topics.alerts('+'), topics.heartbeat('+'), topics.syncRequest('+'), ...(site ? [topics.passages('+')] : [])]),
        // Presence is never shared: every hub process must know which devices it cannot hear.
        ...(site ? [topics.presence('+')] : []),
        // The plugin answers every subscriber; each process picks its own answers by correlation.
        ...(this.options.revoked ? [DYNSEC_RESPONSE_TOPIC] : []),
      ],
      reconnect: { initialMs: 200, maxMs: 10_000 },
      authRetryMs: 30_000,
      refusedPublishFailsLink: false,
      will: { topic: HUB_STATUS_TOPIC, payload: this.status(false), retain: true },
      log: this.log,
    });
    this.link = link;
    const lanes = new DeviceLanes(this.options.concurrency ?? DEFAULT_CONCURRENCY);
    this.lanes = lanes;
    const reply: HubReply = (topic, payload) => link.publish(topic, payload, { qos: 1 });
    // An acknowledgement is sent only after the commit, but the next message does not wait for the
    // broker to take it: if it is lost, the kiosk sends the batch again and the store ignores it.
    // Those of the commits that finished in one turn of the event loop go out together, in one write.
    let acks: [topic: string, payload: string | Uint8Array][] = [];
    const flushAcks = (): void => {
      const out = acks;
      acks = [];
      for (const [topic, payload] of out) {
        const sent = reply(topic, payload).catch((err: unknown) =>
          this.log.debug({ err: (err as Error).message, topic }, 'acknowledgement not taken by the broker; the kiosk sends again'),
        );
        this.replies.add(sent);
        void sent.finally(() => this.replies.delete(sent));
      }
    };
    const ack: HubReply = (topic, payload) => {
      if (acks.push([topic, payload]) === 1) setImmediate(flushAcks);
      return Promise.resolve();
    };
    const siteStream = this.options.siteStream;
    if (siteStream) {
      this.relay = new SiteRelay({
        hubId: this.options.clientId,
        ...siteStream,
        publish: (topic, payload) => link.publish(topic, payload, { qos: 1 }),
        // Any hub process may have heard a device's heartbeat or batch: the store knows, not this process.
        lastSeen: (deviceIds) => this.store.lastSeen(deviceIds),
        ...(this.options.revoked ? { isRevoked: (id: string) => this.options.revoked!.has(id) } : {}),
        log: this.log,
      });
    }
    link.on('message', (topic, payload) => {
      if (topic === DYNSEC_RESPONSE_TOPIC) return this.onDynsecResponse(payload);
      const t = parseTopic(topic);
      const name = t?.name;
      // A cleared presence (an empty retained message, e.g. the hub's own for a revoked device) says nothing.
      if (name === 'presence' && payload.length === 0) return;
      // A revoked device is cut off at the broker too, but what it sent before (or through a broker
      // that has not been told yet) must not reach the store, the site stream or an answer.
      if (t && this.options.revoked?.has(t.deviceId)) return this.options.revoked.refuse(t.deviceId, name ?? topic);
      // Live passages skip the queue: they must not wait behind a batch being committed.
      if (this.relay && name === 'passages') return void this.onLivePassage(topic, payload);
      if (this.relay && name === 'presence') return this.onPresence(topic, payload);
      // Answers to sync requests (signing, sending snapshots) have their own queue, so acknowledgements
      // of events and alerts never wait behind them.
      if (name === 'syncRequest') {
        this.downlinkQueue = this.downlinkQueue
          .then(() => this.handle(topic, payload, reply))
          .catch((err: unknown) => this.log.error({ err: (err as Error).message, topic }, 'sync request not answered; the kiosk asks again'));
        return;
      }
      lanes.push(t?.deviceId ?? '', {
        topic,
        payload,
        run: () =>
          this.handle(topic, payload, ack).catch((err: unknown) =>
            this.log.error({ err: (err as Error).message, topic }, 'message not stored; the kiosk will send it again'),
          ),
      });
    });
    const online = new Promise<void>((resolve) => {
      link.on('state', (state) => {
        if (state !== 'online') {
          this.onlineSinceMs = undefined;
          return;
        }
        this.onlineSinceMs = Date.now();
        this.log.info({ clientId: this.options.clientId }, 'hub online');
        link.publish(HUB_STATUS_TOPIC, this.status(true), { qos: 1, retain: true }).catch(() => undefined);
        this.relay?.start();
        resolve();
      });
    });
    const downlink = this.options.downlink;
    if (downlink) {
      this.settingsPusher = new SettingsPusher({
        directory: downlink.directory,
        signingKey: downlink.signingKey,
        publish: (topic, payload) => link.publish(topic, payload, { qos: 1 }),
        everyMs: this.options.settingsPushMs ?? 2_000,
        log: this.log.child({ ns: 'hub:settings' }),
      });
      // Settings changed from here on are pushed (a directory that cannot say now: the first look will).
      await this.settingsPusher.prime().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'remote settings: the stream revision could not be read at start'));
      this.settingsPusher.start();
    }
    link.start();
    await online;
  }

  /**
   * Since when the broker link has been up without a break (epoch ms), undefined while it is down:
   * kiosks' heartbeats are not queued while the hub cannot hear them, so silence counts from here
   * (sync/hub/notify/hub-watch.ts).
   */
  linkUpSinceMs(): number | undefined {
    return this.onlineSinceMs;
  }

  async stop(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    this.onlineSinceMs = undefined;
    this.relay?.stop();
    this.relay = undefined;
    await this.settingsPusher?.stop();
    this.settingsPusher = undefined;
    await link?.stop(async (publish) => publish(HUB_STATUS_TOPIC, this.status(false), true));
    await this.lanes?.idle();
    await Promise.all(this.replies);
    await this.downlinkQueue;
    // What this process did, for sizing: group commits and the batches in them, and resends dropped
    // because the same batch was still waiting here.
    this.log.info({ groups: this.ingestGroups.groups, batches: this.ingestGroups.batches, resendsDropped: this.lanes?.collapsed ?? 0 }, 'hub stopped');
  }

  /**
   * Denies these devices everything at the broker (dynamic-security plugin) over this process's
   * connection; a failure (offline, the plugin silent or refusing) is returned, not thrown.
   */
  async cutOff(deviceIds: readonly string[]): Promise<CutOffResult> {
    const link = this.link;
    if (!this.options.revoked) return { ok: false, reason: 'this hub process does not hear the dynamic-security plugin' };
    if (!link || link.state !== 'online') return { ok: false, reason: 'this hub process is not connected to the broker' };
    const r = await cutOffAtBroker(
      {
        publish: (topic, payload) => link.publish(topic, payload, { qos: 1 }),
        onResponse: (listener) => {
          this.dynsecListeners.add(listener);
          return () => this.dynsecListeners.delete(listener);
        },
      },
      deviceIds,
    );
    if (r.ok) await this.clearPresence(deviceIds);
    return r;
  }

  /**
   * A revoked device's retained presence: cut off without its will, it would read "online" at the
   * broker for good. Cleared (an empty retained message), and its site told it is offline now.
   */
  private async clearPresence(deviceIds: readonly string[]): Promise<void> {
    const link = this.link;
    for (const id of deviceIds) {
      await link?.publish(topics.presence(id), new Uint8Array(0), { qos: 1, retain: true }).catch((err: unknown) => this.log.warn({ deviceId: id, err: (err as Error).message }, 'retained presence of a revoked device not cleared'));
      await this.relay?.onPresence(id, false);
    }
  }

  private onDynsecResponse(payload: Uint8Array): void {
    const responses = parseDynsecResponse(payload);
    if (responses) for (const listener of this.dynsecListeners) listener(responses);
  }

  private status(online: boolean): string {
    return JSON.stringify({ v: PROTOCOL_VERSION, hub: this.options.clientId, online, atMs: Date.now() } satisfies HubStatus);
  }

  /**
   * Handles one message from a kiosk: validates it, stores it, then answers through `reply`.
   * Bad input is refused (an event says why) and never throws; a storage failure throws, and the
   * kiosk sends the message again.
   */
  async handle(topic: string, payload: Uint8Array, reply: HubReply): Promise<void> {
    const t = parseTopic(topic);
    if (!t) return this.reject(topic, 'not a SafeGate topic');
    if (t.name === 'events') return this.onBatch(t.deviceId, topic, payload, reply);
    if (t.name === 'syncRequest') return this.onSyncRequest(t.deviceId, topic, payload, reply);
    if (t.name === 'alerts') return this.onAlert(t.deviceId, topic, payload, reply);
    if (t.name !== 'heartbeat') return this.reject(topic, 'not a topic the hub reads');
    let heartbeat;
    try {
      heartbeat = parseJsonPayload('heartbeat', payload);
    } catch (err) {
      if (err instanceof PayloadError) return this.reject(topic, err.message);
      throw err;
    }
    await this.store.recordHeartbeat(t.deviceId, heartbeat, Date.now());
    const directory = this.options.downlink?.directory;
    if (heartbeat.fleet && directory) {
      this.settingsReports ??= new SettingsReportRecorder(directory.sql);
      await this.settingsReports.record(t.deviceId, heartbeat.fleet, Date.now());
    }
  }

  private async onAlert(deviceId: string, topic: string, payload: Uint8Array, reply: HubReply): Promise<void> {
    let alert;
    try {
      alert = parseJsonPayload('alerts', payload);
    } catch (err) {
      if (err instanceof PayloadError) return this.reject(topic, err.message);
      throw err;
    }
    // The worker's organisation (from the directory the downlink or the alerts use: a hub without a signing key still tells people).
    const orgs = this.options.downlink?.directory ?? this.options.alerts?.directory;
    const orgId = alert.workerId ? (await orgs?.organisationsOf([alert.workerId]))?.get(alert.workerId) : undefined;
    if (await this.store.recordAlert(deviceId, alert, Date.now(), orgId)) {
      this.log.warn({ deviceId, kind: alert.kind, seq: alert.seq }, 'alert from a checkpoint');
      this.emit('alert', deviceId, alert);
    }
    // Raised every time, a duplicate too (idempotent): a crash between storing and raising loses nothing.
    const alerts = this.options.alerts;
    if (alerts) await alerts.book.raise(kioskRaisedAlert(deviceId, alert, orgId ?? null, (await alerts.directory.siteOf(deviceId)) ?? null));
    // Stored (now or before): the kiosk may let it go.
    const ack: AlertAck = { v: PROTOCOL_VERSION, kind: 'alert', seq: alert.seq, hubTimeMs: Date.now() };
    await reply(topics.acks(deviceId), JSON.stringify(ack));
  }

  /**
   * The organisation whose list holds each worker of a group's batches now, at receipt, stored with
   * their events (one lookup for the group): the console shows a manager the history of their own
   * workers by it, and a worker who later moves to another organisation does not take it along. A
   * worker on no list stays unstamped.
   */
  private async organisationsAtReceipt(batches: readonly IngestRequest[]): Promise<readonly IngestRequest[]> {
    const directory = this.options.downlink?.directory;
    if (!directory) return batches;
    const workers = new Set<string>();
    for (const b of batches) for (const e of b.events) if (e.workerId) workers.add(e.workerId);
    if (workers.size === 0) return batches;
    const orgOf = await directory.organisationsOf([...workers]);
    return orgOf.size ? batches.map((b) => ({ ...b, orgOf })) : batches;
  }

  private async onBatch(deviceId: string, topic: string, payload: Uint8Array, reply: HubReply): Promise<void> {
    let batch;
    try {
      batch = decodeBatch(payload);
    } catch (err) {
      if (err instanceof BatchFormatError) return this.reject(topic, err.message);
      throw err;
    }
    // The broker's ACL ties the topic to the sender's certificate; the payload must agree with it.
    if (batch.deviceId !== deviceId) return this.reject(topic, `batch names device ${batch.deviceId}`);
    const result = await this.ingestGroups.ingest({ deviceId, events: batch.events, receivedMs: Date.now(), anchor: batch.anchor });
    const ack: BatchAck = {
      v: PROTOCOL_VERSION,
      batchId: batch.batchId,
      firstSeq: batch.events[0]!.seq,
      lastSeq: batch.events.at(-1)!.seq,
      hubTimeMs: Date.now(),
      gaps: result.gaps,
    };
    this.emit('ingested', deviceId, { ...result, batchId: batch.batchId });
    // Declarations taken on the kiosk's screen (issue 14), before the acknowledgement: a directory that
    // cannot take them now throws, the batch goes unacknowledged and the kiosk sends it again (its
    // events are stored once, its declarations recorded once: ids from device and seq).
    if (this.kioskDeclarations && batch.events.some((e) => e.source === 'declaration' && e.workerId !== null)) await this.recordKioskDeclarations(deviceId, batch.events);
    await reply(topics.acks(deviceId), JSON.stringify(ack));
    // Passages the live path did not bring (the kiosk was offline, or the report was lost).
    await this.relay?.onIngested(deviceId, batch.events).catch((err: unknown) => this.log.error({ err: (err as Error).message, deviceId }, 'site map unreadable: batch passages not relayed'));
  }

  /**
   * A batch's declarations of roster workers into the declarations table and the roster, and on to the
   * kiosks of the sites serving each worker (as a phone's declaration goes). A directory that fails
   * (PostgreSQL restarting, a SQLite file locked) is logged and thrown: the batch is not acknowledged,
   * so the kiosk keeps it and sends it again; acknowledged with the declarations only in hub_events,
   * they would never reach the directory. Relayed when the record changed or the row is new (a try
   * that failed between the roster and the row relays on the next one; kiosks keep the newest only).
   */
  private async recordKioskDeclarations(deviceId: string, events: readonly WireEvent[]): Promise<void> {
    let receipts;
    try {
      receipts = await this.kioskDeclarations!.record(deviceId, events);
    } catch (err) {
      this.log.error({ err: (err as Error).message, deviceId }, 'kiosk declarations not recorded in the directory: batch not acknowledged, the kiosk sends it again');
      throw err;
    }
    let relayed = 0;
    for (const r of receipts) {
      if ((!r.rosterChanged && r.status !== 'recorded') || r.sites.length === 0) continue;
      if (this.relayDeclaration(r.sites, { workerId: r.workerId, declaredAtMs: r.declaredAtMs, flagged: r.flagged })) relayed++;
    }
    this.emit('declarations', deviceId, { recorded: receipts.filter((r) => r.status === 'recorded').length, relayed });
  }

  /** A device's link presence (retained; its will says offline): the site's kiosks hear at once. */
  private onPresence(topic: string, payload: Uint8Array): void {
    const t = parseTopic(topic);
    if (!t || !this.relay) return;
    // A retained message can be cleared with an empty one: then nothing is known of the device's link.
    if (payload.length === 0) return;
    let presence;
    try {
      presence = parseJsonPayload('presence', payload);
    } catch (err) {
      if (err instanceof PayloadError) return this.reject(topic, err.message);
      throw err;
    }
    void this.relay.onPresence(t.deviceId, presence.online);
  }

  /**
   * A worker's health declaration (sync/hub/declarations.ts, time and flag only) to the kiosks of the
   * sites serving them over the live site stream; false when this process relays no site stream.
   */
  relayDeclaration(siteIds: readonly string[], declaration: { workerId: string; declaredAtMs: number; flagged: boolean }): boolean {
    if (!this.relay) return false;
    this.relay.onDeclaration(siteIds, declaration);
    return true;
  }

  /** A kiosk's live passage or retraction: checked, then relayed to its site (nothing is stored: the batch brings it). */
  private async onLivePassage(topic: string, payload: Uint8Array): Promise<void> {
    const t = parseTopic(topic);
    if (!t || !this.relay) return;
    let passage;
    try {
      passage = parseJsonPayload('passages', payload);
    } catch (err) {
      if (err instanceof PayloadError) return this.reject(topic, err.message);
      throw err;
    }
    let r;
    try {
      r = await this.relay.onLivePassage(t.deviceId, passage);
    } catch (err) {
      this.log.error({ err: (err as Error).message, deviceId: t.deviceId }, 'site map unreadable: live passage not relayed');
      return;
    }
    if (r === 'no-site') this.log.debug({ deviceId: t.deviceId }, 'live passage from a device in no site: not relayed');
    else if (r === 'rate-limited') this.reject(topic, 'too many live passages from this device');
  }

  private async onSyncRequest(deviceId: string, topic: string, payload: Uint8Array, reply: HubReply): Promise<void> {
    const downlink = this.options.downlink;
    if (!downlink) return;
    let req;
    try {
      req = parseJsonPayload('syncRequest', payload);
    } catch (err) {
      if (err instanceof PayloadError) return this.reject(topic, err.message);
      throw err;
    }
    if (!this.syncRequests.take(`${deviceId} ${req.stream}`, Date.now())) {
      // A full answer can be a roster snapshot of megabytes for a request of a hundred bytes.
      this.log.warn({ deviceId, stream: req.stream }, 'sync request refused: too many from this device; it asks again later');
      return;
    }
    let sent = 0;
    for await (const p of downlink.directory.respondSignedTo(deviceId, req, Date.now(), downlink.signingKey)) {
      await reply(topics.downlink(deviceId), p);
      sent++;
    }
    this.log.debug({ deviceId, stream: req.stream, cursor: req.cursor, parts: sent }, 'sync request answered');
  }

  private reject(topic: string, reason: string): void {
    this.log.warn({ topic, reason }, 'message refused');
    this.emit('rejected', topic, reason);
  }
}
