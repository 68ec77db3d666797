import { diskSpace } from '../../base/node/disk.js';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { defaultPolicy } from '../../base/common/policy/policy.js';
import { secondsSince } from '../../base/common/time.js';
import { HubKeyring } from '../../base/node/keys.js';
import { createLogger, type Logger } from '../../base/node/logger.js';
import { rendererDir } from '../../base/node/package.js';
import { WalCheckpointer } from '../../base/node/sqlite.js';
import { GateSignals, type GateSignalLines, type SignalLine } from '../../device/gpio/gate-signals.js';
import { OnoffOutput } from '../../device/gpio/onoff-output.js';
import type { DigitalOutput, TransitionListener } from '../../device/gpio/output.js';
import { SimulatedOutput } from '../../device/gpio/simulated-output.js';
import type { DigitalInput } from '../../device/gpio/input.js';
import { InputControlWatcher } from '../../device/gpio/input-control.js';
import { OnoffInput } from '../../device/gpio/onoff-input.js';
import { SimulatedInput } from '../../device/gpio/simulated-input.js';
import { EmergencyRelease, PassageConfirmation, inputControlFile, type RecordGateEvent } from '../core/gate-inputs.js';
import { findHeaderChip, sysfsLineNumber } from '../../device/gpio/sysfs-chip.js';
import type { Scanner } from '../../device/scanner/scanner.js';
import { SerialScanner } from '../../device/scanner/serial-scanner.js';
import { StdinScanner } from '../../device/scanner/stdin-scanner.js';
import { Downlink } from '../../sync/downlink.js';
import { SiteStream } from '../../sync/site-stream.js';
import { Uplink } from '../../sync/uplink.js';
import type { LoopbackServer } from '../api/loopback-server.js';
import { ScreenService } from '../api/screen-service.js';
import { GpsDatedClock, SystemClock, type ClockReading } from '../core/clock.js';
import { createGpsReceiver, GpsTracker } from '../../device/gps/gps.js';
import { EvdevScanner } from '../../device/scanner/evdev-scanner.js';
import type { ControlSocket } from '../api/control-socket.js';
import type { LoadedSettings, Settings } from '../core/config.js';
import { Gatekeeper } from '../core/gatekeeper.js';
import { BusMode } from '../core/bus/bus-mode.js';
import { HeldSpool } from '../core/store/held-spool.js';
import { healthFigures } from '../core/health.js';
import { runLiveSelftest } from '../core/selftest/index.js';
import { acceptRemoteSettings, CertificateRenewer, fleetFigures, type EnrolOutcome } from '../core/enrolment/index.js';
import { loadSettings } from '../core/config.js';
import { RemoteSettingsReceiver } from '../core/remote-settings-receiver.js';
import { PolicyInForce } from '../core/policy/policy-in-force.js';
import { loadPolicyFile } from '../core/policy/policy-file.js';
import { clearRuntimeStatus, ensurePrivateDir, runtimeFiles, writeRuntimeStatus, type RuntimeFiles } from '../core/runtime.js';
import { openStore, type SqliteDatabase } from '../core/store/database.js';
import { DiskGuard } from '../core/store/disk-guard.js';
import { DownlinkState } from '../core/store/downlink-state.js';
import { EventLog } from '../core/store/event-log.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../core/store/hub-data.js';
import { DownloadedPlacement } from '../core/store/placement.js';
import { HubSupervisors } from '../core/supervisor/hub-supervisors.js';
import { Notices } from '../core/store/notices.js';
import { REMOTE_PASSAGE_MAX_AHEAD_MS, RemoteDeclarations, RemotePassages } from '../core/store/remote-passages.js';
import type { NewGateEvent } from '../../base/common/types.js';
import { Retention } from '../core/store/retention.js';
import { Roster } from '../core/store/roster.js';
import { openStoreSecrets } from '../core/store/secrets.js';
import { SupervisorDesk } from '../core/supervisor/desk.js';
import { HubExportSender } from '../core/supervisor/send-export.js';
import { readFileSync } from 'node:fs';
import type { RemovableDrives } from '../../device/usb/removable-drives.js';
import { MountedFolderDrives } from '../../device/usb/mounted-folder-drives.js';
import { Udisks2Drives } from '../../device/usb/udisks2-drives.js';
import { hubLinkView, type HubLinkView } from '../../base/common/hub-link.js';
import { EventEmitter } from 'node:events';
import { isEnrolmentCode, parseEnrolmentCode } from '../../base/common/enrolment.js';
import type { EnrolmentView } from '../api/contract.js';
import { EnrolMeScreens } from '../api/enrol-me-screens.js';
import { DeclareTokens, KioskDeclarationDesk } from '../core/declarations/index.js';
import { KioskVisitors } from '../core/visitors/visitors.js';
import { VisitorKeyring } from '../../base/node/visitor-keyring.js';
import { DccSigners, createDccCheck } from '../core/dcc/index.js';
import type { DccCheck } from '../core/visitors/dcc-port.js';

/** The WAL's bound: a sixteenth of the store's filesystem, between 1 and 16 MiB (a small SD card or partition never fills with WAL). */
function walBound(dir: string): number {
  const space = diskSpace(dir);
  return space ? Math.min(16 * 1024 * 1024, Math.max(1024 * 1024, Math.floor(space.totalBytes / 16))) : 16 * 1024 * 1024;
}

export interface KioskOptions {
  /** Screenless unit: lights and buzzer only. */
  headless: boolean;
  /**
   * How this run shows the screens when the command line says (`safegate run --screens`), over
   * screens.show in the settings. What the run shows decides, not the settings alone: a run that
   * shows none takes no declarations (nobody would see the form) and signals "declare elsewhere".
   */
  screens?: Settings['screens']['show'];
  log?: Logger;
  /** Input for the simulated (stdin) scanner. */
  stdin?: Readable;
  /** Observes every output transition (tests, benchmarks, the simulated-hardware view). */
  onTransition?: TransitionListener;
  /** The clock of the supervisor desk (lockouts, sessions); tests move it forward instead of waiting. */
  now?: () => number;
  /** Removable drives for exports, instead of what `screens.supervisor.drives` picks (tests). */
  drives?: RemovableDrives;
  /**
   * What `requestRestart` does: the run loop stops this kiosk and composes it again from the settings
   * files (remote settings that cannot be applied live, a renewed certificate). Without it (a kiosk
   * composed outside the run loop) a restart request is only logged.
   */
  requestRestart?: (reason: string) => void;
}

/** How long an enrolled kiosk says "already enrolled" after it was shown an enrolment code. */
const ALREADY_ENROLLED_SHOWN_MS = 10_000;

