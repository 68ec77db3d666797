import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadSettings, settingsJsonSchema } from '../core/config.js';
import { Kiosk } from '../app/kiosk.js';
import { openStore } from '../core/store/database.js';
import { EventLog } from '../core/store/event-log.js';
import type { GateEvent } from '../../base/common/types.js';
import { Roster, parseRosterCsv } from '../core/store/roster.js';
import { CliError, parseIsoTime, readInputFile } from './errors.js';
import { readStatus, type KioskStatus } from '../core/status.js';
import { runtimeFiles } from '../core/runtime.js';
import type { DecoderName } from '../../device/camera/decoder.js';
import { ScreenLauncher, type ScreenMode } from './screens-launcher.js';
import { ServiceNotifier } from '../../base/node/sd-notify.js';

/**
 * `safegate run`: the run loop composes the kiosk (or, not enrolled, the "enrol me" kiosk) and
 * composes it again in this process when it is enrolled or asks for a restart; one screen window
 * stays for the whole run. SIGINT/SIGTERM (or the end of a simulated scanner's input) stop it.
 */
export async function runKiosk(configFile: string, headless: boolean, show?: ScreenMode): Promise<void> {
  // Loaded here: only `run` carries the run loop.
  const { KioskRunLoop } = await import('../app/run-loop.js');
  // What the run shows (--screens over the settings) also decides whether the kiosk takes declarations.
  const loop = new KioskRunLoop(configFile, { headless, ...(show ? { screens: show } : {}) });
  let service: ServiceNotifier | undefined;
  let launcher: ScreenLauncher | undefined;
  // A signal before the first composition runs stops it as soon as it does. The window goes first.
  const stop = (why: string): void => {
    loop.log?.info({ why }, 'shutting down');
    void service?.stopping('shutting down');
    void (launcher?.stop() ?? Promise.resolve()).finally(() => loop.stop(why));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // The kiosk runs until told to stop, even with nothing else to wait for (no scanner, no hub).
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  let started = false;
  try {
    const first = await loop.start();
    started = true;
    // systemd (H7): watchdog pings from here on, READY=1 once composed, STOPPING=1 on the way out; nothing without NOTIFY_SOCKET.
    service = new ServiceNotifier({ log: first.log.child({ ns: 'systemd' }) });
    service.start();
    const mode = headless ? 'none' : (show ?? first.settings.screens.show);
    if (mode !== 'none') {
      const server = await loop.startScreens();
      launcher = new ScreenLauncher(server, mode, first.log.child({ ns: 'screens' }), undefined, { exportsDir: first.exportsDir });
      launcher.start();
    }
    void service.ready(first instanceof Kiosk ? `kiosk ${first.settings.device.id} running` : 'kiosk not enrolled: waiting for an enrolment code');
    const { unwritten, lost } = await loop.done();
    // Never a quiet exit with events unwritten: 75 (temporary failure) when they wait in RAM for the
    // next start, 70 (internal error) when they could be kept nowhere.
    if (lost > 0) process.exitCode = 70;
    else if (unwritten > 0) process.exitCode = 75;
  } catch (err) {
    // Something failed once the kiosk ran (the screens' port taken, ...): the kiosk must not go on
    // without its signal handlers and watchdog; it is stopped cleanly first.
    if (started) {
      loop.stop('startup failed');
      await loop.done().catch(() => undefined);
    }
    // Events lost on the way still make the exit status 70.
    if (loop.lostEvents > 0) throw new CliError(`${(err as Error).message} (${loop.lostEvents} events lost)`, 70);
    throw err;
  } finally {
    void service?.stopping('shutting down');
    await launcher?.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    clearInterval(keepAlive);
    await service?.stop();
  }
}

/** `safegate decode`: one line per image, the file name, a tab, then the text or the error. */
export async function decodeImages(files: string[], decoderName: DecoderName): Promise<{ lines: string[]; failures: number }> {
  // Loaded here only: the decoders are large and `safegate run` never needs them in Node.
  const { createNodeDecoder, readImageFrame } = await import('../core/decoders.js');
  const decoder = await createNodeDecoder(decoderName, { budgetMs: Infinity }); // a still image: no frame interval to keep up with, every step may run
  const lines: string[] = [];
  let failures = 0;
  for (const file of files) {
    let text: string;
    try {
      if (!existsSync(file)) throw new Error('no such file');
      const texts = await decoder.decode(await readImageFrame(file));
      if (texts.length) text = texts.join(' | ');
      else {
        failures++;
        text = 'error: no QR code found';
      }
    } catch (err) {
      failures++;
      const message = (err as Error).message.split('\n')[0] ?? String(err);
      text = `error: ${/unsupported image format|Input file is missing/i.test(message) ? 'not a readable image' : message}`;
    }
    lines.push(`${file}\t${text.replace(/[\t\r\n]/g, ' ')}`);
  }
  return { lines, failures };
}

/** Runs until SIGINT/SIGTERM, or until a simulated (stdin) scanner's input ends; then stops cleanly. */
export async function waitForShutdown(kiosk: Kiosk, beforeStop?: () => Promise<void> | undefined): Promise<void> {
  // The kiosk runs until told to stop, even with nothing else to wait for (no scanner, no hub).
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  await new Promise<void>((resolve) => {
    const stop = (why: string): void => {
      kiosk.log.info({ why }, 'shutting down');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      clearInterval(keepAlive);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (kiosk.scanner?.source === 'stdin') {
      // The input may already have ended (a short pipe) before we got here.
      if (kiosk.scanner.state === 'stopped') stop('input ended');
      kiosk.scanner.on('state', (state, detail) => {
        if (state === 'stopped') stop(detail ?? 'scanner stopped');
      });
    }
  });
  await beforeStop?.();
  const { unwritten, lost } = await kiosk.stop();
  // Never a quiet exit with events unwritten: 75 (temporary failure) when they wait in RAM for the
  // next start, 70 (internal error) when they could be kept nowhere.
  if (lost > 0) process.exitCode = 70;
  else if (unwritten > 0) process.exitCode = 75;
}

export function importRoster(csvFile: string, configFile: string, replace: boolean): string {
  const loaded = loadSettings(configFile);
  const content = readInputFile(csvFile);
  const records = parseRosterCsv(content, loaded.settings.time.zone);
  const db = openStore(loaded.paths.store, { busyTimeoutMs: 5_000 });
  try {
    const roster = new Roster(db);
    roster.upsertAll(records, { replace });
    return `imported ${records.length} worker(s)${replace ? ' (roster replaced)' : ''}; roster now holds ${roster.count()}`;
  } finally {
    db.close();
  }
}

/**
 * The kiosk's database must be there and readable: a user who may not read it (the service's data is
 * the safegate user's, 0700) is told so, not that there is no kiosk.
 */
function requireStore(path: string, missing: string): void {
  try {
    statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new CliError(`cannot read ${path} (permission denied): run this as the kiosk's user, e.g. \`sudo -u safegate safegate ...\``, { cause: err });
    }
    throw new CliError(`${missing} at ${path}`, { cause: err });
  }
}

/** The entry log from `since` on, and the province time zone its times are shown in. */
export function readLog(configFile: string, since: string | undefined): { zone: string; events: Iterable<GateEvent> } {
  const loaded = loadSettings(configFile);
  const zone = loaded.settings.time.zone;
  const sinceMs = since ? parseIsoTime(since, '--since', zone).getTime() : 0;
  requireStore(loaded.paths.store, 'no event log yet');
  function* events(): Generator<GateEvent> {
    const db = openStore(loaded.paths.store, { readonly: true });
    try {
      yield* new EventLog(db).since(sinceMs);
    } finally {
      db.close();
    }
  }
  return { zone, events: events() };
}

export function configSchemaText(): string {
  return JSON.stringify(settingsJsonSchema(), null, 2);
}

/** `safegate status`: outbox, data ages and notices, from the database (works beside a running kiosk). */
export function statusOf(configFile: string): KioskStatus {
  const loaded = loadSettings(configFile);
  requireStore(loaded.paths.store, 'no kiosk database yet');
  const db = openStore(loaded.paths.store, { readonly: true });
  try {
    return readStatus(db, loaded.settings, Date.now(), runtimeFiles(loaded.paths.store), dirname(loaded.paths.store));
  } finally {
    db.close();
  }
}

/** A bus unit's line: the open trip (id, route, riders aboard / capacity) and the GPS state. */
function busLine(b: NonNullable<KioskStatus['bus']>): string {
  const gps = `GPS ${b.gps ?? 'unknown (no kiosk running)'}`;
  if (!b.trip) return `bus ${b.plate}: no trip open; ${gps}`;
  const t = b.trip;
  return `bus ${b.plate}: trip ${t.tripId}${t.routeId ? ` on route ${t.routeId}` : ' (no route chosen)'}, started ${t.startedAt} by ${t.startedBy}, ${t.aboard}/${b.capacity} aboard; ${gps}`;
}

export function formatStatus(s: KioskStatus): string {
  const age = (a: number | null) => (a === null ? 'never confirmed by the hub' : `confirmed ${a} s ago`);
  const mb = (b: number | null) => (b === null ? 'unknown' : `${Math.round(b / 1024 / 1024)} MB`);
  return [
    `device ${s.device}, checkpoint ${s.checkpoint.name} (${s.checkpoint.kind}, ${s.checkpoint.direction})`,
    s.running ? `kiosk running (pid ${s.running.pid})${s.running.asOfS > 5 ? `, last heard from ${s.running.asOfS} s ago` : ''}` : 'kiosk not running',
    // The same word as the screens' (base/common/hub-link.ts).
    `hub link: ${s.link ?? 'unknown (no kiosk running)'}${s.link === 'standalone' ? ' (no hub in the settings)' : ''}`,
    `disk: ${mb(s.disk.freeBytes)} free${s.disk.level === 'ok' ? '' : ` (${s.disk.level.toUpperCase()}${s.disk.reserveInUse ? ': the reserve is in use' : ''})`}`,
    `events waiting to be written: ${s.heldEvents.inMemory} in memory, ${s.heldEvents.keptForNextStart} kept for the next start`,
    `outbox: ${s.outbox.depth} event(s) not yet at the hub${s.outbox.oldestUnsyncedAgeS === null ? '' : `, oldest ${s.outbox.oldestUnsyncedAgeS} s`}; ${s.outbox.unsentAlerts} alert(s) unsent`,
    `roster: ${s.roster.workers} worker(s)`,
    ...Object.entries(s.data).map(([k, d]) => `${k}: revision ${d.revision}, ${age(d.ageS)}`),
    `notices in force: ${s.notices.length}`,
    ...(s.bus ? [busLine(s.bus)] : []),
  ].join('\n');
}
