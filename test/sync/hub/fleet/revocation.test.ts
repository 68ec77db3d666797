import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../base/node/logger.js';
import { cutOffOverMqtt, revokeDevice, RevokedDevices, UnknownDeviceError, type CutOffResult } from '../../../../sync/hub/fleet/revocation.js';
import { Hub } from '../../../../sync/hub/hub.js';
import { PROTOCOL_VERSION, topics, type Heartbeat } from '../../../../sync/protocol.js';
import { SqliteHubStore } from '../../../../sync/hub/store.js';
import { tempDir, waitFor } from '../../../helpers/fixtures.js';
import { freePort, TestBroker, TestCertificates } from '../../../helpers/mosquitto.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls an asynchronous probe until it gives a value (waitFor takes synchronous probes only). */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function heartbeat(atMs: number): Heartbeat {
  return {
    v: PROTOCOL_VERSION,
    atMs,
    software: 'test 1.0.0',
    outboxDepth: 0,
    oldestUnsyncedAgeS: null,
    scanner: 'ready',
    gpio: 'simulated',
    clockOffsetMs: null,
    rosterAgeS: 5,
    policyVersion: 1,
    heldEvents: 0,
    disk: null,
    fleet: null,
  };
}

/**
 * Revoking a device on the real broker (Mosquitto 2.0.11 with the shipped configuration: the ACL file
 * and the dynamic-security plugin as a deny list beside it): cut off at once, unable to do anything
 * on reconnect with its still valid certificate, refused at TLS once the broker restarts with the
 * CRL; other devices and the hub keep every right; the hub drops what still arrives from it.
 */
