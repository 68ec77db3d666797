import { sql } from 'kysely';
import { dayRangeIn, parseInstant } from '../../base/common/time.js';
import type { HubDirectory } from './directory.js';
import { VISITOR_ID_PATTERN } from '../../base/common/visitor.js';
import type { CheckpointWindow, HubStore, PresenceEvent, ReportedPlace, VisitorRegistration } from './store.js';
import { visitsWithin, type VisitRecord, type Visits, type VisitWindow } from './visits.js';

/**
 * Narrow tracing at the hub (issue 11, "truy vết hẹp"): given a case (a worker) and a period, who
 * shared a place with them, for how long, ranked.
 *
 * Presence, from the events the gate ALLOWED (a refusal is no presence) and from phone check-ins at
 * posted checkpoint codes (sync/hub/visits.ts; in = entry, out = exit), by the hub's corrected time:
 * - Where: the checkpoint the event's DEVICE was placed at (`safegate hub device assign --checkpoint`)
 *   at the event's time (the directory's placement history, migration 0020: moving a kiosk does not
 *   relabel its past), else (placed nowhere then, or before its first placement) the event's own
 *   checkpoint when that is registered. Only zone,
 *   team, canteen, dormitory and bus checkpoints make places; a gate (the whole site is not a narrow
 *   contact) and an unregistered checkpoint make none. A zone is one place however many checkpoints
 *   it has: `zone:<site>:<zone id the kiosk reported>`. A phone check-in at a zone checkpoint has no
 *   zone id of its own: it counts under the zone id the kiosks placed at that checkpoint report
 *   (learnt from their first and last events, the latest of the first kiosk by id), else the one a
 *   kiosk at another zone checkpoint of the site reports with this checkpoint's id, and only when no
 *   kiosk tells, under its checkpoint id. Every other place is its checkpoint.
 * - Zone, team, dormitory, bus: an entry opens presence, the worker's next exit there closes it; an
 *   entry with no exit ends `resetHours` after it (the policy's antiPassbackResetHours), or at the
 *   worker's next entry there if sooner; an exit further than that from its entry closes nothing
 *   more (the presence ended at the reset time). An exit with no entry before it makes no presence.
 * - Canteen: every scan (either way) is a sitting [t, t + canteenWindowMinutes): two sittings
 *   overlap, by the window less the time between the scans, when their scans are less than the
 *   window apart. A worker's sittings that overlap (a second scan within the window) are one stay.
 * - The case's presence is clipped to the period; a contact's counts where it overlaps the case's.
 *   Presence resting on an event with an unverified clock (a kiosk the hub could not date, a phone
 *   check-in uploaded late) is marked, and so is every exposure that rests on it, on either side.
 *
 * - A bus trip (issue 13) is its own place: an event carrying a trip id at a bus checkpoint counts at
 *   `trip:<deviceId>:<tripId>` (kind bus, TracePlace.tripId set), so riders of the same trip are each
 *   other's contacts from boarding to alighting (a scan out, or the trip's end alighting them), and
 *   riders of another trip of the same bus are not. The driver whose card opened the trip
 *   (TRIP_STARTED names them) is there from its start to its end; every presence in a trip ends at
 *   the latest when the trip does (its end read from the trips read model, sync/hub/trips.ts). A
 *   trip's own events that name no worker make no presence.
 *
 * F1: every other worker with an overlap at one of the case's places. F2 (on request): every worker
 * neither the case nor an F1 whose presence overlaps any F1's presence in the period from that F1's
 * first exposure to the case on (whom an F1 met before meeting the case is no F2); each presence
 * of theirs counts once, with the F1 it overlapped longest (`viaWorkerId`), so a crowded place does
 * not multiply their exposures by its F1s.
 *
 * Reads: the case's events by the worker index, padded by the reset time on both sides (a presence
 * that began before the period; the exit that ends one); then the events at the case's places within
 * each presence, padded the same (contacts who entered earlier, and their exits), all windows in one
 * query by the place index (store migration 7), by every checkpoint id the place's kiosks report (a
 * kiosk placed at a checkpoint may send an old id; a zone's checkpoints are those whose kiosks send
 * its zone id: learnt from each kiosk's first and last event); phone check-ins likewise. F2: every
 * F1's events in one query, then their places' in another. Memory holds the events of those windows.
 * A kiosk that changed the checkpoint id it sends more than once is read by its first and last only.
 *
 * Visitors (issue 14): a visitor's allowed passages (their events name their pseudonym, not a worker;
 * read by the visitor index and the visitor place index, store migration 10) make presence at narrow
 * places exactly as a worker's do, keyed by the pseudonym, so a visitor is an F1 or F2 like anyone
 * (kind 'visitor', with the name, host and purpose of their registration at or before the exposure,
 * and no organisation). A site is no narrow contact, so visitors at the case's sites are listed apart
 * (`visitorsOnSite`): a visit is the visitor's gate entry at a site to their gate exit there (with no
 * exit, the reset time after the entry, or their next entry there if sooner), and it is listed when it
 * overlaps the case's presence at any place of that site in the period. A visitor may be the case
 * (`visitorId`): their contacts as a worker's, and their visits to sites (`caseVisits`). The pseudonym
 * key is a kiosk's own, so a visitor is one person only at the kiosk they registered at.
 */

/** Checkpoint kinds that make contacts (a site gate does not: the whole site is not a narrow contact). */
export type TracePlaceKind = 'zone' | 'team' | 'canteen' | 'dormitory' | 'bus';

export interface TracePlace {
  /**
   * Stable key of the place: `zone:<siteId>:<zoneId>` for a zone (all its checkpoints together),
   * `trip:<deviceId>:<tripId>` for a bus trip, else `<kind>:<checkpointId>`.
   */
  key: string;
  kind: TracePlaceKind;
  /** For a zone with several checkpoints, one of them (the first by id). */
  checkpointId: string;
  /** The registry's checkpoint name (or the id when unknown). */
  name: string;
  siteId: string | null;
  /** A bus trip (kind bus): its id; the key names the bus unit too. */
  tripId?: string;
}

