import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';

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

/**
 * The screens in a new context. With `clock`, the page's clock is Playwright's, installed before the
 * page loads, so every timer the page sets runs on it (installed later, the timers set before it
 * would keep running on real time beside the ones set after it on the fake one).
 */
export async function openScreens(browser: Browser, url: string, opts: { camera?: boolean; clock?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1024, height: 600 }, acceptDownloads: true, locale: 'vi-VN' });
  if (opts.camera !== false) await context.grantPermissions(['camera'], { origin: new URL(url).origin });
  const page = await context.newPage();
  if (opts.clock) await page.clock.install();
  await page.goto(url);
  return { context, page };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** The panels a kiosk runs on, each in landscape and portrait: from the 7-inch 800x480 to full HD. */
export const VIEWPORTS = [
  { width: 800, height: 480 },
  { width: 1024, height: 600 },
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
].flatMap((v) => [v, { width: v.height, height: v.width }]);

export type Viewport = (typeof VIEWPORTS)[number];

export const viewportName = (v: Viewport): string => `${v.width}x${v.height}`;

/** Resizes the page and waits until the screens have laid out and painted at the new size. */
export async function resize(page: Page, v: Viewport): Promise<void> {
  await page.setViewportSize(v);
  // The resize event (and what the screens do on it) runs before the next animation frame.
  await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => r())));
}

/**
 * What does not fit the screen, in words (empty when everything fits): the document scrolls, a
 * visible element lies (partly) outside the viewport, or an element that hides its overflow has
 * more content than room (clipped text). Content inside a scroll container (a long table) is
 * reachable and not counted; the container itself must fit.
 */
export async function overflowProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const vw = document.documentElement.clientWidth;
    const vh = document.documentElement.clientHeight;
    const describe = (el: Element) => {
      const id = el.getAttribute('data-testid');
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const text = (el.textContent ?? '').trim().slice(0, 40);
      return `<${el.tagName.toLowerCase()}${id ? ` data-testid=${id}` : ''}${cls}> "${text}"`;
    };
    for (const el of [document.documentElement, document.body, document.getElementById('root')!]) {
      if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
        problems.push(`the document scrolls: ${el.tagName.toLowerCase()} holds ${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight}`);
      }
    }
    const scrolls = (cs: CSSStyleDeclaration) => /(auto|scroll)/.test(cs.overflowX + cs.overflowY);
    const hides = (cs: CSSStyleDeclaration) => /(hidden|clip)/.test(cs.overflowX + cs.overflowY);
    const insideScroller = (el: Element) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) if (scrolls(getComputedStyle(a))) return true;
      return false;
    };
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
      const cs = getComputedStyle(el);
      if (cs.display === 'none' || cs.visibility === 'hidden' || cs.display === 'contents') continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (!insideScroller(el) && (r.left < -1 || r.top < -1 || r.right > vw + 1 || r.bottom > vh + 1)) {
        problems.push(`outside the ${vw}x${vh} screen at ${Math.round(r.left)},${Math.round(r.top)} to ${Math.round(r.right)},${Math.round(r.bottom)}: ${describe(el)}`);
      }
      if (hides(cs) && (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1)) {
        problems.push(`clipped: ${el.scrollWidth}x${el.scrollHeight} of content in ${el.clientWidth}x${el.clientHeight}: ${describe(el)}`);
      }
    }
    return problems;
  });
}

const cdpSessions = new WeakMap<Page, CDPSession>();

/**
 * A screenshot in test-output/screens/<viewport>/<name>.png, taken through the DevTools protocol
 * with Chromium's fast PNG encoder (about half the time of page.screenshot, which matters across
 * hundreds of screens and sizes).
 */
export async function screenshotAt(page: Page, v: Viewport, name: string): Promise<string> {
  const dir = join(SCREENSHOT_DIR, viewportName(v));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.png`);
  let cdp = cdpSessions.get(page);
  if (!cdp) {
    cdp = await page.context().newCDPSession(page);
    cdpSessions.set(page, cdp);
  }
  const { data } = await cdp.send('Page.captureScreenshot', { format: 'png', optimizeForSpeed: true });
  writeFileSync(file, Buffer.from(data, 'base64'));
  return file;
}