describe('revoking a device (real Mosquitto, dynamic-security deny list)', () => {
  const dir = tempDir('safegate-revoke-');
  let certs: TestCertificates;
  let broker: TestBroker;
  let store: SqliteHubStore;
  let hub: Hub;
  let revoked: RevokedDevices;
  /** The directory's revocation marks. */
  const marks = new Set<string>();
  /** Whether the hub process itself cuts newly revoked devices off (off: a broker it cannot tell). */
  let enforcing = true;
  const clients: mqtt.MqttClient[] = [];
  const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const });

  async function connect(name: string, options: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync(broker.url, { ...certs.credentials(name), clientId: name, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    c.on('error', () => {});
    clients.push(c);
    return c;
  }

  /** A device with a session the broker keeps (its subscriptions outlive a disconnection). */
  const keptSession = { clean: false, properties: { sessionExpiryInterval: 600 } };

  function collect(client: mqtt.MqttClient): string[] {
    const got: string[] = [];
    client.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
    return got;
  }

  /** Whether the broker closes this client's connection within `ms`. */
  async function closedWithin(client: mqtt.MqttClient, ms: number): Promise<boolean> {
    if (!client.connected) return true;
    const closed = new Promise<boolean>((resolve) => client.once('close', () => resolve(true)));
    return Promise.race([closed, sleep(ms).then(() => false)]);
  }

  /** The broker's verdict on a QoS 1 publish: its PUBACK reason code (0 = taken). */
  async function publishVerdict(client: mqtt.MqttClient, topic: string, payload: string): Promise<number> {
    try {
      const packet = await client.publishAsync(topic, payload, { qos: 1 });
      return (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
    } catch (err) {
      return (err as { code?: number }).code ?? -1;
    }
  }

  /** The broker's verdict on each subscription: its SUBACK reason codes (0-2 = granted QoS). */
  async function subscribeVerdicts(client: mqtt.MqttClient, filters: string[]): Promise<number[]> {
    try {
      return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
    } catch (err) {
      // mqtt.js rejects when any subscription is refused, with the SUBACK packet attached.
      const packet = (err as { packet?: { granted?: number[]; reasonCodes?: number[] } }).packet;
      const codes = packet?.reasonCodes ?? packet?.granted;
      if (!codes) throw err;
      return codes;
    }
  }

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    for (const n of ['hub.1', 'hub.2', 'kiosk-a', 'kiosk-b', 'kiosk-c', 'kiosk-d']) certs.issue(n);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    store = new SqliteHubStore(join(dir.path, 'hub.db'));
    revoked = new RevokedDevices({
      listRevoked: () => Promise.resolve([...marks]),
      enforce: (ids): Promise<CutOffResult> => (enforcing ? hub.cutOff(ids) : Promise.resolve({ ok: false, reason: 'not now' })),
      refreshMs: 200,
      log: silentLogger,
    });
    hub = new Hub({ broker: tls('hub.2'), clientId: 'hub.2', revoked }, store, silentLogger);
    await hub.start();
    await revoked.start();
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await revoked.stop();
    await hub.stop();
    await store.close();
    await broker.stop();
    dir.remove();
  });

  it('cuts a connected device off at once; reconnecting with its valid certificate it can neither publish, subscribe nor receive; other devices and the hub are unaffected', async () => {
    // hub.1 stands for another hub process: it sends downlinks and listens to every heartbeat.
    const other = await connect('hub.1');
    const atOther = collect(other);
    await other.subscribeAsync('safegate/v1/+/heartbeat', { qos: 1 });
    const a = await connect('kiosk-a', keptSession);
    const atA = collect(a);
    await a.subscribeAsync(topics.downlink('kiosk-a'), { qos: 1 });
    const b = await connect('kiosk-b', keptSession);
    const atB = collect(b);
    await b.subscribeAsync(topics.downlink('kiosk-b'), { qos: 1 });

    // Before: both devices publish and receive.
    const before = Date.now();
    expect(await publishVerdict(a, topics.heartbeat('kiosk-a'), JSON.stringify(heartbeat(before)))).toBe(0);
    await other.publishAsync(topics.downlink('kiosk-a'), 'down-a-1', { qos: 1 });
    await waitFor(() => (atA.includes('safegate/v1/kiosk-a/downlink down-a-1') ? true : undefined), 'kiosk-a downlink before');
    await waitFor(() => (atOther.some((m) => m.startsWith('safegate/v1/kiosk-a/heartbeat')) ? true : undefined), 'kiosk-a heartbeat before');
    await eventually(async () => ((await store.lastHeartbeat('kiosk-a'))?.atMs === before ? true : undefined), 'kiosk-a heartbeat stored');

    const report = await revokeDevice('kiosk-a', {
      markRevoked: async (id) => {
        marks.add(id);
        await revoked.refresh();
        return { serials: ['01'] };
      },
      writeCrl: () => {
        certs.revoke('kiosk-a');
        return Promise.resolve(certs.crlFile);
      },
      cutOff: (ids) => hub.cutOff(ids),
    });
    expect(report.steps.map((s) => [s.step, s.ok])).toEqual([
      ['broker', true],
      ['crl', true],
      ['directory', true],
    ]);
    expect(await closedWithin(a, 3_000)).toBe(true);

    // Reconnecting with the same, still valid certificate (the broker has not re-read the CRL): let in,
    // its kept subscription still there, but every publish, subscribe and delivery denied.
    const again = await connect('kiosk-a', keptSession);
    const atAgain = collect(again);
    expect(await publishVerdict(again, topics.heartbeat('kiosk-a'), JSON.stringify(heartbeat(Date.now())))).toBe(0x87);
    expect(await publishVerdict(again, topics.events('kiosk-a'), 'batch')).toBe(0x87);
    expect(await subscribeVerdicts(again, [topics.downlink('kiosk-a'), topics.site('kiosk-a')])).toEqual([0x87, 0x87]);
    await other.publishAsync(topics.downlink('kiosk-a'), 'down-a-2', { qos: 1 });

    // kiosk-b and the other hub process keep every right.
    const bBeat = Date.now();
    expect(await publishVerdict(b, topics.heartbeat('kiosk-b'), JSON.stringify(heartbeat(bBeat)))).toBe(0);
    await other.publishAsync(topics.downlink('kiosk-b'), 'down-b', { qos: 1 });
    await waitFor(() => (atB.includes('safegate/v1/kiosk-b/downlink down-b') ? true : undefined), 'kiosk-b downlink after');
    await waitFor(() => (atOther.some((m) => m.startsWith('safegate/v1/kiosk-b/heartbeat')) ? true : undefined), 'kiosk-b heartbeat at the other hub process');
    await eventually(async () => ((await store.lastHeartbeat('kiosk-b'))?.atMs === bBeat ? true : undefined), 'kiosk-b heartbeat stored');
    await sleep(500);
    expect(atAgain).toEqual([]);
    expect(atOther.filter((m) => m.startsWith('safegate/v1/kiosk-a/'))).toHaveLength(1);
    expect((await store.lastHeartbeat('kiosk-a'))?.atMs).toBe(before);
    // Nothing got past the broker to be dropped by the hub.
    expect(revoked.refused().get('kiosk-a')).toBeUndefined();
  });

  it('the hub drops, counts and stores nothing of what a revoked device still sends when the broker has not cut it off', async () => {
    enforcing = false;
    try {
      const c = await connect('kiosk-c');
      const atC = collect(c);
      await c.subscribeAsync(topics.acks('kiosk-c'), { qos: 1 });
      expect(await publishVerdict(c, topics.heartbeat('kiosk-c'), JSON.stringify(heartbeat(Date.now())))).toBe(0);
      const first = await eventually(async () => (await store.lastHeartbeat('kiosk-c'))?.atMs, 'kiosk-c heartbeat before');

      marks.add('kiosk-c');
      await revoked.refresh();
      expect(revoked.has('kiosk-c')).toBe(true);
      // The broker still lets it through (the cut-off has not happened): the hub is the last line.
      expect(await publishVerdict(c, topics.heartbeat('kiosk-c'), JSON.stringify(heartbeat(Date.now())))).toBe(0);
      expect(await publishVerdict(c, topics.syncRequest('kiosk-c'), JSON.stringify({ v: PROTOCOL_VERSION, stream: 'roster', cursor: 0 }))).toBe(0);
      expect(await publishVerdict(c, topics.alerts('kiosk-c'), '{}')).toBe(0);
      await waitFor(() => ((revoked.refused().get('kiosk-c') ?? 0) >= 3 ? true : undefined), 'three messages dropped');
      await sleep(300);
      expect(revoked.refused().get('kiosk-c')).toBe(3);
      expect((await store.lastHeartbeat('kiosk-c'))?.atMs).toBe(first);
      expect(atC).toEqual([]);

      // Once the hub process can cut it off, it does so by itself at its next refresh.
      enforcing = true;
      expect(await closedWithin(c, 3_000)).toBe(true);
    } finally {
      enforcing = true;
    }
  });

  it("the operator's command cuts off over a short connection as the hub's identity, and says so when the broker is unreachable", async () => {
    const d = await connect('kiosk-d');
    const r = await cutOffOverMqtt(tls('hub.1'), 'hub.1', ['kiosk-d']);
    expect(r).toEqual({ ok: true });
    expect(await closedWithin(d, 3_000)).toBe(true);
    // Revoking twice is fine.
    expect(await cutOffOverMqtt(tls('hub.1'), 'hub.1', ['kiosk-d'])).toEqual({ ok: true });
    // A device cannot use the plugin: no answer, nothing done.
    const b = await connect('kiosk-b');
    const fake = await cutOffOverMqtt(tls('kiosk-b'), 'kiosk-b', ['kiosk-a'], 1_500);
    expect(fake.ok).toBe(false);
    await b.endAsync(true);

    const nowhere = await cutOffOverMqtt({ ...tls('hub.1'), url: `mqtts://127.0.0.1:${await freePort()}` }, 'hub.1', ['kiosk-d'], 2_000);
    expect(nowhere).toMatchObject({ ok: false, reason: expect.stringMatching(/unreachable/) });
  });

  it('refuses an id that is not a device before doing anything', async () => {
    let called = false;
    const deps = {
      markRevoked: () => ((called = true), Promise.resolve('unknown' as const)),
      writeCrl: () => ((called = true), Promise.resolve('')),
      cutOff: () => ((called = true), Promise.resolve({ ok: true as const })),
    };
    await expect(revokeDevice('hub.1', deps)).rejects.toThrow(UnknownDeviceError);
    expect(called).toBe(false);
    await expect(revokeDevice('kiosk-zz', deps)).rejects.toThrow(/not known at this hub/);
  });

  it('after a broker restart the CRL refuses the revoked device at TLS, the deny list is still in force, and other devices connect', async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.stop();
    await broker.start();
    await expect(mqtt.connectAsync(broker.url, { ...certs.credentials('kiosk-a'), protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3_000 })).rejects.toThrow();
    // kiosk-d is not on the CRL (only denied by the plugin, which kept its file across the restart).
    const d = await connect('kiosk-d');
    expect(await publishVerdict(d, topics.heartbeat('kiosk-d'), JSON.stringify(heartbeat(Date.now())))).toBe(0x87);
    const b = await connect('kiosk-b');
    expect(await publishVerdict(b, topics.heartbeat('kiosk-b'), JSON.stringify(heartbeat(Date.now())))).toBe(0);
  });
});

