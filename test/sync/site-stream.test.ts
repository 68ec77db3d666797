import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { loadSettings } from '../../src-main/core/config.js';
import type { Passage } from '../../src-main/core/gatekeeper.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { Hub } from '../../sync/hub/hub.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { PROTOCOL_VERSION, topics, type SiteStreamMessage } from '../../sync/protocol.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { healthyWorker, installKey, passFor, tempDir, waitFor } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const ZONE = 'factory-1';
const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP relay in front of the broker for one kiosk: `cut()` drops both sides at once (no MQTT goodbye,
 * as when a cable is pulled) and refuses new connections until `restore()`.
 */
class CuttableLink {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly brokerPort: number) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.brokerPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

/**
 * Anti-passback across kiosks: two kiosks of one zone and site (an entry-only and an exit-only
 * checkpoint) and a kiosk of another site, as the composition root builds them, against a real
 * Mosquitto running the shipped configuration and ACL and a real hub relaying the site stream.
 */
describe.each(directoryBackends)('the live site stream on $name (real Mosquitto, real hub, real kiosks)', (backend) => {
  const dir = tempDir('safegate-site-');
  const pass = generateSigningKeyPair();
  let certs: TestCertificates;
  let broker: TestBroker;
  let directory: HubDirectory;
  let hubStore: SqliteHubStore;
  let hub: Hub;
  const kiosks: Kiosk[] = [];
  let entryA: Kiosk;
  let exitB: Kiosk;
  let otherSiteC: Kiosk;
  /** A second of issue time per scan: every code is new text, so none is a repeat of another. */
  let issued = 60_000;
  const scan = (k: Kiosk, workerId: string): Passage =>
    k.gatekeeper.handleScan({ text: passFor(pass, workerId, { issuedAgoMs: (issued += 1_000) }), source: 'serial', receivedAtNs: process.hrtime.bigint() });

  let linkB: CuttableLink;

  function tls(name: string) {
    // kiosk-b reaches the broker through a link the test can cut.
    const url = name === 'kiosk-b' ? `mqtts://127.0.0.1:${linkB.port}` : broker.url;
    return { url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const };
  }

  function startHub(): Promise<void> {
    hub = new Hub({ broker: tls('hub.1'), clientId: 'hub.1', siteStream: { sites: directory, beatMs: 200, maxAgeMs: DAY } }, hubStore, silentLogger);
    return hub.start();
  }

  function startKiosk(deviceId: string, checkpoint: { id: string; direction: 'entry' | 'exit'; site: string }): Kiosk {
    const kdir = join(dir.path, deviceId);
    mkdirSync(kdir);
    installKey(join(kdir, 'keys'), 'pass', pass);
    const pulse = { pulseMs: 50, maxOnMs: 1_000 };
    const file = join(kdir, 'kiosk.yaml');
    writeFileSync(
      file,
      stringify({
        device: { id: deviceId },
        checkpoint: { ...checkpoint, name: checkpoint.id, kind: 'gate', zone: ZONE },
        scanner: { source: 'none' },
        gate: { gpio: 'simulated', relay: pulse, greenLight: pulse, redLight: pulse, buzzer: { pulseMs: 20, maxOnMs: 1_000 } },
        store: { path: 'safegate.db', reserveMB: 0 },
        hub: { keysDir: 'keys', broker: tls(deviceId), batch: { maxAgeMs: 200 }, siteStream: { freshMs: 2_000 } },
        clock: { syncedWhen: 'always' },
      }),
    );
    const kiosk = new Kiosk(loadSettings(file), { headless: true, log: silentLogger });
    kiosk.roster.upsertAll(['W1', 'W2', 'W3', 'W4', 'W5'].map((id) => healthyWorker(id)));
    kiosk.start();
    kiosks.push(kiosk);
    return kiosk;
  }

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    for (const name of ['hub.1', 'kiosk-a', 'kiosk-b', 'kiosk-c', 'kiosk-x']) certs.issue(name);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    linkB = new CuttableLink(Number(new URL(broker.url).port));
    await linkB.open();
    directory = await HubDirectory.open(await backend.target());
    // The hub's site map, not the kiosks' settings, decides who hears which stream.
    await directory.assignSite('site-1', ['kiosk-a', 'kiosk-b']);
    await directory.assignSite('site-2', ['kiosk-c']);
    hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
    await startHub();
    entryA = startKiosk('kiosk-a', { id: 'gate-a-in', direction: 'entry', site: 'site-1' });
    exitB = startKiosk('kiosk-b', { id: 'gate-b-out', direction: 'exit', site: 'site-1' });
    otherSiteC = startKiosk('kiosk-c', { id: 'gate-c-in', direction: 'entry', site: 'site-2' });
    for (const k of kiosks) await waitFor(() => (k.siteStream?.isFresh() ? true : undefined), `${k.settings.device.id}'s site stream`);
  }, 30_000);

  afterAll(async () => {
    for (const k of kiosks) await k.stop();
    await hub.stop();
    await linkB.cut();
    await hubStore.close();
    await directory.close();
    await broker.stop();
    dir.remove();
  });

  /** A bare MQTT client with a kiosk certificate (kiosk-x: a device in no site). */
  async function rawClient(name: string): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync(broker.url, { ...certs.credentials(name), protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5_000 });
    c.on('error', () => {});
    return c;
  }

  it('enter by A, leave by B, enter by A again: admitted (B\'s exit reached A through the hub)', async () => {
    expect(scan(entryA, 'W1').decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    expect(scan(exitB, 'W1').decision).toMatchObject({ outcome: 'allow', direction: 'exit' });
    await waitFor(() => (entryA.remotePassages.lastPassage('W1', ZONE)?.direction === 'exit' ? true : undefined), "B's exit at A", 5_000);
    expect(scan(entryA, 'W1').decision).toMatchObject({ outcome: 'allow', direction: 'entry', reasons: [] });
  });

  it('while the stream is fresh, a second entry without an exit anywhere is still refused', () => {
    expect(scan(entryA, 'W2').decision.outcome).toBe('allow');
    expect(scan(entryA, 'W2').decision).toMatchObject({ outcome: 'deny', reasons: ['ANTI_PASSBACK'] });
  });

  it('a kiosk of another site hears its own site\'s beat but none of site-1\'s passages', async () => {
    await waitFor(() => (entryA.remotePassages.lastPassage('W1', ZONE) ? true : undefined), 'site-1 passages at A');
    expect(otherSiteC.siteStream?.isFresh()).toBe(true);
    expect(otherSiteC.remotePassages.count()).toBe(0);
    // Its zone has the same name, yet W1's exit at site-1 does not let a second entry through at site-2.
    expect(scan(otherSiteC, 'W1').decision.outcome).toBe('allow');
    expect(scan(otherSiteC, 'W1').decision).toMatchObject({ outcome: 'deny', reasons: ['ANTI_PASSBACK'] });
  });

  it('a device certificate cannot read another device\'s site stream', async () => {
    const spy = await rawClient('kiosk-x');
    try {
      const got: string[] = [];
      spy.on('message', (topic) => got.push(topic));
      // Mosquitto 2 grants the subscription and applies its read ACL to every message instead.
      await spy.subscribeAsync(topics.site('kiosk-a'), { qos: 1 });
      scan(exitB, 'W4');
      await waitFor(() => (entryA.remotePassages.lastPassage('W4', ZONE) ? true : undefined), "B's passage at A");
      await sleep(300);
      expect(got).toEqual([]);
    } finally {
      await spy.endAsync(true);
    }
  });

  it('a forged stream message from a kiosk certificate is refused by the broker and never reaches the kiosk', async () => {
    const forger = await rawClient('kiosk-x');
    try {
      const forged: SiteStreamMessage = {
        v: PROTOCOL_VERSION,
        site: 'site-1',
        hub: 'hub.1',
        sentAtMs: Date.now(),
        items: [{ kind: 'passage', deviceId: 'kiosk-b', seq: 999_999, atMs: Date.now(), checkpointId: 'gate-b-out', zoneId: ZONE, direction: 'exit', workerId: 'W2' }],
        offline: [],
      };
      // MQTT 5: the broker answers a publish its ACL refuses with reason code 0x87 (not authorised).
      await expect(forger.publishAsync(topics.site('kiosk-a'), JSON.stringify(forged), { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
      // Nor may a device write its own copy, or report a passage as another device.
      await expect(forger.publishAsync(topics.site('kiosk-x'), JSON.stringify(forged), { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
      await expect(
        forger.publishAsync(topics.passages('kiosk-b'), JSON.stringify({ v: 1, seq: 999_999, atMs: Date.now(), checkpointId: 'gate-b-out', zoneId: ZONE, direction: 'exit', workerId: 'W2' }), { qos: 1 }),
      ).rejects.toMatchObject({ code: 0x87 });
      await sleep(300);
      expect(entryA.remotePassages.lastPassage('W2', ZONE)).toBeNull();
      expect(scan(entryA, 'W2').decision).toMatchObject({ outcome: 'deny', reasons: ['ANTI_PASSBACK'] });
    } finally {
      await forger.endAsync(true);
    }
  });

  it("exit kiosk's link cut without a goodbye, a worker leaves by it: the entry kiosk admits them (the hub's beat names the exit kiosk offline)", async () => {
    expect(scan(entryA, 'W5').decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    await waitFor(() => (entryA.siteStream?.currentSinceMs() !== null ? true : undefined), 'the stream to be current');
    await linkB.cut();
    // The broker publishes kiosk-b's will (presence offline); the hub tells the site at once.
    await waitFor(() => (entryA.siteStream?.offlineDevices().includes('kiosk-b') ? true : undefined), 'kiosk-b named offline at A', 5_000);
    // The hub still beats: the stream is fresh, but it is not current while an exit kiosk is unheard.
    expect(entryA.siteStream?.isFresh()).toBe(true);
    expect(entryA.siteStream?.currentSinceMs()).toBeNull();
    expect(scan(exitB, 'W5').decision).toMatchObject({ outcome: 'allow', direction: 'exit' });
    expect(scan(entryA, 'W5').decision).toMatchObject({ outcome: 'allow', direction: 'entry', reasons: [] });
    // Back online: B's exit reaches A from its batch, and the stream is current again.
    await linkB.open();
    await waitFor(() => (entryA.siteStream?.currentSinceMs() !== null ? true : undefined), 'the stream to be current again', 10_000);
    await waitFor(() => (entryA.remotePassages.lastPassage('W5', ZONE)?.direction === 'exit' ? true : undefined), "B's exit at A from the batch", 10_000);
  }, 30_000);

  it('with the stream stale (hub stopped), the entry kiosk does not refuse for anti-passback', async () => {
    expect(scan(entryA, 'W3').decision.outcome).toBe('allow');
    expect(scan(entryA, 'W3').decision).toMatchObject({ outcome: 'deny', reasons: ['ANTI_PASSBACK'] });
    await hub.stop();
    await waitFor(() => (entryA.siteStream?.isFresh() ? undefined : true), 'the stream to go stale', 8_000);
    expect(scan(entryA, 'W3').decision).toMatchObject({ outcome: 'allow', direction: 'entry', reasons: [] });
    // Fresh again once the hub is back. An entry made before or during the break does not block (an
    // exit by B in the break would not have been heard); one made since does.
    await startHub();
    // Current, not only fresh: the restarted hub's first messages may still name the exit kiosk as one
    // it cannot hear (it has not had its presence yet), and until it hears every site device the stream
    // is not current, so an entry made then does not block either.
    await waitFor(() => (entryA.siteStream?.currentSinceMs() != null ? true : undefined), 'the stream to be current again', 5_000);
    expect(scan(entryA, 'W3').decision).toMatchObject({ outcome: 'allow', reasons: [] });
    await sleep(5);
    expect(scan(entryA, 'W3').decision).toMatchObject({ outcome: 'deny', reasons: ['ANTI_PASSBACK'] });
  });
});
