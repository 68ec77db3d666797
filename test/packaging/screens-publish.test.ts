import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../base/node/logger.js';
import type { LoopbackServer } from '../../src-main/api/loopback-server.js';
import { SCREENS_PUBLISH_ENV, ScreenLauncher } from '../../src-main/cli/screens-launcher.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * How the display unit (safegate-kiosk.service) finds the core's screens: the core publishes each
 * run's address in its runtime folder, and packaging/bin/safegate-screens opens it and reopens it
 * when the core restarts.
 */
describe('screens address for the display unit', () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let launcher: ScreenLauncher | undefined;
  let helper: ChildProcess | undefined;
  afterEach(async () => {
    await launcher?.stop();
    launcher = undefined;
    if (helper && helper.exitCode === null) {
      helper.kill('SIGKILL');
    }
    helper = undefined;
    delete process.env[SCREENS_PUBLISH_ENV];
    dir?.remove();
  });

  const server = (port: number, secret: string) =>
    ({ screenUrl: `http://127.0.0.1:${port}/#secret=${secret}`, apiUrl: `ws://127.0.0.1:${port}/api`, secret, origin: `http://127.0.0.1:${port}` }) as unknown as LoopbackServer;

  it('the kiosk publishes the launch page and the address (0600, in a 0700 folder) whatever shows the screens, and removes them at stop', async () => {
    dir = tempDir('safegate-publish-');
    const run = join(dir.path, 'run');
    process.env[SCREENS_PUBLISH_ENV] = run;
    launcher = new ScreenLauncher(server(4711, 'sekrit'), 'address', createLogger({ level: 'silent' }), () => undefined, { exportsDir: '/var/lib/safegate/exports' });
    launcher.start();
    const page = join(run, 'screens.html');
    const info = join(run, 'screens.json');
    expect(readFileSync(page, 'utf8')).toBe('<!doctype html><meta http-equiv="refresh" content="0;url=http://127.0.0.1:4711/#secret=sekrit">');
    expect(JSON.parse(readFileSync(info, 'utf8'))).toEqual({ pid: process.pid, screenUrl: 'http://127.0.0.1:4711/#secret=sekrit', apiUrl: 'ws://127.0.0.1:4711/api', secret: 'sekrit', exportsDir: '/var/lib/safegate/exports' });
    expect(statSync(page).mode & 0o777).toBe(0o600);
    expect(statSync(info).mode & 0o777).toBe(0o600);
    expect(statSync(run).mode & 0o777).toBe(0o700);
    await launcher.stop();
    launcher = undefined;
    expect([existsSync(page), existsSync(info)]).toEqual([false, false]);
  });

  it('in address mode the address goes to the display unit, not into the log', () => {
    dir = tempDir('safegate-publish-');
    process.env[SCREENS_PUBLISH_ENV] = join(dir.path, 'run');
    const lines: string[] = [];
    launcher = new ScreenLauncher(server(4711, 'sekrit'), 'address', createLogger({ level: 'silent' }), (l) => lines.push(l));
    launcher.start();
    expect(lines).toEqual([`Screens: address published in ${join(dir.path, 'run')} for the display unit (safegate-kiosk.service).`]);
    expect(existsSync(join(dir.path, 'run', 'screens.html'))).toBe(true);
  });

  it('without the variable nothing is written', () => {
    dir = tempDir('safegate-publish-');
    const lines: string[] = [];
    launcher = new ScreenLauncher(server(1, 's'), 'address', createLogger({ level: 'silent' }), (l) => lines.push(l));
    launcher.start();
    expect(existsSync(join(dir.path, 'run'))).toBe(false);
    expect(lines).toEqual(['Screens: open http://127.0.0.1:1/#secret=s in a browser on this machine (the address carries this run\'s secret).']);
  });

  it('safegate-screens opens the published page in a kiosk browser and reopens it when the core publishes a new run', async () => {
    dir = tempDir('safegate-screens-');
    const run = join(dir.path, 'run');
    const bin = join(dir.path, 'bin');
    mkdirSync(bin);
    const starts = join(dir.path, 'starts.txt');
    // A stand-in chromium that records each start and stays up like a browser.
    writeFileSync(join(bin, 'chromium'), `#!/bin/sh\necho "$@" >> '${starts}'\nexec sleep 60\n`);
    chmodSync(join(bin, 'chromium'), 0o755);
    process.env[SCREENS_PUBLISH_ENV] = run;
    launcher = new ScreenLauncher(server(4711, 'first'), 'address', createLogger({ level: 'silent' }), () => undefined);
    launcher.start();

    helper = spawn(join(repo, 'packaging', 'bin', 'safegate-screens'), [], {
      env: { PATH: `${bin}:${process.env.PATH}`, SAFEGATE_SCREENS_PUBLISH: run, SAFEGATE_ELECTRON: join(dir.path, 'no-electron'), SAFEGATE_SCREENS_PROFILE: join(dir.path, 'profile') },
      stdio: 'ignore',
    });
    const lines = () => (existsSync(starts) ? readFileSync(starts, 'utf8').trim().split('\n') : []);
    await waitFor(() => (lines().length === 1 ? true : undefined), 'the browser started', 10_000);
    expect(lines()[0]).toContain(`--kiosk --app=file://${run}/screens.html --user-data-dir=${join(dir.path, 'profile')}`);
    expect(lines()[0]).not.toContain('secret');

    // The core restarts: a new run publishes a new address; the window is reopened on it.
    await launcher.stop();
    launcher = new ScreenLauncher(server(4712, 'second'), 'address', createLogger({ level: 'silent' }), () => undefined);
    launcher.start();
    await waitFor(() => (lines().length === 2 ? true : undefined), 'the browser started again on the new address', 15_000);
    expect(readFileSync(join(run, 'screens.html'), 'utf8')).toContain('4712/#secret=second');

    helper.kill('SIGTERM');
    await waitFor(() => (helper?.exitCode !== null ? true : undefined), 'safegate-screens exited', 10_000);
    expect(helper.exitCode).toBe(0);
  }, 60_000);
});