/** How the kiosk ended: events it could not write to its store are kept in RAM for the next start. */
export interface KioskStopResult {
  /** Events the store could not take (a full disk), kept in the runtime folder for the next start. */
  unwritten: number;
  /** Events that could be kept nowhere: lost. Never expected; the exit status says so. */
  lost: number;
}

/**
 * The composition root: the one place where settings become a store, devices, a gatekeeper, sync and
 * screens, and where the real or simulated adapter is picked. It wires; what each part does lives
 * with the part (the policy in force, health figures, retention, the disk guard, the checkpointer).
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
  /** A bus unit's trips (checkpoint kind bus, settings bus); none on any other checkpoint. */
  readonly bus: BusMode | undefined;
  /** The GPS receiver's position and time (settings gps.source other than none). */
  readonly gps: GpsTracker | undefined;
  /** A bus unit's control socket (`safegate trip`), once listening. */
  private control: Promise<ControlSocket | undefined> | undefined;
  /** The hub link, when the settings name a broker. */
  readonly uplink: Uplink | undefined;
  /** The live site stream (with a broker and checkpoint.site): the site's other kiosks' passages. */
  readonly siteStream: SiteStream | undefined;
  readonly remotePassages: RemotePassages;
  readonly downlinkState: DownlinkState;
  /** Government notices in force (the screens show them). */
  readonly notices: Notices;
  readonly revocations: Revocations;
  readonly policy: PolicyInForce;
  /** The supervisor screen's PIN, lockout, audit trail, overrides and exports. */
  readonly supervisor: SupervisorDesk;
  /** Removable drives the supervisor can export to (none on a screenless unit or with drives: off). */
  readonly drives: RemovableDrives | undefined;
  /** The renderer API, transport-neutral; the loopback server and the Electron relay carry it. */
  readonly screenService: ScreenService;
  readonly disk: DiskGuard;
  readonly gpioMode: 'real' | 'simulated';
  /** The emergency release input (settings gate.inputs.emergency), if fitted. */
  readonly emergency: EmergencyRelease | undefined;
  /** The door or turnstile sensor (settings gate.inputs.passage), if fitted. */
  readonly passageSensor: PassageConfirmation | undefined;
  private readonly inputs: DigitalInput[] = [];
  /** Drives simulated inputs from `safegate gpio set` (only when the inputs are simulated). */
  private readonly inputControl: InputControlWatcher | undefined;
  /** Where the screens' exports are written (private; purged after a day). */
  readonly exportsDir: string;
  /** The loopback transport, once `startScreens()` has run. */
  screens: LoopbackServer | undefined;
  private readonly retention: Retention;
  private readonly checkpointer: WalCheckpointer;
  private readonly runtime: RuntimeFiles;
  private statusTimer: NodeJS.Timeout | undefined;
  private remotePurgeTimer: NodeJS.Timeout | undefined;
  /** The latest admit reported to the site per person and zone, for a retraction (see retractAdmit). */
  private readonly reportedAdmits = new Map<string, number>();
  /** Events the store refused, waiting for it (with their copy in RAM). */
  private readonly heldSpool: HeldSpool;
  private readonly exitGuard = (): void => this.signals.safeState();
  private stopped = false;
  /** The last enrolment code this enrolled kiosk was shown and ignored (the screens say so for a while). */
  private enrolmentCodeSeenAtMs: number | undefined;
  /** Renews the device certificate before it expires (an enrolled kiosk only), then asks for a restart. */
  private readonly renewer: CertificateRenewer | undefined;

  constructor(
    private readonly loaded: LoadedSettings,
    private readonly options: KioskOptions,
  ) {
    const { settings, paths } = loaded;
    this.log = options.log ?? createLogger({ level: settings.log.level });
    // The runtime folder holds what the next start believes (held events, the input control file):
    // one another user made or can write is refused before anything starts.
    this.runtime = runtimeFiles(paths.store);
    try {
      ensurePrivateDir(this.runtime.dir);
    } catch (err) {
      throw new Error(`the kiosk's runtime folder cannot be trusted: ${(err as Error).message}`, { cause: err });
    }
    this.keyring = HubKeyring.fromDirectory(paths.keysDir);
    const localPolicy = paths.policyFile ? loadPolicyFile(paths.policyFile) : defaultPolicy();
    // A scan waits up to this long for another writer (a roster import holds the lock for under a
    // second for 100,000 workers); only a lock held longer fails safe with STORE_UNAVAILABLE. No
    // checkpoint inside a scan's commit: the checkpointer does it when the gate is idle.
    const walBytes = walBound(dirname(paths.store));
    // A composition that fails half-way (settings this hardware cannot take) leaves nothing open:
    // the run loop composes again, from the last settings that worked.
    try {
      this.db = openStore(paths.store, { busyTimeoutMs: 1_500, walAutocheckpoint: 0, journalSizeLimitBytes: walBytes });
      const secrets = openStoreSecrets(paths.keyFile, this.db, this.log.child({ ns: 'store' }));
      this.events = new EventLog(this.db);
      this.roster = new Roster(this.db);
      this.downlinkState = new DownlinkState(this.db);
      this.notices = new Notices(this.db);
      this.revocations = new Revocations(this.db);
      const downloadedKeys = new DownloadedKeys(this.db);
      downloadedKeys.loadInto(this.keyring);
      this.policy = new PolicyInForce(localPolicy, new DownloadedPolicy(this.db));
      this.exportsDir = join(dirname(paths.store), 'exports');
      this.disk = new DiskGuard({
        dir: dirname(paths.store),
        reserveFile: `${paths.store}.reserve`,
        reserveBytes: settings.store.reserveMB * 1024 * 1024,
        warnFreeBytes: settings.store.lowSpaceWarnMB * 1024 * 1024,
        log: this.log.child({ ns: 'store' }),
      });
      this.checkpointer = new WalCheckpointer(this.db, { maxWalBytes: walBytes }, (ms, frames) =>
        this.log.child({ ns: 'store' }).warn({ ms: Math.round(ms), frames }, 'slow WAL checkpoint'),
      );
      // Hardware last, so a failure above leaves no GPIO line claimed.
      const outputs = buildOutputs(settings, this.log, options.onTransition);
      this.gpioMode = outputs.mode;
      this.signals = new GateSignals(outputs.lines);
      this.scanner = buildScanner(settings, this.log, options.stdin);
      const systemClock = new SystemClock(settings.clock.syncedWhen);
      // With a GPS receiver, events are dated from GPS time while the system clock is not synchronised (gps.clock).
      const g = settings.gps;
      const gps = (this.gps =
        g.source === 'none'
          ? undefined
          : new GpsTracker(
              createGpsReceiver({ source: g.source, host: g.host, port: g.port, path: g.path, baudRate: g.baudRate }, this.log.child({ ns: 'device:gps' })),
              { fixMaxAgeMs: g.fixMaxAgeSeconds * 1000 },
              this.log.child({ ns: 'device:gps' }),
            ));
      const clock: KioskClock = gps ? new GpsDatedClock(systemClock, () => gps.time(), g.clock) : systemClock;
      const position = gps ? () => gps.position() : undefined;
      this.remotePassages = new RemotePassages(this.db);
      const remoteDeclarations = new RemoteDeclarations(this.db, settings.time.zone);
      const site = settings.checkpoint.site;
      const siteStream = (this.siteStream =
        loaded.broker && site
          ? new SiteStream(
              { deviceId: settings.device.id, siteId: site, freshMs: settings.hub.siteStream.freshMs },
              {
                // A time ahead of a synchronised clock is not believed: it would win over every true passage.
                record: (passages) => this.remotePassages.record(passages, Date.now() - this.antiPassbackResetMs(), this.remoteNotAfterMs()),
                retract: (retractions) => this.remotePassages.retract(retractions),
                // Workers' phone declarations go into their roster records, which the gate decides by.
                declare: (declarations) => remoteDeclarations.apply(declarations, this.remoteNotAfterMs()),
              },
              this.log.child({ ns: 'sync:site' }),
            )
          : undefined);
      // Where the hub placed this kiosk: only a kiosk with a hub has a placement to decide by.
      const placement = new DownloadedPlacement(this.db, settings.device.id);
      // Supervisors made at the hub for this kiosk's site, beside its own.
      const hubSupervisors = new HubSupervisors(this.db, secrets.pinPepper);
      this.heldSpool = new HeldSpool({ file: this.runtime.held, dir: this.runtime.dir, db: this.db, events: this.events, log: this.log.child({ ns: 'store' }) });
      const rosterCheckedAt = loaded.broker ? () => this.downlinkState.cursor('roster').checkedAt : undefined;
      this.bus = settings.bus
        ? new BusMode({
            bus: settings.bus,
            checkpoint: settings.checkpoint,
            db: this.db,
            events: this.events,
            clock,
            ...(gps && position ? { position, gps: () => gps.view(clock instanceof GpsDatedClock && clock.datingFromGps()) } : {}),
            policy: () => this.policy.get(),
            rosterCheckedAt,
            codeHashKey: secrets.codeHashKey,
            log: this.log.child({ ns: 'bus' }),
            onDiskFull: () => this.disk.releaseReserve(),
            afterCommit: () => this.checkpointer.noteCommit(),
          })
        : undefined;
      // Health declarations on the screen (issue 14); a unit without one signals "declare at a kiosk with a screen".
      const takesDeclarations = (options.headless ? 'none' : (options.screens ?? settings.screens.show)) !== 'none';
      const declareTokens = takesDeclarations ? new DeclareTokens() : undefined;
      // Visitors (issue 14): registered on this kiosk's screen when enabled; the pseudonym keyring is root-only, next to the settings.
      let recordVisitorDeclaration: KioskDeclarationDesk['recordDeclaration'] | undefined;
      // HC1 certificates (issue 14): verified offline against the signers the hub sent (the `dcc` downlink stream, kept in the store).
      let dcc: DccCheck | undefined;
      let dccSigners: DccSigners | undefined;
      if (takesDeclarations && settings.visitors.enabled && settings.dcc.enabled) {
        const signers = new DccSigners(this.db, this.log.child({ ns: 'dcc' }));
        dccSigners = signers;
        dcc = createDccCheck({ trust: () => signers.list(), policy: () => this.policy.get() });
      }
      const visitors =
        takesDeclarations && settings.visitors.enabled
          ? new KioskVisitors({
              db: this.db,
              events: this.events,
              keyring: VisitorKeyring.open(resolve(dirname(loaded.file), settings.visitors.keyFile), {
                retentionDays: settings.store.retentionDays,
                ...(settings.visitors.keyRotationDays !== undefined ? { rotationDays: settings.visitors.keyRotationDays } : {}),
              }),
              policy: () => this.policy.get(),
              settings: { hosts: settings.visitors.hosts, purposes: settings.visitors.purposes, retentionDays: settings.store.retentionDays },
              recordDeclaration: (r) => recordVisitorDeclaration!(r),
              supervisorOf: (token) => this.supervisor.signedIn(token),
              supervisorName: (id) => this.supervisor.supervisorName(id),
              registers: true,
              ...(dcc ? { dcc } : {}),
              log: this.log.child({ ns: 'visitors' }),
            })
          : undefined;
      this.gatekeeper = new Gatekeeper({
        checkpoint: settings.checkpoint,
        events: this.events,
        roster: this.roster,
        keyring: this.keyring,
        policy: () => this.policy.get(),
        clock,
        actuator: this.signals,
        badgePattern: new RegExp(settings.badge.pattern),
        codeHashKey: secrets.codeHashKey,
        log: this.log.child({ ns: 'gate' }),
        // Only a kiosk that syncs has a hub to confirm its data; a standalone one has no data age.
        rosterCheckedAt,
        isRevoked: (passId) => this.revocations.isRevoked(passId),
        onDiskFull: () => this.disk.releaseReserve(),
        afterCommit: () => this.checkpointer.noteCommit(),
        held: this.heldSpool,
        ...(this.bus ? { bus: this.bus } : {}),
        ...(position ? { position } : {}),
        ...(loaded.broker ? { placement: () => placement.current() } : {}),
        ...(settings.gate.inputs.passage ? { passageWindowMs: settings.gate.relay.pulseMs + settings.gate.inputs.passage.graceMs } : {}),
        ...(siteStream
          ? { sitePassages: { currentSinceMs: () => siteStream.currentSinceMs(), lastPassage: (w: string, z: string) => this.remotePassages.lastPassage(w, z) } }
          : {}),
        ...(declareTokens ? { declareTokens } : { declareElsewhere: true }),
        ...(visitors ? { visitors } : {}),
      });
      const declarations = declareTokens
        ? new KioskDeclarationDesk({ db: this.db, events: this.events, gatekeeper: this.gatekeeper, tokens: declareTokens, policy: () => this.policy.get(), log: this.log.child({ ns: 'declarations' }), zone: settings.time.zone })
        : undefined;
      if (visitors && declarations) {
        visitors.attach(this.gatekeeper);
        recordVisitorDeclaration = (r) => declarations.recordDeclaration(r);
      }
      ({ emergency: this.emergency, passage: this.passageSensor, control: this.inputControl } = this.buildInputs(settings, clock, secrets.codeHashKey));
      const hub = settings.hub;
      // Remote settings (the `settings` stream) reach an enrolled kiosk only: a hand-provisioned one keeps to its file.
      const remoteSettings = loaded.enrolmentDir && loaded.broker
        ? new RemoteSettingsReceiver({
            deviceId: settings.device.id,
            accept: (signed, nowMs, recordVersion) => acceptRemoteSettings(loaded.file, signed, nowMs, recordVersion),
            reload: () => loadSettings(loaded.file).settings,
            running: () => this.loaded.settings,
            setLogLevel: (level) => void (this.log.level = level),
            requestRestart: (reason) => this.requestRestart(reason),
            heartbeatNow: () => this.uplink?.heartbeatNow(),
            log: this.log.child({ ns: 'settings:remote' }),
          })
        : undefined;
      this.renewer =
        loaded.enrolmentDir && loaded.broker
          ? new CertificateRenewer({ settingsFile: loaded.file, requestRestart: (reason) => this.requestRestart(reason), log: this.log.child({ ns: 'enrolment:renewer' }) })
          : undefined;
      const downlink = new Downlink(
        settings.device.id,
        this.downlinkState,
        () => this.keyring,
        {
          roster: (kind, changes) => this.roster.applyChanges(kind, changes),
          notices: (kind, changes) => this.notices.applyChanges(kind, changes),
          revocations: (kind, changes) => this.revocations.applyChanges(kind, changes),
          keys: (kind, changes) => downloadedKeys.applyChanges(kind, changes, this.keyring),
          policy: (kind, changes) => this.policy.applyChanges(kind, changes),
          placement: (kind, changes) => placement.applyChanges(kind, changes),
          supervisors: (kind, changes) => hubSupervisors.applyChanges(kind, changes),
          ...(remoteSettings ? { settings: (kind: 'snapshot' | 'delta', changes: Parameters<RemoteSettingsReceiver['applyChanges']>[1]) => remoteSettings.applyChanges(kind, changes) } : {}),
          // Only a kiosk with HC1 on asks for the signers (the stream is optional).
          ...(dccSigners ? { dcc: (kind: 'snapshot' | 'delta', changes: Parameters<DccSigners['applyChanges']>[1]) => dccSigners.applyChanges(kind, changes) } : {}),
        },
        this.log.child({ ns: 'sync:downlink' }),
        { clockSynced: () => clock.read().synced },
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
              heartbeat: { everyMs: hub.heartbeatSeconds * 1000, figures: () => this.health() },
              extensions: siteStream ? [downlink, siteStream] : [downlink],
              // The hub's site map may count this kiosk in a site whatever its settings say: always say whether the link is up.
              presence: true,
              clock: { bootId: clock.bootId, monoUs: () => clock.read().monoUs },
            },
            this.events,
            this.log.child({ ns: 'sync:uplink' }),
          )
        : undefined;
      this.drives = options.drives ?? (options.headless ? undefined : removableDrives(settings.screens.supervisor));
      this.supervisor = new SupervisorDesk({
        db: this.db,
        events: this.events,
        roster: this.roster,
        gatekeeper: this.gatekeeper,
        rules: settings.screens.supervisor,
        policy: () => this.policy.get(),
        passageSensor: Boolean(settings.gate.inputs.passage),
        zone: settings.time.zone,
        pinPepper: secrets.pinPepper,
        drives: this.drives,
        // Exports sent to the hub console, signed with the broker client key (settings hub.consoleUrl).
        hubExports:
          settings.hub.consoleUrl && loaded.broker?.cert && loaded.broker.key
            ? new HubExportSender({
                consoleUrl: settings.hub.consoleUrl,
                deviceId: settings.device.id,
                certPem: readFileSync(loaded.broker.cert),
                keyPem: readFileSync(loaded.broker.key),
                caPem: loaded.broker.ca ? readFileSync(loaded.broker.ca) : undefined,
                outboxDir: join(dirname(paths.store), 'hub-exports'),
              })
            : undefined,
        log: this.log.child({ ns: 'supervisor' }),
        ...(options.now ? { now: options.now } : {}),
        ...(visitors ? { visitorName: (id: string) => visitors.nameOf(id), visitorVisit: (id: string) => visitors.visitOf(id) } : {}),
      });
      this.retention = new Retention({
        events: this.events,
        notices: this.notices,
        supervisor: this.supervisor,
        retentionDays: settings.store.retentionDays,
        ...(visitors ? { visitors } : {}),
        syncs: Boolean(loaded.broker),
        exportsDir: this.exportsDir,
        log: this.log.child({ ns: 'store' }),
      });
      this.screenService = new ScreenService(
        {
          settings,
          handleScan: (text, source) => this.gatekeeper.handleScan({ text, source, receivedAtNs: process.hrtime.bigint() }),
          enrolmentCodeSeen: () => this.ignoreEnrolmentCode(),
          enrolment: () => this.enrolmentView(),
          onPassage: (listener) => {
            this.gatekeeper.on('passage', listener);
            return () => this.gatekeeper.off('passage', listener);
          },
          link: () => this.linkView(),
          outbox: () => {
            const depth = this.events.outboxDepth();
            return { depth: depth.count, oldestUnsyncedAgeS: secondsSince(depth.oldestWallMs, Date.now()) };
          },
          dataAge: () => ({
            ageS: secondsSince(this.uplink ? this.downlinkState.cursor('roster').checkedAt : null, Date.now()),
            maxAgeS: this.policy.maxDataAgeS(),
            syncs: Boolean(this.uplink),
          }),
          storage: () => ({ level: this.disk.figures().level, heldEvents: this.gatekeeper.heldCount }),
          notices: () => this.notices.current(Date.now()),
          supervisor: this.supervisor,
          gate: () => ({ mode: this.emergency?.mode ?? 'normal' }),
          ...(this.bus ? { bus: this.bus } : {}),
          ...(declarations ? { declarations } : {}),
          ...(visitors ? { visitors } : {}),
          // The self-test on this kiosk's live objects (the supervisor screen); `safegate selftest` runs the same checks from the shell.
          selftest: () =>
            runLiveSelftest({
              loaded,
              headless: options.headless,
              scannerState: () => this.scanner?.state,
              gpioMode: this.gpioMode,
              link: () => this.linkView(),
              disk: () => this.disk.figures(),
              dataAges: () => ({
                rosterCheckedAtMs: this.downlinkState.cursor('roster').checkedAt,
                policyCheckedAtMs: this.downlinkState.cursor('policy').checkedAt,
                maxAgeS: this.policy.maxDataAgeS(),
              }),
              ...(this.gps ? { gpsView: () => this.gps!.view(false) } : {}),
            }),
        },
        this.log.child({ ns: 'screens' }),
      );
    } catch (err) {
      this.abandon();
      throw err;
    }
  }

  /**
   * Serves the screens and the renderer API on loopback (127.0.0.1, a secret per run). The Electron
   * window and Chromium both connect here; `pages` adds generated pages (the demo pass sheet).
   */
  async startScreens(options: { pages?: Record<string, () => string | Promise<string>>; rendererDir?: string } = {}): Promise<LoopbackServer> {
    if (this.screens) return this.screens;
    // Loaded here: a screenless unit never carries the WebSocket server.
    const { LoopbackServer } = await import('../api/loopback-server.js');
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

  /** Releases what a constructor that threw had already made: the inputs and outputs it claimed, the store it opened. */
  private abandon(): void {
    const quietly = (f: () => void): void => {
      try {
        f();
      } catch {
        // Best effort: the error that ended the composition is the one reported.
      }
    };
    for (const input of this.inputs) quietly(() => input.release());
    const made = this as Partial<Pick<Kiosk, 'signals' | 'db'>>;
    if (made.signals) quietly(() => made.signals?.release());
    if (made.db?.open) quietly(() => made.db?.close());
  }

  start(): void {
    const { settings } = this.loaded;
    this.signals.safeState();
    process.on('exit', this.exitGuard);
    this.disk.start();
    this.drives?.start().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'no removable drives: exports go to the screen only'));
    // Events a previous run held (the store refused them; the run stopped or crashed) are taken back
    // from the spool in RAM, above what that run stored, and stored from the first idle moment.
    try {
      const restored = this.heldSpool.open();
      if (restored) this.log.warn({ events: restored }, 'events held by the last run taken back');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'cannot take back events held by the last run now; they stay in the spool');
    }
    this.gatekeeper.resumeHeld();
    this.gps?.start();
    const bus = this.bus;
    if (bus) {
      // The open trip is taken back (a restart mid-trip) before the first scan; an overdue one ends now.
      bus.start();
      // `safegate trip start|end|status` beside this kiosk (a unit without screens has only this and the driver card).
      const controlLog = this.log.child({ ns: 'bus:control' });
      this.control = import('../api/control-socket.js')
        .then(({ startControlSocket }) => startControlSocket({ path: this.runtime.control, trips: bus, log: controlLog }))
        .then(
          (socket) => {
            controlLog.info('trip control socket listening');
            return socket;
          },
          (err: unknown) => {
            controlLog.error({ err: (err as Error).message }, 'no trip control socket: safegate trip cannot reach this kiosk (the driver card and screen still work)');
            return undefined;
          },
        );
      this.gatekeeper.on('passage', (p) => bus.notePassage(p));
      // A trip started or ended from the screen, the command or a timer goes to the hub like a scan.
      if (this.uplink) {
        const uplink = this.uplink;
        bus.on('change', () => uplink.nudge());
      }
    }
    if (this.scanner) {
      const scanLog = this.log.child({ ns: 'device:scanner' });
      const source = this.scanner.source;
      this.scanner.on('line', (line) => {
        if (isEnrolmentCode(line.text.trim())) {
          this.ignoreEnrolmentCode();
          this.signals.refuse();
          return;
        }
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
      // `safegate status` reads the link from the runtime file: rewritten at each change, so it says
      // what the screens say at the same moment.
      uplink.on('state', () => this.publishStatus());
      const siteStream = this.siteStream;
      if (siteStream) {
        // Each allowed passage goes to the site's other kiosks at once, beside the batched uplink.
        this.gatekeeper.on('passage', (p) => {
          if (p.decision.outcome !== 'allow' || p.seq === null) return;
          const e = this.events.get(p.seq);
          if (!e?.workerId) return;
          siteStream.report({ seq: e.seq, atMs: e.wallMs, checkpointId: e.checkpointId, zoneId: e.zoneId, direction: e.direction, workerId: e.workerId });
          this.reportedAdmits.set(`${e.workerId} ${e.zoneId}`, e.seq);
        });
      }
      uplink.start();
    }
    // Other kiosks' passages are kept only as long as the anti-passback reset needs them, and none
    // dated ahead of a synchronised clock.
    this.remotePurgeTimer = setInterval(() => this.remotePassages.purge(Date.now() - this.antiPassbackResetMs(), this.remoteNotAfterMs()), 60_000);
    this.remotePurgeTimer.unref();
    this.renewer?.start();
    this.retention.start();
    this.checkpointer.start();
    this.startInputs();
    try {
      this.gatekeeper.warmUp();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'warm-up of the scan path failed; the first scan may be slower');
    }
    this.publishStatus();
    this.statusTimer = setInterval(() => this.publishStatus(), 2_000);
    this.statusTimer.unref();
    this.log.info(
      {
        device: settings.device.id,
        checkpoint: settings.checkpoint.id,
        direction: settings.checkpoint.direction,
        headless: this.options.headless,
        gpio: this.gpioMode,
        scanner: settings.scanner.source,
        ...(settings.bus ? { bus: { plate: settings.bus.plate, capacity: settings.bus.capacity, routes: settings.bus.routes.length, gps: settings.gps.source } } : {}),
        hub: this.loaded.broker ? this.loaded.broker.url : 'none (standalone)',
        trustedKeys: { pass: this.keyring.count('pass'), 'phone-pass': this.keyring.count('phone-pass'), downlink: this.keyring.count('downlink') },
        roster: this.roster.count(),
        policyVersion: this.policy.get().version,
      },
      'kiosk started',
    );
    if (this.keyring.count('pass') === 0) this.log.warn('no trusted pass keys (hub.keysDir/pass/): every pass will be refused (UNKNOWN_KEY)');
    if (this.uplink && this.keyring.count('downlink') === 0) {
      this.log.warn('no trusted downlink keys (hub.keysDir/downlink/): nothing the hub sends (roster, notices, policy) will be accepted');
    }
  }

  /**
   * Stops everything, in the reverse order. Events the store still could not take are kept in RAM
   * (the runtime folder) for the next start; the result says how many, so the command can exit
   * non-zero instead of pretending all is well.
   */
  async stop(): Promise<KioskStopResult> {
    if (this.stopped) return { unwritten: 0, lost: 0 };
    this.stopped = true;
    // Each part stops on its own: one that throws is logged and the rest still stop (outputs
    // released, store closed, status cleared), and the counts of held events still come back.
    const step = async (part: string, f: () => unknown): Promise<void> => {
      try {
        await f();
      } catch (err) {
        this.log.error({ part, err: (err as Error).message }, 'a part of the kiosk failed to stop; stopping the rest');
      }
    };
    clearInterval(this.statusTimer);
    clearInterval(this.remotePurgeTimer);
    await step('renewer', () => this.renewer?.stop());
    await step('screens', () => this.screens?.stop());
    await step('screen service', () => this.screenService.stop());
    await step('scanner', () => this.scanner?.stop());
    await step('trip control', async () => (await this.control)?.close());
    await step('bus', () => this.bus?.stop());
    await step('gps', () => this.gps?.stop());
    await step('uplink', () => this.uplink?.stop());
    await step('gatekeeper', () => this.gatekeeper.stop());
    let result: KioskStopResult = { unwritten: 0, lost: 0 };
    await step('held events', () => {
      try {
        const kept = this.heldSpool.close();
        result = { unwritten: kept.kept, lost: kept.lost };
      } catch (err) {
        // Not known to be kept anywhere: counted lost, so the exit status says so.
        result = { unwritten: 0, lost: this.gatekeeper.heldCount };
        throw err;
      }
    });
    if (result.unwritten) this.log.fatal({ events: result.unwritten, keptIn: this.runtime.held }, 'events the disk could not take are kept in RAM until the next start; free disk space');
    if (result.lost) this.log.fatal({ events: result.lost }, 'events could not be written anywhere and are lost');
    await step('retention', () => this.retention.stop());
    await step('checkpointer', () => this.checkpointer.stop());
    await step('disk guard', () => this.disk.stop());
    await step('drives', () => this.drives?.stop());
    await step('input control', () => this.inputControl?.stop());
    await step('emergency input', () => this.emergency?.stop());
    await step('passage sensor', () => this.passageSensor?.stop());
    for (const input of this.inputs) await step(`input ${input.name}`, () => input.release());
    await step('outputs', () => this.signals.release());
    process.off('exit', this.exitGuard);
    try {
      this.checkpointer.checkpoint();
    } catch {
      // The next start checkpoints what is left.
    }
    await step('store', () => this.db.close());
    await step('runtime status', () => clearRuntimeStatus(this.runtime));
    this.log.info('kiosk stopped');
    return result;
  }

  /**
   * The gate is idle: no relay pulse running and no emergency hold. A restart waits for this (the
   * run loop, bounded), so an admitted person's pulse is not cut and a held gate is not closed.
   */
  idle(): boolean {
    return !this.signals.relayActive && (this.emergency?.mode ?? 'normal') === 'normal';
  }

  get settings(): Settings {
    return this.loaded.settings;
  }

  /**
   * Asks the run loop to stop this kiosk cleanly (outputs inactive, store closed, link ended) and
   * compose it again from the settings files: for what cannot change while it runs (remote settings
   * that need a restart, a renewed certificate).
   */
  requestRestart(reason: string): void {
    if (this.stopped) return;
    if (this.options.requestRestart) this.options.requestRestart(reason);
    else this.log.warn({ reason }, 'restart requested, but this kiosk runs outside the run loop: restart it by hand');
  }

  /**
   * An enrolled kiosk never enrols again from a code shown at the gate: anyone holding a rogue hub's
   * code could otherwise take a working gate over. Re-enrolment is IT's (`safegate enrol --force`).
   */
  private ignoreEnrolmentCode(): void {
    this.enrolmentCodeSeenAtMs = Date.now();
    this.log.warn('enrolment code ignored: this kiosk is enrolled already (IT re-enrols it with safegate enrol --force)');
  }

  private enrolmentView(): EnrolmentView | null {
    const at = this.enrolmentCodeSeenAtMs;
    if (at === undefined || Date.now() - at > ALREADY_ENROLLED_SHOWN_MS) return null;
    return { state: 'already-enrolled', reason: 'ALREADY_ENROLLED', deviceId: this.loaded.settings.device.id, sinceMs: at };
  }

  /** What the kiosk reports about itself (the heartbeat). */
  health(): ReturnType<typeof healthFigures> {
    return healthFigures({
      events: this.events,
      downlinkState: this.downlinkState,
      scanner: () => this.scanner?.state ?? 'stopped',
      gpio: this.gpioMode,
      policyVersion: () => this.policy.get().version,
      heldEvents: () => this.gatekeeper.heldCount,
      disk: () => this.disk.figures(),
      fleet: () => fleetFigures(this.loaded.file, Date.now()),
    });
  }

  private antiPassbackResetMs(): number {
    return this.policy.get().params.antiPassbackResetHours * 3_600_000;
  }

  /** The latest time a remote passage may carry: a little ahead of this kiosk's clock, if it is synchronised. */
  private remoteNotAfterMs(): number {
    const clock = this.gatekeeper.now();
    return clock.synced ? clock.wallMs + REMOTE_PASSAGE_MAX_AHEAD_MS : Number.POSITIVE_INFINITY;
  }

  /**
   * The passage sensor saw nobody go through after an admit this kiosk reported to the site: the
   * other kiosks take it back. The outcome event does not name its admit; it is this person's latest
   * admit here (the sensor matches admits oldest first, and a second admit of the same person within
   * one pulse is refused for anti-passback or as a repeat).
   */
  private retractAdmit(event: NewGateEvent, seq: number): void {
    const stream = this.siteStream;
    if (!stream || !event.workerId) return;
    const key = `${event.workerId} ${event.zoneId}`;
    const admitSeq = this.reportedAdmits.get(key);
    if (admitSeq === undefined || admitSeq >= seq) return;
    this.reportedAdmits.delete(key);
    stream.retract({ seq, admitSeq, atMs: event.wallMs, checkpointId: event.checkpointId, zoneId: event.zoneId, direction: event.direction, workerId: event.workerId });
  }

  /** The screens and `safegate status` both show this (one rule: base/common/hub-link.ts). */
  private linkView(): HubLinkView {
    return hubLinkView(this.uplink?.state);
  }

  private statusCert: { atMs: number; days: number | null } | undefined;

  /** What only this process knows, for `safegate status` and `safegate selftest` (in RAM: the disk may be the full one). */
  private publishStatus(): void {
    try {
      const disk = this.disk.figures();
      const now = Date.now();
      // The certificate's days left (for `safegate selftest` beside this kiosk), read again once a minute.
      if (!this.statusCert || now - this.statusCert.atMs > 60_000) this.statusCert = { atMs: now, days: this.loaded.broker ? fleetFigures(this.loaded.file, now).certDaysLeft : null };
      writeRuntimeStatus(this.runtime, {
        pid: process.pid,
        atMs: now,
        link: this.linkView(),
        heldEvents: this.gatekeeper.heldCount,
        disk,
        scanner: ['serial', 'evdev'].includes(this.loaded.settings.scanner.source) ? (this.scanner?.state ?? null) : null,
        gpio: this.gpioMode,
        linkState: this.uplink?.state ?? null,
        certDaysLeft: this.statusCert.days,
        ...(this.gps ? { gps: this.gps.view(false).state } : {}),
      });
    } catch {
      // Status is a convenience; the kiosk runs without it.
    }
  }

  /** The gate's inputs: real where the outputs are, else simulated and driven by the input control file. */
  private buildInputs(
    settings: Settings,
    clock: KioskClock,
    codeHashKey: string,
  ): { emergency: EmergencyRelease | undefined; passage: PassageConfirmation | undefined; control: InputControlWatcher | undefined } {
    const { inputs: cfg } = settings.gate;
    if (!cfg.emergency && !cfg.passage) return { emergency: undefined, passage: undefined, control: undefined };
    const chip = this.gpioMode === 'real' ? findHeaderChip(settings.gate.sysfsRoot, settings.gate.chipLabel) : undefined;
    const simulated = new Map<string, SimulatedInput>();
    const make = (name: string, c: { pin: number; activeLow: boolean }): DigitalInput => {
      let input: DigitalInput;
      if (chip) input = new OnoffInput(name, sysfsLineNumber(chip, c.pin), c.activeLow, cfg.debounceMs);
      else simulated.set(name, (input = new SimulatedInput(name, c.activeLow, cfg.debounceMs)));
      this.inputs.push(input);
      return input;
    };
    const log = this.log.child({ ns: 'gate:inputs' });
    // The inputs date their events by the kiosk's clock; one read from the GPS time says so on the
    // event, like a scan's (each event is made from the reading just before it is recorded).
    let lastReading: ClockReading | undefined;
    const inputClock = { read: (): ClockReading => (lastReading = clock.read()) };
    // Logged like a scan's event; the uplink is told at once (an emergency alert must not wait for a batch).
    const record: RecordGateEvent = (given, alert) => {
      const gpsDated = lastReading?.source === 'gps' && lastReading.wallMs === given.wallMs && lastReading.monoUs === given.monoUs;
      const event = gpsDated && given.clockSource === undefined ? { ...given, clockSource: 'gps' as const } : given;
      const seq = this.gatekeeper.recordGateEvent(event, alert);
      this.uplink?.nudge();
      if (seq !== null && event.reasons.includes('ADMITTED_NOT_PASSED')) this.retractAdmit(event, seq);
      return seq;
    };
    const context = { checkpoint: settings.checkpoint, clock: inputClock, record, log };
    const emergency = cfg.emergency
      ? new EmergencyRelease({ ...context, input: make('emergency', cfg.emergency), actuator: this.signals, policyVersion: () => this.policy.get().version, codeHashKey })
      : undefined;
    const passage = cfg.passage
      ? new PassageConfirmation({
          ...context,
          input: make('passage', cfg.passage),
          windowMs: settings.gate.relay.pulseMs + cfg.passage.graceMs,
          eventBySeq: (seq) => this.events.get(seq),
        })
      : undefined;
    const control = simulated.size
      ? new InputControlWatcher(inputControlFile(this.runtime), simulated, (reason) => log.warn({ reason }, 'input control file refused'))
      : undefined;
    return { emergency, passage, control };
  }

  private startInputs(): void {
    const passage = this.passageSensor;
    if (passage) {
      this.gatekeeper.on('passage', (p) => passage.onPassage(p));
      passage.start();
    }
    this.emergency?.start();
    // After the watchers: a file that already says "emergency on" holds the gate at once.
    this.inputControl?.start();
    if (this.inputControl) this.log.info({ file: this.inputControl.file }, 'simulated gate inputs: drive them with safegate gpio set');
  }
}

