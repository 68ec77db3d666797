import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserWindowConstructorOptions } from 'electron';
import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../../src-main/api/security.js';
import {
  APP_START_URL,
  allowNavigation,
  allowPermission,
  allowPermissionCheck,
  createKioskWindow,
  isAppUrl,
  platformSwitches,
  preloadRegistration,
  recoveryStep,
  rendererFileFor,
} from '../../../src-main/shell/window-config.js';

class RecordingWindow {
  static last: BrowserWindowConstructorOptions | undefined;
  constructor(options: BrowserWindowConstructorOptions) {
    RecordingWindow.last = options;
  }
}

describe('the kiosk window (Electron security checklist)', () => {
  it('is created isolated, sandboxed, without Node, web security on, no devtools, webviews or auxclick', () => {
    createKioskWindow(RecordingWindow);
    const o = RecordingWindow.last!;
    expect(o.kiosk).toBe(true);
    expect(o.fullscreen).toBe(true);
    expect(o.webPreferences).toMatchObject({
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
      disableBlinkFeatures: 'Auxclick',
      devTools: false,
    });
    expect(o.webPreferences).not.toHaveProperty('preload');
    createKioskWindow(RecordingWindow, { windowed: true });
    expect(RecordingWindow.last!.kiosk).toBe(false);
    expect(RecordingWindow.last!.webPreferences?.sandbox).toBe(true);
  });

  it('registers the bridge preload for the app origin only', () => {
    expect(preloadRegistration('/opt/safegate/preload.cjs')).toEqual({ id: 'safegate-bridge', type: 'frame', filePath: '/opt/safegate/preload.cjs', matches: ['safegate://app/*'] });
  });

  it('allows navigation only within the app', () => {
    expect(allowNavigation(APP_START_URL)).toBe(true);
    expect(allowNavigation('safegate://app/other.html#x')).toBe(true);
    for (const url of ['https://example.com/', 'http://127.0.0.1:8080/', 'file:///etc/passwd', 'safegate://evil/index.html', 'safegate://user:pw@app/', 'javascript:alert(1)', 'not a url']) {
      expect(allowNavigation(url), url).toBe(false);
    }
  });

  it('grants only the camera (video), only to the app, and refuses every other permission', () => {
    expect(allowPermission('media', APP_START_URL, ['video'])).toBe(true);
    expect(allowPermission('media', APP_START_URL, ['video', 'audio'])).toBe(false);
    expect(allowPermission('media', APP_START_URL, ['audio'])).toBe(false);
    expect(allowPermission('media', APP_START_URL, [])).toBe(false);
    expect(allowPermission('media', 'https://example.com/', ['video'])).toBe(false);
    for (const p of ['geolocation', 'notifications', 'clipboard-read', 'openExternal', 'hid', 'serial', 'usb', 'fullscreen', 'midi']) {
      expect(allowPermission(p, APP_START_URL, undefined), p).toBe(false);
    }
    expect(allowPermissionCheck('media', 'safegate://app')).toBe(true);
    expect(allowPermissionCheck('media', 'https://example.com')).toBe(false);
    expect(allowPermissionCheck('geolocation', 'safegate://app')).toBe(false);
  });

  it('serves only files inside the renderer folder', () => {
    const root = '/opt/safegate/renderer';
    expect(rendererFileFor('safegate://app/', root)).toBe(join(root, 'index.html'));
    expect(rendererFileFor('safegate://app/assets/a.js', root)).toBe(join(root, 'assets/a.js'));
    expect(rendererFileFor('safegate://app/../../etc/passwd', root)).toBe(join(root, 'etc/passwd'));
    expect(rendererFileFor('safegate://app/%2e%2e/%2e%2e/etc/passwd', root)).toBe(join(root, 'etc/passwd'));
    expect(rendererFileFor('safegate://app/a/%2F..%2F..%2F..%2Fetc/passwd', root)).toBeUndefined();
    expect(rendererFileFor('safegate://app/%E0%A4%A', root)).toBeUndefined();
    expect(rendererFileFor('file:///etc/passwd', root)).toBeUndefined();
    expect(isAppUrl('safegate://app.evil/')).toBe(false);
  });

  it('adds the Wayland switches only under Wayland', () => {
    const names = (env: Record<string, string>) => platformSwitches(env).map(([n]) => n);
    expect(names({})).not.toContain('ozone-platform-hint');
    expect(platformSwitches({ WAYLAND_DISPLAY: 'wayland-0' })).toContainEqual(['ozone-platform-hint', 'auto']);
    expect(names({ XDG_SESSION_TYPE: 'wayland' })).toContain('enable-features');
  });

  it('reloads a crashed or hung renderer with growing delays and restarts the shell when it keeps failing', () => {
    const t = 1_000_000;
    expect(recoveryStep([t], t)).toEqual({ action: 'reload', afterMs: 500 });
    expect(recoveryStep([t - 2_000, t], t)).toEqual({ action: 'reload', afterMs: 1_000 });
    expect(recoveryStep([t - 4_000, t - 3_000, t - 2_000, t - 1_000, t], t)).toEqual({ action: 'relaunch' });
    expect(recoveryStep([t - 600_000, t - 500_000, t - 400_000, t - 300_000, t], t)).toEqual({ action: 'reload', afterMs: 500 });
  });

  it('the page declares the same Content-Security-Policy the transports send (frame-ancestors aside: meta tags cannot carry it)', () => {
    const html = readFileSync(join(import.meta.dirname, '../../../src-renderer/index.html'), 'utf8');
    const meta = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
    const directives = (csp: string) => new Set(csp.split(';').map((d) => d.trim()).filter((d) => d && !d.startsWith('frame-ancestors')));
    expect(meta).toBeDefined();
    expect(directives(meta!)).toEqual(directives(CONTENT_SECURITY_POLICY));
  });
});
