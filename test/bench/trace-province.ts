/**
 * The generated province of `npm run bench:trace` (test/bench/trace.bench.ts): deterministic from a
 * seed, registered in a real HubDirectory and loaded into a real hub store through its own ingest.
 *
 * Sites of 2,000 workers, one organisation each. Each site has:
 *   - a gate (two kiosks, in and out): gate passages make no contacts;
 *   - 8 zones, 250 workers each over two shifts: zones 0–3 have one checkpoint with an entry and an
 *     exit kiosk; zones 4–7 have two checkpoints (an entry side and an exit side, one kiosk each)
 *     whose events carry the same zone id, so a zone's presence is paired across its checkpoints;
 *   - 20 team checkpoints of 100 workers: teams 0 and 10 have a kiosk, teams 1 and 11 only a posted
 *     code (phone check-ins, Visits' table), the others no team scans;
 *   - a canteen (two kiosks): each worker has one of four 30-minute sittings a shift and scans once,
 *     the last sitting at the second kiosk, the others at the first; at every other site the second
 *     kiosk sends an old, unregistered checkpoint id (its place is still the canteen it is placed at,
 *     and its diners overlap the third sitting's);
 *   - 3 dormitories (15 % of workers live in one): their kiosks are put in the site only, not at
 *     the checkpoint, so a dormitory event's place comes from the event's own checkpoint id;
 *   - 8 buses (20 % of the workers who do not live in a dormitory ride one, both ways): kiosks
 *     placed at the bus checkpoint; half of them still send an old, unregistered checkpoint id in
 *     their events (the place comes from the device's checkpoint);
 *   - a warehouse kiosk at an unregistered checkpoint (5 % of workers pass it): no contacts.
 * Shifts 06:00–14:00 and 14:00–22:00 (province time, UTC+7); each worker rests two days a week.
 * On a working day: dormitory out, bus in/out, gate in, zone in, team in/out, canteen, zone out,
 * gate out, bus in/out, dormitory in, each time jittered. On a rest day a dormitory resident goes out
 * in the morning and comes back in the evening (so no stay in a dormitory lasts over 16 hours). About 6 million events for 100,000 workers and 14 days.
 * Irregularities: 0.5 % of worker-days the zone entry is refused (DECLARATION_MISSING) and the worker
 * stays out of the zone; 0.3 % a gate refusal before the gate entry; 20 unknown codes refused at each
 * gate a day (no worker); 2 % of zone, team, bus and dormitory exits are missing; per kiosk and day,
 * 3 % run on an unverified clock (wall time off by up to 2 minutes, no anchor: the hub keeps the
 * wall time, marked unverified) and 3 % on a wrong wall clock (5–30 minutes ahead) with an anchor,
 * which the hub corrects to true time. 5 % of phone check-ins are uploaded late (time unverified).
 */
import type { WireEvent } from '../../sync/batch-codec.js';
import type { HubDirectory } from '../../sync/hub/directory.js';
import type { ListedWorker } from '../../sync/hub/registry-upload.js';
import type { HubStore, IngestRequest } from '../../sync/hub/store.js';
import { chunksOf } from '../../sync/hub/hub-sql.js';
import { sql } from 'kysely';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** Monday 2 November 2026, 00:00 in the province (UTC+7). */
export const DATA_START_MS = Date.UTC(2026, 10, 2) - 7 * HOUR;

const WORKERS_PER_SITE = 2_000;
const ZONES = 8;
const TEAM_SIZE = 100;
const SITTINGS = 4;
const DORMS = 3;
const BUSES = 8;
const GATE_STRANGERS = 20;

/** Deterministic (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const workerIdOf = (i: number) => `W${String(i).padStart(6, '0')}`;
const pad = (n: number) => String(n).padStart(2, '0');

interface Worker {
  id: string;
  site: number;
  shift: 0 | 1;
  zone: number;
  team: number;
  sitting: number;
  bus: number | null;
  dorm: number | null;
  warehouse: boolean;
  rest: [number, number];
}

/** One scan before the kiosk numbers it: true time, where, who. */
interface Scan {
  device: string;
  t: number;
  checkpointId: string;
  zoneId: string;
  direction: 'entry' | 'exit';
  workerId: string | null;
  deny: WireEvent['reasons'] | null;
}

