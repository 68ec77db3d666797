import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewGateEvent } from '../../../base/common/types.js';
import { silentLogger } from '../../../base/node/logger.js';
import { openStore, type SqliteDatabase } from '../../../src-main/core/store/database.js';
import { EventLog } from '../../../src-main/core/store/event-log.js';
import { Hub } from '../../../sync/hub/hub.js';
import { SqliteHubStore, type HubStore } from '../../../sync/hub/store.js';
import { Uplink } from '../../../sync/uplink.js';
import { safegateProcess, type RunningProcess } from '../../helpers/cli.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../../helpers/mosquitto.js';
import { TestPostgres } from '../../helpers/postgres.js';

function gateEvent(i: number): NewGateEvent {
  return {
    wallMs: Date.now(),
    monoUs: 1_000_000 + i,
    bootId: 'boot-1',
    clockSynced: true,
    checkpointId: 'gate-a',
    zoneId: 'factory-1',
    direction: 'entry',
    credentialKind: 'pass',
    workerId: `W${i % 1000}`,
    codeHash: null,
    decision: 'allow',
    reasons: [],
    source: 'serial',
    policyVersion: 1,
  };
}

/**
 * The hub's concurrent path: each hub process handles several devices at once (each device's batches
 * in order) and acknowledges without waiting for the broker to take the acknowledgement. Real
 * Mosquitto (TLS, ACLs, shared subscription), real PostgreSQL, real kiosk outboxes.
 */
