import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { SELFTEST_CHECKS, type SelftestCheckName, type SelftestResult } from '../../../base/common/selftest.js';
import { SettingsError } from '../../../base/common/settings-error.js';
import { problemLine } from '../../../base/common/validation.js';
import { defaultPolicy } from '../../../base/common/policy/policy.js';
import type { GpsView } from '../../../base/common/bus.js';
import type { HubLinkView } from '../../../base/common/hub-link.js';
import type { ScannerState } from '../../../device/scanner/scanner.js';
import type { LoadedSettings, SettingsForRun } from '../config.js';
import { loadPolicyFile } from '../policy/policy-file.js';
import { PolicyInForce } from '../policy/policy-in-force.js';
import { readRuntimeStatus, runtimeFiles } from '../runtime.js';
import { openStore } from '../store/database.js';
import { DownlinkState } from '../store/downlink-state.js';
import { DownloadedPolicy } from '../store/hub-data.js';
import type { DiskFigures } from '../store/disk-guard.js';
import { brokerCheck, type BrokerProbe } from './broker.js';
import { cameraCheck } from './camera.js';
import { certificateCheck } from './certificate.js';
import { errorText, fail, pass, runSelftest, warn, type CheckOutcome, type SelftestCheck } from './check.js';
import { clockCheck } from './clock.js';
import { dataAgesCheck, type DataAgeFigures } from './data-ages.js';
import { databaseCheck } from './database.js';
import { diskCheck } from './disk.js';
import { gpioCheck, liveGpioCheck, type GpioPorts } from './gpio.js';
import { GPS_LISTEN_MS, gpsCheck, liveGpsCheck } from './gps.js';
import { hubKeysCheck } from './hub-keys.js';
import { processHoldingFile } from './holder.js';
import { kioskProcessFor, pidRunsKiosk, type RunningKiosk } from './running-kiosk.js';
import { liveScannerCheck, scannerCheck, type OpenScanner, type ScanRequest } from './scanner.js';

export { runSelftest, selftestExitCode, type SelftestCheck, type CheckOutcome } from './check.js';
export type { BrokerProbe } from './broker.js';
export type { ScanRequest, OpenScanner } from './scanner.js';

/** What `safegate selftest` gives the checks: the settings loader and the ports the core may not build itself. */
export interface CommandSelftestPorts {
  /** The effective settings, enrolled or not (config.ts loadSettingsForRun). */
  loadSettings(): SettingsForRun;
  brokerProbe: BrokerProbe;
  brokerTimeoutMs?: number;
  /** Ask the operator to scan (null: --no-scan, or nobody at a terminal). */
  scan: ScanRequest | null;
  /** Pulse the relay in the GPIO check (someone is at the gate and asked for it); never beside a running kiosk. */
  clickRelay?: boolean;
  openScanner?: OpenScanner;
  gpio?: GpioPorts;
  clockFlagFile?: string;
  devDir?: string;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** Which other process holds a file open (default: /proc); tests give their own. */
  holderOf?: (file: string) => number | null;
  /** Which process runs `safegate run` on a settings file (default: /proc); tests give their own. */
  kioskOn?: (configFile: string) => number | null;
}

const NOT_TRIED: CheckOutcome = warn('not tried: the settings do not load', 'fix the settings first');
const BROKER_TIMEOUT_MS = 8_000;

/**
 * The checks `safegate selftest` runs, in their fixed order. The settings load first; the others read
 * them (and are "not tried" when they do not load). A kiosk running on the same settings keeps its
 * scanner port, GPIO lines and broker session: those checks report it instead of fighting it.
 */
