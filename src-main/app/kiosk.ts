import type { Readable } from 'node:stream';
import { GateSignals, type GateSignalLines, type SignalLine } from '../../device/gpio/gate-signals.js';
import { OnoffOutput } from '../../device/gpio/onoff-output.js';
import type { DigitalOutput, TransitionListener } from '../../device/gpio/output.js';
import { SimulatedOutput } from '../../device/gpio/simulated-output.js';
import { findHeaderChip, sysfsLineNumber } from '../../device/gpio/sysfs-chip.js';
import type { Scanner } from '../../device/scanner/scanner.js';
import { SerialScanner } from '../../device/scanner/serial-scanner.js';
import { StdinScanner } from '../../device/scanner/stdin-scanner.js';
import { SystemClock } from '../core/clock.js';
import type { LoadedSettings, Settings } from '../core/config.js';
import { HubKeyring } from '../../base/node/keys.js';
import { Gatekeeper } from '../core/gatekeeper.js';
import { createLogger, type Logger } from '../../base/node/logger.js';
import { defaultPolicy, type Policy } from '../../base/common/policy/policy.js';
import { loadPolicyFile } from '../core/policy/policy-file.js';
import { openStore, type SqliteDatabase } from '../core/store/database.js';
import { EventLog } from '../core/store/event-log.js';
import { Roster } from '../core/store/roster.js';
import { Uplink, type HeartbeatFigures } from '../../sync/uplink.js';
import { Downlink } from '../../sync/downlink.js';
import { DownlinkState } from '../core/store/downlink-state.js';
import { Notices } from '../core/store/notices.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../core/store/hub-data.js';
import { SOFTWARE_VERSION } from '../../base/node/package.js';
import { SupervisorDesk } from '../core/supervisor/desk.js';
import { ScreenService } from '../api/screen-service.js';
import { LoopbackServer } from '../api/loopback-server.js';
import { rendererDir } from '../../base/node/package.js';
import { secondsSince } from '../../base/common/time.js';

export interface KioskOptions {
  /** Screenless unit: lights and buzzer only. */
  headless: boolean;
  log?: Logger;
  /** Input for the simulated (stdin) scanner. */
  stdin?: Readable;
  /** Observes every output transition (tests, benchmarks, the simulated-hardware view). */
  onTransition?: TransitionListener;
}

const PURGE_INTERVAL_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * The composition root: the one place where settings become a store, devices, a gatekeeper and
 * (later) sync and screens, and where the real or simulated adapter is picked.
 */
export class Kiosk {
  readonly log: Logger;
  readonly db: SqliteDatabase;
  readonly events: EventLog;
  readonly roster: Roster;
  readonly keyring: HubKeyring;
  readonly signals: GateSignals;
  readonly scanner: Scanner | undefined;
  readonly gatekeeper: Gatekeeper;
  /** The hub link, when the settings name a broker. */
  readonly uplink: Uplink | undefined;
  readonly downlinkState: DownlinkState;
  /** Government notices in force (the screens show them). */
  readonly notices: Notices;
  readonly revocations: Revocations;
  /** The supervisor screen's PIN, lockout, audit trail, overrides and exports. */
  readonly supervisor: SupervisorDesk;
  /** The renderer API, transport-neutral; the loopback server and the Electron relay carry it. */
  readonly screenService: ScreenService;
  /** The loopback transport, once `startScreens()` has run. */
  screens: LoopbackServer | undefined;
  private readonly downloadedPolicy: DownloadedPolicy;
  private readonly downloadedKeys: DownloadedKeys;
  /** The policy from a settings file or built in, used until the hub sends a newer one. */
  private readonly localPolicy: Policy;
  readonly gpioMode: 'real' | 'simulated';
  private policy: Policy;
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly exitGuard = (): void => this.signals.safeState();
  private stopped = false;