/** What enrolling with a scanned code came to (enrolDevice); each failure reason has its words on the screens (base/common EnrolFailure). */
export type { EnrolOutcome };

export interface EnrolMeOptions {
  headless: boolean;
  log?: Logger;
  /** Input for the simulated (stdin) scanner. */
  stdin?: Readable;
  onTransition?: TransitionListener;
  /** Enrols this kiosk with a scanned enrolment code (writes the enrolment folder; the run loop then composes the kiosk). */
  enrol: (codeText: string) => Promise<EnrolOutcome>;
  /**
   * The enrolment folder is there but damaged (what is wrong): the screens say so from the start, and
   * every code scanned is refused (`enrol` refuses it too: ENROLMENT_DAMAGED) until IT re-enrols at the shell.
   */
  damaged?: string;
}

/**
 * The kiosk that is not enrolled yet ("enrol me"): a scanner, the screens or the lights, and nothing
 * else: no store, no gate decisions, no hub link, the relay never touched. It waits for the
 * enrolment code IT staff bring; a scanned `SGE1:` code enrols it, and the run loop then composes
 * the kiosk proper. The lights say "enrol me" (green and red in turn, slowly); a refused code gets
 * one long beep and its reason on the screen. Anything else scanned is ignored (a long beep).
 */
export class EnrolMeKiosk extends EventEmitter<{ enrolled: [deviceId: string] }> {
  readonly log: Logger;
  readonly signals: GateSignals;
  readonly scanner: Scanner | undefined;
  readonly gpioMode: 'real' | 'simulated';
  /** The renderer API while not enrolled (the "enrol me" view). */
  readonly screenService: EnrolMeScreens;
  private view: EnrolmentView = { state: 'needed', sinceMs: Date.now() };
  private enrolling = false;
  private stopped = false;
  private readonly exitGuard = (): void => this.signals.safeState();

