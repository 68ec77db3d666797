/**
 * npm run bench:sync — a backlog of 100,000 events drained through a real Mosquitto (TLS, ACLs) into
 * the reference hub (SQLite store).
 *
 * 1. drain: one kiosk with the whole backlog, one hub process: events per second until the kiosk's
 *    outbox is empty (every event acknowledged), and bytes per event on the wire (MQTT PUBLISH
 *    packets: payload, topic, header, packet id, MQTT 5 properties length).
 * 2. hub ingest: eight kiosks with 12,500 events each at once, against one and then two hub
 *    processes sharing the load by a shared subscription: events stored per second at the hub.
 * 3. roster: 100,000 workers from the hub's directory to a kiosk that holds none, signed parts
 *    through the broker: time to download and verify, and time to apply (one transaction).
 * The last line is one JSON object. EVENTS=N changes the backlog size.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createPublicKey } from 'node:crypto';
import { HubKeyring, generateSigningKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import { DownlinkState } from '../../src-main/core/store/downlink-state.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../src-main/core/store/hub-data.js';
import { Notices } from '../../src-main/core/store/notices.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { Downlink } from '../../sync/downlink.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { settingsSchema } from '../../src-main/core/config.js';
import { openStore } from '../../src-main/core/store/database.js';
import { EventLog } from '../../src-main/core/store/event-log.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { topics } from '../../sync/protocol.js';
import { Uplink } from '../../sync/uplink.js';
import { safegateProcess } from '../helpers/cli.js';
import { typicalEvents } from '../helpers/events.js';
import { healthyWorker, tempDir, waitFor } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const EVENTS = Number(process.env.EVENTS ?? 100_000);
const KIOSKS = 8;

function varintLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Size of an MQTT 5 QoS 1 PUBLISH packet carrying this payload on this topic. */
function publishPacketBytes(topic: string, payloadBytes: number): number {
  const variable = 2 + Buffer.byteLength(topic) + 2 + 1; // topic, packet id, properties length (0)
  const remaining = variable + payloadBytes;
  return 1 + varintLength(remaining) + remaining;
}

