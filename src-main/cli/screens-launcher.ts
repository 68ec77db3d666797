import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { LoopbackServer } from '../api/loopback-server.js';
import { packageRoot } from '../../base/node/package.js';
import { writePrivateFile } from '../../base/node/private-files.js';

/**
 * Set by the packaged safegate.service (SAFEGATE_SCREENS_PUBLISH=/run/safegate): the folder where the
 * kiosk publishes this run's screens address for the display unit (safegate-kiosk.service, the same user).
 */
export const SCREENS_PUBLISH_ENV = 'SAFEGATE_SCREENS_PUBLISH';

export type ScreenMode = 'auto' | 'electron' | 'chromium' | 'address' | 'none';

/**
 * The Electron binary. The electron package fetches it on first use (from GitHub, outside the npm
 * registry); that runs in a child process so a failed download is one log line, not a stack trace.
 * Never attempted when ELECTRON_SKIP_BINARY_DOWNLOAD=1.
 */
export function findElectron(log?: Logger): string | undefined {
  if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD === '1') return undefined;
  let entry: string;
  try {
    entry = createRequire(join(packageRoot(), 'package.json')).resolve('electron');
  } catch {
    return undefined;
  }
  const probe = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(entry)}))`], { encoding: 'utf8', timeout: 600_000 });
  const path = probe.status === 0 ? probe.stdout.trim() : '';
  if (path && existsSync(path)) return path;
  log?.warn({ detail: (probe.stderr || probe.stdout || '').split('\n').find((l) => /error/i.test(l))?.slice(0, 200) }, 'the Electron binary is not available (not downloaded and cannot be fetched)');
  return undefined;
}

export function findChromium(): string | undefined {
  const names = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const n of names) if (dir && existsSync(join(dir, n))) return join(dir, n);
  }
  return undefined;
}

/** Chromium flags for an unattended kiosk. Never --no-sandbox: the launcher does not start a browser as root. */
export function chromiumKioskArgs(launchFile: string, profileDir: string, opts: { kiosk: boolean }): string[] {
  const args = [
    `--app=file://${launchFile}`,
    `--user-data-dir=${profileDir}`,
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-translate',
    '--autoplay-policy=no-user-gesture-required',
    // The kiosk's own page asks for the camera; there is nobody to click "Allow".
    '--use-fake-ui-for-media-stream',
    '--noerrdialogs',
    '--disable-session-crashed-bubble',
  ];
  if (opts.kiosk) args.push('--kiosk');
  return args;
}

/**
 * Shows the screens the way the settings ask: the Electron window, Chromium in app/kiosk mode over
 * the loopback transport, or just the address. A window that exits is started again (backing off),
 * while the core keeps deciding scans. The secret never appears on a command line: Electron reads
 * it on stdin, Chromium opens a private (0600) launch page that forwards to the address.
 */
export class ScreenLauncher {
  private child: ChildProcess | undefined;
  private stopped = false;
  private restarts: number[] = [];
  private profileDir: string | undefined;
  private published: string[] = [];
  shown: 'electron' | 'chromium' | 'address' | 'none' = 'none';

  constructor(
    private readonly server: LoopbackServer,
    private readonly mode: ScreenMode,
    private readonly log: Logger,
    private readonly print: (line: string) => void = (l) => process.stdout.write(l + '\n'),
    private readonly options: {
      /** Where a window saves the supervisor's exports (the kiosk's private folder, purged after a day). */
      exportsDir?: string;
      /** Whether this process runs as root (the process's own uid by default). */
      runningAsRoot?: boolean;
    } = {},
  ) {}

  start(): void {
    this.publish();
    if (this.mode === 'none') return;
    if (this.mode !== 'address' && (this.options.runningAsRoot ?? process.getuid?.() === 0)) {
      // A browser or the Electron shell run as root can only run without its sandbox, and the
      // screens take input from anyone at the gate: never. The service user is the fleet issue's job.
      const why = 'running as root: the screens are not opened in a window (a browser as root would have to run without its sandbox); run the kiosk as an unprivileged user, or open the address below';
      this.log.warn(why);
      this.print(`Screens: ${why}.`);
      return this.printAddress();
    }
    if (this.mode !== 'address' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
      this.log.info('no graphical session here (neither DISPLAY nor WAYLAND_DISPLAY is set): printing the address instead of opening a window');
      return this.printAddress();
    }
    const electron = this.mode === 'auto' || this.mode === 'electron' ? findElectron(this.log) : undefined;
    if (electron) return this.launch('electron', electron);
    if (this.mode === 'electron') this.log.warn('the Electron binary is not available here; trying Chromium');
    const chromium = this.mode !== 'address' ? findChromium() : undefined;
    if (chromium) return this.launch('chromium', chromium);
    this.printAddress();
  }

