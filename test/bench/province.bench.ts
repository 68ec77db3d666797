/**
 * npm run bench:province — a province's shift-change peak against a real Mosquitto (the shipped
 * configuration: TLS client certificates, ACLs, queue bounds) and a real PostgreSQL, ingested by
 * one and then two `safegate hub run` processes (DATABASE_URL set, so the PostgreSQL hub store).
 *
 * The province: KIOSKS (2,000) simulated kiosks, each a real MQTT 5 client connection over TLS with
 * its own CA-signed client certificate and key (CN = device id = client id, as the shipped broker
 * configuration forces; made by one `openssl req -x509 -CA` per kiosk, two at a time). They are not
 * full kiosk processes: each one logs scans in memory and sends them with the real uplink codec
 * (encodeBatch) by the kiosk uplink's own rules and defaults (a batch when its oldest event is
 * hub.batch.maxAgeMs = 2 s old or it holds maxEvents = 2,000; up to 8 batches in flight; an
 * unacknowledged batch sent again after ackTimeoutMs = 10 s, or longer while acknowledgements take
 * longer (AckRoundTrips: the smoothed round trip plus four variations, or twice the latest round
 * trip), then after growing jittered waits up to 60 s (ackWaitMs), or after two acknowledgement round
 * trips when the hub reports it missing), and takes the hub's acknowledgements.
 *
 * The peak: a shift change, PASSAGES (400,000) passages in 15 minutes (200,000 workers leaving and
 * 200,000 arriving), compressed COMPRESS (180) times in time (15 min → 5 s; with the kiosks' start
 * spread below, about 57,000 scans a second for 7 s),
 * spread evenly over the kiosks, each kiosk's scans evenly spaced with a random phase. Each kiosk
 * starts at a random moment within its first batch's age (2 s), as kiosks that have been running
 * do, so their batches do not all fall due in the same instant. The offered load is well above what
 * two hub processes ingest, so both figures are ingest capacities, not the offered rate. (At 90
 * times and 100,000 passages, 10,000 scans a second in batches of about ten events, the two-hub run
 * came close to the offered rate itself, and a hub's cost per event was mostly its cost per batch;
 * at 180 times and 200,000 passages, once the hubs stored batches in groups, two hubs took all of the
 * 28,000 scans a second the kiosks then offered, with CPU to spare; at 0.25 CPU each, two hubs took
 * 47,500 a second out of 80,000 offered at 360 times, near what the two-core machine had left for
 * PostgreSQL and the generator, so the machine and not the hubs was the limit. Hence the defaults:
 * 0.1 CPU per hub, 400,000 passages at 180 times: two hubs ingest 33,000–40,000 a second of the
 * 57,000 offered, and with two hubs PostgreSQL, the broker, the generator and the hubs together use
 * about 1.2 of the machine's 2 CPUs.)
 *
 * CPU: each hub process is put in its own cgroup (v1 cpu controller, or v2 cpu.max) with the same
 * quota, HUB_CPU (0.1) of one CPU (CFS bandwidth control: at most 10 ms of CPU time in every 100 ms
 * period, cpu.cfs_quota_us/cfs_period_us or cpu.max); the broker, PostgreSQL and this generator share
 * the rest of the machine, unpinned, each in a cgroup of its own. Every one of these groups has a
 * weight 64 times a plain job's, so on a machine shared with other work the hubs get their quota in
 * both runs and the rest is not starved (a quota alone is only a ceiling). At 8 times, with a dozen
 * other jobs running, PostgreSQL got about 0.6 CPU, all it was entitled to, exactly what it used in
 * the two-hub runs, and the hubs, waiting on it, used their quota only half of the time: the
 * machine's other work, not the hubs, set the two-hub figure. The CPU each group used, and how long the
 * quota held the hubs back, is printed per run. HUB_CPU=0 runs the hubs without a quota.
 *
 * Before the peak, a warm-up: WARMUP (40,000) passages over 8 s, all acknowledged, and the hubs left
 * to go idle. A hub process pays once for loading its code and compiling its hot paths, several
 * seconds at 0.1 CPU; measured inside the peak, two processes paid it twice: with the warm-up the
 * hubs' CPU for the 400,000 events of the peak fell from 2.2–2.9 CPU-seconds to 2.0 with one hub,
 * and from 3.1–3.6 to 2.2–2.4 with two. Nothing of the warm-up is counted below.
 *
 * Figures: ingest_events_per_s_N = the steady commit rate with N hub processes: the middle 80 % of
 * the events by the time a hub took their batch (received_ms), over the time that took (the start
 * and the tail, batches waiting out a kiosk's acknowledgement timeout, are left out; the time from
 * first scan to last acknowledgement is printed too); scan_to_hub_commit_p99_ms = p99 over every event, with two hubs, of the time from its
 * scan to the kiosk receiving the acknowledgement (the hub acknowledges only after its commit, so
 * this bounds scan → commit from above). The last line is one JSON object.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import pg from 'pg';
import { stringify } from 'yaml';
import { encodeBatch, type WireEvent } from '../../sync/batch-codec.js';
import { batchAckSchema, topics } from '../../sync/protocol.js';
import { AckRoundTrips, ackWaitMs, gapPatienceMs } from '../../sync/uplink.js';
import { safegateProcess } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';
import { TestPostgres } from '../helpers/postgres.js';

const KIOSKS = Number(process.env.KIOSKS ?? 2_000);
const PASSAGES = Number(process.env.PASSAGES ?? 400_000);
const PEAK_S = 15 * 60;
const COMPRESS = Number(process.env.COMPRESS ?? 180);
const HUB_CPU = Number(process.env.HUB_CPU ?? 0.1);
const HUB_LOG = process.env.HUB_LOG ?? 'warn';
/** Passages before the peak (not measured): see the warm-up below. */
const WARMUP = Number(process.env.WARMUP ?? 40_000);
/** cgroup weight of the hubs, the broker, PostgreSQL and the generator (a job's default is 1,024). */
const INFRA_SHARES = 65_536;
/** The kiosk's defaults (src-main/core/config.ts hub.batch, hub.ackTimeoutMs; sync/uplink.ts window). */
const MAX_EVENTS = 2_000;
const MAX_AGE_MS = 2_000;
const WINDOW = 8;
const ACK_TIMEOUT_MS = 10_000;
/** The uplink's default cap on the growing wait for an acknowledgement (max(ackTimeoutMs, 60 s)). */
const ACK_TIMEOUT_MAX_MS = 60_000;

