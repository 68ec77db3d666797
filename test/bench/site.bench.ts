/**
 * npm run bench:site — latency of the live site stream: a passage decided at the exit kiosk B until
 * the entry kiosk A of the same site has it recorded (its store), through a real Mosquitto (the
 * shipped configuration and ACL, TLS) and the reference hub as its own process (`safegate hub run`,
 * default beat). Both kiosks are built by the composition root with default settings (the uplink's
 * batches wait up to 2 s for company; the live report does not).
 *
 * PASSAGES=N exits (default 200) are scanned at B, one every GAP_MS (default 50 ms), each a different
 * worker; B's scan and A's record happen in this one process, so one clock measures both ends.
 * The last line is one JSON object.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { loadSettings } from '../../src-main/core/config.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { safegateProcess } from '../helpers/cli.js';
import { healthyWorker, installKey, passFor, tempDir, waitFor } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const PASSAGES = Number(process.env.PASSAGES ?? 200);
const GAP_MS = Number(process.env.GAP_MS ?? 50);
const ZONE = 'factory-1';

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const dir = tempDir('safegate-sitebench-');
  const certs = new TestCertificates(join(dir.path, 'pki'));
  for (const n of ['hub.1', 'kiosk-a', 'kiosk-b']) certs.issue(n);
  const broker = new TestBroker(dir.path, certs);
  await broker.start();
  const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const });
  let hub: ChildProcess | undefined;
  const kiosks: Kiosk[] = [];
  try {
    const hubConfig = join(dir.path, 'hub.yaml');
    writeFileSync(hubConfig, stringify({ id: 'hub.1', broker: tls('hub.1'), store: { path: 'hub.db' }, directory: { path: 'directory.db' }, console: { enabled: false }, log: { level: 'warn' } }));
    const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
    await directory.assignSite('site-1', ['kiosk-a', 'kiosk-b']);
    await directory.close();
    const started = safegateProcess(['hub', 'run', '--config', hubConfig]);
    hub = started.child;

    const pass = generateSigningKeyPair();
    const workers = Array.from({ length: PASSAGES }, (_, i) => `W${String(i).padStart(5, '0')}`);
    const kiosk = (deviceId: string, direction: 'entry' | 'exit'): Kiosk => {
      const kdir = join(dir.path, deviceId);
      mkdirSync(kdir);
      installKey(join(kdir, 'keys'), 'pass', pass);
      const file = join(kdir, 'kiosk.yaml');
      writeFileSync(
        file,
        stringify({
          device: { id: deviceId },
          checkpoint: { id: `gate-${deviceId}`, name: deviceId, kind: 'gate', zone: ZONE, direction, site: 'site-1' },
          scanner: { source: 'none' },
          gate: { gpio: 'simulated' },
          store: { path: 'safegate.db', reserveMB: 0 },
          hub: { keysDir: 'keys', broker: tls(deviceId) },
          clock: { syncedWhen: 'always' },
        }),
      );
      const k = new Kiosk(loadSettings(file), { headless: true, log: silentLogger });
      k.roster.upsertAll(workers.map((w) => healthyWorker(w)));
      k.start();
      kiosks.push(k);
      return k;
    };
    const entryA = kiosk('kiosk-a', 'entry');
    const exitB = kiosk('kiosk-b', 'exit');
    for (const k of kiosks) await waitFor(() => (k.siteStream?.isFresh() ? true : undefined), `${k.settings.device.id}'s site stream`, 20_000);

    const decidedAt = new Map<string, number>();
    const latencies: number[] = [];
    entryA.siteStream!.on('passages', (passages) => {
      const now = performance.now();
      for (const p of passages) {
        const t = decidedAt.get(p.workerId);
        if (t !== undefined && p.deviceId === 'kiosk-b') {
          latencies.push(now - t);
          decidedAt.delete(p.workerId);
        }
      }
    });
    const texts = workers.map((w) => passFor(pass, w));
    for (let i = 0; i < PASSAGES; i++) {
      const p = exitB.gatekeeper.handleScan({ text: texts[i]!, source: 'serial', receivedAtNs: process.hrtime.bigint() });
      if (p.decision.outcome !== 'allow') throw new Error(`scan ${i} at B was not allowed: ${p.decision.reasons.join(' ')}`);
      // Decided and durable: the clock starts when the gate has acted.
      decidedAt.set(workers[i]!, performance.now());
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    await waitFor(() => (latencies.length === PASSAGES ? true : undefined), `all ${PASSAGES} passages at A`, 30_000);
    if (entryA.remotePassages.count() !== PASSAGES) throw new Error(`A holds ${entryA.remotePassages.count()} of ${PASSAGES} passages`);

    const sorted = [...latencies].sort((a, b) => a - b);
    const result = {
      passages: PASSAGES,
      gap_ms: GAP_MS,
      b_to_a_p50_ms: Number(quantile(sorted, 0.5).toFixed(1)),
      b_to_a_p95_ms: Number(quantile(sorted, 0.95).toFixed(1)),
      b_to_a_max_ms: Number(sorted.at(-1)!.toFixed(1)),
    };
    console.log(`site stream: ${PASSAGES} exits at B, one every ${GAP_MS} ms, known at A after p50 ${result.b_to_a_p50_ms} ms, p95 ${result.b_to_a_p95_ms} ms, max ${result.b_to_a_max_ms} ms`);
    console.log(`target: p95 within 5 s online ${result.b_to_a_p95_ms <= 5_000 ? 'MET' : 'MISSED'}`);
    console.log(JSON.stringify(result));
  } finally {
    for (const k of kiosks) await k.stop();
    if (hub && hub.exitCode === null) {
      hub.kill('SIGTERM');
      await once(hub, 'exit');
    }
    await broker.stop();
    dir.remove();
  }
}

await main();
