/**
 * Everything security-relevant about the kiosk window, as plain functions and data so tests check
 * them without Electron (only types come from 'electron' here). main.ts applies them.
 */
import type { BrowserWindowConstructorOptions } from 'electron';
import { isAbsolute, join, normalize, relative } from 'node:path';

/** The screens load from this privileged scheme (files from build/renderer), never file:// or http://. */
export const APP_SCHEME = 'safegate';
export const APP_ORIGIN = `${APP_SCHEME}://app`;
export const APP_START_URL = `${APP_ORIGIN}/index.html`;

/**
 * Creates the kiosk window with `BrowserWindow` passed in (tests pass a recorder; main.ts passes
 * Electron's). The options are one literal so a reader, and electronegativity, see every setting.
 */
export function createKioskWindow<W>(BrowserWindow: new (options: BrowserWindowConstructorOptions) => W, opts: { windowed?: boolean } = {}): W {
  const windowed = opts.windowed ?? false;
  return new BrowserWindow({
    width: 1024,
    height: 600,
    kiosk: !windowed,
    fullscreen: !windowed,
    autoHideMenuBar: true,
    backgroundColor: '#f6f7f9',
    show: false,
    title: 'SafeGate',
    // The preload is registered on the session for the app's own URLs only (preloadRegistration).
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      // Middle-click (auxclick) could open links in new windows; the kiosk has no use for it.
      disableBlinkFeatures: 'Auxclick',
      safeDialogs: true,
      spellcheck: false,
      devTools: false,
      autoplayPolicy: 'no-user-gesture-required',
      backgroundThrottling: false,
    },
  });
}

/**
 * The bridge preload runs only in the app's own pages (a page that somehow navigated elsewhere gets
 * no bridge), registered on the session rather than per window.
 */
export function preloadRegistration(preloadPath: string): { id: string; type: 'frame'; filePath: string; matches: string[] } {
  return { id: 'safegate-bridge', type: 'frame', filePath: preloadPath, matches: [`${APP_ORIGIN}/*`] };
}

/** True only for the kiosk's own pages. */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === 'app' && !u.username && !u.password;
  } catch {
    return false;
  }
}

/** Navigation anywhere but the app itself is refused (a kiosk has no address bar and no links out). */
export function allowNavigation(url: string): boolean {
  return isAppUrl(url);
}

/** The only permission the screens ever get: the camera (video only), for the app's own page. */
export function allowPermission(permission: string, requestingUrl: string, mediaTypes: readonly string[] | undefined): boolean {
  if (!isAppUrl(requestingUrl)) return false;
  if (permission !== 'media') return false;
  return (mediaTypes ?? []).length > 0 && (mediaTypes ?? []).every((t) => t === 'video');
}

/** Synchronous permission checks (enumerating devices, etc.): again only media, only for the app. */
export function allowPermissionCheck(permission: string, requestingOrigin: string): boolean {
  return permission === 'media' && isAppUrl(requestingOrigin + '/');
}

/** Maps an app URL to a file inside the renderer folder, or undefined (outside it, or malformed). */
export function rendererFileFor(url: string, rendererDir: string): string | undefined {
  if (!isAppUrl(url)) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
  const file = normalize(join(rendererDir, path === '/' ? 'index.html' : path));
  const rel = relative(rendererDir, file);
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return file;
}

/**
 * Chromium switches for the Raspberry Pi OS desktop: under Wayland (Bookworm's default) Electron
 * must pick the Ozone/Wayland backend itself; without it the window opens through XWayland
 * (blurry, no touch) or not at all.
 */
export function platformSwitches(env: Record<string, string | undefined>): [string, string?][] {
  const switches: [string, string?][] = [['disable-features', 'Translate,MediaRouter,HardwareMediaKeyHandling']];
  if (env.WAYLAND_DISPLAY || env.XDG_SESSION_TYPE === 'wayland') {
    switches.push(['ozone-platform-hint', 'auto'], ['enable-features', 'UseOzonePlatform,WaylandWindowDecorations'], ['enable-wayland-ime']);
  }
  return switches;
}

export type RecoveryStep = { action: 'reload'; afterMs: number } | { action: 'relaunch' };

/**
 * What to do after the renderer crashed or hung: reload, backing off, and if it keeps failing
 * (5 times within 2 minutes) end the shell, which the core starts again (the core keeps running
 * meanwhile; the gate keeps deciding scans from the serial scanner).
 */
export function recoveryStep(recentFailuresMs: readonly number[], nowMs: number): RecoveryStep {
  const recent = recentFailuresMs.filter((t) => nowMs - t < 120_000).length;
  if (recent >= 5) return { action: 'relaunch' };
  return { action: 'reload', afterMs: Math.min(500 * 2 ** Math.max(0, recent - 1), 8_000) };
}

/** A renderer that stops answering for this long is treated as crashed. */
export const UNRESPONSIVE_GRACE_MS = 10_000;