  constructor(
    private readonly loaded: LoadedSettings,
    private readonly options: EnrolMeOptions,
  ) {
    super();
    const { settings } = loaded;
    this.log = options.log ?? createLogger({ level: settings.log.level });
    const outputs = buildOutputs(settings, this.log, options.onTransition);
    this.gpioMode = outputs.mode;
    this.signals = new GateSignals(outputs.lines);
    this.scanner = buildScanner(settings, this.log, options.stdin);
    if (options.damaged !== undefined) this.view = { state: 'failed', reason: 'ENROLMENT_DAMAGED', sinceMs: Date.now() };
    this.screenService = new EnrolMeScreens(
      { settings, view: () => ({ ...this.view }), submitCode: (text) => this.submitCode(text) },
      this.log.child({ ns: 'screens' }),
    );
  }

  get settings(): Settings {
    return this.loaded.settings;
  }

  /** Where the screens save a supervisor's exports (none here; the launcher wants the folder all the same). */
  get exportsDir(): string {
    return join(dirname(this.loaded.paths.store), 'exports');
  }

  /** The "enrol me" view the screens show. */
  enrolmentView(): EnrolmentView {
    return { ...this.view };
  }

  start(): void {
    this.signals.safeState();
    process.on('exit', this.exitGuard);
    this.signals.showEnrolMe();
    if (this.scanner) {
      const scanLog = this.log.child({ ns: 'device:scanner' });
      this.scanner.on('line', (line) => this.submitCode(line.text));
      this.scanner.on('rejected', (r) => {
        scanLog.warn({ reason: r.reason, detail: r.detail }, 'scanner input rejected');
        this.signals.longBeep();
      });
      this.scanner.on('state', (state, detail) => scanLog.info({ state, detail }, 'scanner state'));
      this.scanner.start();
    }
    if (this.options.damaged !== undefined) {
      this.log.error(
        { problem: this.options.damaged, gpio: this.gpioMode },
        'kiosk enrolment damaged: codes scanned at the gate are refused; IT staff re-enrol it at the shell with safegate enrol --force, then restart the service',
      );
      return;
    }
    this.log.info(
      { headless: this.options.headless, gpio: this.gpioMode, scanner: this.loaded.settings.scanner.source },
      'kiosk not enrolled: waiting for an enrolment code (enrol me)',
    );
  }

