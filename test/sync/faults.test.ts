import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { safegateProcess, type RunningProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/fixtures.js';
import { KioskProcessRig, type RunningKiosk } from '../helpers/kiosk-process.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const DEVICE = 'test-kiosk-01';

/**
 * Kiosk, broker and hub as real processes, with every fault the sync must survive: the kiosk killed
 * with SIGKILL mid-batch (three times), the broker restarted, the hub killed and restarted, the broker
 * unreachable for a while, and acknowledgements lost. At the end the hub holds every event exactly
 * once with no gap, and the kiosk holds nothing unacknowledged.
 */
describe('sync under faults (real processes)', () => {
  let rig: KioskProcessRig | undefined;
  let broker: TestBroker | undefined;
  const hubs: ChildProcess[] = [];
  afterEach(async () => {
    for (const h of hubs.splice(0)) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    await broker?.stop();
    await rig?.dispose();
  });

  it('delivers every event exactly once through kiosk crashes, broker and hub restarts, an outage and lost acks', async () => {
    const setupRig = await KioskProcessRig.create({ checkpointKind: 'canteen' });
    rig = setupRig;
    const certs = new TestCertificates(join(setupRig.dir.path, 'pki'));
    certs.issue('hub.1');
    certs.issue(DEVICE);
    broker = new TestBroker(setupRig.dir.path, certs);
    await broker.start();
    const tls = (name: string) => ({ url: broker!.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) });
    // Small batches and a short ack timeout, so faults land in the middle of batches.
    const config = join(setupRig.dir.path, 'kiosk.yaml');
    const kioskSettings = readFileSync(config, 'utf8').replace(
      /hub:\n {2}keysDir: keys\n/,
      `${stringify({ hub: { keysDir: 'keys', broker: tls(DEVICE), batch: { maxEvents: 40, maxAgeMs: 150 }, ackTimeoutMs: 1_500, heartbeatSeconds: 5 } })}`,
    );
    writeFileSync(config, kioskSettings);
    const hubConfig = join(setupRig.dir.path, 'hub.yaml');
    writeFileSync(hubConfig, stringify({ id: 'hub.1', broker: tls('hub.1'), store: { path: 'hub.db' }, console: { enabled: false }, log: { level: 'info' } }));

    const hubLogs: Record<string, unknown>[][] = [];
    const startHub = async (): Promise<RunningProcess> => {
      const hub = safegateProcess(['hub', 'run', '--config', hubConfig]);
      hubLogs.push(hub.logs);
      hubs.push(hub.child);
      await waitFor(() => (hub.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'hub online', 15_000);
      return hub;
    };
    const firstHub = await startHub();

    // The scanner side: distinct codes, at most 10 waiting, only while a kiosk process is up.
    let kiosk: RunningKiosk | undefined;
    let sent = 0;
    let feeding = true;
    const decided = () => kiosk?.logs.filter((l) => l.msg === 'scan').length ?? 0;
    let decidedBefore = 0;
    // Codes written to a kiosk that was then killed may never be decided: pace from each start.
    let sentAtStart = 0;
    const feeder = (async () => {
      while (feeding && sent < 20_000) {
        const k = kiosk;
        if (!k || k.child.exitCode !== null || k.child.signalCode !== null || sent - sentAtStart - decided() >= 10) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        await setupRig.pty.write(`CODE-${sent++}\r`);
      }
    })();
    const startKiosk = async () => {
      const k = await setupRig.startKiosk();
      sentAtStart = sent;
      kiosk = k;
    };
    const killKiosk = async () => {
      const k = kiosk!;
      kiosk = undefined;
      k.child.kill('SIGKILL');
      await once(k.child, 'exit');
      decidedBefore += k.logs.filter((l) => l.msg === 'scan').length;
    };
    const scansSoFar = () => decidedBefore + decided();
    const untilScans = (n: number) => waitFor(() => (scansSoFar() >= n ? true : undefined), `${n} scans`, 30_000);

    const kioskDb = join(setupRig.dir.path, 'safegate.db');
    const unsynced = () => {
      const db = new Database(kioskDb, { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM events WHERE synced_at IS NULL').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    await startKiosk();
    // 1. SIGKILL mid-batch, three times.
    for (let i = 1; i <= 3; i++) {
      await untilScans(i * 120);
      await killKiosk();
      await startKiosk();
    }
    // 2. The broker restarts.
    await untilScans(500);
    await broker.stop();
    await broker.start();
    // 3. The hub is killed and restarted.
    await untilScans(650);
    firstHub.child.kill('SIGKILL');
    await once(firstHub.child, 'exit');
    await new Promise((r) => setTimeout(r, 500));
    await startHub();
    // 4. The broker is unreachable for a while; scanning goes on.
    await untilScans(800);
    await broker.stop();
    await untilScans(900);
    await new Promise((r) => setTimeout(r, 2_000));
    await broker.start();
    // 5. Acknowledgements are lost for a while (the broker drops them). First the kiosk must be
    //    back online after the outage (its backoff may take a few seconds) and caught up.
    await untilScans(1_000);
    await waitFor(() => (unsynced() < 100 ? true : undefined), 'kiosk online and caught up', 60_000);
    const acl = readFileSync(broker.aclFile, 'utf8');
    const stored = (key: 'duplicates' | 'batches') =>
      hubLogs.flat().reduce((n, l) => n + (l.msg === 'batch stored' ? (key === 'batches' ? 1 : (l.duplicates as number)) : 0), 0);
    const duplicatesBefore = stored('duplicates');
    const batchesBefore = stored('batches');
    await broker.reloadAcl(acl.replace('topic write safegate/v1/+/acks', ''));
    // At least one batch is committed at the hub while its acknowledgement cannot reach the kiosk.
    await waitFor(() => (stored('batches') > batchesBefore ? true : undefined), 'a batch stored while acks are dropped', 15_000);
    await new Promise((r) => setTimeout(r, 2_000)); // longer than the kiosk's ack timeout
    await broker.reloadAcl(acl);
    await waitFor(() => (stored('duplicates') > duplicatesBefore ? true : undefined), 'batches sent again after lost acks', 15_000);
    await untilScans(1_150);
    feeding = false;
    await feeder;

    // The backlog drains by itself.
    await waitFor(() => (unsynced() === 0 ? true : undefined), 'kiosk outbox empty', 60_000);
    kiosk!.child.kill('SIGTERM');
    await once(kiosk!.child, 'exit');

    const kdb = new Database(kioskDb, { readonly: true });
    const kioskSeqs = (kdb.prepare('SELECT seq FROM events ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq);
    kdb.close();
    const hdb = new Database(join(setupRig.dir.path, 'hub.db'), { readonly: true });
    const hubSeqs = (hdb.prepare('SELECT seq FROM hub_events WHERE device_id = ? ORDER BY seq').all(DEVICE) as { seq: number }[]).map((r) => r.seq);
    const device = hdb.prepare('SELECT contiguous_seq, max_seq FROM devices WHERE device_id = ?').get(DEVICE) as { contiguous_seq: number; max_seq: number };
    hdb.close();
    console.log(
      `faults test: ${sent} codes sent, ${kioskSeqs.length} events logged, ${hubSeqs.length} at the hub (contiguous to ` +
        `${device.contiguous_seq}); ${stored('duplicates')} duplicate deliveries ignored; ${hubs.length} hub processes over the run`,
    );
    expect(kioskSeqs).toEqual(kioskSeqs.map((_, i) => i + 1));
    expect(hubSeqs).toEqual(kioskSeqs);
    expect(device).toEqual({ contiguous_seq: kioskSeqs.length, max_seq: kioskSeqs.length });
    expect(kioskSeqs.length).toBeGreaterThanOrEqual(1_150);
  }, 240_000);
});
