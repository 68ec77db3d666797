/**
 * npm run bench:bus-week — a busy bus's week offline, and the kiosk's memory through it (issue 13).
 *
 * Starts a bus unit as its own process (`safegate run --headless`, checkpoint kind bus, simulated
 * GPIO) with a serial scanner on a socat pty, an NMEA GPS receiver on another (fixes at 1 Hz along a
 * route, the system clock never trusted: events are GPS-dated, as on a bus without network) and a
 * broker that is never up, so nothing leaves the outbox. A roster of 2,500 workers; a policy with no
 * repeat-scan window (riders scan in and out within seconds). Then DAYS (7) days of TRIPS (50) trips a
 * day, each opened by the driver's card, RIDERS (50) riders boarding and then alighting, and closed by
 * the driver's card: 35,000 rider scans and 700 trip events, every one written into the scanner pty
 * (the real path: framing, decision, commit, signals). Up to WINDOW (8) scans are in flight at once.
 *
 * The kiosk process's resident memory (VmRSS in /proc/<pid>/status) is sampled every SAMPLE_EVERY
 * (1,000) events; the last line is one JSON object: events, rssStartMB (right after the first trip,
 * so start-up allocations are not counted as growth), rssEndMB, rssMaxMB, growthMB (end minus start),
 * durationS, and the outcomes. RssAnon (heap and native allocations) and RssFile are reported apart.
 * For a diagnosis: HUB=none runs a standalone unit (no uplink); KIOSK_NODE_OPTIONS (e.g.
 * --max-old-space-size=40) is given to the kiosk process alone, to tell garbage not yet collected
 * from memory that is held.
 */
import { createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import builtInPolicy from '../../base/common/policy/default-policy.json' with { type: 'json' };
import { issuePass } from '../../base/node/pass.js';
import { safegate, safegateProcess } from '../helpers/cli.js';
import { hubKeys, tempDir, waitFor } from '../helpers/fixtures.js';
import { freePort, TestCertificates } from '../helpers/mosquitto.js';
import { fixCycle } from '../helpers/nmea.js';
import { PtyPair } from '../helpers/pty.js';

const DAYS = Number(process.env.DAYS ?? 7);
const TRIPS = Number(process.env.TRIPS ?? 50);
const RIDERS = Number(process.env.RIDERS ?? 50);
const ROSTER = Number(process.env.ROSTER ?? 2_500);
const WINDOW = Number(process.env.WINDOW ?? 8);
const SAMPLE_EVERY = Number(process.env.SAMPLE_EVERY ?? 1_000);
/** HUB=none: a standalone unit (no broker in its settings), to tell the uplink's share of memory from the rest. */
const HUB = process.env.HUB === 'none' ? 'none' : 'broker-down';
const DEVICE = 'bus-bench-01';
const DRIVER = 'W-DRIVER';

/** A line of /proc/<pid>/status in MB (VmRSS: resident; RssAnon: heap and native allocations; RssFile: mapped files). */
function statusMb(pid: number, field: 'VmRSS' | 'RssAnon' | 'RssFile' | 'RssShmem'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
const rssMb = (pid: number) => statusMb(pid, 'VmRSS');

const round1 = (n: number) => Number(n.toFixed(1));

async function main(): Promise<void> {
  const dir = tempDir('safegate-bench-bus-');
  const scanner = new PtyPair(dir.path, 'scanner');
  const gps = new PtyPair(dir.path, 'gps');
  let feeding = true;
  let feeder: Promise<void> | undefined;
  let stopKiosk: (() => Promise<void>) | undefined;
  try {
    await scanner.plug();
    await gps.plug();
    const keys = hubKeys(dir.path);
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue(DEVICE);
    // A port nobody listens on: the broker is down all week.
    const brokerPort = await freePort();

    const ids = Array.from({ length: ROSTER }, (_, i) => `W${String(i).padStart(6, '0')}`);
    const policyFile = join(dir.path, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ ...builtInPolicy, params: { ...builtInPolicy.params, repeatScanSeconds: 0 } }));
    const rosterCsv = join(dir.path, 'roster.csv');
    const declared = new Date(Date.now() - 3_600_000).toISOString();
    writeFileSync(rosterCsv, `worker_id,display_name,company,team,declared_at,vaccine_doses\n${[DRIVER, ...ids].map((id) => `${id},Công nhân ${id},Công ty A,Tổ 1,${declared},2`).join('\n')}\n`);
    const config = join(dir.path, 'kiosk.yaml');
    const pulse = { pulseMs: 20, maxOnMs: 2_000 };
    writeFileSync(
      config,
      stringify({
        device: { id: DEVICE },
        checkpoint: { id: 'bus-51b', name: 'Xe 51B', kind: 'bus', zone: 'shuttle', direction: 'both' },
        bus: { plate: '51B-123.45', capacity: Math.max(RIDERS, 1), routes: [{ id: 'r1', name: 'KTX Vĩnh Tân – KCN Tân Đông Hiệp' }], drivers: [DRIVER], autoEndMinutes: 1_440 },
        gps: { source: 'nmea', path: gps.devicePath, baudRate: 9600, fixMaxAgeSeconds: 10, clock: true },
        scanner: { source: 'serial', path: scanner.devicePath, suffix: 'CR', baudRate: 115200 },
        gate: { gpio: 'simulated', relay: pulse, greenLight: pulse, redLight: pulse, buzzer: pulse },
        store: { path: 'safegate.db' },
        hub: {
          keysDir: 'keys',
          ...(HUB === 'none'
            ? {}
            : { broker: { url: `mqtts://127.0.0.1:${brokerPort}`, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${DEVICE}.crt`), key: join(certs.dir, `${DEVICE}.key`) } }),
        },
        clock: { syncedWhen: 'never' },
        policy: { file: policyFile },
        log: { level: 'info' },
      }),
    );
    const t = performance.now();
    const imported = safegate(['roster', 'import', rosterCsv, '--config', config]);
    if (imported.status !== 0) throw new Error(`roster import failed: ${imported.stderr}`);
    const expiresAt = new Date(Date.now() + 30 * 86_400_000);
    const signingKey = createPrivateKey(keys.privatePem);
    const passes = new Map([DRIVER, ...ids].map((id) => [id, issuePass(signingKey, { workerId: id, issuer: 'bench', issuedAt: new Date(Date.now() - 3_600_000), expiresAt })]));
    console.log(`setup: roster of ${ROSTER} imported, ${passes.size} passes signed in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // The GPS receiver: one fix a second, the bus creeping along.
    let step = 0;
    feeder = (async () => {
      while (feeding) {
        step++;
        await gps.write(fixCycle({ lat: 10.98 + (step % 5_000) * 1e-5, lon: 106.67 + (step % 3_000) * 1e-5, utcMs: Date.now() }));
        await new Promise((r) => setTimeout(r, 1_000));
      }
    })();

    let decided = 0;
    /** Called at each decision: the writer waiting for room in the window goes on. */
    let wake: (() => void) | undefined;
    const outcomes = new Map<string, number>();
    const kioskEnv = process.env.KIOSK_NODE_OPTIONS ? { env: { NODE_OPTIONS: process.env.KIOSK_NODE_OPTIONS } } : {};
    const kiosk = safegateProcess(
      ['run', '--config', config, '--headless'],
      (entry) => {
      if (entry.msg !== 'scan' && entry.msg !== 'driver card') return;
      decided++;
      wake?.();
      const key = `${entry.msg === 'driver card' ? 'driver-card ' : ''}${String(entry.outcome)}${Array.isArray(entry.reasons) && entry.reasons.length ? ` ${entry.reasons.join(',')}` : ''}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      },
      kioskEnv,
    );
    stopKiosk = async () => {
      if (kiosk.child.exitCode === null && kiosk.child.signalCode === null) {
        kiosk.child.kill('SIGTERM');
        await once(kiosk.child, 'exit');
      }
    };
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'scanner connected') ? true : undefined), 'the bus unit ready', 60_000);
    const pid = kiosk.child.pid!;
    // The kiosk's log lines are not needed after counting: keep the bench's own memory flat too.
    const dropLogs = () => kiosk.logs.splice(0);

    let written = 0;
    /** Writes one code into the scanner pty, keeping at most WINDOW scans undecided. */
    const send = async (code: string) => {
      const deadline = Date.now() + 30_000;
      while (written - decided >= WINDOW) {
        if (Date.now() > deadline) throw new Error(`the kiosk stopped deciding (written ${written}, decided ${decided})`);
        if (kiosk.child.exitCode !== null || kiosk.child.signalCode !== null) throw new Error(`the kiosk exited (${kiosk.child.exitCode ?? kiosk.child.signalCode})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1_000);
          wake = () => {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          };
        });
      }
      written++;
      await scanner.write(`${code}\r`);
    };
    const drain = () => waitFor(() => (decided >= written ? true : undefined), 'every scan decided', 60_000);

    const samples: [events: number, rssMb: number][] = [[0, rssMb(pid)]];
    let nextSample = SAMPLE_EVERY;
    let rssStart = Number.NaN;
    let anonStart = Number.NaN;
    let fileStart = Number.NaN;
    const start = performance.now();
    for (let day = 0; day < DAYS; day++) {
      for (let trip = 0; trip < TRIPS; trip++) {
        const n = day * TRIPS + trip;
        const riders = Array.from({ length: RIDERS }, (_, i) => ids[(n * RIDERS + i) % ROSTER]!);
        await send(passes.get(DRIVER)!);
        for (const id of riders) await send(passes.get(id)!);
        for (const id of riders) await send(passes.get(id)!);
        // The driver's card ends the trip only after every alighting is decided (the trip decides the direction).
        await drain();
        await send(passes.get(DRIVER)!);
        await drain();
        if (Number.isNaN(rssStart)) {
          rssStart = rssMb(pid);
          anonStart = statusMb(pid, 'RssAnon');
          fileStart = statusMb(pid, 'RssFile') + statusMb(pid, 'RssShmem');
          samples.push([decided, rssStart]);
        }
        while (decided >= nextSample) {
          samples.push([decided, rssMb(pid)]);
          nextSample += SAMPLE_EVERY;
        }
        dropLogs();
      }
      console.log(
        `  day ${day + 1}/${DAYS}: ${decided} events, RSS ${rssMb(pid).toFixed(1)} MB (anonymous ${statusMb(pid, 'RssAnon').toFixed(1)}, files ${statusMb(pid, 'RssFile').toFixed(1)}, shared ${statusMb(pid, 'RssShmem').toFixed(1)}), ${((performance.now() - start) / 1000).toFixed(0)} s`,
      );
    }
    const durationS = (performance.now() - start) / 1000;
    const rssEnd = rssMb(pid);
    const anonEnd = statusMb(pid, 'RssAnon');
    const fileEnd = statusMb(pid, 'RssFile') + statusMb(pid, 'RssShmem');
    samples.push([decided, rssEnd]);
    const rssMax = Math.max(...samples.map((s) => s[1]));

    // Everything stayed on disk: the store holds every event, none acknowledged.
    const db = new Database(join(dir.path, 'safegate.db'), { readonly: true });
    const stored = db.prepare('SELECT count(*) AS n, count(*) FILTER (WHERE synced_at IS NULL) AS unsynced, count(*) FILTER (WHERE position = \'fix\') AS fixes, count(*) FILTER (WHERE clock_source = \'gps\') AS gpsDated FROM events').get() as {
      n: number;
      unsynced: number;
      fixes: number;
      gpsDated: number;
    };
    const trips = (db.prepare('SELECT count(*) AS n FROM trips WHERE ended_seq IS NOT NULL').get() as { n: number }).n;
    db.close();
    await stopKiosk();

    console.log(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    console.log(`RSS samples (events: MB): ${samples.map(([e, mb]) => `${e}: ${mb.toFixed(1)}`).join(', ')}`);
    console.log(`store: ${stored.n} events (${stored.unsynced} unacknowledged, ${stored.fixes} with a fix, ${stored.gpsDated} GPS-dated), ${trips} trips ended`);
    const growth = rssEnd - rssStart;
    console.log(`target: RSS flat within 10 MB of where it started: ${Math.abs(growth) <= 10 ? 'MET' : 'MISSED'} (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB)`);
    console.log(
      JSON.stringify({
        events: decided,
        riderScans: DAYS * TRIPS * RIDERS * 2,
        trips: DAYS * TRIPS,
        path: 'pty',
        rssStartMB: round1(rssStart),
        rssEndMB: round1(rssEnd),
        rssMaxMB: round1(rssMax),
        growthMB: round1(growth),
        rssAtLaunchMB: round1(samples[0]![1]),
        anonStartMB: round1(anonStart),
        anonEndMB: round1(anonEnd),
        filesStartMB: round1(fileStart),
        filesEndMB: round1(fileEnd),
        hub: HUB,
        ...(process.env.KIOSK_NODE_OPTIONS ? { kioskNodeOptions: process.env.KIOSK_NODE_OPTIONS } : {}),
        durationS: round1(durationS),
        eventsPerS: Math.round(decided / durationS),
        storedEvents: stored.n,
        unacknowledged: stored.unsynced,
        gpsDated: stored.gpsDated,
        withFix: stored.fixes,
        roster: ROSTER,
      }),
    );
  } finally {
    feeding = false;
    await stopKiosk?.().catch(() => {});
    // Unplugged first: a write blocked on a pty nobody reads any more then fails instead of hanging.
    await gps.unplug();
    await feeder?.catch(() => {});
    await scanner.unplug();
    dir.remove();
  }
}

await main();
