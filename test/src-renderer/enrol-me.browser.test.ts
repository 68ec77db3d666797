import { readFileSync, writeFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENROL_FAILURES, formatEnrolmentCode, type EnrolFailure } from '../../base/common/enrolment.js';
import { createLogger } from '../../base/node/logger.js';
import { EnrolMeKiosk, Kiosk, type EnrolOutcome } from '../../src-main/app/kiosk.js';
import { KioskRunLoop } from '../../src-main/app/run-loop.js';
import { en, vi } from '../../src-renderer/i18n/messages.js';
import { hubKeys, tempDir, waitFor, writeKioskConfig } from '../helpers/fixtures.js';
import { launchChromium, openScreens, overflowProblems, resize, screenshotAt, viewportName, type Viewport } from '../helpers/browser.js';

/**
 * The "enrol me" screens in real Chromium against the real run loop (its one loopback server for
 * the whole run): a kiosk whose file names no device or checkpoint says so, in Vietnamese first and
 * in English on the switch, shows "enrolling" and every refusal reason in words, fits 800x480 up to
 * 1920x1080 (both ways), and, once enrolled, the same window shows the gate; the enrolled gate then
 * ignores an enrolment code and says "already enrolled". Screenshots: test-output/screens/<size>/enrol-*.png.
 *
 * What enrolling does is the test's: it answers each code with the outcome the test wants (the
 * enrolment client has its own tests), and "enrols" by writing a device and checkpoint into the file.
 */
const SIZES: Viewport[] = [
  { width: 800, height: 480 },
  { width: 480, height: 800 },
  { width: 1920, height: 1080 },
  { width: 1080, height: 1920 },
];
const LANGUAGES = ['vi', 'en'] as const;

const code = (n: number) =>
  formatEnrolmentCode({ hubUrl: 'https://hub.tinh.example.vn:8443', deviceId: `gate-a-${String(n).padStart(4, '0')}`, token: 'x'.repeat(43), caFingerprint: 'ab'.repeat(32) });