/**
 * RevokedDevices.refresh (review r3 finding 4): a refresh asked for while one is reading still reads
 * after the ask (the console's revoke awaits it and must then refuse the device); a mark no hub
 * process confirmed is cut off again and confirmed.
 */
describe('revoked devices refresh', () => {
  it('a refresh asked for during a read runs again after it, so a mark made just before the ask is seen', async () => {
    const marks: string[] = [];
    let release: () => void = () => {};
    let reads = 0;
    const revoked = new RevokedDevices({
      listRevoked: async () => {
        reads++;
        const snapshot = [...marks];
        if (reads === 1) await new Promise<void>((r) => (release = r));
        return snapshot;
      },
      refreshMs: 60_000,
      log: silentLogger,
    });
    const first = revoked.refresh();
    await waitFor(() => (reads === 1 ? true : undefined), 'the first read under way');
    marks.push('kiosk-x');
    const second = revoked.refresh();
    const third = revoked.refresh();
    release();
    await Promise.all([first, second, third]);
    expect(revoked.has('kiosk-x')).toBe(true);
    expect(reads).toBe(2);
  });

  it('cuts off and confirms a mark nobody confirmed, again when it is marked again, and not when it is confirmed', async () => {
    const mark = { deviceId: 'kiosk-x', revokedAtMs: 1, cutOffAtMs: null as number | null };
    const enforced: string[][] = [];
    const confirmed: string[] = [];
    const revoked = new RevokedDevices({
      listRevoked: () => Promise.resolve([{ ...mark }]),
      enforce: (ids) => (enforced.push([...ids]), Promise.resolve({ ok: true as const })),
      confirmCutOff: (m) => (confirmed.push(...m.map((x) => x.deviceId)), (mark.cutOffAtMs = 5), Promise.resolve()),
      refreshMs: 60_000,
      log: silentLogger,
    });
    await revoked.refresh();
    await revoked.refresh();
    expect(enforced).toEqual([['kiosk-x']]);
    expect(confirmed).toEqual(['kiosk-x']);
    mark.cutOffAtMs = null; // revoked again (`hub devices revoke` asks for a fresh confirmation)
    await revoked.refresh();
    expect(enforced).toEqual([['kiosk-x'], ['kiosk-x']]);
    expect(confirmed).toEqual(['kiosk-x', 'kiosk-x']);
  });
});

