import type { Readable } from 'node:stream';
import { acquireInstanceLock, canonicalPath, type InstanceLock } from '../../base/node/instance-lock.js';
import { createLogger, type Logger } from '../../base/node/logger.js';
import { rendererDir } from '../../base/node/package.js';
import type { TransitionListener } from '../../device/gpio/output.js';
import type { LoopbackServer } from '../api/loopback-server.js';
import { ScreenSwitch } from '../api/enrol-me-screens.js';
import { loadSettingsForRun, type LoadedSettings, type Settings } from '../core/config.js';
import { EnrolMeKiosk, Kiosk, type EnrolOutcome, type KioskStopResult } from './kiosk.js';

export interface RunLoopOptions {
  /** Screenless unit: lights and buzzer only. */
  headless: boolean;
  /** How the run shows the screens (`safegate run --screens`), over screens.show in the settings (KioskOptions.screens). */
  screens?: Settings['screens']['show'];
  /** One logger for every composition (tests); by default each composition makes its own from its settings. */
  log?: Logger;
  /** Input for the simulated (stdin) scanner. */
  stdin?: Readable;
  onTransition?: TransitionListener;
  /** What a scanned enrolment code does; by default `enrolDevice` with this settings file. */
  enrol?: (codeText: string) => Promise<EnrolOutcome>;
  /** How long a restart waits for the gate to be idle (no relay pulse, no emergency hold) before it goes ahead (default 30 s). */
  idleWaitMs?: number;
}

/** How often a restart waiting for an idle gate looks again. */
const IDLE_POLL_MS = 50;

/** Why a composition ended. */
type Ending = { kind: 'stop'; why: string } | { kind: 'enrolled'; deviceId: string } | { kind: 'restart'; reason: string };

/**
 * `safegate run`: composes the kiosk from the settings files, and composes it again, in this process,
 * whenever that has to happen. A kiosk that is not enrolled runs as "enrol me" (EnrolMeKiosk) until
 * a scanned code enrols it; then the kiosk proper is composed. A composed kiosk may ask for a restart
 * (`Kiosk.requestRestart`: remote settings that cannot be applied live, a renewed certificate): it is
 * stopped cleanly (outputs inactive, store closed, link ended) and composed again from the files.
 * The screens keep one loopback server (and window) for the whole run: a ScreenSwitch points it at
 * whichever composition is current.
 */
export class KioskRunLoop {
  /** The composition running now (undefined between two). */
  current: Kiosk | EnrolMeKiosk | undefined;
  private ending: ((e: Ending) => void) | undefined;
  private stopWhy: string | undefined;
  private readonly screenSwitch = new ScreenSwitch();
  private screens: LoopbackServer | undefined;
  private lost = 0;
  /** Events the last composition stopped could not write (kept in RAM for the next start). */
  private unwritten = 0;
  private compositions = 0;
  private firstComposed: Promise<Kiosk | EnrolMeKiosk>;
  private resolveFirst!: (k: Kiosk | EnrolMeKiosk) => void;
  private rejectFirst!: (err: unknown) => void;
  private finished: Promise<KioskStopResult> | undefined;
  /** The settings the last kiosk that composed and started ran with (the fallback when a new composition fails). */
  private lastComposed: LoadedSettings | undefined;
  /** The instance lock on the store this run uses (base/node/instance-lock.ts). */
  private storeLock: { resource: string; lock: InstanceLock } | undefined;
  /**
   * What this run shows, fixed by the first composition as `safegate run` fixes its window (the
   * --screens option, else the first settings' screens.show): a later composition whose settings say
   * otherwise still runs behind the same window, or behind none.
   */
  private shows: Settings['screens']['show'] | undefined;

  constructor(
    private readonly configFile: string,
    private readonly options: RunLoopOptions,
  ) {
    this.firstComposed = new Promise((resolve, reject) => {
      this.resolveFirst = resolve;
      this.rejectFirst = reject;
    });
  }

  /**
   * Composes and starts the first kiosk (enrolled or "enrol me") and keeps composing until `stop()`.
   * Resolves once the first one runs; a settings file that cannot be read or is invalid rejects.
   */
  async start(): Promise<Kiosk | EnrolMeKiosk> {
    this.finished ??= this.loop();
    // The loop's own failure is reported through the first composition's promise until it runs.
    this.finished.catch((err: unknown) => this.rejectFirst(err));
    return this.firstComposed;
  }

  /** Resolves when the loop has stopped: how the last kiosk ended, and every event lost on the way. */
  async done(): Promise<KioskStopResult> {
    if (!this.finished) throw new Error('the run loop was not started');
    return this.finished;
  }

