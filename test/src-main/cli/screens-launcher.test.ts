import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import type { LoopbackServer } from '../../../src-main/api/loopback-server.js';
import { ScreenLauncher } from '../../../src-main/cli/screens-launcher.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';

/** The screens' windows run with the browser sandbox: never started as root, exports kept private. */
describe('screen launcher', () => {
  const env = { PATH: process.env.PATH, DISPLAY: process.env.DISPLAY, ELECTRON_SKIP_BINARY_DOWNLOAD: process.env.ELECTRON_SKIP_BINARY_DOWNLOAD };
  let dir: ReturnType<typeof tempDir>;
  let launcher: ScreenLauncher | undefined;
  afterEach(async () => {
    await launcher?.stop();
    Object.assign(process.env, env);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    dir.remove();
  });

  /** A stand-in `chromium` on the PATH that records how it was started. */
  function fakeChromium(): { marker: string; server: LoopbackServer; lines: string[] } {
    dir = tempDir('safegate-launcher-');
    const bin = join(dir.path, 'bin');
    mkdirSync(bin);
    const marker = join(dir.path, 'started.txt');
    writeFileSync(join(bin, 'chromium'), `#!/bin/sh\necho "$@" > '${marker}'\nsleep 5\n`);
    chmodSync(join(bin, 'chromium'), 0o755);
    process.env.PATH = `${bin}:${process.env.PATH}`;
    process.env.DISPLAY = ':99';
    process.env.ELECTRON_SKIP_BINARY_DOWNLOAD = '1';
    const server = { screenUrl: 'http://127.0.0.1:1/#secret=s', apiUrl: 'ws://127.0.0.1:1/api', secret: 's', origin: 'http://127.0.0.1:1' } as unknown as LoopbackServer;
    return { marker, server, lines: [] };
  }

  it('as root, prints the address and why instead of starting a browser without its sandbox', async () => {
    const { marker, server, lines } = fakeChromium();
    launcher = new ScreenLauncher(server, 'auto', createLogger({ level: 'silent' }), (l) => lines.push(l), { runningAsRoot: true });
    launcher.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(marker)).toBe(false);
    expect(launcher.shown).toBe('address');
    expect(lines.join('\n')).toMatch(/running as root: .*without its sandbox/);
    expect(lines.join('\n')).toContain(server.screenUrl);
  });

  it('as an ordinary user, starts Chromium with its sandbox, and its downloads go to the private exports folder', async () => {
    const { marker, server, lines } = fakeChromium();
    const exportsDir = join(dir.path, 'exports');
    launcher = new ScreenLauncher(server, 'chromium', createLogger({ level: 'silent' }), (l) => lines.push(l), { runningAsRoot: false, exportsDir });
    launcher.start();
    const args = await waitFor(() => (existsSync(marker) ? readFileSync(marker, 'utf8') : undefined), 'chromium started');
    expect(launcher.shown).toBe('chromium');
    expect(args).not.toContain('--no-sandbox');
    expect(args).not.toContain('secret');
    const profile = /--user-data-dir=(\S+)/.exec(args)![1]!;
    const prefs = JSON.parse(readFileSync(join(profile, 'Default', 'Preferences'), 'utf8')) as { download: { default_directory: string; prompt_for_download: boolean } };
    expect(prefs.download).toMatchObject({ default_directory: exportsDir, prompt_for_download: false });
  });
});