/**
 * A revoked device's retained presence (review r3 finding 5): cut off without its will, it would read
 * "online" at the broker for good, and every hub process's site relay would tell its site's kiosks the
 * stolen gate is online. The hub clears it (an empty retained message; the ACL lets hub processes
 * write presence) and its site hears it offline at once.
 */
describe('revoked devices after a broker link comes up again', () => {
  it('cuts every revoked device off again each time the link comes up (a new or restored broker forgot them)', async () => {
    let up: number | undefined = 1_000;
    const enforced: string[][] = [];
    const revoked = new RevokedDevices({
      listRevoked: () => Promise.resolve(['kiosk-x']),
      enforce: (ids) => (enforced.push([...ids]), Promise.resolve({ ok: true as const })),
      linkUpSinceMs: () => up,
      refreshMs: 60_000,
      log: silentLogger,
    });
    await revoked.refresh();
    await revoked.refresh();
    expect(enforced).toEqual([['kiosk-x']]);
    up = undefined; // down: nothing to send over
    await revoked.refresh();
    up = 5_000; // up again
    await revoked.refresh();
    await revoked.refresh();
    expect(enforced).toEqual([['kiosk-x'], ['kiosk-x']]);
  });
});

describe('a revoked device’s presence (real Mosquitto)', () => {
  const dir = tempDir('safegate-revoke-presence-');
  let certs: TestCertificates;
  let broker: TestBroker;
  let store: SqliteHubStore;
  let hub: Hub;
  let revoked: RevokedDevices;
  const marks = new Set<string>();
  const clients: mqtt.MqttClient[] = [];

  async function connect(name: string, options: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync(broker.url, { ...certs.credentials(name), clientId: name, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    c.on('error', () => {});
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    for (const n of ['hub.1', 'hub.2', 'kiosk-p', 'kiosk-q']) certs.issue(n);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    store = new SqliteHubStore(join(dir.path, 'hub.db'));
    revoked = new RevokedDevices({ listRevoked: () => Promise.resolve([...marks]), enforce: (ids) => hub.cutOff(ids), refreshMs: 60_000, log: silentLogger });
    hub = new Hub(
      {
        broker: { url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, 'hub.1.crt'), key: join(certs.dir, 'hub.1.key'), protocolVersion: 5 as const },
        clientId: 'hub.1',
        revoked,
        siteStream: { sites: { sites: () => Promise.resolve(new Map([['site-1', ['kiosk-p', 'kiosk-q']]])) }, beatMs: 60_000, maxAgeMs: 3_600_000 },
      },
      store,
      silentLogger,
    );
    await revoked.start();
    await hub.start();
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await revoked.stop();
    await hub.stop();
    await store.close();
    await broker.stop();
    dir.remove();
  });

  it('clears the retained "online" at the broker and tells the site it is offline', async () => {
    const q = await connect('kiosk-q');
    const atQ: { offline: string[] }[] = [];
    q.on('message', (topic, payload) => topic === topics.site('kiosk-q') && atQ.push(JSON.parse(payload.toString()) as { offline: string[] }));
    await q.subscribeAsync(topics.site('kiosk-q'), { qos: 1 });
    await q.publishAsync(topics.presence('kiosk-q'), JSON.stringify({ v: PROTOCOL_VERSION, online: true, atMs: Date.now() }), { qos: 1, retain: true });
    const p = await connect('kiosk-p');
    await p.publishAsync(topics.presence('kiosk-p'), JSON.stringify({ v: PROTOCOL_VERSION, online: true, atMs: Date.now() }), { qos: 1, retain: true });
    await waitFor(() => (atQ.at(-1) && !atQ.at(-1)!.offline.includes('kiosk-p') ? true : undefined), 'kiosk-p online to its site');

    marks.add('kiosk-p');
    await revoked.refresh();
    await waitFor(() => (atQ.at(-1)?.offline.includes('kiosk-p') ? true : undefined), 'kiosk-p offline to its site');

    // What the broker keeps: nothing for kiosk-p any more (another hub process starting now reads no "online").
    const other = await connect('hub.2');
    const retained: string[] = [];
    other.on('message', (topic, payload) => retained.push(`${topic} ${payload.length}`));
    await other.subscribeAsync(topics.presence('+'), { qos: 1 });
    await waitFor(() => (retained.some((r) => r.startsWith(topics.presence('kiosk-q'))) ? true : undefined), 'kiosk-q retained presence');
    await sleep(300);
    expect(retained.filter((r) => r.startsWith(topics.presence('kiosk-p')))).toEqual([]);
  });
});