  /** Stops the current composition and the loop (SIGINT, SIGTERM, the end of a simulated scanner's input). */
  stop(why: string): void {
    this.stopWhy ??= why;
    this.ending?.({ kind: 'stop', why });
  }

  get settings(): Settings {
    if (!this.current) throw new Error('no kiosk composed');
    return this.current.settings;
  }

  /** Events lost by the compositions that have stopped so far (the exit status counts them even when the loop fails). */
  get lostEvents(): number {
    return this.lost;
  }

  get log(): Logger | undefined {
    return this.current?.log;
  }

  /**
   * Serves the screens on loopback for the rest of the run (the port and renderer of the first
   * composition's settings), whatever composition is behind them.
   */
  async startScreens(options: { rendererDir?: string } = {}): Promise<LoopbackServer> {
    if (this.screens) return this.screens;
    const current = this.current;
    if (!current) throw new Error('no kiosk composed');
    const { LoopbackServer } = await import('../api/loopback-server.js');
    const server = new LoopbackServer(
      this.screenSwitch,
      { rendererDir: options.rendererDir ?? rendererDir(), port: current.settings.screens.port },
      current.log.child({ ns: 'screens' }),
    );
    await server.start();
    this.screens = server;
    return server;
  }

  private async loop(): Promise<KioskStopResult> {
    try {
      for (;;) {
        // A stop that came while the last composition was stopping: nothing more is composed.
        if (this.compositions > 0 && this.stopWhy !== undefined) return { unwritten: this.unwritten, lost: this.lost };
        const forRun = loadSettingsForRun(this.configFile);
        this.shows ??= this.options.headless ? 'none' : (this.options.screens ?? forRun.loaded.settings.screens.show);
        const log = this.options.log ?? createLogger({ level: forRun.loaded.settings.log.level });
        // One kiosk per store: a second `safegate run` on the same settings would drive the same relay and write the same sequence.
        await this.lockStore(forRun.loaded.paths.store);
        for (const problem of forRun.loaded.layers?.ignored ?? []) log.error({ problem }, 'settings layer left out');
        let result: KioskStopResult = { unwritten: 0, lost: 0 };
        let ending: Ending;
        if (forRun.kind === 'not-enrolled') {
          if (forRun.damaged === undefined) log.info({ reason: forRun.reason }, 'not enrolled');
          else log.error({ problem: forRun.damaged, dir: forRun.enrolmentDir }, 'enrolment damaged: codes scanned at the gate are refused; IT staff re-enrol this kiosk at the shell with safegate enrol --force');
          const enrolMe = new EnrolMeKiosk(forRun.loaded, {
            headless: this.options.headless,
            log,
            stdin: this.options.stdin,
            onTransition: this.options.onTransition,
            enrol: this.enrolWith(forRun.loaded),
            damaged: forRun.damaged,
          });
          ending = await this.runComposition(enrolMe, () => {
            enrolMe.on('enrolled', (deviceId) => this.ending?.({ kind: 'enrolled', deviceId }));
            this.screenSwitch.use(enrolMe.screenService);
          });
          this.screenSwitch.use(undefined);
          await enrolMe.stop();
        } else {
          const kiosk = await this.composeKiosk(forRun.loaded, log);
          ending = await this.runComposition(
            kiosk,
            () => {
              kiosk.screenService.start();
              this.screenSwitch.use(kiosk.screenService);
            },
            { started: true },
          );
          if (ending.kind === 'restart') await this.untilIdle(kiosk, log);
          this.screenSwitch.use(undefined);
          result = await kiosk.stop();
        }
        this.current = undefined;
        this.lost += result.lost;
        this.unwritten = result.unwritten;
        if (ending.kind === 'stop') return { unwritten: result.unwritten, lost: this.lost };
        if (ending.kind === 'enrolled') log.info({ device: ending.deviceId }, 'enrolled: composing the kiosk');
        else log.info({ reason: ending.reason }, 'restarting the kiosk: composing it again from the settings files');
      }
    } finally {
      await this.screens?.stop();
      this.screens = undefined;
      await this.storeLock?.lock.release();
      this.storeLock = undefined;
    }
  }

  /** Holds the instance lock on the store for the rest of the run (taken anew if new settings name another store). */
  private async lockStore(storePath: string): Promise<void> {
    const resource = canonicalPath(storePath);
    if (this.storeLock?.resource === resource) return;
    const lock = await acquireInstanceLock('kiosk', resource);
    await this.storeLock?.lock.release();
    this.storeLock = { resource, lock };
  }