/** One overlap between a contact and the case at one place. Times are the hub's corrected times, epoch ms. */
export interface Exposure {
  place: TracePlace;
  /** Overlap start. */
  fromMs: number;
  /** Overlap end. */
  toMs: number;
  /** (toMs - fromMs) / 60000, rounded to 0.1. */
  overlapMinutes: number;
  /** Where the contact's presence came from: a kiosk event, or a phone check-in at a posted checkpoint code. */
  source: 'kiosk' | 'phone';
  /** True when the contact's or the case's presence here rests on an event with an unverified clock (or a late phone upload, time_verified = 0). */
  unverifiedClock: boolean;
  /** For F2: the F1 contact this exposure was with (absent for F1). */
  viaWorkerId?: string;
}

/** What a visitor told at registration (kept for the trace period; shown only in a trace's result). */
export interface TracedVisit {
  name: string;
  host: string;
  purpose: string;
}

export interface TraceContact {
  /** A worker's id, or a visitor's pseudonym (kind 'visitor'). */
  workerId: string;
  /** 'visitor': a visitor by their pseudonym (no organisation; `visitor` names them). Absent in traces saved before visitors were traced: a worker. */
  kind?: 'worker' | 'visitor';
  /** A visitor's name and visit (their registration at or before their first exposure); null when the hub holds no registration of theirs. */
  visitor?: TracedVisit | null;
  degree: 1 | 2;
  /**
   * The organisation whose list holds the worker now (directory), null if none. For a visitor: the
   * organisation of the site where they first met the source (their host's), so its managers see them.
   */
  orgId: string | null;
  /** By time. */
  exposures: Exposure[];
  /** Sum of exposures. */
  overlapMinutes: number;
  /** Any exposure unverified. */
  unverifiedClock: boolean;
  /** 1 = most exposed; by degree, then total overlap minutes desc, then workerId. */
  rank: number;
}

/** A visitor at a site of the case while the case was there (issue 14; not a contact: a site is no narrow place). */
export interface SiteVisitor {
  visitorId: string;
  /** The site's organisation (the directory's; null for a site named before organisations): its managers see the visit. */
  orgId: string | null;
  /** The registration at or before the entry; null when the hub holds none. */
  visitor: TracedVisit | null;
  siteId: string;
  /** Their gate entry at the site (the hub's time). */
  enteredMs: number;
  /** Their gate exit there; null when none (the visit is taken to end at the reset time, or their next entry). */
  leftMs: number | null;
  /** Minutes the visit overlapped the case's presence at the site's places in the period (rounded to 0.1). */
  overlapMinutes: number;
  /** The visit's or the case's presence rests on an event with an unverified clock. */
  unverifiedClock: boolean;
}

/** A visit to a site by a visitor who is the case (their gate entry to their gate exit). */
export interface CaseVisit {
  siteId: string;
  visitor: TracedVisit | null;
  enteredMs: number;
  leftMs: number | null;
  unverifiedClock: boolean;
}

export interface TraceRequest {
  /** The case: a worker (or a visitor by `visitorId`: exactly one of the two). */
  workerId?: string;
  /** The case as a visitor's pseudonym (base/common/visitor.ts VISITOR_ID_PATTERN). */
  visitorId?: string;
  /** Default: 14 days before toMs. */
  fromMs: number;
  /** Default: now. */
  toMs: number;
  /** F2 on request. */
  secondDegree?: boolean;
}

export interface TraceOptions {
  /** A canteen scan is a sitting of this length: two sittings overlap when their scans are less than this apart. Default 30. */
  canteenWindowMinutes: number;
  /** An entry with no exit ends this long after it (the policy's antiPassbackResetHours; default 16). */
  resetHours: number;
}

export interface TraceResult {
  /** The case's id: a worker's, or a visitor's pseudonym when `caseKind` is 'visitor'. */
  caseWorkerId: string;
  /** Absent in traces saved before visitors were traced: a worker. */
  caseKind?: 'worker' | 'visitor';
  fromMs: number;
  toMs: number;
  options: TraceOptions;
  /** The case's own presence intervals by place (what the contacts were matched against). */
  casePresence: { place: TracePlace; fromMs: number; toMs: number; source: 'kiosk' | 'phone'; unverifiedClock: boolean }[];
  /** F1 first, then F2 (F2 excludes the case and every F1). */
  contacts: TraceContact[];
  /** Visitors at the case's sites while the case was there (not contacts), by overlap minutes desc, then entry. Absent in traces saved before. */
  visitorsOnSite?: SiteVisitor[];
  /** A visitor case: their visits to sites overlapping the period, by entry. */
  caseVisits?: CaseVisit[];
}

export const DEFAULT_TRACE_OPTIONS: TraceOptions = { canteenWindowMinutes: 30, resetHours: 16 };

/** The longest period one trace covers. */
export const MAX_TRACE_DAYS = 60;
/** The default period: the last 14 days. */
export const DEFAULT_TRACE_DAYS = 14;

const PLAIN_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The period asked for, read the same by the console and the CLI: `from` and `to` as ISO dates or
 * times (a plain date is that day in the province zone: `from` its start, `to` its end), `to` by
 * default now and never later than now, `from` by default 14 days before `to`; at most 60 days.
 * A string: why it is refused (naming `from` or `to` first when one of them is at fault).
 */
