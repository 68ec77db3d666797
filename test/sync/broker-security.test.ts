import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../sync/protocol.js';
import { tempDir } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates, type ClientCredentials } from '../helpers/mosquitto.js';

/**
 * The broker configuration SafeGate ships with, against a real Mosquitto: TLS with client
 * certificates, the certificate CN as the username, and per-device ACLs.
 */
describe('broker security (real Mosquitto, TLS, ACLs)', () => {
  const dir = tempDir('safegate-broker-');
  let certs: TestCertificates;
  let broker: TestBroker;
  const clients: mqtt.MqttClient[] = [];

  beforeAll(async () => {
    certs = new TestCertificates(`${dir.path}/pki`);
    for (const n of ['kiosk-a', 'kiosk-b', 'hub.1']) certs.issue(n);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.stop();
    dir.remove();
  });

  async function connect(creds: ClientCredentials, protocolVersion: 4 | 5 = 5): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync(broker.url, { ...creds, protocolVersion, reconnectPeriod: 0, connectTimeout: 5_000 });
    clients.push(c);
    return c;
  }

  /** Collects what a client receives on a topic filter for a short, bounded time. */
  async function receive(client: mqtt.MqttClient, filter: string, act: () => Promise<void>, waitMs = 400): Promise<string[]> {
    const got: string[] = [];
    client.on('message', (topic, payload) => {
      if (topic.startsWith('safegate/')) got.push(`${topic} ${payload.toString()}`);
    });
    await client.subscribeAsync(filter, { qos: 1 });
    await act();
    await new Promise((r) => setTimeout(r, waitMs));
    return got;
  }

  it('refuses a client without a certificate signed by the CA', async () => {
    const rogueCa = new TestCertificates(`${dir.path}/rogue`);
    const rogue = rogueCa.issue('kiosk-a');
    await expect(mqtt.connectAsync(broker.url, { ...rogue, ca: certs.credentials('hub.1').ca, reconnectPeriod: 0, connectTimeout: 3_000 })).rejects.toThrow();
  });

  it.each([5, 4] as const)('a device publishes its own events, but not as another device (MQTT %s)', async (v) => {
    const hub = await connect(certs.credentials('hub.1'));
    const a = await connect(certs.credentials('kiosk-a'), v);
    const got = await receive(hub, 'safegate/v1/+/events', async () => {
      await a.publishAsync(topics.events('kiosk-a'), `own-${v}`, { qos: 1 });
      await a.publishAsync(topics.events('kiosk-b'), `forged-${v}`, { qos: 1 }).catch(() => {});
    });
    expect(got).toContain(`safegate/v1/kiosk-a/events own-${v}`);
    expect(got.filter((g) => g.includes('forged'))).toEqual([]);
  });

  it('a device reads its own acknowledgements but not another device\'s', async () => {
    const hub = await connect(certs.credentials('hub.1'));
    const a = await connect(certs.credentials('kiosk-a'));
    const b = await connect(certs.credentials('kiosk-b'));
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
    const a = await connect(certs.credentials('kiosk-a'));
    const b = await connect(certs.credentials('kiosk-b'));
    const got = await receive(a, topics.acks('kiosk-a'), async () => {
      await b.publishAsync(topics.acks('kiosk-a'), 'fake-ack', { qos: 1 }).catch(() => {});
    });
    expect(got).toEqual([]);
  });
});