  /**
   * Composes and starts the kiosk. Settings that pass the schema may still be ones this box cannot
   * run with (a GPIO chip or line it does not have, ...): when the settings that failed carry a
   * remote document newer than the last one that composed, that version is recorded refused with
   * the error (the heartbeat says so and the hub can send a fix) and set aside, and the kiosk is
   * composed from the last settings that composed in this process, else from the files without that
   * document. Only a failure with no remote document left to drop ends the run.
   */
  private async composeKiosk(loaded: LoadedSettings, log: Logger): Promise<Kiosk> {
    let settings = loaded;
    for (;;) {
      try {
        const kiosk = await this.startKiosk(settings, log);
        this.lastComposed = settings;
        return kiosk;
      } catch (err) {
        const remote = remoteVersionOf(settings);
        const composedRemote = this.lastComposed ? remoteVersionOf(this.lastComposed) : null;
        const dir = settings.enrolmentDir;
        if (remote === null || (composedRemote !== null && remote <= composedRemote) || dir === undefined) throw err;
        const problem = (err as Error).message;
        log.error({ version: remote, problem }, 'the kiosk cannot run with the remote settings: that version is refused, composing it from the last settings that ran');
        const { refuseComposedRemoteSettings } = await import('../core/enrolment/remote-settings.js');
        refuseComposedRemoteSettings(dir, remote, problem, Date.now());
        const reloaded = this.lastComposed ? undefined : loadSettingsForRun(this.configFile);
        const fallback = this.lastComposed ?? (reloaded?.kind === 'ready' ? reloaded.loaded : undefined);
        // The fallback carries no remote layer as new as the one refused (else: the same failure again).
        if (!fallback || (remoteVersionOf(fallback) ?? 0) >= remote) throw err;
        settings = fallback;
      }
    }
  }

  /** A new kiosk, started; one whose start fails is stopped again (nothing left open) and the error thrown. */
  private async startKiosk(loaded: LoadedSettings, log: Logger): Promise<Kiosk> {
    const kiosk = new Kiosk(loaded, {
      headless: this.options.headless,
      ...(this.shows ? { screens: this.shows } : {}),
      log,
      stdin: this.options.stdin,
      onTransition: this.options.onTransition,
      requestRestart: (reason) => this.ending?.({ kind: 'restart', reason }),
    });
    try {
      kiosk.start();
    } catch (err) {
      await kiosk.stop().catch(() => undefined);
      throw err;
    }
    return kiosk;
  }

  /**
   * A restart waits for the gate to be idle: an admitted person's relay pulse runs to its end and an
   * emergency hold is not dropped for a recompose. Bounded (idleWaitMs); a stop cuts the wait short.
   */
  private async untilIdle(kiosk: Kiosk, log: Logger): Promise<void> {
    const deadline = Date.now() + (this.options.idleWaitMs ?? 30_000);
    if (kiosk.idle()) return;
    log.info('restart waits for the gate to be idle (relay pulse or emergency hold)');
    while (!kiosk.idle() && this.stopWhy === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, IDLE_POLL_MS));
    if (!kiosk.idle() && this.stopWhy === undefined) log.warn('the gate is still not idle: restarting anyway');
  }

  /** Starts one composition and waits for what ends it. */
  private async runComposition(composed: Kiosk | EnrolMeKiosk, wire: () => void, o: { started?: boolean } = {}): Promise<Ending> {
    const ended = new Promise<Ending>((resolve) => {
      let settled = false;
      this.ending = (e) => {
        if (settled) return;
        settled = true;
        this.ending = undefined;
        resolve(e);
      };
    });
    this.current = composed;
    this.compositions++;
    wire();
    if (!o.started) composed.start();
    // A simulated (stdin) scanner whose input ended stops the run, as it always has.
    const scanner = composed.scanner;
    if (scanner?.source === 'stdin') {
      if (scanner.state === 'stopped') this.stop('input ended');
      scanner.on('state', (state, detail) => {
        if (state === 'stopped' && detail === 'input ended') this.stop(detail);
      });
    }
    if (this.compositions === 1) this.resolveFirst(composed);
    if (this.stopWhy !== undefined) this.ending?.({ kind: 'stop', why: this.stopWhy });
    return ended;
  }

  private enrolWith(loaded: LoadedSettings): (codeText: string) => Promise<EnrolOutcome> {
    if (this.options.enrol) return this.options.enrol;
    return async (codeText) => {
      // Loaded here: an enrolled kiosk never carries the enrolment client.
      const { enrolDevice } = await import('../core/enrolment/index.js');
      return enrolDevice(codeText, { settingsFile: loaded.file });
    };
  }
}

/** The version of the remote settings document laid into these settings (null: none). */
function remoteVersionOf(loaded: LoadedSettings): number | null {
  return loaded.layers?.applied.find((l) => l.layer === 'remote')?.version ?? null;
}