  constructor(
    private readonly loaded: LoadedSettings,
    private readonly options: KioskOptions,
  ) {
    const { settings, paths } = loaded;
    this.log = options.log ?? createLogger({ level: settings.log.level });
    this.keyring = HubKeyring.fromDirectory(paths.keysDir);
    this.localPolicy = paths.policyFile ? loadPolicyFile(paths.policyFile) : defaultPolicy();
    // A scan waits up to this long for another writer (a roster import holds the lock for under a
    // second for 100,000 workers); only a lock held longer fails safe with STORE_UNAVAILABLE.
    this.db = openStore(paths.store, { busyTimeoutMs: 1_500 });
    this.events = new EventLog(this.db);
    this.roster = new Roster(this.db);
    this.downlinkState = new DownlinkState(this.db);
    this.notices = new Notices(this.db);
    this.revocations = new Revocations(this.db);
    this.downloadedPolicy = new DownloadedPolicy(this.db);
    this.downloadedKeys = new DownloadedKeys(this.db);
    this.downloadedKeys.loadInto(this.keyring);
    this.policy = this.newestPolicy();
    // Hardware last, so a failure above leaves no GPIO line claimed.
    const outputs = this.buildOutputs(settings);
    this.gpioMode = outputs.mode;
    this.signals = new GateSignals(outputs.lines);
    this.scanner = this.buildScanner(settings);
    const clock = new SystemClock(settings.clock.syncedWhen);
    this.gatekeeper = new Gatekeeper({
      checkpoint: settings.checkpoint,
      events: this.events,
      roster: this.roster,
      keyring: this.keyring,
      policy: () => this.policy,
      clock,
      actuator: this.signals,
      badgePattern: new RegExp(settings.badge.pattern),
      codeHashKey: this.events.codeHashKey(),
      log: this.log.child({ ns: 'gate' }),
      // Only a kiosk that syncs has a hub to confirm its data; a standalone one has no data age.
      rosterCheckedAt: loaded.broker ? () => this.downlinkState.cursor('roster').checkedAt : undefined,
      isRevoked: (passId) => this.revocations.isRevoked(passId),
    });
    const hub = settings.hub;
    const downlink = new Downlink(
      settings.device.id,
      this.downlinkState,
      () => this.keyring,
      {
        roster: (kind, changes) => this.roster.applyChanges(kind, changes),
        notices: (kind, changes) => this.notices.applyChanges(kind, changes),
        revocations: (kind, changes) => this.revocations.applyChanges(kind, changes),
        keys: (kind, changes) => this.downloadedKeys.applyChanges(kind, changes, this.keyring),
        policy: (kind, changes) => {
          this.downloadedPolicy.applyChanges(kind, changes);
          this.policy = this.newestPolicy();
        },
      },
      this.log.child({ ns: 'sync:downlink' }),
    );
    this.uplink = loaded.broker
      ? new Uplink(
          {
            deviceId: settings.device.id,
            broker: loaded.broker,
            batch: hub.batch,
            ackTimeoutMs: hub.ackTimeoutMs,
            reconnect: { initialMs: 500, maxMs: 60_000 },
            authRetryMs: 300_000,
            heartbeat: { everyMs: hub.heartbeatSeconds * 1000, figures: () => this.heartbeatFigures() },
            extensions: [downlink],
            clock: { bootId: clock.bootId, monoUs: () => clock.read().monoUs },
          },
          this.events,
          this.log.child({ ns: 'sync:uplink' }),
        )
      : undefined;
    this.supervisor = new SupervisorDesk({
      db: this.db,
      events: this.events,
      roster: this.roster,
      gatekeeper: this.gatekeeper,
      rules: settings.screens.supervisor,
      zone: settings.time.zone,
      log: this.log.child({ ns: 'supervisor' }),
    });
    this.screenService = new ScreenService(
      {
        settings,
        handleScan: (text, source) => this.gatekeeper.handleScan({ text, source, receivedAtNs: process.hrtime.bigint() }),
        onPassage: (listener) => {
          this.gatekeeper.on('passage', listener);
          return () => this.gatekeeper.off('passage', listener);
        },
        link: () => {
          if (!this.uplink) return 'standalone';
          const state = this.uplink.state;
          return state === 'online' ? 'online' : state === 'connecting' ? 'connecting' : 'offline';
        },
        outbox: () => {
          const depth = this.events.outboxDepth();
          return { depth: depth.count, oldestUnsyncedAgeS: secondsSince(depth.oldestWallMs, Date.now()) };
        },
        dataAge: () => {
          const checked = this.uplink ? this.downlinkState.cursor('roster').checkedAt : null;
          return {
            ageS: secondsSince(checked, Date.now()),
            // A policy without the parameter (a custom one) gets the built-in 72 hours for the warning.
            maxAgeS: (typeof this.policy.params.maxDataAgeHours === 'number' ? this.policy.params.maxDataAgeHours : 72) * 3600,
            syncs: Boolean(this.uplink),
          };
        },
        notices: () => this.notices.current(Date.now()),
        supervisor: this.supervisor,
      },
      this.log.child({ ns: 'screens' }),
    );
  }

