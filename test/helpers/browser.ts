import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.SAFEGATE_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(process.cwd(), 'test-output', 'screens');

/**
 * Debian's Chromium driven by playwright-core. As root it needs --no-sandbox; on this closed network
 * the background-networking flags keep it from trying to reach Google at every start. A camera
 * video makes the fake camera show it; the fake UI flag grants the camera without a prompt.
 */
export async function launchChromium(opts: { cameraVideo?: string } = {}): Promise<Browser> {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
  ];
  if (opts.cameraVideo) args.push(`--use-file-for-fake-video-capture=${opts.cameraVideo}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 30_000 });
}

export async function openScreens(browser: Browser, url: string, opts: { camera?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1024, height: 600 }, acceptDownloads: true, locale: 'vi-VN' });
  if (opts.camera !== false) await context.grantPermissions(['camera'], { origin: new URL(url).origin });
  const page = await context.newPage();
  await page.goto(url);
  return { context, page };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