async function main(): Promise<void> {
  const dir = tempDir('safegate-syncbench-');
  const certs = new TestCertificates(join(dir.path, 'pki'));
  for (const n of ['hub.1', 'hub.2']) certs.issue(n);
  const broker = new TestBroker(dir.path, certs);
  await broker.start();
  const hubs: ChildProcess[] = [];
  const brokerFor = (name: string) => ({
    url: broker.url,
    ca: join(certs.dir, 'ca.crt'),
    cert: join(certs.dir, `${name}.crt`),
    key: join(certs.dir, `${name}.key`),
    protocolVersion: 5 as const,
  });

  async function startHubs(n: number, dbFile: string, extra: Record<string, unknown> = {}): Promise<void> {
    for (let i = 0; i < n; i++) {
      const config = join(dir.path, `hub-${i}.yaml`);
      writeFileSync(config, stringify({ id: `hub.${i + 1}`, broker: brokerFor(`hub.${i + 1}`), store: { path: dbFile }, log: { level: 'warn' }, console: { enabled: false }, ...extra }));
      const { child, logs } = safegateProcess(['hub', 'run', '--config', config]);
      hubs.push(child);
      // The hub logs nothing at warn level when healthy; give it a moment to subscribe.
      await new Promise((r) => setTimeout(r, 1_500));
      if (child.exitCode !== null) throw new Error(`hub exited: ${JSON.stringify(logs)}`);
    }
  }
  async function stopHubs(): Promise<void> {
    for (const h of hubs.splice(0)) {
      h.kill('SIGTERM');
      await once(h, 'exit');
    }
  }

  const kioskDefaults = { hub: settingsSchema.shape.hub.parse(undefined) };

  function kiosk(deviceId: string, n: number) {
    certs.issue(deviceId);
    const db = openStore(join(dir.path, `${deviceId}.db`));
    const log = new EventLog(db);
    db.transaction(() => {
      for (const { seq: _seq, ...e } of typicalEvents(n)) log.append(e);
    })();
    const options = {
      deviceId,
      broker: brokerFor(deviceId),
      // The kiosk's own defaults (batch size, window), as a kiosk with a default config sends.
      batch: kioskDefaults.hub.batch,
      ackTimeoutMs: 30_000,
      reconnect: { initialMs: 100, maxMs: 1_000 },
      authRetryMs: 60_000,
    };
    return { db, log, options, uplink: new Uplink(options, log, silentLogger) };
  }

  async function countAtHub(dbFile: string): Promise<number> {
    const store = new SqliteHubStore(dbFile);
    let n = 0;
    for await (const _e of store.events()) n++;
    await store.close();
    return n;
  }

  try {
    // 1. Drain one kiosk's backlog.
    await startHubs(1, join(dir.path, 'hub-drain.db'));
    const k = kiosk('kiosk-drain', EVENTS);
    let wire = 0;
    let payload = 0;
    const topic = topics.events('kiosk-drain');
    k.uplink.on('sent', (_id, _n, bytes) => {
      payload += bytes;
      wire += publishPacketBytes(topic, bytes);
    });
    let t = performance.now();
    k.uplink.start();
    await waitFor(() => (k.log.outboxDepth().count === 0 ? true : undefined), 'drain', 600_000);
    const drainS = (performance.now() - t) / 1000;
    await k.uplink.stop();
    k.db.close();
    await stopHubs();
    const stored = await countAtHub(join(dir.path, 'hub-drain.db'));
    console.log(`drain: ${EVENTS} events in ${drainS.toFixed(2)} s; hub holds ${stored}`);
    console.log(`wire: ${(payload / EVENTS).toFixed(2)} payload bytes/event, ${(wire / EVENTS).toFixed(2)} bytes/event in MQTT PUBLISH packets`);

    // 2. Hub ingest with one and two hub processes, eight kiosks sending at once.
    const ingest: number[] = [];
    for (const n of [1, 2]) {
      const dbFile = join(dir.path, `hub-ingest-${n}.db`);
      await startHubs(n, dbFile);
      const ks = Array.from({ length: KIOSKS }, (_, i) => kiosk(`kiosk-${n}-${i}`, Math.floor(EVENTS / KIOSKS)));
      t = performance.now();
      for (const x of ks) x.uplink.start();
      await waitFor(() => (ks.every((x) => x.log.outboxDepth().count === 0) ? true : undefined), 'ingest', 600_000);
      const s = (performance.now() - t) / 1000;
      for (const x of ks) {
        await x.uplink.stop();
        x.db.close();
      }
      await stopHubs();
      const total = Math.floor(EVENTS / KIOSKS) * KIOSKS;
      const held = await countAtHub(dbFile);
      if (held !== total) throw new Error(`hub holds ${held} of ${total} events`);
      ingest.push(total / s);
      console.log(`hub ingest with ${n} hub process(es): ${total} events from ${KIOSKS} kiosks in ${s.toFixed(2)} s = ${Math.round(total / s)} events/s`);
    }

    // 3. A 100,000-worker roster goes down.
    const rosterSize = Number(process.env.ROSTER ?? 100_000);
    const directoryFile = join(dir.path, 'directory.db');
    const directory = await HubDirectory.open({ kind: 'sqlite', path: directoryFile });
    const now = Date.now();
    await directory.importRoster(
      Array.from({ length: rosterSize }, (_, i) => healthyWorker(`W${String(i).padStart(6, '0')}`, now)),
      false,
    );
    await directory.close();
    const signing = generateSigningKeyPair();
    const signingFile = join(dir.path, 'hub-signing.key.pem');
    writeFileSync(signingFile, signing.privatePem);
    await startHubs(1, join(dir.path, 'hub-roster.db'), { signingKey: signingFile, directory: { path: directoryFile } });
    const rk = kiosk('kiosk-roster', 0);
    const ring = new HubKeyring();
    ring.add(createPublicKey(signing.publicPem), { role: 'downlink', source: 'bench' });
    const roster = new Roster(rk.db);
    const state = new DownlinkState(rk.db);
    let applyS = 0;
    const downlink = new Downlink('kiosk-roster', state, () => ring, {
      roster: (kind, changes) => {
        const a = performance.now();
        roster.applyChanges(kind, changes);
        applyS = (performance.now() - a) / 1000;
      },
      notices: (kind, changes) => new Notices(rk.db).applyChanges(kind, changes),
      revocations: (kind, changes) => new Revocations(rk.db).applyChanges(kind, changes),
      policy: (kind, changes) => new DownloadedPolicy(rk.db).applyChanges(kind, changes),
      keys: (kind, changes) => new DownloadedKeys(rk.db).applyChanges(kind, changes, ring),
    }, silentLogger);
    const rosterUplink = new Uplink({ ...rk.options, extensions: [downlink] }, rk.log, silentLogger);
    t = performance.now();
    rosterUplink.start();
    await waitFor(() => (state.cursor('roster').cursor > 0 ? true : undefined), 'roster applied', 120_000);
    const rosterS = (performance.now() - t) / 1000;
    await rosterUplink.stop();
    if (roster.count() !== rosterSize) throw new Error(`kiosk holds ${roster.count()} of ${rosterSize} workers`);
    rk.db.close();
    await stopHubs();
    console.log(`roster: ${rosterSize} workers requested, received in signed parts and applied in ${rosterS.toFixed(2)} s (apply transaction ${applyS.toFixed(2)} s)`);

    const result = {
      events: EVENTS,
      drain_events_per_s: Math.round(EVENTS / drainS),
      wire_bytes_per_event: Number((wire / EVENTS).toFixed(2)),
      hub_ingest_events_per_s_1: Math.round(ingest[0]!),
      hub_ingest_events_per_s_2: Math.round(ingest[1]!),
      roster_workers: rosterSize,
      roster_download_and_apply_s: Number(rosterS.toFixed(2)),
      roster_apply_s: Number(applyS.toFixed(2)),
    };
    console.log(
      `targets: drain >= 50000 events/s ${result.drain_events_per_s >= 50_000 ? 'MET' : 'MISSED'}; <= 6 bytes/event ${result.wire_bytes_per_event <= 6 ? 'MET' : 'MISSED'}; ` +
        `roster of 100,000 applied within 3 s ${result.roster_apply_s <= 3 ? 'MET' : 'MISSED'} (apply ${result.roster_apply_s} s; request to applied, end to end, ${result.roster_download_and_apply_s} s)`,
    );
    console.log(JSON.stringify(result));
  } finally {
    await stopHubs();
    await broker.stop();
    dir.remove();
  }
}

await main();