export interface ProvinceSpec {
  workers: number;
  days: number;
  seed: number;
}

/** A phone check-in row as the Visits table holds it. */
export interface VisitRow {
  visitId: string;
  workerId: string;
  checkpointId: string;
  siteId: string;
  direction: 'in' | 'out';
  atMs: number;
  timeVerified: boolean;
}

export class Province {
  readonly sites: number;
  readonly workers: Worker[] = [];
  private readonly random: () => number;

  constructor(readonly spec: ProvinceSpec) {
    this.random = prng(spec.seed);
    this.sites = Math.ceil(spec.workers / WORKERS_PER_SITE);
    for (let i = 0; i < spec.workers; i++) {
      const site = Math.floor(i / WORKERS_PER_SITE);
      const j = i % WORKERS_PER_SITE;
      const dorm = this.random() < 0.15 ? Math.floor(this.random() * DORMS) : null;
      const bus = dorm === null && this.random() < 0.2 ? Math.floor(this.random() * BUSES) : null;
      const restA = Math.floor(this.random() * 7);
      this.workers.push({
        id: workerIdOf(i),
        site,
        shift: (j % 2) as 0 | 1,
        zone: (j >> 1) % ZONES,
        team: Math.floor(j / TEAM_SIZE),
        sitting: Math.floor(this.random() * SITTINGS),
        bus,
        dorm,
        warehouse: this.random() < 0.05,
        rest: [restA, (restA + 3) % 7],
      });
    }
  }

  siteId = (s: number) => `s${pad(s)}`;
  orgId = (s: number) => `org${pad(s)}`;
  zoneId = (s: number, z: number) => `s${pad(s)}-z${z}`;
  /** The zone's checkpoints: one, or an entry side and an exit side. */
  zoneCheckpoints = (s: number, z: number) => (z < 4 ? [this.zoneId(s, z)] : [`${this.zoneId(s, z)}-a`, `${this.zoneId(s, z)}-b`]);
  teamCheckpoint = (s: number, t: number) => `s${pad(s)}-t${pad(t)}`;
  teamKiosk = (t: number) => t % 10 === 0;
  teamPhone = (t: number) => t % 10 === 1;
  canteen = (s: number) => `s${pad(s)}-canteen`;
  dormCheckpoint = (s: number, d: number) => `s${pad(s)}-dorm${d}`;
  busCheckpoint = (s: number, b: number) => `s${pad(s)}-bus${b}`;
  /** What a bus kiosk writes in its events: half of them an old id the registry does not know. */
  busEventCheckpoint = (s: number, b: number) => (b % 2 === 0 ? this.busCheckpoint(s, b) : `old-bus-${pad(s)}-${b}`);
  /** What a canteen kiosk writes in its events: the second kiosk of an odd site an old id the registry does not know, beside the first's registered one. */
  canteenEventCheckpoint = (s: number, till: number) => (s % 2 === 1 && till === 2 ? `old-canteen-${pad(s)}` : this.canteen(s));
  gate = (s: number) => `s${pad(s)}-gate`;
  warehouse = (s: number) => `s${pad(s)}-kho`;

