import { createHmac, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import {
  ALIGHTED_AT_END_REASON,
  DRIVER_TILES,
  TRIP_MARKER_REASONS,
  TRIP_START_REASON,
  TripRefusal,
  driverOutcome,
  type BusView,
  type DriverTile,
  type GpsView,
  type TripControl,
  type TripEndReason,
  type TripTrigger,
} from '../../../base/common/bus.js';
import type { Policy } from '../../../base/common/policy/policy.js';
import { reasonCategory, type DenyReason } from '../../../base/common/reasons.js';
import type { AlertKind, Checkpoint, CredentialKind, Direction, GeoPoint, NewGateEvent } from '../../../base/common/types.js';
import { isDiskFull, isStorageFault, type SqliteDatabase } from '../../../base/node/sqlite.js';
import type { ClockReading } from '../clock.js';
import type { Settings } from '../config.js';
import type { DecisionInput } from '../decide.js';
import type { EventLog } from '../store/event-log.js';
import { TripBook, type Aboard } from './trip-book.js';

export type BusSettings = NonNullable<Settings['bus']>;

/** A clock reading that may say its wall time came from the GPS (src-main/core/clock.ts GpsDatedClock). */
type Reading = ClockReading & { source?: 'gps' };

export interface BusModeDeps {
  bus: BusSettings;
  checkpoint: Checkpoint;
  db: SqliteDatabase;
  events: EventLog;
  clock: { read(): Reading };
  /** The GPS fix now (null: no fix); absent on a unit without GPS (events then carry no position). */
  position?: () => GeoPoint | null;
  /** What the GPS receiver says (the driver screen); absent: state 'none'. */
  gps?: () => GpsView;
  policy: () => Policy;
  /** When the hub last confirmed the roster current; absent or null: no data age (standalone). */
  rosterCheckedAt?: () => number | null;
  codeHashKey: string;
  log: Logger;
  /** The disk is full: free the reserve (true when freed: the write is tried once more). */
  onDiskFull?: () => boolean;
  afterCommit?: () => void;
  /**
   * A driver card this soon after the trip's start is ignored instead of ending it (the driver
   * scanning again, thinking the first scan failed); DRIVER_CARD_GRACE_MS on a real unit. Absent: 0.
   */
  driverCardGraceMs?: number;
}

/** The scan path's view of the trips (Gatekeeper deps.bus). */
export interface BusHook {
  /** The scan's direction and the policy's trip facts, for this person (null: nobody identified). */
  decisionContext(workerId: string | null): NonNullable<DecisionInput['bus']>;
  /** Whether this worker's card is a driver card (settings bus.drivers). */
  isDriver(workerId: string): boolean;
  /**
   * A driver card: opens a trip, takes over a trip riders opened with no driver, or ends the open
   * one. The marker event's number and what it did; null: ignored (a closing card within
   * driverCardGraceMs of the trip's start: the driver scanning again, thinking the first failed).
   */
  driverCard(person: { workerId: string; credentialKind: CredentialKind }): { seq: number; direction: Direction; reason: 'TRIP_STARTED' | 'TRIP_ENDED' } | null;
  /**
   * Commits a scan's event in the open trip (its fields set); with no trip open, an allowed scan
   * first opens one (first-scan), in the same transaction. Returns the event's number.
   */
  commitScan(event: NewGateEvent, alert: AlertKind | undefined): number;
  /** The open trip's fields for an event of the moment (none when no trip is open). */
  tripFields(): Pick<NewGateEvent, 'tripId' | 'routeId'>;
  /** An event committed elsewhere (a supervisor's override): who is aboard follows it. */
  committed(event: NewGateEvent): void;
}

interface OpenTrip {
  tripId: string;
  routeId: string | null;
  startedAtMs: number;
  startedBy: TripTrigger;
  /**
   * When it started on the monotonic clock (its start event's): the time limit is measured on it
   * within a boot, so a wall clock that jumps (a GPS fix after a boot without network) ends no trip.
   */
  startMono: { bootId: string; monoUs: number } | null;
  /** Whether its start was dated by a synchronised (or GPS) clock: only then can its wall time be judged after a reboot. */
  startSynced: boolean;
  /** The driver whose card started or took over the trip (null: none yet). */
  driver: string | null;
  aboard: Aboard;
  /** The bus has been outside the depot during this trip (a trip starting in the depot does not end there at once). */
  leftDepot: boolean;
  /** Since when (monotonic µs) the bus has been inside the depot, with a fix. */
  inDepotSinceUs: number | null;
}

/** How often the open trip is checked for its time limit and the depot. */
const TICK_MS = 5_000;
/** The grace a bus unit should give (BusModeDeps.driverCardGraceMs): a driver card this soon after the trip's start does not end it. */
export const DRIVER_CARD_GRACE_MS = 60_000;
const EARTH_RADIUS_M = 6_371_008.8;

/** Great-circle distance in metres (haversine). */
export function distanceM(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

const NO_GPS: GpsView = { state: 'none', position: null, datingFromGps: false };

/**
 * A bus unit's trips (base/common/bus.ts): opens and closes them with their marker events, knows who
 * is aboard the open trip, ends a trip left open too long or parked at the depot, and keeps the
 * driver screen's last few tiles. In memory it holds only the open trip's riders and DRIVER_TILES
 * tiles: nothing grows with events. The constructor only stores its dependencies; `start()` takes
 * the open trip back from the store (a restart mid-trip) and starts the timer.
 */
export class BusMode extends EventEmitter<{ change: [] }> implements TripControl, BusHook {
  private readonly book: TripBook;
  private readonly drivers: Set<string>;
  private trip: OpenTrip | null = null;
  private tiles: DriverTile[] = [];
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(private readonly deps: BusModeDeps) {
    super();
    this.book = new TripBook(deps.db);
    this.drivers = new Set(deps.bus.drivers);
  }

  /** Takes the open trip back from the store, ends it if it is overdue, and starts checking it. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.restore();
    this.resumeAfterReboot();
    this.tick();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.started = false;
  }

  /**
   * A trip left open by an earlier boot (the unit was switched off mid-trip). Its age can be judged
   * only on wall time, and only when both its start and now are dated by a synchronised or GPS clock:
   * then it ends at its deadline if that has passed, or goes on, timed on this boot's monotonic clock.
   * Otherwise (an RTC-less unit with no network and no fix yet: fake-hwclock's old time) nobody can
   * tell how long ago it was: it ends now with TRIP_ENDED_TIMEOUT, dated at its last event (that
   * event's boot and monotonic time, so no later anchor can "correct" it into a made-up time).
   */
  private resumeAfterReboot(): void {
    const t = this.trip;
    if (!t) return;
    try {
      const reading = this.deps.clock.read();
      // The same boot (a restart of the process): timed on, by the monotonic clock. A monotonic time
      // before the trip's start cannot be the same boot, whatever its id says.
      if (t.startMono !== null && t.startMono.bootId === reading.bootId && reading.monoUs >= t.startMono.monoUs) return;
      const lastSeq = this.book.lastSeq(t.tripId);
      const last = lastSeq === null ? undefined : this.deps.events.get(lastSeq);
      if (!last) return;
      const lastAnchor = (wallMs: number): Reading => ({
        wallMs,
        monoUs: last.monoUs + Math.max(0, wallMs - last.wallMs) * 1000,
        bootId: last.bootId,
        synced: last.clockSynced,
        ...(last.clockSource === 'gps' ? { source: 'gps' as const } : {}),
      });
      const none = { workerId: null, credentialKind: 'unknown' as const };
      if (!reading.synced || !t.startSynced) {
        this.deps.log.warn({ trip: t.tripId }, 'trip left open before a restart, its age cannot be judged (clock not synchronised): ended at its last event');
        this.close('TRIP_ENDED_TIMEOUT', 'timeout', none, lastAnchor(last.wallMs));
        return;
      }
      const limitMs = this.deps.bus.autoEndMinutes * 60_000;
      const deadline = t.startedAtMs + limitMs;
      if (reading.wallMs >= deadline) {
        this.deps.log.info({ trip: t.tripId }, 'trip left open before a restart ran past its limit: ended at its deadline');
        this.close('TRIP_ENDED_TIMEOUT', 'timeout', none, lastAnchor(Math.max(deadline, last.wallMs)));
        return;
      }
      // Goes on: its age from here on the monotonic clock of this boot.
      t.startMono = { bootId: reading.bootId, monoUs: reading.monoUs - (reading.wallMs - t.startedAtMs) * 1000 };
    } catch (err) {
      if (!isStorageFault(err)) this.deps.log.error({ err }, 'trip check after a restart failed');
      else this.deps.log.error({ err: (err as Error).message }, 'cannot end the trip now (store): trying again shortly');
    }
  }

  /** Reads the open trip and its riders from the store. */
  restore(): void {
    const open = this.book.openTrip();
    const startEvent = open ? this.deps.events.get(open.startedSeq) : undefined;
    this.trip = open
      ? {
          tripId: open.tripId,
          routeId: open.routeId,
          startedAtMs: open.startedMs,
          startedBy: open.startedBy,
          startMono: startEvent ? { bootId: startEvent.bootId, monoUs: startEvent.monoUs } : null,
          startSynced: startEvent?.clockSynced ?? false,
          driver: this.book.driver(open.tripId),
          aboard: this.book.aboard(open.tripId),
          leftDepot: false,
          inDepotSinceUs: null,
        }
      : null;
    if (open) this.deps.log.info({ trip: open.tripId, aboard: this.trip?.aboard.size }, 'open trip taken back from the store');
  }

  // ---- TripControl: the driver screen and `safegate trip` ------------------------------------

  view(): BusView {
    const { bus } = this.deps;
    const t = this.trip;
    return {
      plate: bus.plate,
      capacity: bus.capacity,
      routes: bus.routes.map((r) => ({ id: r.id, name: r.name })),
      trip: t ? { tripId: t.tripId, routeId: t.routeId, startedAtMs: t.startedAtMs, startedBy: t.startedBy, aboard: t.aboard.size } : null,
      tiles: this.tiles.map((tile) => ({ ...tile })),
      gps: this.deps.gps?.() ?? { ...NO_GPS },
      staleData: this.staleData(),
    };
  }

  startTrip(trigger: 'button' | 'command', routeId?: string): BusView {
    if (this.trip) throw new TripRefusal(`a trip is open already (${this.trip.tripId}): end it first`);
    const route = routeId === undefined ? this.defaultRoute() : this.route(routeId).id;
    this.open(trigger, route, { workerId: null, credentialKind: 'unknown' });
    return this.view();
  }

  endTrip(trigger: 'button' | 'command'): BusView {
    if (!this.trip) throw new TripRefusal('no trip is open');
    this.close('TRIP_ENDED', trigger, { workerId: null, credentialKind: 'unknown' });
    return this.view();
  }

  chooseRoute(routeId: string): BusView {
    const t = this.trip;
    if (!t) throw new TripRefusal('no trip is open: start one with its route');
    const route = this.route(routeId);
    this.write(() => this.book.setRoute(t.tripId, route.id));
    t.routeId = route.id;
    this.deps.log.info({ trip: t.tripId, route: route.id }, 'trip route chosen');
    this.emit('change');
    return this.view();
  }

  // ---- BusHook: the scan path ------------------------------------------------------------------

  decisionContext(workerId: string | null): NonNullable<DecisionInput['bus']> {
    const t = this.trip;
    const direction: Direction = t && workerId !== null && t.aboard.has(workerId) ? 'exit' : 'entry';
    const routeId = t ? t.routeId : this.defaultRoute();
    return { direction, trip: { aboard: t ? t.aboard.size : 0, capacity: this.deps.bus.capacity, onRoute: this.onRoute(routeId, workerId) } };
  }

  isDriver(workerId: string): boolean {
    return this.drivers.has(workerId);
  }

  driverCard(person: { workerId: string; credentialKind: CredentialKind }): { seq: number; direction: Direction; reason: 'TRIP_STARTED' | 'TRIP_ENDED' } | null {
    const t = this.trip;
    if (t && t.driver === null && t.startedBy === 'first-scan') {
      // Riders boarded before the driver's card: the driver takes the trip over (a start marker of
      // the same trip naming them), it does not end it.
      const reading = this.deps.clock.read();
      const event = this.marker(reading, t, 'entry', TRIP_START_REASON, { ...person, how: 'driver-card' });
      const seq = this.write(() => this.deps.events.append(event));
      t.driver = person.workerId;
      this.deps.log.info({ trip: t.tripId }, 'driver took over a trip riders started');
      this.emit('change');
      return { seq, direction: 'entry', reason: TRIP_START_REASON };
    }
    if (t) {
      if (this.openForMs(t) < (this.deps.driverCardGraceMs ?? 0)) return null;
      return { seq: this.close('TRIP_ENDED', 'driver-card', person), direction: 'exit', reason: 'TRIP_ENDED' };
    }
    return { seq: this.open('driver-card', this.defaultRoute(), person), direction: 'entry', reason: TRIP_START_REASON };
  }

  tripFields(): Pick<NewGateEvent, 'tripId' | 'routeId'> {
    const t = this.trip;
    if (!t) return {};
    return t.routeId === null ? { tripId: t.tripId } : { tripId: t.tripId, routeId: t.routeId };
  }

  commitScan(event: NewGateEvent, alert: AlertKind | undefined): number {
    if (this.trip || event.decision !== 'allow') {
      const stamped = { ...event, ...this.tripFields() };
      const seq = this.deps.events.append(stamped, alert);
      this.committed(stamped);
      return seq;
    }
    // A rider boards with no trip open: the trip starts with this boarding, both or neither.
    const routeId = this.defaultRoute();
    const opening = this.newTrip(routeId, 'first-scan', { workerId: null, credentialKind: 'unknown' }, this.deps.clock.read());
    const stamped = { ...event, tripId: opening.trip.tripId, ...(routeId === null ? {} : { routeId }) };
    const seq = this.deps.db.transaction(() => {
      this.writeOpening(opening);
      return this.deps.events.append(stamped, alert);
    })();
    this.opened(opening.trip);
    this.committed(stamped);
    return seq;
  }

  committed(event: NewGateEvent): void {
    const t = this.trip;
    if (!t || event.tripId !== t.tripId || event.decision !== 'allow' || event.workerId === null) return;
    if (event.source === 'trip' || event.source === 'input') return;
    if (event.direction === 'entry') t.aboard.set(event.workerId, event.credentialKind);
    else t.aboard.delete(event.workerId);
    this.emit('change');
  }

  /** A passage at this unit (the gatekeeper's): the driver screen's tiles. Repeats and the trips' own markers make none. */
  notePassage(p: { seq: number | null; decision: { outcome: 'allow' | 'deny' | 'repeat'; direction: Direction; reasons: readonly DenyReason[] }; displayName: string | null }): void {
    const { decision } = p;
    if (decision.outcome === 'repeat') return;
    if (decision.reasons.some((r) => TRIP_MARKER_REASONS.includes(r))) return;
    const outcome = driverOutcome(decision.outcome, decision.reasons);
    const first = decision.reasons[0];
    const tile: DriverTile = {
      seq: p.seq,
      atMs: this.deps.clock.read().wallMs,
      outcome,
      direction: decision.direction,
      displayName: outcome === 'allow' ? p.displayName : null,
      // The driver screen faces the aisle: a health refusal shows as HEALTH, never its reason.
      reason: outcome === 'allow' || first === undefined ? null : reasonCategory(first) === 'health' ? 'HEALTH' : first,
    };
    this.tiles = [tile, ...this.tiles].slice(0, DRIVER_TILES);
    this.emit('change');
  }

  // ---- the time limit and the depot --------------------------------------------------------------

  /** Ends the open trip when it is overdue or has stayed parked in the depot long enough. Never throws. */
  tick(): void {
    const t = this.trip;
    if (!t) return;
    try {
      const reading = this.deps.clock.read();
      const limitMs = this.deps.bus.autoEndMinutes * 60_000;
      // Within the boot it started in, by the monotonic clock; after a reboot only wall time is left.
      const startMono = t.startMono;
      const sameBoot = startMono !== null && startMono.bootId === reading.bootId && reading.monoUs >= startMono.monoUs;
      // Another boot's trip whose age cannot be judged now (resumeAfterReboot could not end it): not by an unsynchronised wall clock.
      const openMs = sameBoot ? (reading.monoUs - startMono.monoUs) / 1000 : reading.synced && t.startSynced ? reading.wallMs - t.startedAtMs : 0;
      if (openMs >= limitMs) {
        this.deps.log.info({ trip: t.tripId }, 'trip open too long: ended');
        // Dated when the limit was reached, on the clock of now (and on this boot's monotonic clock).
        const over = openMs - limitMs;
        this.close('TRIP_ENDED_TIMEOUT', 'timeout', { workerId: null, credentialKind: 'unknown' }, {
          ...reading,
          wallMs: Math.round(reading.wallMs - over),
          monoUs: sameBoot ? startMono.monoUs + limitMs * 1000 : reading.monoUs,
        });
        return;
      }
      const depot = this.deps.bus.depot;
      const fix = depot ? this.deps.position?.() : null;
      if (!depot || !fix) {
        // No fix: the dwell starts again from the next fix inside.
        t.inDepotSinceUs = null;
        return;
      }
      if (distanceM(fix, depot) > depot.radiusM) {
        t.leftDepot = true;
        t.inDepotSinceUs = null;
        return;
      }
      if (!t.leftDepot) return;
      t.inDepotSinceUs ??= reading.monoUs;
      if (reading.monoUs - t.inDepotSinceUs >= depot.dwellSeconds * 1_000_000) {
        this.deps.log.info({ trip: t.tripId }, 'bus parked at the depot: trip ended');
        this.close('TRIP_ENDED_AT_DEPOT', 'depot', { workerId: null, credentialKind: 'unknown' });
      }
    } catch (err) {
      if (!isStorageFault(err)) this.deps.log.error({ err }, 'trip check failed');
      else this.deps.log.error({ err: (err as Error).message }, 'cannot end the trip now (store): trying again shortly');
    }
  }

  // ---- inside ----------------------------------------------------------------------------------

  /** How long the trip has been open: on the monotonic clock within its boot, else by wall time. */
  private openForMs(t: OpenTrip): number {
    const reading = this.deps.clock.read();
    if (t.startMono !== null && t.startMono.bootId === reading.bootId && reading.monoUs >= t.startMono.monoUs) return (reading.monoUs - t.startMono.monoUs) / 1000;
    return reading.wallMs - t.startedAtMs;
  }

  /** The roster is older than the policy allows and the policy lets a bus through anyway. */
  private staleData(): boolean {
    const checkedAt = this.deps.rosterCheckedAt?.() ?? null;
    if (checkedAt === null) return false;
    // The same figures as the policy's stale-data rule (free-form params: a policy may lack them).
    const { params } = this.deps.policy();
    const maxH = typeof params.maxDataAgeHours === 'number' ? params.maxDataAgeHours : 72;
    const failOpen = Array.isArray(params.staleDataFailOpenAt) && params.staleDataFailOpenAt.includes(this.deps.checkpoint.kind);
    return failOpen && (this.deps.clock.read().wallMs - checkedAt) / 3_600_000 > maxH;
  }

  /** The route a trip takes when nobody chose one: the only route, else bus.defaultRoute, else none (the driver screen asks). */
  private defaultRoute(): string | null {
    const { routes, defaultRoute } = this.deps.bus;
    if (routes.length === 1) return routes[0]!.id;
    return defaultRoute !== undefined && routes.some((r) => r.id === defaultRoute) ? defaultRoute : null;
  }

  private route(routeId: string): BusSettings['routes'][number] {
    const route = this.deps.bus.routes.find((r) => r.id === routeId);
    if (!route) throw new TripRefusal(`this bus has no route ${JSON.stringify(routeId)}`);
    return route;
  }

  private onRoute(routeId: string | null, workerId: string | null): boolean | null {
    if (routeId === null || workerId === null) return null;
    const riders = this.deps.bus.routes.find((r) => r.id === routeId)?.riders;
    return riders ? riders.includes(workerId) : null;
  }

  /** The keyed hash that stands for the person when no driver card opened or closed a trip. */
  private triggerHash(how: TripTrigger): string {
    return createHmac('sha256', this.deps.codeHashKey).update(`trip:${how}`).digest('hex').slice(0, 32);
  }

  /** A trip marker (or an alighting at its end): source trip, decision allow. */
  private marker(
    reading: Reading,
    trip: { tripId: string; routeId: string | null },
    direction: Direction,
    reason: DenyReason,
    person: { workerId: string | null; credentialKind: CredentialKind | 'unknown'; how: TripTrigger },
    /** Dated at another moment than now (a trip ended at its deadline, or at its last event after a restart): that moment's clock. */
    at?: Reading,
  ): NewGateEvent {
    const r = at ?? reading;
    const event: NewGateEvent = {
      wallMs: r.wallMs,
      monoUs: r.monoUs,
      bootId: r.bootId,
      clockSynced: r.synced,
      checkpointId: this.deps.checkpoint.id,
      zoneId: this.deps.checkpoint.zone,
      direction,
      credentialKind: person.credentialKind,
      workerId: person.workerId,
      codeHash: person.workerId === null ? this.triggerHash(person.how) : null,
      decision: 'allow',
      reasons: [reason],
      source: 'trip',
      policyVersion: this.deps.policy().version,
      tripId: trip.tripId,
      ...(trip.routeId === null ? {} : { routeId: trip.routeId }),
    };
    // Where the bus was at another moment is unknown (not "no fix"): no position then.
    if (this.deps.position && !at) event.position = this.deps.position();
    if (r.source === 'gps') event.clockSource = 'gps';
    return event;
  }

  private newTrip(
    routeId: string | null,
    how: TripTrigger,
    person: { workerId: string | null; credentialKind: CredentialKind | 'unknown' },
    reading: Reading,
  ): { trip: OpenTrip; event: NewGateEvent; alert: AlertKind | undefined } {
    const tripId = `T${Math.max(0, reading.wallMs).toString(36).padStart(8, '0')}-${randomBytes(3).toString('hex')}`;
    const trip: OpenTrip = {
      tripId,
      routeId,
      startedAtMs: reading.wallMs,
      startedBy: how,
      startMono: { bootId: reading.bootId, monoUs: reading.monoUs },
      startSynced: reading.synced,
      driver: person.workerId,
      aboard: new Map(),
      leftDepot: false,
      inDepotSinceUs: null,
    };
    const event = this.marker(reading, trip, 'entry', TRIP_START_REASON, { ...person, how });
    // The policy lets the bus run on an old roster: the hub hears of it when the trip's events arrive.
    return { trip, event, alert: this.staleData() ? 'bus-stale-data' : undefined };
  }

  /** Writes a trip's opening (its marker and its row); inside the caller's transaction. */
  private writeOpening(o: { trip: OpenTrip; event: NewGateEvent; alert: AlertKind | undefined }): number {
    const seq = this.deps.events.append(o.event, o.alert);
    this.book.open({ tripId: o.trip.tripId, routeId: o.trip.routeId, startedSeq: seq, startedMs: o.trip.startedAtMs, startedBy: o.trip.startedBy });
    return seq;
  }

  private opened(trip: OpenTrip): void {
    this.trip = trip;
    this.deps.log.info({ trip: trip.tripId, route: trip.routeId, by: trip.startedBy }, 'trip started');
    this.emit('change');
  }

  private open(how: TripTrigger, routeId: string | null, person: { workerId: string | null; credentialKind: CredentialKind | 'unknown' }): number {
    const opening = this.newTrip(routeId, how, person, this.deps.clock.read());
    const seq = this.write(() => this.deps.db.transaction(() => this.writeOpening(opening))());
    this.opened(opening.trip);
    return seq;
  }

  /**
   * Closes the open trip: everyone still aboard alights with it (one event each, recorded as such),
   * then its end marker and its row, in one transaction. Returns the end marker's number.
   */
  private close(
    reason: TripEndReason,
    how: TripTrigger,
    person: { workerId: string | null; credentialKind: CredentialKind | 'unknown' },
    dated?: Reading,
  ): number {
    const t = this.trip;
    if (!t) throw new TripRefusal('no trip is open');
    const reading = this.deps.clock.read();
    const at = dated?.wallMs ?? reading.wallMs;
    const riders = [...t.aboard].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const alighted = riders.map(([workerId, kind]) => this.marker(reading, t, 'exit', ALIGHTED_AT_END_REASON, { workerId, credentialKind: kind, how }, dated));
    const end = this.marker(reading, t, 'exit', reason, { ...person, how }, dated);
    const seq = this.write(() =>
      this.deps.db.transaction(() => {
        for (const e of alighted) this.deps.events.append(e);
        const endSeq = this.deps.events.append(end);
        this.book.close(t.tripId, endSeq, at, reason);
        return endSeq;
      })(),
    );
    this.trip = null;
    this.deps.log.info({ trip: t.tripId, reason, alighted: alighted.length }, 'trip ended');
    this.emit('change');
    return seq;
  }

  /** Runs a write; on a full disk, has the reserve freed and tries once more. */
  private write<T>(f: () => T): T {
    let result: T;
    try {
      result = f();
    } catch (err) {
      if (!isDiskFull(err) || !this.deps.onDiskFull?.()) throw err;
      result = f();
    }
    this.deps.afterCommit?.();
    return result;
  }
}