  /**
   * With SAFEGATE_SCREENS_PUBLISH=DIR, whatever the mode: DIR/screens.html, a launch page a browser
   * opens as file:// (so the secret is never on a command line), and DIR/screens.json (screenUrl,
   * apiUrl, secret, exportsDir: what the Electron shell reads on stdin). Both 0600 in a checked 0700
   * folder, replaced atomically each run (a display unit watching them reopens the new address) and
   * removed at stop.
   */
  private publish(): void {
    const dir = process.env[SCREENS_PUBLISH_ENV];
    if (!dir) return;
    try {
      const page = join(dir, 'screens.html');
      const info = join(dir, 'screens.json');
      writePrivateFile(info, JSON.stringify({ pid: process.pid, screenUrl: this.server.screenUrl, apiUrl: this.server.apiUrl, secret: this.server.secret, exportsDir: this.options.exportsDir ?? null }) + '\n');
      writePrivateFile(page, `<!doctype html><meta http-equiv="refresh" content="0;url=${this.server.screenUrl.replace(/"/g, '')}">`);
      this.published = [page, info];
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, `could not publish the screens address in ${dir} for the display unit`);
    }
  }

  private printAddress(): void {
    this.shown = 'address';
    if (this.published.length) {
      // Published for the display unit: the secret stays out of the log (the journal).
      this.print(`Screens: address published in ${dirname(this.published[0]!)} for the display unit (safegate-kiosk.service).`);
      return;
    }
    this.print(`Screens: open ${this.server.screenUrl} in a browser on this machine (the address carries this run's secret).`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const f of this.published) rmSync(f, { force: true });
    const child = this.child;
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
    }
    if (this.profileDir) rmSync(this.profileDir, { recursive: true, force: true });
  }

  private launch(kind: 'electron' | 'chromium', binary: string): void {
    this.shown = kind;
    let child: ChildProcess;
    if (kind === 'electron') {
      const main = join(packageRoot(), 'build', 'src-main', 'shell', 'main.js');
      child = spawn(binary, [main], { stdio: ['pipe', 'inherit', 'inherit'] });
      // The pipe stays open: when this process ends, however it ends, the shell sees its stdin close and quits.
      child.stdin?.write(JSON.stringify({ url: this.server.apiUrl, secret: this.server.secret, exportsDir: this.options.exportsDir }) + '\n');
      child.stdin?.on('error', () => undefined);
    } else {
      this.profileDir ??= mkdtempSync(join(tmpdir(), 'safegate-screens-'));
      mkdirSync(this.profileDir, { recursive: true, mode: 0o700 });
      const launchFile = join(this.profileDir, 'launch.html');
      // Exports land in the kiosk's private folder, never in a Downloads folder where they would stay.
      if (this.options.exportsDir) {
        mkdirSync(join(this.profileDir, 'profile', 'Default'), { recursive: true, mode: 0o700 });
        writeFileSync(
          join(this.profileDir, 'profile', 'Default', 'Preferences'),
          JSON.stringify({ download: { default_directory: this.options.exportsDir, prompt_for_download: false, directory_upgrade: true }, savefile: { default_directory: this.options.exportsDir } }),
          { mode: 0o600 },
        );
      }
      const target = this.server.screenUrl.replace(/"/g, '');
      writeFileSync(launchFile, `<!doctype html><meta http-equiv="refresh" content="0;url=${target}">`, { mode: 0o600 });
      child = spawn(binary, chromiumKioskArgs(launchFile, join(this.profileDir, 'profile'), { kiosk: process.env.SAFEGATE_WINDOWED !== '1' }), {
        stdio: ['ignore', 'ignore', 'ignore'],
      });
    }
    this.child = child;
    this.print(`Screens: ${kind} window started (${binary}).`);
    child.on('error', (err) => this.log.error({ err: err.message }, `${kind} could not start`));
    child.on('exit', (code, signal) => {
      if (this.stopped) return;
      const now = Date.now();
      this.restarts = [...this.restarts.filter((t) => now - t < 300_000), now];
      const delay = Math.min(1_000 * 2 ** (this.restarts.length - 1), 60_000);
      this.log.warn({ code, signal, restartInMs: delay }, `${kind} window exited; starting it again`);
      setTimeout(() => {
        if (!this.stopped) this.launch(kind, binary);
      }, delay);
    });
  }
}