  /** Organisations, sites, checkpoints with their kinds, devices at them, and the worker lists. */
  async register(directory: HubDirectory, log: (line: string) => void): Promise<void> {
    const nowMs = DATA_START_MS - DAY;
    for (let s = 0; s < this.sites; s++) {
      const org = this.orgId(s);
      const site = this.siteId(s);
      await directory.addOrganisation({ id: org, name: `Công ty ${pad(s)}`, kind: 'company' }, nowMs);
      await directory.addSite({ id: site, orgId: org, name: `Nhà máy ${pad(s)}` }, nowMs);
      const add = async (id: string, kind: 'gate' | 'zone' | 'team' | 'canteen' | 'dormitory' | 'bus', devices: string[]) => {
        await directory.addCheckpoint({ id, siteId: site, name: `${kind} ${id}`, kind }, nowMs);
        if (devices.length) await directory.placeDevices(id, devices, nowMs);
      };
      await add(this.gate(s), 'gate', [`${this.gate(s)}-in`, `${this.gate(s)}-out`]);
      for (let z = 0; z < ZONES; z++) {
        const cps = this.zoneCheckpoints(s, z);
        if (cps.length === 1) await add(cps[0]!, 'zone', [`${cps[0]}-in`, `${cps[0]}-out`]);
        else for (const cp of cps) await add(cp, 'zone', [`${cp}-k`]);
      }
      for (let t = 0; t < WORKERS_PER_SITE / TEAM_SIZE; t++) await add(this.teamCheckpoint(s, t), 'team', this.teamKiosk(t) ? [`${this.teamCheckpoint(s, t)}-k`] : []);
      await add(this.canteen(s), 'canteen', [`${this.canteen(s)}-1`, `${this.canteen(s)}-2`]);
      for (let d = 0; d < DORMS; d++) await add(this.dormCheckpoint(s, d), 'dormitory', []);
      for (let b = 0; b < BUSES; b++) await add(this.busCheckpoint(s, b), 'bus', [`${this.busCheckpoint(s, b)}-k`]);
      // Dormitory kiosks and the warehouse kiosk belong to the site but to no checkpoint.
      await directory.assignSite(site, [...Array.from({ length: DORMS }, (_, d) => `${this.dormCheckpoint(s, d)}-k`), `${this.warehouse(s)}-k`], nowMs);
      const list: ListedWorker[] = this.workers
        .filter((w) => w.site === s)
        .map((w, line) => ({
          line: line + 2,
          workerId: w.id,
          fullName: `Công nhân ${w.id}`,
          birthYear: 1990,
          sex: null,
          idNumber: null,
          phone: null,
          residence: null,
          team: `T${pad(w.team)}`,
          siteId: site,
          testResult: null,
          testedAtMs: null,
          vaccineDoses: 2,
        }));
      await directory.uploadWorkers(org, list, { siteId: site, nowMs });
      if (s % 10 === 9 || s === this.sites - 1) log(`registered ${s + 1}/${this.sites} sites`);
    }
  }