  /**
   * Serves the screens and the renderer API on loopback (127.0.0.1, a secret per run). The Electron
   * window and Chromium both connect here; `pages` adds generated pages (the demo pass sheet).
   */
  async startScreens(options: { pages?: Record<string, () => string | Promise<string>>; rendererDir?: string } = {}): Promise<LoopbackServer> {
    if (this.screens) return this.screens;
    const server = new LoopbackServer(
      this.screenService,
      { rendererDir: options.rendererDir ?? rendererDir(), port: this.loaded.settings.screens.port, pages: options.pages },
      this.log.child({ ns: 'screens' }),
    );
    this.screenService.start();
    await server.start();
    this.screens = server;
    return server;
  }

  start(): void {
    const { settings } = this.loaded;
    this.signals.safeState();
    process.on('exit', this.exitGuard);
    if (this.scanner) {
      const scanLog = this.log.child({ ns: 'device:scanner' });
      const source = this.scanner.source;
      this.scanner.on('line', (line) => {
        try {
          this.gatekeeper.handleScan({ text: line.text, source, receivedAtNs: line.receivedAtNs });
        } catch (err) {
          // A bug must not take the gate down: refuse this scan, say why, keep running.
          this.log.error({ err }, 'unexpected error while handling a scan; refused');
          this.signals.refuse();
        }
      });
      this.scanner.on('rejected', (r) => {
        scanLog.warn({ reason: r.reason, detail: r.detail }, 'scanner input rejected');
        this.signals.refuse();
      });
      this.scanner.on('state', (state, detail) => scanLog.info({ state, detail }, 'scanner state'));
      this.scanner.start();
    }
    if (this.uplink) {
      const uplink = this.uplink;
      this.gatekeeper.on('passage', () => uplink.nudge());
      uplink.start();
    }
    this.purge();
    this.purgeTimer = setInterval(() => this.purge(), PURGE_INTERVAL_MS);
    this.log.info(
      {
        device: settings.device.id,
        checkpoint: settings.checkpoint.id,
        direction: settings.checkpoint.direction,
        headless: this.options.headless,
        gpio: this.gpioMode,
        scanner: settings.scanner.source,
        hub: this.loaded.broker ? this.loaded.broker.url : 'none (standalone)',
        trustedKeys: { pass: this.keyring.count('pass'), downlink: this.keyring.count('downlink') },
        roster: this.roster.count(),
        policyVersion: this.policy.version,
      },
      'kiosk started',
    );
    if (this.keyring.count('pass') === 0) this.log.warn('no trusted pass keys (hub.keysDir/pass/): every pass will be refused (UNKNOWN_KEY)');
    if (this.uplink && this.keyring.count('downlink') === 0) {
      this.log.warn('no trusted downlink keys (hub.keysDir/downlink/): nothing the hub sends (roster, notices, policy) will be accepted');
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.purgeTimer);
    await this.screens?.stop();
    this.screenService.stop();
    await this.scanner?.stop();
    await this.uplink?.stop();
    this.gatekeeper.stop();
    this.signals.release();
    process.off('exit', this.exitGuard);
    this.db.close();
    this.log.info('kiosk stopped');
  }