const run = promisify(execFile);

/** A minimal OpenSSL configuration: a client certificate with no CA extensions. */
const LEAF_CNF = '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n';

async function issueKioskCertificates(dir: string, ids: string[]): Promise<void> {
  writeFileSync(join(dir, 'leaf.cnf'), LEAF_CNF);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      await run('openssl', ['req', '-x509', '-config', 'leaf.cnf', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${id}`, '-keyout', `${id}.key`, '-out', `${id}.crt`], { cwd: dir });
    }
  };
  await Promise.all([worker(), worker()]);
}

/**
 * A CPU cgroup (v1 cpu + cpuacct controllers, or v2): `quota` caps it at that share of one CPU;
 * `shares` (weight) lets it take what it is entitled to ahead of the machine's other work, so on a
 * machine shared with other jobs a hub process actually gets its quota in both runs (a quota alone
 * is only a ceiling) and the broker, PostgreSQL and the generator are not starved by others' load.
 */
class BenchCgroup {
  private readonly paths: string[];
  private readonly v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  constructor(name: string, opts: { quota?: number; shares: number }) {
    this.paths = this.v2 ? [join('/sys/fs/cgroup', name)] : ['cpu', 'cpuacct'].map((c) => join('/sys/fs/cgroup', c, name));
    for (const p of this.paths) mkdirSync(p, { recursive: true });
    const [cpu] = this.paths as [string];
    if (this.v2) {
      writeFileSync(join(cpu, 'cpu.weight'), String(Math.max(1, Math.min(10_000, Math.round(opts.shares / 10.24)))));
      if (opts.quota) writeFileSync(join(cpu, 'cpu.max'), `${Math.round(opts.quota * 100_000)} 100000`);
    } else {
      writeFileSync(join(cpu, 'cpu.shares'), String(opts.shares));
      if (opts.quota) {
        writeFileSync(join(cpu, 'cpu.cfs_period_us'), '100000');
        writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(Math.round(opts.quota * 100_000)));
      }
    }
  }
  add(pid: number): void {
    for (const p of this.paths) writeFileSync(join(p, 'cgroup.procs'), String(pid));
  }
  /** CPU seconds used by the group's processes, and seconds they were held back by the quota. */
  usage(): { cpuS: number; throttledS: number } {
    const stat = (file: string) => {
      const f = join(this.paths[0]!, file);
      if (!existsSync(f)) return new Map<string, number>();
      return new Map(readFileSync(f, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]).map(([k, v]) => [k, Number(v)]));
    };
    if (this.v2) {
      const st = stat('cpu.stat');
      return { cpuS: (st.get('usage_usec') ?? 0) / 1e6, throttledS: (st.get('throttled_usec') ?? 0) / 1e6 };
    }
    const usage = Number(readFileSync(join(this.paths[1]!, 'cpuacct.usage'), 'utf8')) / 1e9;
    return { cpuS: usage, throttledS: (stat('cpu.stat').get('throttled_time') ?? 0) / 1e9 };
  }
  /** Resolves once the group's processes used under 5 ms of CPU in a second (started, or done with their work). */
  async idle(): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (let before = this.usage().cpuS; Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 1_000));
      const now = this.usage().cpuS;
      if (now - before < 0.005) return;
      before = now;
    }
  }
  remove(): void {
    for (const p of this.paths.reverse()) {
      try {
        // Processes still in it (a PostgreSQL about to stop) go back to the root first.
        for (const pid of readFileSync(join(p, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) writeFileSync(join(p, '..', 'cgroup.procs'), pid);
        rmdirSync(p);
      } catch {
        // already gone, or a process exiting
      }
    }
  }
}

/** Processes whose parent is `ppid` (PostgreSQL's server processes, the broker). */
function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const fields = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

interface InFlight {
  batchId: string;
  events: WireEvent[];
  payload: Uint8Array;
  sentAtMs: number;
  firstSentAtMs: number;
  sends: number;
  timer: NodeJS.Timeout;
  /** When `timer` sends it again. */
  dueAtMs: number;
}

/** One simulated kiosk: a real TLS MQTT connection, the real codec, the uplink's batching rules. */
class SimKiosk {
  client!: mqtt.MqttClient;
  private seq = 0;
  private readonly pending: WireEvent[] = [];
  private readonly inflight = new Map<string, InFlight>();
  private readonly bootId = randomUUID();
  private readonly monoBase = Math.floor(Math.random() * 1e12);
  private timer: NodeJS.Timeout | undefined;
  private readonly rtt = new AckRoundTrips();
  acked = 0;
  resent = 0;
  /** Batches sent (first sends), and acknowledgements that reported gaps. */
  batches = 0;
  gapAcks = 0;
  private closed = false;

  constructor(
    readonly id: string,
    private readonly index: number,
    private readonly latencies: Float64Array,
    private readonly latencyAt: { n: number },
    private readonly onAcked: (n: number) => void,
  ) {}

  async connect(url: string, certDir: string): Promise<void> {
    this.client = mqtt.connect(url, {
      ca: readFileSync(join(certDir, 'ca.crt')),
      cert: readFileSync(join(certDir, `${this.id}.crt`)),
      key: readFileSync(join(certDir, `${this.id}.key`)),
      clientId: this.id,
      protocolVersion: 5,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 1_000,
      rejectUnauthorized: true,
    });
    this.client.on('message', (_t, payload) => this.onAck(payload));
    await new Promise<void>((resolve, reject) => {
      this.client.once('connect', () => resolve());
      this.client.once('error', reject);
    });
    await this.client.subscribeAsync(topics.acks(this.id), { qos: 1 });
  }

  /** A worker scans at this gate now. */
  scan(worker: number): void {
    const now = Date.now();
    const denied = worker % 17 === 0;
    this.pending.push({
      seq: ++this.seq,
      wallMs: now,
      monoUs: this.monoBase + Math.round(performance.now() * 1000),
      bootId: this.bootId,
      clockSynced: true,
      checkpointId: `gate-${Math.floor(this.index / 4)}`,
      zoneId: `site-${Math.floor(this.index / 8)}`,
      direction: this.index % 2 === 0 ? 'entry' : 'exit',
      credentialKind: 'pass',
      workerId: `W${String(worker).padStart(6, '0')}`,
      codeHash: null,
      decision: denied ? 'deny' : 'allow',
      reasons: denied ? ['DECLARATION_MISSING'] : [],
      source: 'serial',
      policyVersion: 3,
    });
    this.pump();
  }

  private pump(): void {
    if (this.closed) return;
    while (this.pending.length && this.inflight.size < WINDOW) {
      const age = Date.now() - this.pending[0]!.wallMs;
      if (this.pending.length < MAX_EVENTS && age < MAX_AGE_MS) {
        if (!this.timer) this.timer = setTimeout(() => ((this.timer = undefined), this.pump()), MAX_AGE_MS - age);
        return;
      }
      const events = this.pending.splice(0, MAX_EVENTS);
      const batchId = `${events[0]!.seq}-${events.at(-1)!.seq}`;
      const payload = encodeBatch({ deviceId: this.id, batchId, events, anchor: null });
      const waitMs = this.rtt.timeoutMs(ACK_TIMEOUT_MS, ACK_TIMEOUT_MAX_MS);
      const f: InFlight = { batchId, events, payload, sentAtMs: Date.now(), firstSentAtMs: Date.now(), sends: 1, timer: setTimeout(() => this.timedOut(f), waitMs), dueAtMs: Date.now() + waitMs };
      this.inflight.set(batchId, f);
      this.batches++;
      this.client.publish(topics.events(this.id), Buffer.from(payload), { qos: 1 });
    }
  }

  /** As the uplink does: a batch sent once first waits as long as the round trips measured meanwhile ask. */
  private timedOut(f: InFlight): void {
    if (this.closed || !this.inflight.has(f.batchId)) return;
    const now = Date.now();
    const stretched = f.sentAtMs + this.rtt.timeoutMs(ACK_TIMEOUT_MS, ACK_TIMEOUT_MAX_MS);
    if (f.sends === 1 && stretched > now + 10) {
      f.dueAtMs = stretched;
      f.timer = setTimeout(() => this.timedOut(f), stretched - now);
      return;
    }
    this.resend(f);
  }

  private resend(f: InFlight): void {
    if (this.closed) return;
    if (!this.inflight.has(f.batchId)) return;
    this.resent++;
    clearTimeout(f.timer);
    f.sentAtMs = Date.now();
    f.sends++;
    // As the uplink does: each time unacknowledged, a longer (jittered, capped) wait before the next.
    const waitMs = ackWaitMs(f.sends, this.rtt.timeoutMs(ACK_TIMEOUT_MS, ACK_TIMEOUT_MAX_MS), ACK_TIMEOUT_MAX_MS);
    f.dueAtMs = f.sentAtMs + waitMs;
    f.timer = setTimeout(() => this.timedOut(f), waitMs);
    this.client.publish(topics.events(this.id), Buffer.from(f.payload), { qos: 1 });
  }

  private onAck(payload: Buffer): void {
    if (this.closed) return;
    const now = Date.now();
    const ack = batchAckSchema.safeParse(JSON.parse(payload.toString('utf8')));
    if (!ack.success) return;
    const f = this.inflight.get(ack.data.batchId);
    if (f) {
      clearTimeout(f.timer);
      this.inflight.delete(f.batchId);
      this.rtt.sample(Math.max(0, now - f.firstSentAtMs));
      for (const e of f.events) this.latencies[this.latencyAt.n++] = now - e.wallMs;
      this.acked += f.events.length;
      this.onAcked(f.events.length);
    }
    // As the uplink does: a batch in flight holding a sequence number the hub says it lacks goes again
    // once it is older than two acknowledgement round trips, the smoothed one or this acknowledgement's
    // (with two hub processes, a device's batches can be committed out of order), or on its own timeout.
    const gaps = ack.data.gaps;
    if (gaps.length) {
      this.gapAcks++;
      const patience = gapPatienceMs(this.rtt.srttMs, f ? now - f.sentAtMs : 0);
      for (const g of this.inflight.values()) {
        if (!gaps.some(([from, to]) => g.events[0]!.seq <= to && g.events.at(-1)!.seq >= from)) continue;
        const age = now - g.sentAtMs;
        if (age >= patience) this.resend(g);
        else if (g.sentAtMs + patience < g.dueAtMs) {
          clearTimeout(g.timer);
          g.dueAtMs = g.sentAtMs + patience;
          g.timer = setTimeout(() => this.resend(g), patience - age);
        }
      }
    }
    this.pump();
  }

  async close(): Promise<void> {
    // An acknowledgement arriving while the connection closes must not arm new timers.
    this.closed = true;
    clearTimeout(this.timer);
    for (const f of this.inflight.values()) clearTimeout(f.timer);
    await this.client.endAsync(true);
  }
}

/** Idle and total CPU ticks of the whole machine (/proc/stat). */
function machineTicks(): [number, number] {
  const t = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return [t[3]! + t[4]!, t.reduce((a, b) => a + b, 0)];
}

function percentile(values: Float64Array, n: number, p: number): number {
  const sorted = values.slice(0, n).sort();
  return sorted[Math.min(n - 1, Math.floor((p / 100) * n))] ?? 0;
}

async function main(): Promise<void> {
  const dir = tempDir('safegate-province-');
  // PostgreSQL's own folder (it runs as the postgres user, who cannot enter this private one).
  const pgDir = tempDir('safegate-province-pg-');
  const pgServer = new TestPostgres(pgDir.path);
  let broker: TestBroker | undefined;
  const hubs: ChildProcess[] = [];
  const groups: BenchCgroup[] = [];
  const group = (what: string, opts: { quota?: number; shares: number }) => {
    const g = new BenchCgroup(`safegate-bench-${process.pid}-${what}`, opts);
    groups.push(g);
    return g;
  };
  try {
    await pgServer.start();
    // PostgreSQL (the server and every process it forks from now on), the broker and this generator
    // each in a group of their own, weighted so that others' jobs on the machine do not starve them.
    const postgres = group('postgres', { shares: INFRA_SHARES });
    const postmaster = Number(readFileSync(join(pgDir.path, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
    for (const pid of [postmaster, ...childPids(postmaster)]) postgres.add(pid);
    const certs = new TestCertificates(join(dir.path, 'pki'));
    for (const n of ['hub.1', 'hub.2']) certs.issue(n);
    const ids = Array.from({ length: KIOSKS }, (_, i) => `kiosk-${String(i).padStart(4, '0')}`);
    let t = performance.now();
    await issueKioskCertificates(certs.dir, ids);
    console.log(`certificates: ${KIOSKS} kiosk keys and CA-signed certificates in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    const mosquitto = group('mosquitto', { shares: INFRA_SHARES });
    for (const pid of childPids(process.pid)) if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'mosquitto') mosquitto.add(pid);
    const generator = group('generator', { shares: INFRA_SHARES });
    generator.add(process.pid);

    const results: { ingest: number; p99: number; p50: number; resent: number; hubCpuS: number[] }[] = [];
    for (const n of [1, 2]) {
      const url = await pgServer.createDatabase(`province_${n}`);
      const hubGroups: BenchCgroup[] = [];
      const stored = { batches: 0, duplicates: 0, withGaps: 0 };
      const stopped: string[] = [];
      for (let i = 0; i < n; i++) {
        const config = join(dir.path, `hub-${n}-${i}.yaml`);
        const id = `hub.${i + 1}`;
        writeFileSync(
          config,
          stringify({
            id,
            broker: { url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${id}.crt`), key: join(certs.dir, `${id}.key`), protocolVersion: 5 },
            directory: { path: join(dir.path, `directory-${n}.db`) },
            // HUB_LOG=info: every batch a hub stores is logged, and counted below (costs the hubs some CPU).
            log: { level: HUB_LOG },
            // Each hub process serves its own web console where the hub has one: a port and a database of its own.
            console: { enabled: false },
          }),
        );
        process.env.DATABASE_URL = url;
        // HUB_NODE_OPTIONS: Node options for the hub processes only; to see where their CPU goes,
        // HUB_NODE_OPTIONS="--require ./test/bench/cpu-profile.cjs" CPU_PROFILE_DIR=dir (Node 20 refuses --cpu-prof there).
        if (process.env.HUB_NODE_OPTIONS) process.env.NODE_OPTIONS = process.env.HUB_NODE_OPTIONS;
        const { child, logs } = safegateProcess(['hub', 'run', '--config', config], (entry) => {
          if (entry.msg === 'hub stopped') stopped.push(`groups ${String(entry.groups)}, batches ${String(entry.batches)}, resends dropped ${String(entry.resendsDropped)}`);
          if (entry.msg !== 'batch stored') return;
          stored.batches++;
          if (entry.inserted === 0) stored.duplicates++;
          if (Number(entry.gaps) > 0) stored.withGaps++;
          logs.length = 0;
        });
        delete process.env.NODE_OPTIONS;
        // Every hub process the same: its own group, the same quota, the same weight, in both runs.
        const g = group(`hub-${n}-${i}`, { ...(HUB_CPU > 0 ? { quota: HUB_CPU } : {}), shares: INFRA_SHARES });
        g.add(child.pid!);
        hubGroups.push(g);
        hubs.push(child);
        child.once('exit', (code, signal) => {
          if (code !== 0 && signal !== 'SIGTERM') console.error(`hub ${id} exited (${code ?? signal}): ${JSON.stringify(logs.slice(-5))}`);
        });
        await new Promise((r) => setTimeout(r, 2_500));
        // Started (at 0.1 CPU, loading its code takes several seconds) and online.
        await g.idle();
        if (child.exitCode !== null) throw new Error(`hub exited: ${JSON.stringify(logs)}`);
      }

      const latencies = new Float64Array(PASSAGES + WARMUP);
      const at = { n: 0 };
      let acked = 0;
      let lastAck = 0;
      let target = WARMUP;
      let done: () => void = () => undefined;
      let allAcked = new Promise<void>((r) => (done = r));
      const kiosks = ids.map(
        (id, i) =>
          new SimKiosk(id, i, latencies, at, (k) => {
            acked += k;
            lastAck = Date.now();
            if (acked >= target) done();
          }),
      );
      t = performance.now();
      for (let i = 0; i < kiosks.length; i += 50) await Promise.all(kiosks.slice(i, i + 50).map((k) => k.connect(broker!.url, certs.dir)));
      console.log(`${n} hub(s): ${KIOSKS} kiosks connected over TLS in ${((performance.now() - t) / 1000).toFixed(1)} s`);

      // Each kiosk's `count` scans evenly spaced over `spanMs`, with a random phase and start.
      let worker = 0;
      const offer = (count: number, spanMs: number, start: number) => {
        const perKiosk = Array.from({ length: KIOSKS }, (_, i) => Math.floor(count / KIOSKS) + (i < count % KIOSKS ? 1 : 0));
        const phase = kiosks.map(() => Math.random());
        const startAfterMs = kiosks.map(() => Math.random() * MAX_AGE_MS);
        const sent = new Array<number>(KIOSKS).fill(0);
        return new Promise<void>((resolve) => {
          const tick = setInterval(() => {
            const elapsed = Date.now() - start;
            let left = false;
            for (let k = 0; k < KIOSKS; k++) {
              const due = Math.min(perKiosk[k]!, Math.max(0, Math.floor(((elapsed - startAfterMs[k]!) / spanMs) * perKiosk[k]! + phase[k]!)));
              while (sent[k]! < due) {
                sent[k]!++;
                kiosks[k]!.scan((worker++ * 48_271) % PASSAGES);
              }
              if (sent[k]! < perKiosk[k]!) left = true;
            }
            if (!left) {
              clearInterval(tick);
              resolve();
            }
          }, 20);
        });
      };
      // The warm-up: a quiet start of the shift before the peak, so each hub process has loaded its
      // code and compiled its hot paths (at 0.1 CPU that takes seconds, paid once per process) before
      // the peak is measured; then the hubs are left to go idle.
      t = performance.now();
      if (WARMUP > 0) {
        await offer(WARMUP, 4 * MAX_AGE_MS, Date.now());
        await Promise.race([allAcked, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${acked} of ${WARMUP} warm-up events acknowledged after 3 minutes`)), 180_000))]);
      }
      for (const g of hubGroups) await g.idle();
      console.log(`${n} hub(s): warm-up of ${WARMUP} events acknowledged, hubs idle, in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      acked = 0;
      at.n = 0;
      for (const k of kiosks) k.batches = k.resent = k.gapAcks = 0;
      target = PASSAGES;
      allAcked = new Promise<void>((r) => (done = r));

      const measured = [...hubGroups, postgres, mosquitto, generator];
      const use0 = measured.map((g) => g.usage());
      const [idle0, total0] = machineTicks();
      const start = Date.now();
      await offer(PASSAGES, (PEAK_S * 1000) / COMPRESS, start);
      const genS = (Date.now() - start) / 1000;
      // PG_WAITS=1: what PostgreSQL's busy server processes are doing, sampled every 50 ms until the end.
      const waits = new Map<string, number>();
      let sampling: NodeJS.Timeout | undefined;
      const sampler = process.env.PG_WAITS === '1' ? new pg.Client({ connectionString: url }) : undefined;
      if (sampler) {
        await sampler.connect();
        const sample = async () => {
          const { rows } = await sampler.query<{ w: string; n: number }>(
            "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database() GROUP BY 1",
          );
          for (const r of rows) waits.set(r.w, (waits.get(r.w) ?? 0) + r.n);
          waits.set('(samples)', (waits.get('(samples)') ?? 0) + 1);
          sampling = setTimeout(() => void sample(), 50);
        };
        void sample();
      }
      await Promise.race([allAcked, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${acked} of ${PASSAGES} acknowledged after 8 minutes`)), 480_000))]);
      clearTimeout(sampling);
      await sampler?.end();
      if (sampler) console.log(`${n} hub(s): PostgreSQL server processes busy, per sample: ${[...waits].sort((a, b) => b[1] - a[1]).map(([w, c]) => `${w} ${(c / (waits.get('(samples)') ?? 1)).toFixed(2)}`).join(', ')}`);
      const s = (lastAck - start) / 1000;
      const use = measured.map((g, i) => {
        const u = g.usage();
        return { cpuS: u.cpuS - use0[i]!.cpuS, throttledS: u.throttledS - use0[i]!.throttledS };
      });
      const hubUse = use.slice(0, n);
      const hubCpuS = hubUse.map((u) => u.cpuS);
      const [pgUse, brokerUse, genUse] = use.slice(n) as [(typeof use)[0], (typeof use)[0], (typeof use)[0]];
      const [idle1, total1] = machineTicks();
      const resent = kiosks.reduce((a, k) => a + k.resent, 0);
      const batches = kiosks.reduce((a, k) => a + k.batches, 0);
      const gapAcks = kiosks.reduce((a, k) => a + k.gapAcks, 0);
      await Promise.all(kiosks.map((k) => k.close()));
      for (const h of hubs.splice(0)) {
        h.kill('SIGTERM');
        await once(h, 'exit');
      }
      if (stopped.length) console.log(`${n} hub(s) at stop: ${stopped.join('; ')}`);
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      if (HUB_LOG === 'info' || HUB_LOG === 'debug') console.log(`${n} hub(s): batches stored ${stored.batches}, of them all duplicates ${stored.duplicates}, with gaps ${stored.withGaps}`);
      const held = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM hub_events')).rows[0]!.n);
      // The hubs' steady commit rate: the middle 80 % of the events by the time the hub took them
      // (received_ms), leaving out the start and the tail of batches waiting for a kiosk to send them again.
      const w = (
        await db.query<{ p10: number; p90: number }>(
          'SELECT percentile_disc(0.1) WITHIN GROUP (ORDER BY received_ms) AS p10, percentile_disc(0.9) WITHIN GROUP (ORDER BY received_ms) AS p90 FROM hub_events WHERE received_ms >= $1',
          [start],
        )
      ).rows[0]!;
      await db.end();
      if (held !== PASSAGES + WARMUP) throw new Error(`the hub database holds ${held} of ${PASSAGES + WARMUP} events`);
      const r = { ingest: (0.8 * PASSAGES) / ((w.p90 - w.p10) / 1000), makespan: PASSAGES / s, p99: percentile(latencies, at.n, 99), p50: percentile(latencies, at.n, 50), resent, hubCpuS };
      results.push(r);
      console.log(
        `${n} hub(s): ${PASSAGES} events offered in ${genS.toFixed(1)} s (${Math.round(PASSAGES / genS)}/s), all committed and acknowledged after ${s.toFixed(1)} s (${Math.round(r.makespan)} events/s overall); steady hub commit rate ${Math.round(r.ingest)} events/s; ` +
          `scan to acknowledgement p50 ${Math.round(r.p50)} ms, p99 ${Math.round(r.p99)} ms; batches ${batches} (${(PASSAGES / batches).toFixed(0)} events each), sent again ${resent}, acknowledgements reporting gaps ${gapAcks}; ` +
          `CPU over ${s.toFixed(1)} s (seconds, and share of one CPU): hubs ${hubUse.map((u) => `${u.cpuS.toFixed(1)} (${(u.cpuS / s).toFixed(2)}, held back by the quota ${u.throttledS.toFixed(1)} s)`).join(' + ')}, ` +
          `PostgreSQL ${pgUse.cpuS.toFixed(1)} (${(pgUse.cpuS / s).toFixed(2)}), Mosquitto ${brokerUse.cpuS.toFixed(1)} (${(brokerUse.cpuS / s).toFixed(2)}), generator ${genUse.cpuS.toFixed(1)} (${(genUse.cpuS / s).toFixed(2)}); ` +
          `machine busy ${(100 * (1 - (idle1 - idle0) / (total1 - total0))).toFixed(0)} % of ${cpus().length} CPUs`,
      );
    }
    const ratio = results[1]!.ingest / results[0]!.ingest;
    console.log(
      `setup: ${KIOSKS} kiosks, ${PASSAGES} passages in ${PEAK_S / 60} min compressed ${COMPRESS}x; each hub process ${HUB_CPU > 0 ? `limited to ${HUB_CPU} CPU (cgroup quota)` : 'unlimited'}; ` +
        `two hubs ${ratio.toFixed(2)}x one (target 1.8x ${ratio >= 1.8 ? 'MET' : 'MISSED'})`,
    );
    console.log(
      JSON.stringify({
        kiosks: KIOSKS,
        events: PASSAGES,
        ingest_events_per_s_1: Math.round(results[0]!.ingest),
        ingest_events_per_s_2: Math.round(results[1]!.ingest),
        scan_to_hub_commit_p99_ms: Math.round(results[1]!.p99),
      }),
    );
  } finally {
    for (const h of hubs) {
      h.kill('SIGTERM');
      if (h.exitCode === null) await once(h, 'exit');
    }
    await broker?.stop();
    await pgServer.stop();
    for (const g of groups) g.remove();
    pgDir.remove();
    dir.remove();
  }
}

await main();
// Everything this bench started is stopped; thousands of client sockets must not keep it (and the
// machine's CPU) busy after its figures are printed, as they once did.
process.exit(0);