  /** One day's scans (kiosk events before numbering) and phone check-ins, with its own random stream. */
  day(d: number): { scans: Scan[]; visits: VisitRow[] } {
    const random = prng(this.spec.seed * 1_000 + d + 1);
    const u = (a: number, b: number) => a + (b - a) * random();
    const dayStart = DATA_START_MS + d * DAY;
    const scans: Scan[] = [];
    const visits: VisitRow[] = [];
    const scan = (device: string, t: number, checkpointId: string, zoneId: string, direction: 'entry' | 'exit', workerId: string | null, deny: WireEvent['reasons'] | null = null) =>
      scans.push({ device, t: Math.round(t), checkpointId, zoneId, direction, workerId, deny });
    const missed = () => random() < 0.02;
    const visit = (w: Worker, checkpointId: string, direction: 'in' | 'out', t: number) =>
      visits.push({
        visitId: randomBytesFrom(random),
        workerId: w.id,
        checkpointId,
        siteId: this.siteId(w.site),
        direction,
        atMs: Math.round(t),
        timeVerified: random() >= 0.05,
      });
    for (const w of this.workers) {
      const s = w.site;
      const dorm = w.dorm === null ? null : this.dormCheckpoint(s, w.dorm);
      const dormDevice = `${dorm}-k`;
      if (w.rest.includes(d % 7)) {
        if (dorm) {
          scan(dormDevice, dayStart + u(8, 10) * HOUR, dorm, dorm, 'exit', w.id);
          // Back before the next working day's exit is 16 hours (the reset) away.
          scan(dormDevice, dayStart + (w.shift === 0 ? u(17, 20) : u(22, 23.5)) * HOUR, dorm, dorm, 'entry', w.id);
        }
        continue;
      }
      const start = dayStart + (w.shift === 0 ? 6 : 14) * HOUR;
      const end = start + 8 * HOUR;
      if (dorm) scan(dormDevice, start - u(30, 50) * MIN, dorm, dorm, 'exit', w.id);
      if (w.bus !== null) {
        const device = `${this.busCheckpoint(s, w.bus)}-k`;
        const cp = this.busEventCheckpoint(s, w.bus);
        scan(device, start - u(70, 80) * MIN, cp, cp, 'entry', w.id);
        if (!missed()) scan(device, start - u(25, 30) * MIN, cp, cp, 'exit', w.id);
        scan(device, end + u(10, 20) * MIN, cp, cp, 'entry', w.id);
        if (!missed()) scan(device, end + u(50, 60) * MIN, cp, cp, 'exit', w.id);
      }
      const gateIn = start - u(5, 20) * MIN;
      if (random() < 0.003) scan(`${this.gate(s)}-in`, gateIn - u(1, 3) * MIN, this.gate(s), this.gate(s), 'entry', w.id, ['DECLARATION_MISSING']);
      scan(`${this.gate(s)}-in`, gateIn, this.gate(s), this.gate(s), 'entry', w.id);
      const zone = this.zoneId(s, w.zone);
      const [zoneIn = '', zoneOut = zoneIn] = this.zoneCheckpoints(s, w.zone);
      const inDevice = zoneIn === zoneOut ? `${zoneIn}-in` : `${zoneIn}-k`;
      const outDevice = zoneIn === zoneOut ? `${zoneOut}-out` : `${zoneOut}-k`;
      const zoneEntry = gateIn + u(3, 10) * MIN;
      if (random() < 0.005) scan(inDevice, zoneEntry, zoneIn, zone, 'entry', w.id, ['DECLARATION_MISSING']);
      else {
        scan(inDevice, zoneEntry, zoneIn, zone, 'entry', w.id);
        if (!missed()) scan(outDevice, end - u(0, 4) * MIN, zoneOut, zone, 'exit', w.id);
      }
      const team = this.teamCheckpoint(s, w.team);
      const teamIn = start + 2 * HOUR + u(0, 10) * MIN;
      const teamOut = start + 3 * HOUR + u(0, 10) * MIN;
      if (this.teamKiosk(w.team)) {
        scan(`${team}-k`, teamIn, team, team, 'entry', w.id);
        if (!missed()) scan(`${team}-k`, teamOut, team, team, 'exit', w.id);
      } else if (this.teamPhone(w.team)) {
        visit(w, team, 'in', teamIn);
        if (!missed()) visit(w, team, 'out', teamOut);
      }
      const meal = start + (w.shift === 0 ? 4.5 : 4) * HOUR + w.sitting * 30 * MIN + u(0, 8) * MIN;
      // The last sitting eats at the second kiosk, the others at the first.
      const till = w.sitting === SITTINGS - 1 ? 2 : 1;
      const canteenId = this.canteenEventCheckpoint(s, till);
      scan(`${this.canteen(s)}-${till}`, meal, canteenId, canteenId, 'entry', w.id);
      if (w.warehouse) {
        scan(`${this.warehouse(s)}-k`, start + u(5, 6) * HOUR, this.warehouse(s), this.warehouse(s), 'entry', w.id);
        scan(`${this.warehouse(s)}-k`, start + u(6.2, 7) * HOUR, this.warehouse(s), this.warehouse(s), 'exit', w.id);
      }
      scan(`${this.gate(s)}-out`, end + u(2, 8) * MIN, this.gate(s), this.gate(s), 'exit', w.id);
      if (dorm && !missed()) scan(dormDevice, end + u(60, 120) * MIN, dorm, dorm, 'entry', w.id);
    }
    for (let s = 0; s < this.sites; s++) {
      for (let k = 0; k < GATE_STRANGERS; k++) scan(`${this.gate(s)}-in`, dayStart + u(5, 15) * HOUR, this.gate(s), this.gate(s), 'entry', null, ['UNKNOWN_WORKER']);
    }
    return { scans, visits };
  }