  get settings(): Settings {
    return this.loaded.settings;
  }

  /** The hub's policy once it has sent one at least as new as the local one. */
  private newestPolicy(): Policy {
    const downloaded = this.downloadedPolicy.current();
    return downloaded && downloaded.version >= this.localPolicy.version ? downloaded : this.localPolicy;
  }

  private heartbeatFigures(): HeartbeatFigures {
    const depth = this.events.outboxDepth();
    return {
      software: SOFTWARE_VERSION,
      outboxDepth: depth.count,
      oldestUnsyncedAgeS: depth.oldestWallMs === null ? null : Math.max(0, (Date.now() - depth.oldestWallMs) / 1000),
      scanner: this.scanner?.state ?? 'stopped',
      gpio: this.gpioMode,
      rosterAgeS: (() => {
        const checked = this.downlinkState.cursor('roster').checkedAt;
        return checked === null ? null : Math.max(0, (Date.now() - checked) / 1000);
      })(),
      policyVersion: this.policy.version,
    };
  }

  private purge(): void {
    try {
      const cutoff = Date.now() - this.loaded.settings.store.retentionDays * DAY_MS;
      const n = this.events.purgeSyncedBefore(cutoff);
      const expired = this.notices.purgeExpired(Date.now());
      this.supervisor.purgeAuditBefore(cutoff);
      if (n || expired) this.log.info({ purged: n, expiredNotices: expired }, 'old synced events and expired notices purged');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'purge failed; will retry');
    }
  }

  private buildScanner(settings: Settings): Scanner | undefined {
    const s = settings.scanner;
    if (s.source === 'none') return undefined;
    if (s.source === 'stdin') return new StdinScanner(this.options.stdin ?? process.stdin, s.maxLineLength);
    return new SerialScanner(
      { path: s.path, usb: s.usb, baudRate: s.baudRate, suffix: s.suffix, maxLineLength: s.maxLineLength },
      this.log.child({ ns: 'device:scanner' }),
    );
  }

  private buildOutputs(settings: Settings): { mode: 'real' | 'simulated'; lines: GateSignalLines } {
    const g = settings.gate;
    const gpioLog = this.log.child({ ns: 'device:gpio' });
    const observe: TransitionListener = (t) => {
      gpioLog.debug({ output: t.output, active: t.active, level: t.level }, 'output');
      this.options.onTransition?.(t);
    };
    let mode: 'real' | 'simulated' = g.gpio === 'simulated' ? 'simulated' : 'real';
    if (g.gpio === 'auto' && !OnoffOutput.accessible()) {
      gpioLog.warn('GPIO is not accessible here: using simulated outputs');
      mode = 'simulated';
    }
    const chip = mode === 'real' ? findHeaderChip(g.sysfsRoot, g.chipLabel) : undefined;
    const make = (name: string, o: Settings['gate']['relay']): SignalLine => {
      const output: DigitalOutput = chip
        ? new OnoffOutput(name, sysfsLineNumber(chip, o.pin), o.activeLow, observe)
        : new SimulatedOutput(name, o.activeLow, observe);
      return { output, timing: { pulseMs: o.pulseMs, maxOnMs: o.maxOnMs } };
    };
    return {
      mode,
      lines: {
        relay: make('relay', g.relay),
        greenLight: make('greenLight', g.greenLight),
        redLight: make('redLight', g.redLight),
        buzzer: make('buzzer', g.buzzer),
      },
    };
  }
}