  /** A scanned code (serial, stdin, or the screens' camera and keyboard wedge). Never throws. */
  submitCode(text: string): void {
    if (this.stopped) return;
    if (!isEnrolmentCode(text.trim())) {
      this.log.warn('not an enrolment code: ignored (this kiosk is not enrolled and decides no passes)');
      this.signals.longBeep();
      return;
    }
    if (this.options.damaged !== undefined) {
      this.log.warn({ problem: this.options.damaged }, 'enrolment code refused: this kiosk was enrolled and its enrolment is damaged; IT re-enrols it at the shell (safegate enrol --force)');
      this.setView({ state: 'failed', reason: 'ENROLMENT_DAMAGED' });
      this.signals.longBeep();
      return;
    }
    if (this.enrolling) {
      this.log.warn('enrolment code ignored: an enrolment is under way');
      return;
    }
    let deviceId: string | undefined;
    try {
      deviceId = parseEnrolmentCode(text).deviceId;
    } catch {
      // enrolDevice says why (CODE_INVALID); the screen shows no device id.
    }
    this.enrolling = true;
    this.setView({ state: 'enrolling', ...(deviceId ? { deviceId } : {}) });
    this.log.info({ device: deviceId }, 'enrolment code scanned: enrolling with the hub');
    void this.options
      .enrol(text.trim())
      .catch((err: unknown): EnrolOutcome => ({ ok: false, reason: 'BAD_ANSWER', message: (err as Error).message }))
      .then((outcome) => {
        this.enrolling = false;
        if (this.stopped) return;
        if (outcome.ok) {
          this.log.info({ device: outcome.deviceId }, 'enrolled with the hub');
          this.emit('enrolled', outcome.deviceId);
          return;
        }
        this.setView({ state: 'failed', reason: outcome.reason, ...(deviceId ? { deviceId } : {}) });
        this.log.warn({ reason: outcome.reason, detail: outcome.message }, 'enrolment refused; still waiting for an enrolment code');
        this.signals.longBeep();
      });
  }