  /**
   * A day's scans as kiosk batches: each device's in time order, numbered on from `seqs`, with the
   * device's clock that day (synced; unverified: wall time off by up to 2 min, no anchor; or a wall
   * clock 5–30 min ahead with an anchor, corrected by the hub to true time).
   */
  batches(d: number, scans: Scan[], seqs: Map<string, number>): IngestRequest[] {
    const byDevice = new Map<string, Scan[]>();
    for (const sc of scans) {
      const list = byDevice.get(sc.device);
      if (list) list.push(sc);
      else byDevice.set(sc.device, [sc]);
    }
    const out: IngestRequest[] = [];
    const dayStart = DATA_START_MS + d * DAY;
    for (const device of [...byDevice.keys()].sort()) {
      const list = byDevice.get(device)!.sort((a, b) => a.t - b.t);
      const random = prng(hash(`${this.spec.seed}:${device}:${d}`));
      const r = random();
      const clock = r < 0.03 ? 'unverified' : r < 0.06 ? 'wrong' : 'synced';
      const skewMs = clock === 'unverified' ? Math.round((random() * 4 - 2) * MIN) : clock === 'wrong' ? Math.round((5 + random() * 25) * MIN) : 0;
      const bootId = `${device}.${d}`;
      const bootMs = dayStart - HOUR;
      let seq = seqs.get(device) ?? 0;
      const events: WireEvent[] = list.map((sc) => ({
        seq: ++seq,
        wallMs: sc.t + skewMs,
        monoUs: (sc.t - bootMs) * 1000,
        bootId,
        clockSynced: clock === 'synced',
        checkpointId: sc.checkpointId,
        zoneId: sc.zoneId,
        direction: sc.direction,
        credentialKind: 'pass',
        workerId: sc.workerId,
        codeHash: sc.workerId === null ? randomBytesFrom(random) : null,
        decision: sc.deny ? 'deny' : 'allow',
        reasons: sc.deny ?? [],
        source: 'camera',
        policyVersion: 1,
      }));
      seqs.set(device, seq);
      const last = list[list.length - 1]!.t;
      for (const part of chunksOf(events, 2_000)) {
        out.push({
          deviceId: device,
          events: part,
          receivedMs: last + MIN,
          // The anchor: at the last event's monotonic time the hub's clock read its true time.
          anchor: clock === 'wrong' ? { bootId, monoUs: (last - bootMs) * 1000, hubTimeMs: last } : null,
        });
      }
    }
    return out;
  }

  /**
   * Loads every day into the store (ingestMany, groups of about 25,000 events) and the phone
   * check-ins into the directory's visits table (multi-row INSERTs, the columns Visits.submit writes).
   * Returns the counts.
   */
  async load(store: HubStore, directory: HubDirectory, log: (line: string) => void): Promise<{ events: number; visits: number; seconds: number }> {
    const seqs = new Map<string, number>();
    let events = 0;
    let visitCount = 0;
    const t0 = performance.now();
    for (let d = 0; d < this.spec.days; d++) {
      const { scans, visits } = this.day(d);
      const batches = this.batches(d, scans, seqs);
      let group: IngestRequest[] = [];
      let size = 0;
      for (const b of batches) {
        group.push(b);
        size += b.events.length;
        if (size >= 25_000) {
          await store.ingestMany(group);
          group = [];
          size = 0;
        }
      }
      if (group.length) await store.ingestMany(group);
      events += scans.length;
      for (const chunk of chunksOf(visits, 1_000)) {
        await directory.sql.run(
          sql`INSERT INTO visits (visit_id, worker_id, pass_id, checkpoint_id, site_id, direction, at_ms, received_ms, time_verified, code_kind)
              VALUES ${sql.join(chunk.map((v) => sql`(${v.visitId}, ${v.workerId}, ${'bench-pass'}, ${v.checkpointId}, ${v.siteId}, ${v.direction}, ${v.atMs}, ${v.timeVerified ? v.atMs + 5_000 : v.atMs + 3 * HOUR}, ${v.timeVerified ? 1 : 0}, ${'static'})`))}`,
        );
      }
      visitCount += visits.length;
      const s = (performance.now() - t0) / 1000;
      log(`day ${d + 1}/${this.spec.days}: ${events.toLocaleString('en')} events, ${visitCount.toLocaleString('en')} visits, ${Math.round(events / s).toLocaleString('en')} events/s`);
    }
    return { events, visits: visitCount, seconds: (performance.now() - t0) / 1000 };
  }
}

/** A 22-character visit id (16 bytes in base64url) from the day's random stream. */
function randomBytesFrom(random: () => number): string {
  const bytes = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) bytes[i] = Math.floor(random() * 256);
  return bytes.toString('base64url');
}

/** FNV-1a, for a per-device seed. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