export function periodOf(fromText: string | undefined, toText: string | undefined, nowMs: number, zone: string): { fromMs: number; toMs: number } | string {
  let toMs = nowMs;
  if (toText !== undefined) {
    const t = parseInstant(toText, zone);
    if (t instanceof Error) return `to: ${t.message}`;
    toMs = Math.min(PLAIN_DATE.test(toText.trim()) ? dayRangeIn(t, zone).toMs : t, nowMs);
  }
  let fromMs = toMs - DEFAULT_TRACE_DAYS * DAY_MS;
  if (fromText !== undefined) {
    const f = parseInstant(fromText, zone);
    if (f instanceof Error) return `from: ${f.message}`;
    fromMs = f;
  }
  if (fromMs >= toMs) return fromMs >= nowMs ? 'from: the period must start before now' : 'from must be before to';
  if (toMs - fromMs > MAX_TRACE_DAYS * DAY_MS) return `the period is longer than ${MAX_TRACE_DAYS} days: trace a shorter one`;
  return { fromMs, toMs };
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const CONTACT_KINDS: ReadonlySet<string> = new Set<TracePlaceKind>(['zone', 'team', 'canteen', 'dormitory', 'bus']);

/** A trace refused in plain words (an unknown worker, a period backwards or too long). */
export class TraceError extends Error {
  override name = 'TraceError';
}

export interface TracerDeps {
  store: HubStore;
  directory: HubDirectory;
  /** Where phone check-ins are read (a test's stand-in); by default the directory's own visits table. */
  visits?: Pick<Visits, 'within'> | undefined;
}

/**
 * The reset time the hub publishes to its kiosks (the current policy's antiPassbackResetHours), or
 * undefined when no policy is published.
 */
export async function publishedResetHours(directory: HubDirectory): Promise<number | undefined> {
  const row = await directory.sql.get<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'policy' AND key = 'current' AND deleted = 0`);
  if (!row) return undefined;
  const hours = (JSON.parse(row.value) as { document?: { params?: { antiPassbackResetHours?: unknown } } }).document?.params?.antiPassbackResetHours;
  return typeof hours === 'number' && hours > 0 ? hours : undefined;
}

/**
 * The options a hub traces with: the settings' `trace` (canteen window; reset hours when set there),
 * else the reset hours of the policy the hub publishes, else the defaults.
 */
export async function traceOptionsOf(settings: { canteenWindowMinutes: number; resetHours?: number | undefined }, directory: HubDirectory): Promise<TraceOptions> {
  return {
    canteenWindowMinutes: settings.canteenWindowMinutes,
    resetHours: settings.resetHours ?? (await publishedResetHours(directory)) ?? DEFAULT_TRACE_OPTIONS.resetHours,
  };
}

interface RegistryCheckpoint {
  id: string;
  siteId: string;
  name: string;
  kind: string;
}

/** Where an event or a check-in took place, as tracing counts it. */
interface Passage {
  workerId: string;
  key: string;
  checkpointId: string;
  direction: 'entry' | 'exit';
  timeMs: number;
  unverified: boolean;
  source: 'kiosk' | 'phone';
}

interface Interval {
  workerId: string;
  key: string;
  fromMs: number;
  toMs: number;
  source: 'kiosk' | 'phone';
  unverified: boolean;
}

interface PlaceInfo {
  kind: TracePlaceKind;
  siteId: string;
  /** The registered checkpoints its passages resolved to. */
  checkpoints: Set<string>;
  /** The checkpoint ids the kiosks reported there (what the place index is asked by). */
  reported: Set<string>;
  /** A bus trip's bus unit and trip id. */
  trip?: { deviceId: string; tripId: string };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The checkpoints of the registry, where each device is placed, and the places tracing met. */
class Places {
  readonly info = new Map<string, PlaceInfo>();
  /** What each device placed at a place met so far reported (its first and last events). */
  private readonly reportedBy = new Map<string, ReportedPlace[]>();
  /** Each device, reported checkpoint and zone met: its place (null: none that makes contacts). */
  private readonly resolved = new Map<string, { checkpointId: string; key: string } | null>();
  /** Each zone checkpoint met by a check-in: the zone id its check-ins count under. */
  private readonly zoneOfCheckpoint = new Map<string, string>();
  /** Each trip place met and read: when its trip ended (null: not ended, as far as the hub knows). */
  readonly tripEnds = new Map<string, number | null>();

  private constructor(
    private readonly checkpoints: Map<string, RegistryCheckpoint>,
    /** Each device's placements by time (null: placed nowhere from then). */
    private readonly placements: Map<string, { sinceMs: number; checkpointId: string | null }[]>,
    /** The devices placed at each checkpoint now or at any time before. */
    private readonly devicesAt: Map<string, string[]>,
  ) {}

  static async load(directory: HubDirectory): Promise<Places> {
    const all = await directory.checkpoints();
    const checkpoints = new Map(all.map((c) => [c.id, { id: c.id, siteId: c.siteId, name: c.name, kind: c.kind }]));
    const devicesAt = new Map(all.map((c) => [c.id, new Set(c.devices)]));
    // Every device's placement history in one read (a hub's devices and their moves: a few thousand rows).
    const rows = await directory.sql.all<{ device_id: string; since_ms: number | string; checkpoint_id: string | null }>(
      sql`SELECT device_id, since_ms, checkpoint_id FROM device_placements ORDER BY device_id, since_ms`,
    );
    const placements = new Map<string, { sinceMs: number; checkpointId: string | null }[]>();
    for (const r of rows) {
      push(placements, r.device_id, { sinceMs: Number(r.since_ms), checkpointId: r.checkpoint_id });
      if (r.checkpoint_id !== null) devicesAt.get(r.checkpoint_id)?.add(r.device_id);
    }
    // A placement the history does not hold (never expected after migration 0020): in effect always.
    for (const c of all) for (const d of c.devices) if (!placements.has(d)) placements.set(d, [{ sinceMs: -Infinity, checkpointId: c.id }]);
    return new Places(checkpoints, placements, new Map([...devicesAt].map(([c, set]) => [c, [...set]])));
  }

  /** Where a device was placed at a time: null when at no checkpoint then (or before its first placement). */
  private placedAt(deviceId: string, timeMs: number): string | null {
    const list = this.placements.get(deviceId);
    if (!list) return null;
    let at: string | null = null;
    for (const p of list) {
      if (p.sinceMs > timeMs) break;
      at = p.checkpointId;
    }
    return at;
  }

  /** A kiosk event as a passage at its place, or null where it makes no contact. */
  ofEvent(e: PresenceEvent): Passage | null {
    // A few placements and ids among tens of thousands of events: each combination resolved once.
    const placed = this.placedAt(e.deviceId, e.timeMs);
    const seen = `${placed ?? ''}\u0000${e.checkpointId}\u0000${e.zoneId}`;
    let at = this.resolved.get(seen);
    if (at === undefined) {
      const cp = this.checkpoints.get(placed ?? e.checkpointId);
      at = cp && CONTACT_KINDS.has(cp.kind) ? { checkpointId: cp.id, key: this.note(cp, cp.kind === 'zone' ? e.zoneId : cp.id, e.checkpointId) } : null;
      this.resolved.set(seen, at);
    }
    if (!at) return null;
    const key = e.tripId !== undefined && this.info.get(at.key)!.kind === 'bus' ? this.noteTrip(at.key, e.deviceId, e.tripId, e.checkpointId) : at.key;
    return { workerId: e.workerId, key, checkpointId: at.checkpointId, direction: e.direction, timeMs: e.timeMs, unverified: e.clock === 'unverified', source: 'kiosk' };
  }

  /** The site whose gate a visitor's event passed (where its device was placed then, else the checkpoint it names), or null. */
  gateSiteOf(e: PresenceEvent): string | null {
    const cp = this.checkpoints.get(this.placedAt(e.deviceId, e.timeMs) ?? e.checkpointId);
    return cp?.kind === 'gate' ? cp.siteId : null;
  }

  /** The checkpoint ids to read a site's gate events by: its gate checkpoints and what the kiosks placed there report. */
  async gateReadIds(siteId: string, store: HubStore): Promise<string[]> {
    const gates = [...this.checkpoints.values()].filter((c) => c.kind === 'gate' && c.siteId === siteId).map((c) => c.id);
    const devices = gates.flatMap((c) => this.devicesAt.get(c) ?? []);
    const ask = devices.filter((d) => !this.reportedBy.has(d));
    if (ask.length > 0) {
      const got = await store.reportedPlaces(ask);
      for (const d of ask) this.reportedBy.set(d, got.get(d) ?? []);
    }
    return [...new Set([...gates, ...devices.flatMap((d) => (this.reportedBy.get(d) ?? []).map((r) => r.checkpointId))])];
  }

  /** A phone check-in as a passage at its place, or null where it makes no contact. */
  ofVisit(v: VisitRecord): Passage | null {
    const cp = this.checkpoints.get(v.checkpointId);
    if (!cp || !CONTACT_KINDS.has(cp.kind)) return null;
    const key = this.note(cp, cp.kind === 'zone' ? this.zoneOf(cp) : cp.id, null);
    return { workerId: v.workerId, key, checkpointId: cp.id, direction: v.direction === 'in' ? 'entry' : 'exit', timeMs: v.atMs, unverified: !v.timeVerified, source: 'phone' };
  }

  /**
   * Learns what the devices placed at these places report (one query for those not asked yet): a
   * kiosk may send an old checkpoint id, and a zone's other checkpoints are known by the zone id
   * their kiosks send.
   */
  async learn(keys: Iterable<string>, store: HubStore): Promise<void> {
    const ask = new Set<string>();
    for (const key of keys) {
      for (const c of this.candidates(key)) for (const d of this.devicesAt.get(c) ?? []) if (!this.reportedBy.has(d)) ask.add(d);
    }
    if (ask.size === 0) return;
    const got = await store.reportedPlaces([...ask]);
    for (const d of ask) this.reportedBy.set(d, got.get(d) ?? []);
  }

  /**
   * Learns what the kiosks at the zone checkpoints of the sites of these check-ins report (one query
   * for those not asked yet), so that a check-in at a zone checkpoint is keyed by its zone id.
   */
  async learnCheckIns(checkIns: readonly VisitRecord[], store: HubStore): Promise<void> {
    const sites = new Set<string>();
    for (const v of checkIns) {
      const cp = this.checkpoints.get(v.checkpointId);
      if (cp?.kind === 'zone' && !this.zoneOfCheckpoint.has(cp.id)) sites.add(cp.siteId);
    }
    if (sites.size === 0) return;
    const ask = new Set<string>();
    for (const c of this.checkpoints.values()) {
      if (c.kind === 'zone' && sites.has(c.siteId)) for (const d of this.devicesAt.get(c.id) ?? []) if (!this.reportedBy.has(d)) ask.add(d);
    }
    if (ask.size === 0) return;
    const got = await store.reportedPlaces([...ask]);
    for (const d of ask) this.reportedBy.set(d, got.get(d) ?? []);
  }

  /**
   * The zone id a zone checkpoint's check-ins count under: the one its kiosks report (the latest
   * learnt of the first kiosk by id that reports one); else the one reported by a kiosk at another
   * zone checkpoint of the site that sends this checkpoint's id; else the checkpoint id itself.
   */
  private zoneOf(cp: RegistryCheckpoint): string {
    let zone = this.zoneOfCheckpoint.get(cp.id);
    if (zone !== undefined) return zone;
    const latest = (d: string) => this.reportedBy.get(d)?.at(-1);
    for (const d of [...(this.devicesAt.get(cp.id) ?? [])].sort()) {
      zone ??= latest(d)?.zoneId;
    }
    if (zone === undefined) {
      const others = [...this.checkpoints.values()].filter((c) => c.kind === 'zone' && c.siteId === cp.siteId).sort((a, b) => (a.id < b.id ? -1 : 1));
      for (const c of others) for (const d of [...(this.devicesAt.get(c.id) ?? [])].sort()) for (const r of this.reportedBy.get(d) ?? []) if (r.checkpointId === cp.id) zone ??= r.zoneId;
    }
    zone ??= cp.id;
    this.zoneOfCheckpoint.set(cp.id, zone);
    return zone;
  }

  /** The checkpoint ids to read a place's kiosk events by, and its registered checkpoints (for check-ins). */
  readIds(key: string): { reported: string[]; checkpoints: string[] } {
    const p = this.info.get(key)!;
    const reported = new Set([...p.reported, ...p.checkpoints]);
    const checkpoints = new Set(p.checkpoints);
    const zoneId = p.kind === 'zone' ? key.slice(`zone:${p.siteId}:`.length) : null;
    for (const c of this.candidates(key)) {
      for (const d of this.devicesAt.get(c) ?? []) {
        for (const r of this.reportedBy.get(d) ?? []) {
          if (zoneId !== null && r.zoneId !== zoneId) continue;
          reported.add(r.checkpointId);
          checkpoints.add(c);
        }
      }
    }
    return { reported: [...reported], checkpoints: [...checkpoints] };
  }

  place(key: string): TracePlace {
    const p = this.info.get(key)!;
    const checkpointId = [...p.checkpoints].sort()[0]!;
    return { key, kind: p.kind, checkpointId, name: this.checkpoints.get(checkpointId)?.name || checkpointId, siteId: p.siteId, ...(p.trip ? { tripId: p.trip.tripId } : {}) };
  }

  /** A trip of the bus place `busKey` (a bus unit's): its own place, with the bus's checkpoints and reported ids. */
  private noteTrip(busKey: string, deviceId: string, tripId: string, reported: string): string {
    const key = `trip:${deviceId}:${tripId}`;
    let p = this.info.get(key);
    if (!p) {
      const bus = this.info.get(busKey)!;
      this.info.set(key, (p = { kind: 'bus', siteId: bus.siteId, checkpoints: new Set(bus.checkpoints), reported: new Set(bus.reported), trip: { deviceId, tripId } }));
    }
    p.reported.add(reported);
    return key;
  }

  /** Reads when the trips among these places ended (one query for those not read yet). */
  async learnTripEnds(keys: Iterable<string>, store: HubStore): Promise<void> {
    const ask = new Map<string, { deviceId: string; tripId: string }>();
    for (const key of keys) {
      const trip = this.info.get(key)?.trip;
      if (trip && !this.tripEnds.has(key)) ask.set(key, trip);
    }
    if (ask.size === 0) return;
    const ended = new Map((await store.trips({ keys: [...ask.values()] })).map((t) => [`trip:${t.deviceId}:${t.tripId}`, t.endedAt]));
    for (const key of ask.keys()) this.tripEnds.set(key, ended.get(key) ?? null);
  }

  /** The registered checkpoints that may serve a place: its own; for a zone, every zone checkpoint of its site. */
  private candidates(key: string): string[] {
    const p = this.info.get(key)!;
    if (p.kind !== 'zone') return [...p.checkpoints];
    const out: string[] = [];
    for (const c of this.checkpoints.values()) if (c.kind === 'zone' && c.siteId === p.siteId) out.push(c.id);
    return out;
  }

  private note(cp: RegistryCheckpoint, within: string, reported: string | null): string {
    const kind = cp.kind as TracePlaceKind;
    const key = kind === 'zone' ? `zone:${cp.siteId}:${within}` : `${kind}:${cp.id}`;
    let p = this.info.get(key);
    if (!p) this.info.set(key, (p = { kind, siteId: cp.siteId, checkpoints: new Set(), reported: new Set() }));
    p.checkpoints.add(cp.id);
    if (reported !== null) p.reported.add(reported);
    return key;
  }
}

/**
 * Each worker's presence at each place from their passages (see the header for the rules). The
 * passages in any order; the intervals of a worker at a place come out by time. `endOf`: when a
 * place's presence ends at the latest (a bus trip's end), null or undefined when it does not.
 */
export function presenceIntervals(passages: readonly Passage[], kindOf: (key: string) => TracePlaceKind, options: TraceOptions, endOf?: (key: string) => number | null | undefined): Interval[] {
  const resetMs = options.resetHours * HOUR_MS;
  const sittingMs = options.canteenWindowMinutes * MINUTE_MS;
  const byPlaceWorker = new Map<string, Map<string, Passage[]>>();
  for (const p of passages) {
    let workers = byPlaceWorker.get(p.key);
    if (!workers) byPlaceWorker.set(p.key, (workers = new Map()));
    const list = workers.get(p.workerId);
    if (list) list.push(p);
    else workers.set(p.workerId, [p]);
  }
  const out: Interval[] = [];
  for (const list of [...byPlaceWorker.values()].flatMap((workers) => [...workers.values()])) {
    list.sort((a, b) => a.timeMs - b.timeMs || (a.direction === b.direction ? 0 : a.direction === 'entry' ? -1 : 1));
    const { workerId, key } = list[0]!;
    if (kindOf(key) === 'canteen') {
      // Sittings that overlap (a second scan within the window) are one stay, so no minute counts twice.
      let last: Interval | null = null;
      for (const p of list) {
        if (last && p.timeMs < last.toMs) {
          last.toMs = p.timeMs + sittingMs;
          last.unverified ||= p.unverified;
        } else out.push((last = { workerId, key, fromMs: p.timeMs, toMs: p.timeMs + sittingMs, source: p.source, unverified: p.unverified }));
      }
      continue;
    }
    let open: Passage | null = null;
    for (const p of list) {
      if (p.direction === 'entry') {
        if (open) out.push({ workerId, key, fromMs: open.timeMs, toMs: Math.min(open.timeMs + resetMs, p.timeMs), source: open.source, unverified: open.unverified });
        open = p;
      } else if (open) {
        const closes = p.timeMs <= open.timeMs + resetMs;
        out.push({ workerId, key, fromMs: open.timeMs, toMs: closes ? p.timeMs : open.timeMs + resetMs, source: open.source, unverified: open.unverified || (closes && p.unverified) });
        open = null;
      }
    }
    if (open) out.push({ workerId, key, fromMs: open.timeMs, toMs: open.timeMs + resetMs, source: open.source, unverified: open.unverified });
  }
  if (endOf) {
    for (const i of out) {
      const end = endOf(i.key);
      if (end !== null && end !== undefined && end < i.toMs) i.toMs = end;
    }
  }
  return out.filter((i) => i.toMs > i.fromMs);
}

/** The intervals of each place, by start, with the longest one's length (for a bounded search back). */
class IntervalIndex {
  private readonly byKey = new Map<string, { list: Interval[]; longestMs: number }>();

  constructor(intervals: readonly Interval[]) {
    for (const i of intervals) {
      let e = this.byKey.get(i.key);
      if (!e) this.byKey.set(i.key, (e = { list: [], longestMs: 0 }));
      e.list.push(i);
      e.longestMs = Math.max(e.longestMs, i.toMs - i.fromMs);
    }
    for (const e of this.byKey.values()) e.list.sort((a, b) => a.fromMs - b.fromMs);
  }

  /** The place's intervals by start, and the range of them that may overlap [fromMs, toMs): none started before fromMs - longest, or at toMs or later. */
  candidates(key: string, fromMs: number, toMs: number): { list: Interval[]; lo: number; hi: number } | null {
    const e = this.byKey.get(key);
    if (!e) return null;
    const firstFrom = (bound: number) => {
      let lo = 0;
      let hi = e.list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (e.list[mid]!.fromMs < bound) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    return { list: e.list, lo: firstFrom(fromMs - e.longestMs + 1), hi: firstFrom(toMs) };
  }

  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }
}

/** Narrow tracing at the hub (issue 11). The constructor only stores its dependencies. */
export class Tracer {
  private readonly options: TraceOptions;

  constructor(
    private readonly deps: TracerDeps,
    options: Partial<TraceOptions> = {},
  ) {
    this.options = { ...DEFAULT_TRACE_OPTIONS, ...options };
  }

  async trace(request: TraceRequest): Promise<TraceResult> {
    const { fromMs, toMs } = request;
    if (request.workerId !== undefined && request.visitorId !== undefined) throw new TraceError('trace a worker or a visitor, not both');
    const asVisitor = request.visitorId !== undefined;
    const workerId = request.workerId ?? request.visitorId;
    if (asVisitor) {
      if (typeof workerId !== 'string' || !VISITOR_ID_PATTERN.test(workerId)) throw new TraceError('a visitor is named by their pseudonym: v<key id>.<32 hex digits>');
    } else if (!(typeof workerId === 'string' && workerId.length > 0 && workerId.length <= 64)) throw new TraceError('a worker id is required (at most 64 characters)');
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) throw new TraceError('the period needs a start and an end');
    if (fromMs >= toMs) throw new TraceError('the period starts after it ends');
    if (toMs - fromMs > MAX_TRACE_DAYS * DAY_MS) throw new TraceError(`a trace covers at most ${MAX_TRACE_DAYS} days`);
    if (asVisitor ? !(await this.isKnownVisitor(workerId)) : !(await this.isKnown(workerId))) {
      throw new TraceError(asVisitor ? `no visitor ${workerId} is known to this hub (no registration, no passage)` : `no worker ${workerId} is known to this hub (on no list, no passage)`);
    }

    const { directory } = this.deps;
    const options = this.options;
    const padMs = Math.max(options.resetHours * HOUR_MS, options.canteenWindowMinutes * MINUTE_MS);
    const places = await Places.load(directory);

    // The case: their own passages, padded, as presence clipped to the period.
    const casePassages = await this.passagesOf([workerId], fromMs - padMs, toMs + padMs, places);
    const caseIntervals = (await this.intervalsOf(casePassages, places))
      .map((i) => ({ ...i, fromMs: Math.max(i.fromMs, fromMs), toMs: Math.min(i.toMs, toMs) }))
      .filter((i) => i.toMs > i.fromMs)
      .sort((a, b) => a.fromMs - b.fromMs || (a.key < b.key ? -1 : 1));

    const excluded = new Set([workerId]);
    const f1 = await this.contactsOf(caseIntervals, excluded, places, padMs, false);
    const contacts: Omit<TraceContact, 'rank' | 'orgId'>[] = [...f1.values()].map((c) => ({ ...c, degree: 1 as const }));

    if (request.secondDegree && f1.size > 0) {
      for (const id of f1.keys()) excluded.add(id);
      const f1Passages = await this.passagesOf([...f1.keys()], fromMs - padMs, toMs + padMs, places);
      // An F1 passes nothing on before they met the case: their presence counts from their first exposure.
      const firstExposure = new Map([...f1.values()].map((c) => [c.workerId, Math.min(...c.exposures.map((x) => x.fromMs))]));
      const f1Intervals = (await this.intervalsOf(f1Passages, places))
        .map((i) => ({ ...i, fromMs: Math.max(i.fromMs, fromMs, firstExposure.get(i.workerId) ?? Infinity), toMs: Math.min(i.toMs, toMs) }))
        .filter((i) => i.toMs > i.fromMs);
      const f2 = await this.contactsOf(f1Intervals, excluded, places, padMs, true);
      contacts.push(...[...f2.values()].map((c) => ({ ...c, degree: 2 as const })));
    }

    contacts.sort((a, b) => a.degree - b.degree || b.overlapMinutes - a.overlapMinutes || (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));
    const orgs = await directory.organisationsOf(contacts.filter((c) => !isVisitorId(c.workerId)).map((c) => c.workerId));
    const placeOf = new Map<string, TracePlace>();
    const place = (key: string) => placeOf.get(key) ?? placeOf.set(key, places.place(key)).get(key)!;

    const onSite = await this.visitorsOnSite(caseIntervals.map((i) => ({ ...i, siteId: places.info.get(i.key)!.siteId })), workerId, places, padMs);
    const caseVisits = asVisitor ? visitsOf(casePassagesAtGates(await this.deps.store.visitorPresence([workerId], fromMs - padMs, toMs + padMs), places), options).filter((v) => v.endMs > fromMs && v.enteredMs < toMs) : [];
    const visitorsMet = contacts.some((c) => isVisitorId(c.workerId)) || onSite.length > 0;
    const siteOrgs = visitorsMet ? new Map((await directory.registeredSites()).map((site) => [site.id, site.orgId])) : new Map<string, string | null>();
    const hostOrg = (c: Omit<TraceContact, 'rank' | 'orgId'>) => {
      const siteId = places.info.get(c.exposures[0]!.place.key)?.siteId;
      return siteId === undefined ? null : (siteOrgs.get(siteId) ?? null);
    };
    const registrations = await this.registrationsOf([...contacts.map((c) => c.workerId), ...onSite.map((v) => v.visitorId), ...(asVisitor ? [workerId] : [])]);
    return {
      caseWorkerId: workerId,
      caseKind: asVisitor ? 'visitor' : 'worker',
      fromMs,
      toMs,
      options: { ...options },
      casePresence: caseIntervals.map((i) => ({ place: place(i.key), fromMs: i.fromMs, toMs: i.toMs, source: i.source, unverifiedClock: i.unverified })),
      contacts: contacts.map((c, n) => ({
        workerId: c.workerId,
        kind: isVisitorId(c.workerId) ? ('visitor' as const) : ('worker' as const),
        ...(isVisitorId(c.workerId) ? { visitor: registrationAt(registrations, c.workerId, Math.min(...c.exposures.map((x) => x.fromMs))) } : {}),
        degree: c.degree,
        orgId: isVisitorId(c.workerId) ? hostOrg(c) : (orgs.get(c.workerId) ?? null),
        exposures: c.exposures.map((x) => ({ ...x, place: place(x.place.key) })),
        overlapMinutes: c.overlapMinutes,
        unverifiedClock: c.unverifiedClock,
        rank: n + 1,
      })),
      visitorsOnSite: onSite.map((v) => ({
        visitorId: v.visitorId,
        orgId: siteOrgs.get(v.siteId) ?? null,
        visitor: registrationAt(registrations, v.visitorId, v.enteredMs),
        siteId: v.siteId,
        enteredMs: v.enteredMs,
        leftMs: v.leftMs,
        overlapMinutes: v.overlapMinutes,
        unverifiedClock: v.unverified,
      })),
      ...(asVisitor
        ? { caseVisits: caseVisits.map((v) => ({ siteId: v.siteId, visitor: registrationAt(registrations, workerId, v.enteredMs), enteredMs: v.enteredMs, leftMs: v.leftMs, unverifiedClock: v.unverified })) }
        : {}),
    };
  }

  /**
   * Visitors whose visit to a site (gate entry to gate exit) overlapped the case's presence at that
   * site's places: one read of the visitors' events at each site's gates, padded by the reset time.
   */
  private async visitorsOnSite(caseIntervals: readonly (Interval & { siteId: string })[], caseId: string, places: Places, padMs: number): Promise<(SiteVisit & { overlapMinutes: number })[]> {
    const bySite = new Map<string, Interval[]>();
    for (const i of caseIntervals) push(bySite, i.siteId, i);
    const windows: CheckpointWindow[] = [];
    for (const [siteId, list] of bySite) {
      const sinceMs = Math.min(...list.map((i) => i.fromMs)) - padMs;
      const untilMs = Math.max(...list.map((i) => i.toMs)) + padMs;
      for (const checkpointId of await places.gateReadIds(siteId, this.deps.store)) windows.push({ checkpointId, sinceMs, untilMs });
    }
    const events = (await this.deps.store.visitorCheckpointPresence(windows)).filter((e) => e.workerId !== caseId);
    const out: (SiteVisit & { overlapMinutes: number })[] = [];
    for (const v of visitsOf(casePassagesAtGates(events, places), this.options)) {
      const at = bySite.get(v.siteId);
      if (!at) continue;
      // The case's presence at the site's places as one union, so overlapping places count once.
      let ms = 0;
      let unverified = v.unverified;
      let coveredTo = -Infinity;
      for (const i of [...at].sort((a, b) => a.fromMs - b.fromMs)) {
        const from = Math.max(i.fromMs, v.enteredMs, coveredTo);
        const to = Math.min(i.toMs, v.endMs);
        if (to > from) {
          ms += to - from;
          unverified ||= i.unverified;
        }
        coveredTo = Math.max(coveredTo, i.toMs);
      }
      if (ms > 0) out.push({ ...v, unverified, overlapMinutes: round1(ms / MINUTE_MS) });
    }
    return out.sort((a, b) => b.overlapMinutes - a.overlapMinutes || a.enteredMs - b.enteredMs || (a.visitorId < b.visitorId ? -1 : 1));
  }

  /** Every registration of the visitors among these ids, by visitor, by time. */
  private async registrationsOf(ids: readonly string[]): Promise<Map<string, VisitorRegistration[]>> {
    const out = new Map<string, VisitorRegistration[]>();
    const visitors = [...new Set(ids.filter(isVisitorId))];
    if (visitors.length === 0) return out;
    for (const r of await this.deps.store.visitorRegistrations(visitors)) push(out, r.visitorId, r);
    return out;
  }

  /** A registration or a passage of this visitor at this hub. */
  private async isKnownVisitor(visitorId: string): Promise<boolean> {
    const { store } = this.deps;
    if ((await store.visitorRegistrations([visitorId])).length > 0) return true;
    return (await store.visitorPresence([visitorId], 0, Number.MAX_SAFE_INTEGER)).length > 0;
  }

  /** Presence from passages (presenceIntervals), each bus trip's ended by the trip's end. */
  private async intervalsOf(passages: readonly Passage[], places: Places): Promise<Interval[]> {
    await places.learnTripEnds(new Set(passages.map((p) => p.key)), this.deps.store);
    return presenceIntervals(passages, (key) => places.info.get(key)!.kind, this.options, (key) => places.tripEnds.get(key));
  }

  /** On a list or the roster (even removed since), or with a passage or check-in at this hub. */
  private async isKnown(workerId: string): Promise<boolean> {
    const { store, directory } = this.deps;
    if ((await directory.organisationsOf([workerId])).size > 0) return true;
    if (await directory.sql.get(sql`SELECT 1 AS one FROM records WHERE stream = 'roster' AND key = ${workerId}`)) return true;
    if ((await store.latestEvents({ workerIds: [workerId], limit: 1 })).length > 0) return true;
    return (await this.checkIns({ workerIds: [workerId], sinceMs: 0, untilMs: Number.MAX_SAFE_INTEGER })).length > 0;
  }

  /** These workers' passages (kiosk events and check-ins) at places that make contacts. */
  private async passagesOf(ids: readonly string[], sinceMs: number, untilMs: number, places: Places): Promise<Passage[]> {
    const workerIds = ids.filter((id) => !isVisitorId(id));
    const visitorIds = ids.filter(isVisitorId);
    const events = [...(await this.deps.store.workerPresence(workerIds, sinceMs, untilMs)), ...(await this.deps.store.visitorPresence(visitorIds, sinceMs, untilMs))];
    // Phone check-ins are workers' only (a phone pass is issued to a listed worker).
    const checkIns = workerIds.length === 0 ? [] : await this.checkIns({ workerIds, sinceMs, untilMs });
    await places.learnCheckIns(checkIns, this.deps.store);
    return this.resolve(events, checkIns, places);
  }

  /** Phone check-ins: through `deps.visits` when given, else straight from the directory's database (no key needed to read them). */
  private checkIns(window: VisitWindow): Promise<VisitRecord[]> {
    return this.deps.visits ? this.deps.visits.within(window) : visitsWithin(this.deps.directory.sql, window);
  }

  private resolve(events: readonly PresenceEvent[], checkIns: readonly VisitRecord[], places: Places, keep?: (p: Passage) => boolean): Passage[] {
    const out: Passage[] = [];
    for (const e of events) {
      const p = places.ofEvent(e);
      if (p && (!keep || keep(p))) out.push(p);
    }
    for (const v of checkIns) {
      const p = places.ofVisit(v);
      if (p && (!keep || keep(p))) out.push(p);
    }
    return out;
  }

  /**
   * Who else was at the places of `sources` (the case's presence, or every F1's) while they were
   * there: one query for the kiosks' events within every window, one for check-ins. `viaSource`
   * (F2): each presence counts once, with the source it overlapped longest.
   */
  private async contactsOf(sources: readonly Interval[], excluded: ReadonlySet<string>, places: Places, padMs: number, viaSource: boolean): Promise<Map<string, Omit<TraceContact, 'rank' | 'orgId' | 'degree'>>> {
    const out = new Map<string, Omit<TraceContact, 'rank' | 'orgId' | 'degree'>>();
    if (sources.length === 0) return out;
    const windows: CheckpointWindow[] = [];
    const visitCheckpoints = new Set<string>();
    let sinceMs = Infinity;
    let untilMs = -Infinity;
    const sourceKeys = new Set(sources.map((i) => i.key));
    await places.learn(sourceKeys, this.deps.store);
    const idsOf = new Map([...sourceKeys].map((key) => [key, places.readIds(key)]));
    for (const i of sources) {
      const ids = idsOf.get(i.key)!;
      for (const checkpointId of ids.reported) windows.push({ checkpointId, sinceMs: i.fromMs - padMs, untilMs: i.toMs + padMs });
      for (const c of ids.checkpoints) visitCheckpoints.add(c);
      sinceMs = Math.min(sinceMs, i.fromMs - padMs);
      untilMs = Math.max(untilMs, i.toMs + padMs);
    }
    const events = [...(await this.deps.store.checkpointPresence(windows)), ...(await this.deps.store.visitorCheckpointPresence(windows))];
    const checkIns = await this.checkIns({ checkpointIds: [...visitCheckpoints], sinceMs, untilMs });
    await places.learnCheckIns(checkIns, this.deps.store);
    const passages = this.resolve(events, checkIns, places, (p) => !excluded.has(p.workerId) && sourceKeys.has(p.key));
    const intervals = await this.intervalsOf(passages, places);
    const index = new IntervalIndex(sources);

    const exposuresOf = new Map<string, Exposure[]>();
    const exposure = (c: Interval, s: Interval): Exposure => {
      const fromMs = Math.max(c.fromMs, s.fromMs);
      const toMs = Math.min(c.toMs, s.toMs);
      return {
        place: { key: c.key } as TracePlace,
        fromMs,
        toMs,
        overlapMinutes: round1((toMs - fromMs) / MINUTE_MS),
        source: c.source,
        unverifiedClock: c.unverified || s.unverified,
        ...(viaSource ? { viaWorkerId: s.workerId } : {}),
      };
    };
    // Tens of thousands of presences against as many: a plain loop, an object only for what is kept.
    for (const c of intervals) {
      const range = index.candidates(c.key, c.fromMs, c.toMs);
      if (!range) continue;
      let best: Interval | null = null;
      let bestMs = 0;
      for (let k = range.lo; k < range.hi; k++) {
        const s = range.list[k]!;
        const ms = Math.min(c.toMs, s.toMs) - Math.max(c.fromMs, s.fromMs);
        if (ms <= 0) continue;
        if (!viaSource) push(exposuresOf, c.workerId, exposure(c, s));
        else if (ms > bestMs || (ms === bestMs && s.workerId < best!.workerId)) {
          best = s;
          bestMs = ms;
        }
      }
      if (best) push(exposuresOf, c.workerId, exposure(c, best));
    }
    for (const [workerId, exposures] of exposuresOf) {
      const kept = exposures.filter((x) => x.toMs > x.fromMs).sort((a, b) => a.fromMs - b.fromMs || a.toMs - b.toMs || (a.place.key < b.place.key ? -1 : 1));
      if (kept.length === 0) continue;
      out.set(workerId, {
        workerId,
        exposures: kept,
        overlapMinutes: round1(kept.reduce((n, x) => n + x.overlapMinutes, 0)),
        unverifiedClock: kept.some((x) => x.unverifiedClock),
      });
    }
    return out;
  }
}

/** A visitor's pseudonym (issue 14): visitors' passages are keyed by it where a worker's are by their id. */
function isVisitorId(id: string): boolean {
  return VISITOR_ID_PATTERN.test(id);
}

/** A visitor's registration at or before a time (else their first after it), null when the hub holds none. */
function registrationAt(registrations: ReadonlyMap<string, readonly VisitorRegistration[]>, visitorId: string, atMs: number): TracedVisit | null {
  const list = registrations.get(visitorId);
  if (!list || list.length === 0) return null;
  let found = list[0]!;
  for (const r of list) if (r.timeMs <= atMs) found = r;
  return { name: found.name, host: found.host, purpose: found.purpose };
}

/** A visitor's visit to a site: their gate entry to their gate exit (leftMs null: none; endMs: where the visit is taken to end). */
interface SiteVisit {
  visitorId: string;
  siteId: string;
  enteredMs: number;
  leftMs: number | null;
  endMs: number;
  unverified: boolean;
}

/** Visitors' events at the gates of sites, with the site each passed. */
function casePassagesAtGates(events: readonly PresenceEvent[], places: Places): { e: PresenceEvent; siteId: string }[] {
  const out: { e: PresenceEvent; siteId: string }[] = [];
  for (const e of events) {
    const siteId = places.gateSiteOf(e);
    if (siteId !== null) out.push({ e, siteId });
  }
  return out;
}

/**
 * Visits from gate passages, as presence is made at a zone: an entry opens a visit, the visitor's next
 * exit at that site closes it; with no exit it ends the reset time after the entry, or at their next
 * entry there if sooner; an exit with no entry before it makes none.
 */
function visitsOf(passages: readonly { e: PresenceEvent; siteId: string }[], options: TraceOptions): SiteVisit[] {
  const resetMs = options.resetHours * HOUR_MS;
  const groups = new Map<string, { e: PresenceEvent; siteId: string }[]>();
  for (const p of passages) push(groups, `${p.e.workerId}\u0000${p.siteId}`, p);
  const out: SiteVisit[] = [];
  for (const list of groups.values()) {
    list.sort((a, b) => a.e.timeMs - b.e.timeMs || (a.e.direction === b.e.direction ? 0 : a.e.direction === 'entry' ? -1 : 1));
    let open: { e: PresenceEvent; siteId: string } | null = null;
    const close = (o: { e: PresenceEvent; siteId: string }, exit: PresenceEvent | null, endMs: number) =>
      out.push({ visitorId: o.e.workerId, siteId: o.siteId, enteredMs: o.e.timeMs, leftMs: exit ? exit.timeMs : null, endMs, unverified: o.e.clock === 'unverified' || exit?.clock === 'unverified' });
    for (const p of list) {
      if (p.e.direction === 'entry') {
        if (open) close(open, null, Math.min(open.e.timeMs + resetMs, p.e.timeMs));
        open = p;
      } else if (open) {
        if (p.e.timeMs <= open.e.timeMs + resetMs) close(open, p.e, p.e.timeMs);
        else close(open, null, open.e.timeMs + resetMs);
        open = null;
      }
    }
    if (open) close(open, null, open.e.timeMs + resetMs);
  }
  return out.filter((v) => v.endMs > v.enteredMs).sort((a, b) => a.enteredMs - b.enteredMs || (a.visitorId < b.visitorId ? -1 : 1));
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