  /** Stops the scanner and leaves every output inactive and free. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.scanner?.stop();
    this.signals.release();
    process.off('exit', this.exitGuard);
  }

  private setView(view: Omit<EnrolmentView, 'sinceMs'>): void {
    this.view = { ...view, sinceMs: Date.now() };
  }
}

/** The removable-drive adapter the settings pick: udisks2 (also for auto), mounted folders, or none. */
function removableDrives(rules: Settings['screens']['supervisor']): RemovableDrives | undefined {
  switch (rules.drives) {
    case 'off':
      return undefined;
    case 'folder':
      return new MountedFolderDrives(rules.drivesFolder);
    default:
      return new Udisks2Drives();
  }
}

/** The clock events are dated by: the system's, or GPS-dated on a unit with a GPS receiver. */
type KioskClock = { read(): ClockReading; readonly bootId: string };

/** The scanner the settings pick: serial, evdev (a keyboard-mode scanner's input device, grabbed), stdin (simulation) or none. */
function buildScanner(settings: Settings, log: Logger, stdin: Readable | undefined): Scanner | undefined {
  const s = settings.scanner;
  if (s.source === 'none') return undefined;
  if (s.source === 'stdin') return new StdinScanner(stdin ?? process.stdin, s.maxLineLength);
  if (s.source === 'evdev' && s.evdevPath) {
    return new EvdevScanner({ path: s.evdevPath, grab: true, maxLineLength: s.maxLineLength, layout: s.evdevLayout }, log.child({ ns: 'device:scanner' }));
  }
  return new SerialScanner({ path: s.path, usb: s.usb, baudRate: s.baudRate, suffix: s.suffix, maxLineLength: s.maxLineLength }, log.child({ ns: 'device:scanner' }));
}

/** The gate's outputs: real GPIO lines where the settings ask and the machine has them, else simulated. */
function buildOutputs(settings: Settings, log: Logger, onTransition: TransitionListener | undefined): { mode: 'real' | 'simulated'; lines: GateSignalLines } {
  const g = settings.gate;
  const gpioLog = log.child({ ns: 'device:gpio' });
  const observe: TransitionListener = (t) => {
    gpioLog.debug({ output: t.output, active: t.active, level: t.level }, 'output');
    onTransition?.(t);
  };
  let mode: 'real' | 'simulated' = g.gpio === 'simulated' ? 'simulated' : 'real';
  if (g.gpio === 'auto' && !OnoffOutput.accessible()) {
    gpioLog.warn('GPIO is not accessible here: using simulated outputs');
    mode = 'simulated';
  }
  const chip = mode === 'real' ? findHeaderChip(g.sysfsRoot, g.chipLabel) : undefined;
  const made: DigitalOutput[] = [];
  const make = (name: string, o: Settings['gate']['relay']): SignalLine => {
    const output: DigitalOutput = chip ? new OnoffOutput(name, sysfsLineNumber(chip, o.pin), o.activeLow, observe) : new SimulatedOutput(name, o.activeLow, observe);
    made.push(output);
    return { output, timing: { pulseMs: o.pulseMs, maxOnMs: o.maxOnMs } };
  };
  try {
    return {
      mode,
      lines: {
        relay: make('relay', g.relay),
        greenLight: make('greenLight', g.greenLight),
        redLight: make('redLight', g.redLight),
        buzzer: make('buzzer', g.buzzer),
      },
    };
  } catch (err) {
    // A line this chip does not have: the lines already claimed are given back.
    for (const output of made) output.release();
    throw err;
  }
}