describe('the "enrol me" screens', () => {
  const dir = tempDir('safegate-enrol-me-screens-');
  hubKeys(dir.path);
  const file = writeKioskConfig(dir.path, { screens: { camera: { enabled: false }, languageResetSeconds: 600 } });
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const enrolledDoc = { ...doc };
  delete doc['device'];
  delete doc['checkpoint'];
  writeFileSync(file, stringify(doc));

  /** The answer the next code gets; `hold` keeps it "enrolling" until released. */
  let next: EnrolOutcome = { ok: false, reason: 'NETWORK', message: '' };
  let hold: Promise<void> | undefined;
  const codesSeen: string[] = [];
  const enrol = async (text: string): Promise<EnrolOutcome> => {
    codesSeen.push(text);
    if (hold) await hold;
    if (next.ok) writeFileSync(file, stringify(enrolledDoc));
    return next;
  };
  const loop = new KioskRunLoop(file, { headless: false, log: createLogger({ level: 'silent' }), enrol });
  let browser: Browser;
  let page: Page;

  async function useLanguage(lang: 'vi' | 'en'): Promise<void> {
    if ((await page.locator('html').getAttribute('lang')) !== lang) await page.getByTestId('language').click();
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe(lang);
  }

  /** Every size, both languages: a screenshot, nothing overflows, and the enrol-me texts are all on screen (none scrolled away). */
  async function sweep(name: string): Promise<void> {
    for (const lang of LANGUAGES) {
      await useLanguage(lang);
      for (const v of SIZES) {
        await resize(page, v);
        await screenshotAt(page, v, `enrol-${name}-${lang}`);
        expect(await overflowProblems(page), `${name} (${lang}) at ${viewportName(v)}`).toEqual([]);
        const hidden = await page.evaluate(() => {
          const text = document.querySelector('.enrol-text');
          return text ? text.scrollHeight - text.clientHeight : 0;
        });
        expect(hidden, `${name} (${lang}) at ${viewportName(v)}: text scrolled out of sight`).toBeLessThanOrEqual(1);
        expect(await page.locator('body').innerText()).not.toMatch(/\benrol\.[A-Za-z_.]+/);
      }
    }
    await useLanguage('vi');
  }

  /** A code as a keyboard-wedge scanner types it on the screen side (scan.submit). */
  async function wedge(text: string): Promise<void> {
    // The language button keeps the focus from its last click: the scan's Enter must not press it.
    await page.keyboard.type(text, { delay: 0 });
    await page.keyboard.press('Enter');
  }

  beforeAll(async () => {
    const first = await loop.start();
    expect(first).toBeInstanceOf(EnrolMeKiosk);
    const server = await loop.startScreens();
    browser = await launchChromium();
    ({ page } = await openScreens(browser, server.screenUrl, { camera: false }));
    await page.getByTestId('enrol-me').waitFor({ timeout: 15_000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    loop.stop('test over');
    await loop.done().catch(() => undefined);
    dir.remove();
  });

  it('says the kiosk is not enrolled and what to do, in Vietnamese first and in English on the switch, at every size', async () => {
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');
    await expect.poll(() => page.getByTestId('enrol-prompt').innerText()).toBe('Thiết bị chưa được đăng ký — quét mã đăng ký do bộ phận IT cấp');
    // No gate here: no supervisor target, no checkpoint, no link status.
    expect(await page.getByTestId('supervisor-open').count()).toBe(0);
    expect(await page.getByTestId('checkpoint-name').count()).toBe(0);
    await sweep('needed');
    await useLanguage('en');
    expect(await page.getByTestId('enrol-prompt').innerText()).toBe(en.enrol.prompt);
    await useLanguage('vi');
  }, 60_000);

  it('shows "enrolling" while the hub is asked, then each refusal reason in words (no token or address), still waiting for a code', async () => {
    let release!: () => void;
    hold = new Promise<void>((r) => (release = r));
    next = { ok: false, reason: 'TOKEN_USED', message: 'used' };
    await wedge(code(1));
    await expect.poll(() => page.getByTestId('enrol-me').getAttribute('data-state'), { timeout: 10_000 }).toBe('enrolling');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('language');
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');
    expect(await page.getByTestId('enrol-device').innerText()).toBe('Mã thiết bị: gate-a-0001');
    await sweep('enrolling');
    release();
    hold = undefined;
    await expect.poll(() => page.getByTestId('enrol-me').getAttribute('data-state'), { timeout: 10_000 }).toBe('failed');
    expect(codesSeen).toEqual([code(1)]);

    const reasons = ENROL_FAILURES.filter((r) => r !== 'ALREADY_ENROLLED');
    for (const [i, reason] of reasons.entries()) {
      next = { ok: false, reason, message: 'm' };
      await wedge(code(10 + i));
      await expect.poll(() => page.getByTestId('enrol-reason').innerText(), { timeout: 10_000 }).toBe(vi.enrol.reason[reason]);
      const body = await page.locator('body').innerText();
      expect(body).not.toContain('x'.repeat(43));
      expect(body).not.toContain('hub.tinh.example.vn');
      // Every reason at every size in Vietnamese; the longest ones in English too.
      if (reason === 'CA_MISMATCH' || reason === 'SETTINGS_INVALID') await sweep(`failed-${reason.toLowerCase()}`);
      else {
        for (const v of SIZES) {
          await resize(page, v);
          await screenshotAt(page, v, `enrol-failed-${reason.toLowerCase()}-vi`);
          expect(await overflowProblems(page), `${reason} at ${viewportName(v)}`).toEqual([]);
        }
        await useLanguage('en');
        expect(await page.getByTestId('enrol-reason').innerText()).toBe(en.enrol.reason[reason as EnrolFailure]);
        await useLanguage('vi');
      }
    }
    expect(loop.current).toBeInstanceOf(EnrolMeKiosk);
  }, 180_000);

  it('once enrolled the same window shows the gate; the gate then ignores an enrolment code and says it is enrolled already', async () => {
    next = { ok: true, deviceId: 'test-kiosk-01' };
    const before = codesSeen.length;
    await wedge(code(99));
    await page.getByTestId('checkpoint-name').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('checkpoint-name').innerText()).toBe('Cổng A');
    expect(loop.current).toBeInstanceOf(Kiosk);
    expect(await page.getByTestId('enrol-me').count()).toBe(0);

    await wedge(code(100));
    await page.getByTestId('enrol-already').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('enrol-already').innerText()).toBe(vi.enrol.alreadyEnrolled);
    // The code never reached enrolment again, and nothing was decided for it.
    expect(codesSeen.length).toBe(before + 1);
    const current = loop.current as Kiosk;
    expect(current.events.outboxDepth().count).toBe(0);
    for (const v of [SIZES[0]!, SIZES[2]!]) {
      await resize(page, v);
      await screenshotAt(page, v, 'enrol-already-enrolled-vi');
      expect(await overflowProblems(page), `already enrolled at ${viewportName(v)}`).toEqual([]);
    }
    await waitFor(() => (loop.current instanceof Kiosk ? true : undefined), 'still the gate');
  }, 60_000);
});
