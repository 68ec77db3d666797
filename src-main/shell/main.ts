/**
 * The Electron shell: one kiosk window, nothing else. The kiosk core runs as its own Node process
 * (it owns the database, devices and sync, and keeps deciding scans if this window dies); this
 * shell shows the screens and relays the renderer API to the core over the loopback transport.
 * The core starts the shell and writes `{ "url": ..., "secret": ... }` as one line on its stdin,
 * and keeps that pipe open for as long as it runs.
 */
import { app, BrowserWindow, ipcMain, protocol, session, type WebContents } from 'electron';
import { readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL } from '../api/errors.js';
import { createCallHandler } from '../api/ipc.js';
import { createRelay, relayEvents } from '../api/relay.js';
import { CONTENT_TYPES, SECURITY_HEADERS } from '../api/security.js';
import { WireClient, type WebSocketClass } from '../api/wire-client.js';
import {
  APP_SCHEME,
  APP_START_URL,
  UNRESPONSIVE_GRACE_MS,
  allowNavigation,
  allowPermission,
  allowPermissionCheck,
  isAppUrl,
  createKioskWindow,
  preloadRegistration,
  platformSwitches,
  recoveryStep,
  rendererFileFor,
} from './window-config.js';

const here = dirname(fileURLToPath(import.meta.url));
const rendererDir = process.env.SAFEGATE_RENDERER_DIR ?? join(here, '..', '..', 'renderer');
const preloadPath = join(here, 'preload.cjs');

for (const [name, value] of platformSwitches(process.env)) app.commandLine.appendSwitch(name, value);
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } }]);

/**
 * The first line on stdin is the core's address; the pipe then stays open, and its end means the
 * core has gone (even killed outright), so the shell quits rather than linger as an orphan.
 */
async function readCoreAddress(): Promise<{ url: string; secret: string; exportsDir: string | undefined }> {
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl >= 0) {
        process.stdin.off('data', onData);
        resolve(buffered.slice(0, nl));
      } else if (buffered.length > 4096) reject(new Error('the core sent no valid loopback address'));
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', () => reject(new Error('the core closed stdin before sending its address')));
  });
  process.stdin.once('end', () => app.quit());
  process.stdin.resume();
  const parsed = JSON.parse(line) as { url?: unknown; secret?: unknown; exportsDir?: unknown };
  if (typeof parsed.url !== 'string' || !parsed.url.startsWith('ws://127.0.0.1:') || typeof parsed.secret !== 'string') {
    throw new Error('the core sent no valid loopback address');
  }
  return { url: parsed.url, secret: parsed.secret, exportsDir: typeof parsed.exportsDir === 'string' && isAbsolute(parsed.exportsDir) ? parsed.exportsDir : undefined };
}

function harden(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!allowNavigation(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!allowNavigation(url)) event.preventDefault();
  });
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

async function main(): Promise<void> {
  const core = await readCoreAddress();
  await app.whenReady();

  const client = new WireClient({ url: core.url, secret: core.secret, WebSocket: WebSocket as unknown as WebSocketClass });
  await client.connect();

  const ses = session.defaultSession;
  ses.registerPreloadScript(preloadRegistration(preloadPath));
  ses.setPermissionRequestHandler((contents, permission, callback, details) => {
    const mediaTypes = 'mediaTypes' in details ? details.mediaTypes : undefined;
    callback(allowPermission(permission, details.requestingUrl ?? contents.getURL(), mediaTypes));
  });
  ses.setPermissionCheckHandler((_contents, permission, requestingOrigin) => allowPermissionCheck(permission, requestingOrigin));
  ses.on('will-download', (event, item) => {
    // Exports go, without a dialog (a kiosk has no file chooser), to the kiosk's private exports
    // folder, which the core purges after a day; never to a Downloads folder where they would stay.
    if (!core.exportsDir) return event.preventDefault();
    mkdirSync(core.exportsDir, { recursive: true, mode: 0o700 });
    item.setSavePath(join(core.exportsDir, basename(item.getFilename())));
  });

  protocol.handle(APP_SCHEME, async (request) => {
    const file = rendererFileFor(request.url, rendererDir);
    const type = file ? CONTENT_TYPES[extname(file)] : undefined;
    if (!file || !type) return new Response('not found', { status: 404, headers: SECURITY_HEADERS });
    try {
      return new Response(await readFile(file), { headers: { ...SECURITY_HEADERS, 'Content-Type': type } });
    } catch {
      return new Response('not found', { status: 404, headers: SECURITY_HEADERS });
    }
  });

  app.on('web-contents-created', (_event, contents) => harden(contents));
  ipcMain.handle(IPC_CALL_CHANNEL, createCallHandler(createRelay(client), isAppUrl));

  const failures: number[] = [];
  const win = createKioskWindow(BrowserWindow, { windowed: process.env.SAFEGATE_WINDOWED === '1' });
  const recover = (why: string): void => {
    failures.push(Date.now());
    const step = recoveryStep(failures, Date.now());
    console.error(`screens: renderer ${why}; ${step.action}`);
    // Relaunching is the core's job: it starts the shell again (with back-off) and hands it the address.
    if (step.action === 'relaunch') app.exit(1);
    else setTimeout(() => void win.loadURL(APP_START_URL), step.afterMs);
  };
  win.webContents.on('render-process-gone', (_e, details) => recover(`gone (${details.reason})`));
  let hangTimer: NodeJS.Timeout | undefined;
  win.on('unresponsive', () => {
    hangTimer = setTimeout(() => {
      win.webContents.forcefullyCrashRenderer();
      recover('hung');
    }, UNRESPONSIVE_GRACE_MS);
  });
  win.on('responsive', () => clearTimeout(hangTimer));
  relayEvents(client, (event, payload) => {
    if (!win.isDestroyed()) win.webContents.send(IPC_EVENT_CHANNEL, event, payload);
  });
  win.once('ready-to-show', () => win.show());
  await win.loadURL(APP_START_URL);
  app.on('window-all-closed', () => app.quit());
}

main().catch((err: unknown) => {
  console.error('SafeGate shell failed to start:', err);
  app.exit(1);
});
