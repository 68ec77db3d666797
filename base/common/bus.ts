import { z } from 'zod';
import { reasonCategory, type DenyReason } from './reasons.js';
import type { GeoPoint } from './types.js';

/**
 * Shuttle-bus mode (issue 13): the words a bus unit, the hub and the screens share.
 *
 * A bus unit is a kiosk whose checkpoint kind is `bus`. It runs trips: a driver card (the pass or
 * accepted badge of a worker listed in the unit's `bus.drivers`), the driver screen's big button, or
 * `safegate trip start` opens one; the same ends it; a trip left open ends by itself after
 * `bus.autoEndMinutes`, or when the bus stops inside its depot geofence. A rider's scan while no trip
 * is open starts one (recorded as started by a first scan), so no boarding is ever refused or lost
 * for a driver who forgot. Every event of a trip carries its id (GateEvent.tripId).
 *
 * Boarding is an entry into the bus, alighting an exit; the direction of each scan is decided by the
 * trip: a rider aboard this trip is leaving, anyone else is boarding. A trip's own events have source
 * `trip` and one reason of TRIP_MARKER_REASONS:
 *   - TRIP_STARTED (direction entry) opens it; the person is the driver whose card opened it, else a
 *     keyed hash of how it was opened (`trip:<how>`: button, command, first-scan);
 *   - TRIP_ENDED / TRIP_ENDED_TIMEOUT / TRIP_ENDED_AT_DEPOT (direction exit) closes it, likewise;
 *   - ALIGHTED_AT_TRIP_END (direction exit, allow): one per rider still aboard when it closed, written
 *     in the same transaction as the closing event, just before it.
 * All of them are decision `allow`.
 */

/** A trip id: `T` + the start time (epoch ms, base 36) + 6 random hex digits; unique per unit. */
export const TRIP_ID_PATTERN = /^T[0-9a-z]{6,12}-[0-9a-f]{6}$/;
export const tripIdSchema = z.string().regex(TRIP_ID_PATTERN, 'a trip id (T<time>-<6 hex>)');

export const TRIP_START_REASON = 'TRIP_STARTED' satisfies DenyReason;
export const TRIP_END_REASONS = ['TRIP_ENDED', 'TRIP_ENDED_TIMEOUT', 'TRIP_ENDED_AT_DEPOT'] as const satisfies readonly DenyReason[];
export type TripEndReason = (typeof TRIP_END_REASONS)[number];
export const ALIGHTED_AT_END_REASON = 'ALIGHTED_AT_TRIP_END' satisfies DenyReason;
export const TRIP_MARKER_REASONS: readonly DenyReason[] = [TRIP_START_REASON, ...TRIP_END_REASONS, ALIGHTED_AT_END_REASON];

/** How a trip was opened or closed by hand (the keyed hash `trip:<how>` stands for the person when no driver card did it). */
export type TripTrigger = 'driver-card' | 'button' | 'command' | 'first-scan' | 'timeout' | 'depot';

/** A position or "no fix": what an event records at the scan. */
export type Position = GeoPoint | null;

/** What the GPS receiver says now (device/gps). */
export interface GpsView {
  /** 'none': the unit has no GPS configured. */
  state: 'none' | 'no-fix' | 'fix' | 'disconnected';
  /** The last fix, while it is fresh; null otherwise. */
  position: GeoPoint | null;
  /** Whether event times are being read from the GPS clock (system clock not synchronised). */
  datingFromGps: boolean;
}

/** One of the last scans, as the driver screen shows it: a big green or red tile with the reason in a word. */
export interface DriverTile {
  seq: number | null;
  atMs: number;
  /** allow: boarded or alighted; deny: refused; see-driver: refused for something the driver can act on (full, wrong route, device). */
  outcome: 'allow' | 'deny' | 'see-driver';
  direction: 'entry' | 'exit';
  /** The rider's own display name on an allow only (never on a refusal: the driver screen faces the aisle). */
  displayName: string | null;
  /** The refusal's code (shown as one word); null on an allow. Health refusals show as HEALTH, never the health reason. */
  reason: DenyReason | 'HEALTH' | null;
}

/** The bus part of the screen state (ScreenState.bus), present on a bus unit only. */
export interface BusView {
  plate: string;
  capacity: number;
  routes: { id: string; name: string }[];
  trip: {
    tripId: string;
    routeId: string | null;
    startedAtMs: number;
    startedBy: TripTrigger;
    aboard: number;
  } | null;
  /** The last few scans of this unit, newest first (at most DRIVER_TILES). */
  tiles: DriverTile[];
  gps: GpsView;
  /** The roster is older than the policy's maxDataAgeHours and the policy lets the bus through anyway (fail open). */
  staleData: boolean;
}

export const DRIVER_TILES = 6;

/** The outcome class the driver screen and the headless patterns use for a decision's reasons. */
export function driverOutcome(decision: 'allow' | 'deny', reasons: readonly DenyReason[]): DriverTile['outcome'] {
  if (decision === 'allow') return 'allow';
  const driverCanAct = reasons.some((r) => r === 'BUS_FULL' || r === 'WRONG_ROUTE' || reasonCategory(r) === 'device');
  return driverCanAct ? 'see-driver' : 'deny';
}

/** A trip request refused for what it asks (no trip open to end, one already open, an unknown route, not a bus unit): the message says which. */
export class TripRefusal extends Error {
  override name = 'TripRefusal';
}

/**
 * A bus unit's trips as the driver screen, the control socket (`safegate trip start|end`) and the
 * gate drive them (src-main/core/bus implements it). Every method throws TripRefusal for a refused
 * request, and changes nothing then; each returns the view after the change.
 */
export interface TripControl {
  view(): BusView;
  startTrip(trigger: 'button' | 'command', routeId?: string): BusView;
  endTrip(trigger: 'button' | 'command'): BusView;
  chooseRoute(routeId: string): BusView;
}