describe('concurrent ingest', () => {
  const dir = tempDir('safegate-concurrent-');
  const pgDir = tempDir('safegate-concurrent-pg-');
  const pgServer = new TestPostgres(pgDir.path);
  let certs: TestCertificates;
  let broker: TestBroker;
  const dbs: SqliteDatabase[] = [];
  const uplinks: Uplink[] = [];
  const hubs: ChildProcess[] = [];

  beforeAll(async () => {
    await pgServer.start();
    certs = new TestCertificates(join(dir.path, 'pki'));
    broker = new TestBroker(dir.path, certs);
    await broker.start();
  }, 60_000);
  afterAll(async () => {
    for (const u of uplinks) await u.stop();
    for (const db of dbs) db.close();
    for (const h of hubs) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    await broker.stop();
    await pgServer.stop();
    pgDir.remove();
    dir.remove();
  });

  const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const });

  function kiosk(deviceId: string) {
    certs.issue(deviceId);
    const db = openStore(join(dir.path, `${deviceId}.db`));
    dbs.push(db);
    const log = new EventLog(db);
    const uplink = new Uplink(
      {
        deviceId,
        broker: tls(deviceId),
        // Small batches, many in flight: a device's batches reach both hub processes out of order.
        batch: { maxEvents: 15, maxBytes: 256 * 1024, maxAgeMs: 40 },
        ackTimeoutMs: 1_000,
        ackTimeoutMaxMs: 2_000,
        reconnect: { initialMs: 100, maxMs: 1_000 },
        authRetryMs: 60_000,
      },
      log,
      silentLogger,
    );
    uplinks.push(uplink);
    return { deviceId, log, uplink };
  }

  it('two hub processes on PostgreSQL, one killed mid-stream and restarted: every event of every kiosk stored exactly once, watermarks whole', async () => {
    const url = await pgServer.createDatabase('concurrent');
    const startHub = async (id: string): Promise<RunningProcess> => {
      certs.issue(id);
      const config = join(dir.path, `${id}.yaml`);
      writeFileSync(config, stringify({ id, broker: tls(id), directory: { path: `${id}-directory.db` }, console: { enabled: false }, log: { level: 'info' } }));
      const hub = safegateProcess(['hub', 'run', '--config', config], undefined, { env: { DATABASE_URL: url } });
      hubs.push(hub.child);
      await waitFor(() => (hub.logs.some((l) => l.msg === 'hub online') ? true : undefined), `${id} online`, 20_000);
      return hub;
    };
    const hub1 = await startHub('hub.1');
    const hub2 = await startHub('hub.2');
    const stored = (h: RunningProcess) => h.logs.filter((l) => l.msg === 'batch stored').length;

    const kiosks = Array.from({ length: 6 }, (_, i) => kiosk(`kiosk-c${i}`));
    for (const k of kiosks) k.uplink.start();
    let n = 0;
    let feeding = true;
    const feeder = (async () => {
      while (feeding) {
        for (const k of kiosks) k.log.append(gateEvent(n));
        n++;
        for (const k of kiosks) k.uplink.nudge();
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    // Both processes are taking batches; then hub.1 dies without a goodbye, with work in hand.
    await waitFor(() => (stored(hub1) >= 40 && stored(hub2) >= 40 ? true : undefined), 'both hubs storing', 20_000);
    hub1.child.kill('SIGKILL');
    await once(hub1.child, 'exit');
    const storedBeforeKill = stored(hub1);
    await new Promise((r) => setTimeout(r, 700));
    const hub1Again = await startHub('hub.1');
    await waitFor(() => (stored(hub1Again) >= 25 ? true : undefined), 'restarted hub storing', 20_000);
    feeding = false;
    await feeder;
    await waitFor(() => (kiosks.every((k) => k.log.outboxDepth().count === 0) ? true : undefined), 'every outbox drained', 60_000);

    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      for (const k of kiosks) {
        const { rows } = await db.query<{ seq: number }>('SELECT seq FROM hub_events WHERE device_id = $1 ORDER BY seq', [k.deviceId]);
        expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      }
      const { rows: devices } = await db.query<{ device_id: string; contiguous_seq: number; max_seq: number }>(
        'SELECT device_id, contiguous_seq, max_seq FROM devices ORDER BY device_id',
      );
      expect(devices.map((d) => [d.device_id, Number(d.contiguous_seq), Number(d.max_seq)])).toEqual(kiosks.map((k) => [k.deviceId, n, n]));
    } finally {
      await db.end();
    }
    console.log(
      `concurrent ingest: ${kiosks.length} kiosks x ${n} events; batches stored by hub.1 ${storedBeforeKill} before SIGKILL and ${stored(hub1Again)} after, hub.2 ${stored(hub2)}`,
    );
    for (const h of [hub2.child, hub1Again.child]) {
      h.kill('SIGTERM');
      await once(h, 'exit');
    }
  }, 120_000);

  it('a device whose batch is slow to store does not hold up the others', async () => {
    // The broker's ACL knows hub.1 and hub.2; the first test's processes are gone.
    const inner = new SqliteHubStore(join(dir.path, 'hub-3.db'));
    let fastStored!: () => void;
    const fastDone = new Promise<void>((r) => (fastStored = r));
    // The slow device's first batch (and the group it is stored in) is stored only once the other device's has been.
    const store: HubStore = Object.assign(Object.create(inner) as HubStore, {
      ingestMany: async (batches: Parameters<HubStore['ingestMany']>[0]) => {
        if (batches.some((b) => b.deviceId === 'kiosk-slow')) await fastDone;
        const r = await inner.ingestMany(batches);
        if (batches.some((b) => b.deviceId === 'kiosk-fast')) fastStored();
        return r;
      },
    });
    const hub = new Hub({ broker: tls('hub.1'), clientId: 'hub.1', concurrency: 4 }, store, silentLogger);
    await hub.start();
    try {
      const slow = kiosk('kiosk-slow');
      const fast = kiosk('kiosk-fast');
      slow.log.append(gateEvent(1));
      slow.uplink.start();
      await waitFor(() => (slow.uplink.state === 'online' ? true : undefined), 'slow kiosk online');
      await new Promise((r) => setTimeout(r, 200)); // its batch is at the hub, waiting on the store
      fast.log.append(gateEvent(2));
      fast.uplink.start();
      await waitFor(() => (fast.log.outboxDepth().count === 0 ? true : undefined), 'fast kiosk acknowledged', 5_000);
      await waitFor(() => (slow.log.outboxDepth().count === 0 ? true : undefined), 'slow kiosk acknowledged', 5_000);
    } finally {
      await hub.stop();
      await inner.close();
    }
  }, 30_000);
});