export function commandChecks(ports: CommandSelftestPorts): SelftestCheck[] {
  const now = ports.now ?? Date.now;
  let loaded: LoadedSettings | undefined;
  /** Why the kiosk is not enrolled (it waits for an enrolment code); the checks then run on the local file's settings. */
  let notEnrolled: string | undefined;
  /**
   * A kiosk running on these settings: its runtime status (same user: what it knows of its scanner,
   * lines and link), or else a process holding the store open, or a `safegate run` on this settings
   * file (a kiosk waiting for its enrolment code opens no store and publishes no status; one running
   * as the service user is not readable here): then its hardware is left alone, state unknown.
   */
  const running = (): RunningKiosk | null => {
    if (!loaded) return null;
    const live = readRuntimeStatus(runtimeFiles(loaded.paths.store, ports.env));
    if (live && pidRunsKiosk(live.pid)) return { pid: live.pid, status: live };
    const pid = (ports.holderOf ?? processHoldingFile)(loaded.paths.store) ?? (ports.kioskOn ?? kioskProcessFor)(loaded.file);
    return pid === null ? null : { pid, status: null };
  };
  const withSettings = (name: SelftestCheckName, run: (l: LoadedSettings, signal: AbortSignal) => Promise<CheckOutcome> | CheckOutcome, timeoutMs?: number): SelftestCheck => ({
    name,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    run: (signal) => (loaded ? run(loaded, signal) : NOT_TRIED),
  });
  const scanTimeout = ports.scan ? ports.scan.timeoutMs + 5_000 : undefined;
  const brokerTimeout = ports.brokerTimeoutMs ?? BROKER_TIMEOUT_MS;
  const checks: SelftestCheck[] = [
    {
      name: 'settings',
      run: () => {
        let r: SettingsForRun;
        try {
          r = ports.loadSettings();
        } catch (err) {
          return settingsFailure(err);
        }
        loaded = r.loaded;
        if (r.kind === 'not-enrolled') {
          notEnrolled = r.reason;
          if (r.damaged !== undefined) {
            return fail(
              `${r.loaded.file}: the enrolment folder ${r.enrolmentDir} is damaged (${r.damaged}); this kiosk refuses enrolment codes scanned at the gate`.slice(0, 500),
              `re-enrol it at the shell: \`safegate enrol --force --config ${r.loaded.file} --token-file CODE\`, then restart the service`,
            );
          }
          return warn(`${r.loaded.file}: valid, but this kiosk is not enrolled (${r.reason})`, `enrol it: scan its enrolment code at the gate, or \`safegate enrol --config ${r.loaded.file} --token-file CODE\``);
        }
        return settingsPass(loaded);
      },
    },
    withSettings('scanner', (l, signal) => scannerCheck({ settings: l.settings.scanner, running: running(), ask: ports.scan, ...(ports.openScanner ? { open: ports.openScanner } : {}) }, signal), scanTimeout),
    withSettings('gpio', (l) => gpioCheck({ gate: l.settings.gate, running: running(), clickRelay: ports.clickRelay ?? false, ...(ports.gpio ? { ports: ports.gpio } : {}) })),
    withSettings('camera', (l) => cameraCheck({ camera: l.settings.screens.camera, screenless: l.settings.screens.show === 'none', ...(ports.devDir ? { devDir: ports.devDir } : {}) })),
    withSettings('clock', (l) => clockCheck({ syncedWhen: l.settings.clock.syncedWhen, ...(ports.clockFlagFile ? { flagFile: ports.clockFlagFile } : {}) })),
    withSettings('gps', (l, signal) => gpsCheck({ gps: l.settings.gps, bus: l.settings.checkpoint.kind === 'bus', running: running() }, signal), GPS_LISTEN_MS + 4_000),
    withSettings('disk', (l) => {
      const live = running();
      const disk = live?.status?.disk;
      return diskCheck({ dir: dirname(l.paths.store), reserveMB: l.settings.store.reserveMB, lowSpaceWarnMB: l.settings.store.lowSpaceWarnMB, ...(disk ? { reserveInUse: disk.reserveInUse } : {}) });
    }),
    withSettings('database', (l, signal) => databaseCheck({ path: l.paths.store }, signal)),
    withSettings(
      'broker',
      (l) => {
        if (notEnrolled !== undefined) return fail('not enrolled: no broker or device certificate yet', 'enrol the kiosk (see the settings check)');
        const live = running();
        return brokerCheck({
          broker: l.broker,
          deviceId: l.settings.device.id,
          running: live ? { pid: live.pid, link: live.status ? linkWord(live.status.link) : null, refused: live.status?.linkState === 'auth-failed' } : null,
          probe: ports.brokerProbe,
          timeoutMs: brokerTimeout,
        });
      },
      brokerTimeout + 2_000,
    ),
    withSettings('hub-keys', (l) => hubKeysCheck({ keysDir: l.paths.keysDir, syncs: Boolean(l.broker) })),
    withSettings('data-ages', (l) =>
      notEnrolled !== undefined ? warn('not enrolled: nothing downloaded from a hub yet') : dataAgesCheck({ syncs: Boolean(l.broker), figures: storedDataAges(l), nowMs: now() }),
    ),
    withSettings('certificate', (l) =>
      notEnrolled !== undefined
        ? fail('not enrolled: no device certificate', 'enrol the kiosk (see the settings check)')
        : certificateCheck({ certFile: l.broker?.cert, syncs: Boolean(l.broker), deviceId: l.settings.device.id, nowMs: now(), handProvisioned: l.enrolmentDir === undefined }),
    ),
  ];
  return checks;
}

/** The running kiosk's own objects, for the supervisor screen's self-test. */
export interface LiveKioskParts {
  loaded: LoadedSettings;
  headless: boolean;
  scannerState(): ScannerState | undefined;
  gpioMode: 'real' | 'simulated';
  link(): HubLinkView;
  disk(): DiskFigures;
  dataAges(): DataAgeFigures;
  /** The GPS tracker's view, on a unit with a receiver (absent: the kiosk follows none). */
  gpsView?: () => GpsView;
  now?: () => number;
}

/**
 * The same checks as the command, run inside the kiosk with its live objects: its scanner's state,
 * its outputs' mode (never pulsed: the gate would open), its own link to the broker, its disk guard.
 */
