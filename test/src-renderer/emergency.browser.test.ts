import { readFileSync, writeFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createLogger } from '../../base/node/logger.js';
import { setInputControl } from '../../device/gpio/input-control.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { loadSettings } from '../../src-main/core/config.js';
import { inputControlFile } from '../../src-main/core/gate-inputs.js';
import { runtimeFiles } from '../../src-main/core/runtime.js';
import { healthyWorker, hubKeys, passFor, tempDir, writeKioskConfig } from '../helpers/fixtures.js';
import { VIEWPORTS, launchChromium, openScreens, overflowProblems, resize, screenshotAt, viewportName } from '../helpers/browser.js';

/**
 * The emergency release in real Chromium: a kiosk whose emergency input is simulated (driven through
 * its input control file, as `safegate gpio set` does) shows a full-screen "emergency open" banner
 * at every panel size while the input is active, still shows scan results over it, and returns to
 * the idle screen when it clears.
 */
describe('emergency open on the screens', () => {
  const dir = tempDir('safegate-emergency-');
  const keys = hubKeys(dir.path);
  let kiosk: Kiosk;
  let control: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const file = writeKioskConfig(dir.path, { scannerSource: 'none', screens: { camera: { enabled: false }, resultSeconds: 30 } });
    const doc = parse(readFileSync(file, 'utf8')) as { gate: Record<string, unknown> };
    doc.gate.inputs = { debounceMs: 10, emergency: { pin: 5, activeLow: true } };
    writeFileSync(file, stringify(doc));
    const settings = loadSettings(file);
    kiosk = new Kiosk(settings, { headless: true, log: createLogger({ level: 'silent' }) });
    kiosk.roster.upsertAll([healthyWorker('W1', Date.now(), { displayName: 'Nguyễn Văn An' })]);
    kiosk.start();
    control = inputControlFile(runtimeFiles(settings.paths.store));
    const server = await kiosk.startScreens();
    browser = await launchChromium();
    ({ page } = await openScreens(browser, server.screenUrl, { camera: false }));
    await page.getByTestId('idle').waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await kiosk?.stop();
    dir.remove();
  });

  it('shows an unmistakable full-screen banner while the emergency release is active, at every size, and scans still show over it', { timeout: 60_000 }, async () => {
    expect(await page.getByTestId('emergency').count()).toBe(0);
    setInputControl(control, 'emergency', true);
    await page.getByTestId('emergency').waitFor({ timeout: 10_000 });
    for (const lang of ['vi', 'en'] as const) {
      if ((await page.locator('html').getAttribute('lang')) !== lang) await page.getByTestId('language').click();
      await expect.poll(() => page.locator('html').getAttribute('lang')).toBe(lang);
      expect(await page.locator('.emergency-title').textContent()).toBe(lang === 'vi' ? 'MỞ CỔNG KHẨN CẤP' : 'EMERGENCY OPEN');
      for (const v of VIEWPORTS) {
        await resize(page, v);
        if (lang === 'vi' || v.width * v.height === 800 * 480) await screenshotAt(page, v, `emergency-${lang}`);
        expect(await overflowProblems(page), `emergency (${lang}) at ${viewportName(v)}`).toEqual([]);
        // It covers the whole stage below the top bar: the idle screen cannot be read as normal.
        const banner = (await page.getByTestId('emergency').boundingBox())!;
        expect(banner.width).toBe(v.width);
        expect(banner.y + banner.height).toBe(v.height);
      }
    }
    // A scan is still decided and shown over the banner.
    kiosk.gatekeeper.handleScan({ text: passFor(keys, 'W1'), source: 'camera', receivedAtNs: process.hrtime.bigint() });
    await page.getByTestId('result').waitFor();
    expect(await page.getByTestId('result-name').textContent()).toBe('Nguyễn Văn An');
    await page.getByTestId('result').click();
    await page.getByTestId('emergency').waitFor();

    setInputControl(control, 'emergency', false);
    await page.getByTestId('emergency').waitFor({ state: 'detached', timeout: 10_000 });
    expect(await page.getByTestId('idle').isVisible()).toBe(true);
  });
});
