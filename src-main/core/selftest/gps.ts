import type { GpsView } from '../../../base/common/bus.js';
import { createLogger } from '../../../base/node/logger.js';
import { createGpsReceiver, type GpsReceiverOptions } from '../../../device/gps/gps.js';
import type { GpsReceiver } from '../../../device/gps/report.js';
import { GpsTracker } from '../../../device/gps/tracker.js';
import type { Settings } from '../config.js';
import { errorText, fail, pass, warn, type CheckOutcome } from './check.js';
import type { RunningKiosk } from './running-kiosk.js';

type GpsSettings = Settings['gps'];

export interface GpsCheckInput {
  gps: GpsSettings;
  /** A bus unit: without GPS its events record no position and its clock has no GPS to fall back on. */
  bus: boolean;
  /** A kiosk running on these settings holds an NMEA receiver's port (gpsd is shared: it is asked anyway). */
  running: RunningKiosk | null;
  /** How long to listen for a fix. */
  listenMs?: number;
  open?: (o: GpsReceiverOptions) => GpsReceiver;
}

export const GPS_LISTEN_MS = 6_000;
const POLL_MS = 100;

function where(g: GpsSettings): string {
  return g.source === 'gpsd' ? `gpsd at ${g.host}:${g.port}` : `NMEA receiver ${g.path ?? '?'} at ${g.baudRate} baud`;
}

function noGps(bus: boolean): CheckOutcome {
  return bus
    ? warn('no GPS receiver (gps.source: none): this bus records no positions, and its events have no GPS time to fall back on', 'fit a GPS receiver and set gps.source (gpsd or nmea)')
    : pass('no GPS receiver (gps.source: none): not needed at a fixed gate');
}

function noReceiverAction(g: GpsSettings): string {
  return g.source === 'gpsd'
    ? 'start gpsd (`systemctl status gpsd`) with the receiver in /etc/default/gpsd; check gps.host and gps.port'
    : "plug the receiver in; check gps.path (`ls -l /dev/serial/by-id/`) and that the kiosk's user is in the dialout group";
}

/**
 * Listens to the configured receiver for a few seconds, as the kiosk would: a fix passes (with the
 * GPS time against the system clock; the position is never printed), a receiver without a fix is a
 * warning (indoors it has none), no receiver or nothing readable from it is a failure.
 */
export async function gpsCheck(input: GpsCheckInput, signal: AbortSignal): Promise<CheckOutcome> {
  const g = input.gps;
  if (g.source === 'none') return noGps(input.bus);
  if (g.source === 'nmea' && input.running) return runningGps(g, input.running);
  let receiver: GpsReceiver;
  try {
    const options: GpsReceiverOptions = { source: g.source, host: g.host, port: g.port, baudRate: g.baudRate, reconnect: { initialMs: 500, maxMs: 1_000 }, ...(g.path ? { path: g.path } : {}) };
    receiver = input.open ? input.open(options) : createGpsReceiver(options, createLogger({ level: 'silent' }));
  } catch (err) {
    return fail(`${where(g)}: ${errorText(err)}`, noReceiverAction(g));
  }
  const tracker = new GpsTracker(receiver, { fixMaxAgeMs: g.fixMaxAgeSeconds * 1_000 });
  let reports = 0;
  let refused = 0;
  let lastProblem = '';
  receiver.on('report', () => reports++);
  receiver.on('rejected', () => refused++);
  receiver.on('state', (s, detail) => {
    if (s === 'disconnected' && detail) lastProblem = detail;
  });
  tracker.start();
  try {
    const deadline = Date.now() + (input.listenMs ?? GPS_LISTEN_MS);
    while (Date.now() < deadline && !signal.aborted && tracker.position() === null) await new Promise((r) => setTimeout(r, POLL_MS));
    const view: GpsView = tracker.view(false);
    const time = tracker.time();
    if (view.state === 'fix') {
      const clock = time ? `, GPS time ${new Date(time.utcMs).toISOString()} (the system clock ${offset(systemOffsetMs(time))})` : ', no date from the receiver yet';
      return pass(`${where(g)}: a fix${clock}`);
    }
    if (view.state === 'no-fix') {
      if (reports === 0 && g.source === 'nmea') {
        return fail(
          `${where(g)}: the port opens but no NMEA sentence was read in ${Math.round((input.listenMs ?? GPS_LISTEN_MS) / 1_000)} s${refused ? ` (${refused} unreadable line(s))` : ''}`,
          refused ? 'check gps.baudRate (most receivers send at 9600 baud)' : 'is it a GPS receiver? `cat` the device: it should print $GPRMC/$GNRMC lines',
        );
      }
      return warn(`${where(g)}: the receiver answers but has no fix`, 'indoors there is none: outdoors, with a view of the sky, it gets one within a few minutes');
    }
    return fail(`${where(g)}: no receiver${lastProblem ? ` (${lastProblem})` : ''}`, noReceiverAction(g));
  } finally {
    await tracker.stop().catch(() => {});
  }
}

/** How far the system clock is from the GPS time now (the sample carried forward on the monotonic clock). */
function systemOffsetMs(time: { utcMs: number; atMonoUs: number }): number {
  const gpsNow = time.utcMs + (Number(process.hrtime.bigint() / 1000n) - time.atMonoUs) / 1_000;
  return Date.now() - gpsNow;
}

function offset(ms: number): string {
  const s = Math.round(ms / 100) / 10;
  return Math.abs(s) < 1 ? 'agrees within 1 s' : `is ${Math.abs(s)} s ${s > 0 ? 'ahead' : 'behind'}`;
}

/** An NMEA receiver whose port a kiosk running beside the self-test holds: what that kiosk last published (runtime status, every 2 s). */
function runningGps(g: GpsSettings, k: RunningKiosk): CheckOutcome {
  const who = `the running kiosk (pid ${k.pid})`;
  const state = k.status?.gps;
  if (state === undefined) return warn(`${where(g)}: ${who} holds its port; its GPS state is not readable here`, 'see its GPS on the driver screen, or run the self-test as the service user (SAFEGATE_RUNTIME_DIR=/run/safegate)');
  if (state === 'fix') return pass(`${where(g)}: ${who} has a fix`);
  if (state === 'no-fix') return warn(`${where(g)}: ${who} says the receiver has no fix`, 'indoors there is none: outdoors, with a view of the sky, it gets one within a few minutes');
  return fail(`${where(g)}: ${who} says ${state}`, noReceiverAction(g));
}

/** The running kiosk's own receiver, as its tracker sees it (the supervisor screen's self-test). */
export function liveGpsCheck(g: GpsSettings, bus: boolean, view: GpsView | undefined): CheckOutcome {
  if (g.source === 'none') return noGps(bus);
  if (!view) return warn(`${where(g)}: this kiosk does not follow a GPS receiver`, 'restart the kiosk');
  if (view.state === 'fix') return pass(`${where(g)}: a fix${view.datingFromGps ? '; events are dated from the GPS time' : ''}`);
  if (view.state === 'no-fix') return warn(`${where(g)}: the receiver answers but has no fix`, 'indoors there is none: outdoors, with a view of the sky, it gets one within a few minutes');
  return fail(`${where(g)}: no receiver`, noReceiverAction(g));
}
