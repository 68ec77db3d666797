import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DOWNLINK_BYTES } from '../../sync/downlink-codec.js';
import { topics } from '../../sync/protocol.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';
import { BROKER_CONF_FILE, TestBroker, TestCertificates } from '../helpers/mosquitto.js';

/** The retained hub status topic of the ACL: hub processes write it, kiosks read it. */
const HUB_STATUS = 'safegate/v1/hub/status';

/** A number the shipped configuration sets (config/mosquitto/safegate.conf). */
function shippedSetting(name: string): number {
  const m = new RegExp(`^${name}\\s+(\\d+)\\s*$`, 'm').exec(readFileSync(BROKER_CONF_FILE, 'utf8'));
  if (!m) throw new Error(`config/mosquitto/safegate.conf does not set ${name}`);
  return Number(m[1]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The broker configuration SafeGate ships (config/mosquitto/safegate.conf, with the shipped ACL),
 * against a real Mosquitto: TLS with client certificates, the certificate CN as the username and the
 * client id, per-device ACLs, a revocation list, and bounded packets and queues.
 */
describe('broker security (real Mosquitto, the shipped configuration)', () => {
  const dir = tempDir('safegate-broker-');
  let certs: TestCertificates;
  let broker: TestBroker;
  const clients: mqtt.MqttClient[] = [];
  /** The longest device id there can be: the longest topics a kiosk has. */
  const longestId = `kiosk-${'x'.repeat(57)}`;

  beforeAll(async () => {
    certs = new TestCertificates(`${dir.path}/pki`);
    for (const n of ['kiosk-a', 'kiosk-b', 'kiosk-revoked', 'hub.1', 'hub', 'hub-1', longestId]) certs.issue(n);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
  });
  // With the client id forced to the certificate's name, a second connection with the same
  // certificate would take over the first: every test starts with no client connected.
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });
  afterAll(async () => {
    await broker.stop();
    dir.remove();
  });

  /** mqtt.js hands TLS options on to tls.connect; its types list only some of them. */
  type ConnectOptions = mqtt.IClientOptions & Pick<ConnectionOptions, 'maxVersion' | 'ciphers'>;

  async function connect(name: string, options: ConnectOptions = {}): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync(broker.url, { ...certs.credentials(name), protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    // A connection the broker closes on purpose (an oversized packet) may end in a socket error.
    c.on('error', () => {});
    clients.push(c);
    return c;
  }

  /** Every SafeGate message a client receives from now on, as "topic payload". */
  function collect(client: mqtt.MqttClient): string[] {
    const got: string[] = [];
    client.on('message', (topic, payload) => {
      if (topic.startsWith('safegate/')) got.push(`${topic} ${payload.toString()}`);
    });
    return got;
  }

  /** Collects what a client receives on a topic filter for a short, bounded time. */
  async function receive(client: mqtt.MqttClient, filter: string, act: () => Promise<void>, waitMs = 400): Promise<string[]> {
    const got = collect(client);
    await client.subscribeAsync(filter, { qos: 1 });
    await act();
    await sleep(waitMs);
    return got;
  }

  /** Whether the broker closes this client's connection within `ms`. */
  async function closedWithin(client: mqtt.MqttClient, ms: number): Promise<boolean> {
    if (!client.connected) return true;
    // Not events.once: it would reject on the socket error that may come with the close.
    const closed = new Promise<boolean>((resolve) => client.once('close', () => resolve(true)));
    return Promise.race([closed, sleep(ms).then(() => false)]);
  }

  /**
   * Makes a client stop taking messages, as a hub process whose event loop is busy: it acknowledges
   * nothing, so the broker fills its in-flight window and then queues for it. Returns the release.
   */
  function stall(client: mqtt.MqttClient): () => void {
    const held: (() => void)[] = [];
    client.handleMessage = (_packet, callback) => held.push(() => callback());
    return () => {
      client.handleMessage = (_packet, callback) => callback();
      for (const release of held.splice(0)) release();
    };
  }

  /** Waits until a count stops growing for `quietMs`, and returns it. */
  async function settled(count: () => number, quietMs = 500, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    while (count() !== last) {
      if (Date.now() > deadline) throw new Error(`still growing after ${timeoutMs} ms (${count()})`);
      last = count();
      await sleep(quietMs);
    }
    return last;
  }

  /** Publishes `n` QoS 1 messages and waits for the broker to have taken every one. */
  async function publishMany(client: mqtt.MqttClient, topic: string, n: number, payload: Buffer): Promise<void> {
    for (let sent = 0; sent < n; ) {
      const chunk = Math.min(500, n - sent);
      await Promise.all(Array.from({ length: chunk }, () => client.publishAsync(topic, payload, { qos: 1 })));
      sent += chunk;
    }
  }

  it('refuses a client without a certificate signed by the CA', async () => {
    const rogueCa = new TestCertificates(`${dir.path}/rogue`);
    const rogue = rogueCa.issue('kiosk-a');
    await expect(mqtt.connectAsync(broker.url, { ...rogue, ca: certs.credentials('hub.1').ca, reconnectPeriod: 0, connectTimeout: 3_000 })).rejects.toThrow();
  });

  it.each([5, 4] as const)('a device publishes its own events, but not as another device (MQTT %s)', async (v) => {
    const hub = await connect('hub.1');
    const a = await connect('kiosk-a', { protocolVersion: v });
    const got = await receive(hub, 'safegate/v1/+/events', async () => {
      await a.publishAsync(topics.events('kiosk-a'), `own-${v}`, { qos: 1 });
      await a.publishAsync(topics.events('kiosk-b'), `forged-${v}`, { qos: 1 }).catch(() => {});
    });
    expect(got).toContain(`safegate/v1/kiosk-a/events own-${v}`);
    expect(got.filter((g) => g.includes('forged'))).toEqual([]);
  });

  it('a device reads its own acknowledgements but not another device\'s', async () => {
    const hub = await connect('hub.1');
    const a = await connect('kiosk-a');
    const b = await connect('kiosk-b');
    const spied: string[] = [];
    b.on('message', (t, p) => spied.push(`${t} ${p.toString()}`));
    // Mosquitto 2.0 may grant the subscription and check read access on each delivery instead;
    // what matters is that nothing arrives.
    await b.subscribeAsync(topics.acks('kiosk-a'), { qos: 1 }).catch(() => {});
    await b.subscribeAsync('safegate/v1/#', { qos: 1 }).catch(() => {});
    const got = await receive(a, topics.acks('kiosk-a'), async () => {
      await hub.publishAsync(topics.acks('kiosk-a'), 'ack-for-a', { qos: 1 });
    });
    expect(got).toEqual(['safegate/v1/kiosk-a/acks ack-for-a']);
    expect(spied).toEqual([]);
  });

  it('a device cannot publish acknowledgements (only the hub can)', async () => {
    const a = await connect('kiosk-a');
    const b = await connect('kiosk-b');
    const got = await receive(a, topics.acks('kiosk-a'), async () => {
      await b.publishAsync(topics.acks('kiosk-a'), 'fake-ack', { qos: 1 }).catch(() => {});
    });
    expect(got).toEqual([]);
  });

  it('a device that reuses another device\'s client id cannot kick it off, and stays itself', async () => {
    const hub = await connect('hub.1');
    const atHub = collect(hub);
    await hub.subscribeAsync('safegate/v1/+/events', { qos: 1 });
    const a = await connect('kiosk-a', { clientId: 'kiosk-a' });
    let aDropped = false;
    a.on('close', () => (aDropped = true));
    const logFrom = broker.log.join('').length;

    const b = await connect('kiosk-b', { clientId: 'kiosk-a' });
    expect(await closedWithin(a, 1_500)).toBe(false);
    expect(aDropped).toBe(false);
    expect(b.connected).toBe(true);
    await b.publishAsync(topics.events('kiosk-b'), 'from-b', { qos: 1 });
    await b.publishAsync(topics.events('kiosk-a'), 'b-as-a', { qos: 1 }).catch(() => {});
    await a.publishAsync(topics.events('kiosk-a'), 'from-a', { qos: 1 });
    await sleep(400);

    expect(atHub.sort()).toEqual(['safegate/v1/kiosk-a/events from-a', 'safegate/v1/kiosk-b/events from-b']);
    // The broker's own account: B's session is named after B's certificate, not the id it asked for.
    const log = broker.log.join('').slice(logFrom);
    expect(log).toMatch(/as kiosk-b \([^)]*u'kiosk-b'\)/);
    expect(log).not.toMatch(/already connected/);
  });

  it.each(['hub', 'hub-1'])('a device named %s (a valid device id) has none of the hub\'s rights; hub.1 has them', async (name) => {
    expect(name).toMatch(/^[a-z0-9][a-z0-9-]{1,62}$/); // base/common/ids.ts DEVICE_ID_PATTERN
    const impostor = await connect(name);
    const stolen = collect(impostor);
    for (const filter of ['safegate/v1/+/events', topics.events('kiosk-a'), 'safegate/v1/#']) {
      await impostor.subscribeAsync(filter, { qos: 1 }).catch(() => {});
    }
    const a = await connect('kiosk-a');
    const atA = collect(a);
    await a.subscribeAsync([topics.acks('kiosk-a'), HUB_STATUS], { qos: 1 });
    await a.publishAsync(topics.events('kiosk-a'), `event-while-${name}-listens`, { qos: 1 });
    await impostor.publishAsync(topics.acks('kiosk-a'), `ack-from-${name}`, { qos: 1 }).catch(() => {});
    await impostor.publishAsync(HUB_STATUS, `status-from-${name}`, { qos: 1, retain: true }).catch(() => {});
    await sleep(400);
    expect(stolen.filter((m) => m.includes('kiosk-a'))).toEqual([]);
    expect(atA.filter((m) => m.endsWith(`-from-${name}`))).toEqual([]);

    // The hub process, by its own certificate, can do each of these.
    const hub = await connect('hub.1');
    const atHub = collect(hub);
    await hub.subscribeAsync('safegate/v1/+/events', { qos: 1 });
    await a.publishAsync(topics.events('kiosk-a'), 'event-for-hub', { qos: 1 });
    await hub.publishAsync(topics.acks('kiosk-a'), 'ack-from-hub.1', { qos: 1 });
    await hub.publishAsync(HUB_STATUS, `status-from-hub.1-${name}`, { qos: 1, retain: true });
    await sleep(400);
    expect(atHub).toEqual(['safegate/v1/kiosk-a/events event-for-hub']);
    expect(atA).toEqual(expect.arrayContaining(['safegate/v1/kiosk-a/acks ack-from-hub.1', `${HUB_STATUS} status-from-hub.1-${name}`]));
  });

  it.each([5, 4] as const)('a packet above the maximum size closes the connection (MQTT %s); a 4 MiB downlink part gets through', async (v) => {
    const hub = await connect('hub.1');
    const atHub = collect(hub);
    await hub.subscribeAsync('safegate/v1/+/events', { qos: 1 });
    const kiosk = await connect(longestId, { protocolVersion: v });
    const atKiosk: Buffer[] = [];
    kiosk.on('message', (_t, payload) => atKiosk.push(payload));
    await kiosk.subscribeAsync(topics.downlink(longestId), { qos: 1 });

    // The largest part the hub may send, on the longest downlink topic there is.
    const part = Buffer.alloc(MAX_DOWNLINK_BYTES, 0xa5);
    await hub.publishAsync(topics.downlink(longestId), part, { qos: 1 });
    await waitFor(() => (atKiosk.length === 1 ? true : undefined), '4 MiB part delivered');
    expect(atKiosk[0]!.equals(part)).toBe(true);

    // Mosquitto reads the packet's length first and closes the connection (after an MQTT 5
    // DISCONNECT "packet too large", which the reset may overtake) without reading the rest.
    kiosk.publish(topics.events(longestId), Buffer.alloc(MAX_DOWNLINK_BYTES + 2_048), { qos: 1 }, () => {});
    expect(await closedWithin(kiosk, 5_000)).toBe(true);
    await sleep(300);
    expect(atHub).toEqual([]);
  });

  it('a hub process that stalls loses none of 8,000 batches (1,000 kiosks x 8 in flight)', async () => {
    const hub = await connect('hub.1');
    let received = 0;
    hub.on('message', () => received++);
    await hub.subscribeAsync('safegate/v1/+/events', { qos: 1 });
    const release = stall(hub);
    const kiosk = await connect('kiosk-a');
    // A full batch of 500 typical events is about 4 KB.
    await publishMany(kiosk, topics.events('kiosk-a'), 8_000, Buffer.alloc(4_096, 1));
    release();
    expect(await settled(() => received)).toBe(8_000);
  });

  it('a client that stops reading cannot make the broker hold more than its queue bounds', async () => {
    const inflight = shippedSetting('max_inflight_messages');
    const maxMessages = shippedSetting('max_queued_messages');
    const maxBytes = shippedSetting('max_queued_bytes');
    // 0 means no bound at all.
    expect(Math.min(inflight, maxMessages, maxBytes)).toBeGreaterThan(0);
    const hub = await connect('hub.1');
    let received = 0;
    let bytes = 0;
    hub.on('message', (_t, payload) => {
      received++;
      bytes += payload.length;
    });
    await hub.subscribeAsync('safegate/v1/+/events', { qos: 1 });
    const kiosk = await connect('kiosk-a');

    // By count: small messages, more than the window and the queue hold.
    let release = stall(hub);
    await publishMany(kiosk, topics.events('kiosk-a'), maxMessages + inflight + 500, Buffer.alloc(16, 1));
    release();
    const byCount = await settled(() => received);
    expect(byCount).toBeGreaterThanOrEqual(maxMessages);
    expect(byCount).toBeLessThanOrEqual(maxMessages + inflight);

    // By bytes: uplink-sized batches (256 KiB), more bytes than the queue holds.
    received = 0;
    bytes = 0;
    const size = 256 * 1024;
    release = stall(hub);
    await publishMany(kiosk, topics.events('kiosk-a'), Math.ceil(maxBytes / size) + 64, Buffer.alloc(size, 2));
    release();
    await settled(() => received);
    expect(bytes).toBeGreaterThanOrEqual(maxBytes - size);
    expect(bytes).toBeLessThanOrEqual(maxBytes + size);
    expect(broker.log.join('')).toMatch(/Outgoing messages are being dropped for client hub\.1/);
  }, 120_000);

  it('speaks TLS 1.2 only with forward-secret AEAD suites', async () => {
    // CBC with SHA-1 MAC: offered by OpenSSL by default, refused here.
    await expect(connect('kiosk-a', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' })).rejects.toThrow(/handshake failure/);
    await expect(connect('kiosk-a', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).resolves.toBeDefined();
  });

  it('tells an MQTT 5 client that asks for no keepalive to ping every 60 s', async () => {
    const c = mqtt.connect(broker.url, { ...certs.credentials('kiosk-a'), protocolVersion: 5, keepalive: 0, reconnectPeriod: 0 });
    clients.push(c);
    const connack = await new Promise<mqtt.IConnackPacket>((resolve) => c.once('connect', resolve));
    expect(connack.properties?.serverKeepAlive).toBe(60);
  });

  // Last: it restarts the broker.
  it('refuses a revoked certificate from the next broker start; other devices still connect', async () => {
    await connect('kiosk-revoked');
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    certs.revoke('kiosk-revoked');
    await broker.stop();
    await broker.start();
    await expect(connect('kiosk-revoked')).rejects.toThrow(/certificate revoked/);
    await expect(connect('kiosk-a')).resolves.toBeDefined();
  });
});
