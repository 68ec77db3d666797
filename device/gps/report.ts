import type { EventEmitter } from 'node:events';
import type { GeoPoint } from '../../base/common/types.js';

/**
 * The GPS port (issue 13): where the unit is, and the time the satellites say. Two real adapters,
 * one contract (test/device/gps/gps-receiver.contract.ts): gpsd (the Linux standard daemon, JSON over
 * TCP) and an NMEA 0183 receiver straight on a serial port. GpsTracker (./tracker.ts) turns their
 * reports into "a fresh fix or none" and a time sample for the clock.
 */

/** What one report of the receiver says, stamped with when it arrived (CLOCK_MONOTONIC, µs: ClockReading.monoUs). */
export type GpsReport =
  | {
      kind: 'fix';
      position: GeoPoint;
      /** UTC of the fix (epoch ms) when the report carries a full date and time (NMEA RMC, gpsd TPV); else null. */
      utcMs: number | null;
      atMonoUs: number;
    }
  | { kind: 'no-fix'; atMonoUs: number };

/**
 * stopped: not started; connecting: the first attempt; ready: the receiver is there (it may still
 * have no fix); disconnected: the serial device, gpsd or gpsd's receiver is gone, retrying with backoff.
 */
export type GpsReceiverState = 'stopped' | 'connecting' | 'ready' | 'disconnected';

/** A line the receiver sent that was refused (never a crash): why, and a short excerpt for debug logs only. */
export interface GpsRejected {
  reason: 'too-long' | 'not-nmea' | 'bad-checksum' | 'malformed' | 'not-json' | 'bad-report';
  detail: string;
}

export interface GpsReceiverEvents {
  report: [report: GpsReport];
  state: [state: GpsReceiverState, detail?: string];
  rejected: [rejected: GpsRejected];
}

export interface GpsReceiver extends EventEmitter<GpsReceiverEvents> {
  readonly kind: 'gpsd' | 'nmea';
  readonly state: GpsReceiverState;
  /** Starts connecting (and reconnecting by itself); returns at once. */
  start(): void;
  stop(): Promise<void>;
}

/** CLOCK_MONOTONIC in microseconds, the same clock as SystemClock's monoUs. */
export function monoNowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** A GPS date before this is a receiver's error (the GPS week-number rollover gives dates ~19.6 years back). */
export const EARLIEST_GPS_UTC_MS = Date.UTC(2024, 0, 1);

/** GeoPoint's precision: 6 decimals (about 0.1 m). Null for a position outside WGS 84's ranges or not a number. */
export function geoPoint(lat: number | null | undefined, lon: number | null | undefined): GeoPoint | null {
  if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  if (lat < -90 || lat > 90 || lon < -180 || lon > 180) return null;
  return { lat: Math.round(lat * 1e6) / 1e6, lon: Math.round(lon * 1e6) / 1e6 };
}

/**
 * A GPS date from this year on is a receiver's error or a spoofed signal (an RMC date of 311249 reads
 * as 2049): the year this code was written (EARLIEST_GPS_UTC_MS) plus 20 years of service.
 */
export const LATEST_GPS_UTC_MS = Date.UTC(2044, 0, 1);

/** A usable GPS time: a number, from EARLIEST_GPS_UTC_MS to before LATEST_GPS_UTC_MS; else null. */
export function plausibleUtcMs(ms: number | null | undefined): number | null {
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= EARLIEST_GPS_UTC_MS && ms < LATEST_GPS_UTC_MS ? ms : null;
}