export function liveChecks(k: LiveKioskParts): SelftestCheck[] {
  const { loaded: l } = k;
  const now = k.now ?? Date.now;
  return [
    { name: 'settings', run: () => settingsPass(l) },
    { name: 'scanner', run: () => liveScannerCheck(l.settings.scanner, k.scannerState()) },
    { name: 'gpio', run: () => liveGpioCheck(k.gpioMode) },
    { name: 'camera', run: () => cameraCheck({ camera: l.settings.screens.camera, screenless: k.headless || l.settings.screens.show === 'none' }) },
    { name: 'clock', run: () => clockCheck({ syncedWhen: l.settings.clock.syncedWhen }) },
    { name: 'gps', run: () => liveGpsCheck(l.settings.gps, l.settings.checkpoint.kind === 'bus', k.gpsView?.()) },
    {
      name: 'disk',
      run: () => {
        const d = k.disk();
        return diskCheck({ dir: dirname(l.paths.store), reserveMB: l.settings.store.reserveMB, lowSpaceWarnMB: l.settings.store.lowSpaceWarnMB, reserveInUse: d.reserveInUse });
      },
    },
    { name: 'database', run: (signal) => databaseCheck({ path: l.paths.store }, signal) },
    {
      name: 'broker',
      run: () =>
        brokerCheck({
          broker: l.broker,
          deviceId: l.settings.device.id,
          running: { pid: 'this kiosk', link: k.link() },
          probe: () => Promise.reject(new Error('the running kiosk is not probed twice')),
          timeoutMs: BROKER_TIMEOUT_MS,
        }),
    },
    { name: 'hub-keys', run: () => hubKeysCheck({ keysDir: l.paths.keysDir, syncs: Boolean(l.broker) }) },
    { name: 'data-ages', run: () => dataAgesCheck({ syncs: Boolean(l.broker), figures: () => k.dataAges(), nowMs: now() }) },
    { name: 'certificate', run: () => certificateCheck({ certFile: l.broker?.cert, syncs: Boolean(l.broker), deviceId: l.settings.device.id, nowMs: now(), handProvisioned: l.enrolmentDir === undefined }) },
  ];
}

const liveRuns = new Map<string, Promise<SelftestResult[]>>();

/**
 * Runs the live checks; the kiosk's screen API answers with this. One run at a time per kiosk: a
 * second tap (or a second supervisor screen) while one runs gets that run's results, rather than
 * another quick_check over the whole store.
 */
export function runLiveSelftest(k: LiveKioskParts): Promise<SelftestResult[]> {
  const key = k.loaded.paths.store;
  const inFlight = liveRuns.get(key);
  if (inFlight) return inFlight;
  const run = runSelftest(liveChecks(k)).finally(() => liveRuns.delete(key));
  liveRuns.set(key, run);
  return run;
}

function settingsPass(l: LoadedSettings): CheckOutcome {
  const s = l.settings;
  const hub = l.broker ? `hub ${l.broker.url}` : 'standalone (no hub)';
  const layers = l.layers?.applied.filter((a) => a.layer !== 'file') ?? [];
  const enrolled = layers.length ? `, enrolled (${layers.map((a) => `${a.layer} settings${a.version !== undefined ? ` v${a.version}` : ''}`).join(', ')})` : '';
  const detail = `${l.file}: device ${s.device.id}, checkpoint ${s.checkpoint.id} (${s.checkpoint.kind}, ${s.checkpoint.direction}), ${hub}${enrolled}`;
  const ignored = l.layers?.ignored ?? [];
  if (ignored.length) return warn(`${detail}; left out: ${ignored.join('; ')}`.slice(0, 500), 'the hub\'s newest remote settings do not check here: see `safegate hub devices` at the hub');
  return pass(detail);
}

function settingsFailure(err: unknown): CheckOutcome {
  if (err instanceof SettingsError) {
    const n = err.problems.length;
    const first = err.problems[0];
    const what = n === 1 && first && !first.path ? first.message : `${n} problem(s), first: ${first ? problemLine(first) : '?'}`;
    return fail(`${err.file}: ${what}`.slice(0, 400), `fix the settings: \`safegate config check --config ${err.file}\` lists every problem`);
  }
  return fail(`the settings do not load: ${errorText(err)}`, 'fix the settings: `safegate config check` lists every problem');
}

/** A running kiosk's link word from its runtime file; anything unknown reads as offline. */
function linkWord(written: string): HubLinkView {
  return (['online', 'connecting', 'offline', 'standalone'] as const).find((w) => w === written) ?? 'offline';
}

/** The roster and policy cursors from the store, read-only; null when there is no database yet. */
function storedDataAges(l: LoadedSettings): (() => DataAgeFigures) | null {
  if (!existsSync(l.paths.store)) return null;
  return () => {
    const db = openStore(l.paths.store, { readonly: true });
    try {
      const state = new DownlinkState(db);
      const local = l.paths.policyFile ? loadPolicyFile(l.paths.policyFile) : defaultPolicy();
      const policy = new PolicyInForce(local, new DownloadedPolicy(db));
      return { rosterCheckedAtMs: state.cursor('roster').checkedAt, policyCheckedAtMs: state.cursor('policy').checkedAt, maxAgeS: policy.maxDataAgeS() };
    } finally {
      db.close();
    }
  };
}

export { SELFTEST_CHECKS };
