import type { Logger } from 'pino';
import { GpsdReceiver } from './gpsd-receiver.js';
import { NmeaSerialReceiver } from './nmea-receiver.js';
import type { GpsReceiver } from './report.js';

export type { GpsReceiver, GpsReceiverEvents, GpsReceiverState, GpsRejected, GpsReport } from './report.js';
export { GpsTracker, type GpsTimeSample, type GpsTrackerEvents, type GpsTrackerOptions } from './tracker.js';

export interface GpsReceiverOptions {
  source: 'gpsd' | 'nmea';
  /** gpsd: its address and port. */
  host: string;
  port: number;
  /** nmea: the receiver's serial device and speed. */
  path?: string;
  baudRate: number;
  reconnect?: { initialMs: number; maxMs: number };
}

/** The receiver the settings name (gps.source); the caller (the composition root) skips this for source none. */
export function createGpsReceiver(o: GpsReceiverOptions, log: Logger): GpsReceiver {
  if (o.source === 'gpsd') return new GpsdReceiver({ host: o.host, port: o.port, reconnect: o.reconnect }, log);
  if (!o.path) throw new Error('an nmea GPS receiver needs a serial device path');
  return new NmeaSerialReceiver({ path: o.path, baudRate: o.baudRate, reconnect: o.reconnect }, log);
}

