import { readFileSync, writeFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DECLARATION_QUESTIONS } from '../../base/common/declaration.js';
import { createLogger } from '../../base/node/logger.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { loadSettings } from '../../src-main/core/config.js';
import { waitFor, writeKioskConfig, type KioskConfigOptions } from '../helpers/fixtures.js';
import { KioskUnderTest } from '../helpers/kiosk.js';
import { launchChromium, openScreens, overflowProblems, resize, screenshotAt, viewportName, type Viewport } from '../helpers/browser.js';

/**
 * A visitor at the gate (issue 14) in real Chromium against a running kiosk with a screen and
 * visitors enabled, its scanner a real pty: a synthetic citizen ID card (CCCD) code is scanned, the
 * notice says what is kept and how long, the visitor agrees, picks whom and why (one typed on the
 * on-screen keyboard), declares, and waits for approval; a named supervisor approves on the
 * Visitors tab; the next scan of the card admits. Every step at the landscape panels in Vietnamese
 * and English, screenshots in test-output/screens/<size>/visitor-*.png, with overflow checks.
 */
const SIZES: Viewport[] = [
  { width: 800, height: 480 },
  { width: 1024, height: 600 },
  { width: 1280, height: 800 },
];
const HOSTS = ['Phòng Nhân sự', 'Phòng Kỹ thuật — Xưởng 2', 'Chị Lan (Kế toán)'];
const RETENTION_DAYS = 30;
/** A made-up card: number, old number, name, date of birth, sex, address, date of issue (DOMAIN.md's layout). */
const VISITOR_NAME = 'Hoàng Thị Khách Thử';
const CARD = `079912345678|212345678|${VISITOR_NAME}|01021990|Nữ|Số 12 Đường Thử Nghiệm, Phường Mẫu, Thành phố Giả|15062021`;
const SECOND_NAME = 'Đinh Văn Từ Chối';
const SECOND_CARD = `079987654321||${SECOND_NAME}|30111985|Nam|Ấp Giả, Xã Mẫu, Huyện Thử|01012022`;

class VisitorKiosk extends KioskUnderTest {
  override async start(options: KioskConfigOptions = {}): Promise<this> {
    await this.pty.plug();
    const file = writeKioskConfig(this.dir.path, { scannerPath: this.pty.devicePath, ...options });
    const settings = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, stringify({ ...settings, visitors: { enabled: true, hosts: HOSTS } }));
    const log = createLogger({ level: 'debug', destination: { write: (s: string) => void this.logs.push(JSON.parse(s)) } });
    this.kiosk = new Kiosk(loadSettings(file), { headless: false, log, onTransition: (t) => this.transitions.push(t) });
    this.kiosk.start();
    await waitFor(() => (this.kiosk.scanner?.state === 'ready' ? true : undefined), 'scanner ready');
    return this;
  }
}

describe('a visitor registers by ID card, waits, is approved by a supervisor and enters, in Chromium against a real kiosk', () => {
  const rig = new VisitorKiosk();
  let browser: Browser;
  let page: Page;
  /** Every WebSocket message the page received, as text. */
  const received: string[] = [];

  beforeAll(async () => {
    await rig.start({ screens: { resultSeconds: 30, camera: { enabled: false }, supervisor: { drives: 'off' } }, store: { retentionDays: RETENTION_DAYS } });
    await rig.kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '246810' });
    const server = await rig.kiosk.startScreens();
    browser = await launchChromium();
    ({ page } = await openScreens(browser, server.screenUrl, { camera: false }));
    page.on('websocket', (ws) => ws.on('framereceived', (f) => received.push(String(f.payload))));
    await page.getByTestId('idle').waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig.stop();
  });

  /** The screen as it is now at every size, in both languages (switched on the form's own button). */
  async function sweep(name: string, languageButton: string | null = 'visitor-language'): Promise<void> {
    for (const lang of languageButton ? (['vi', 'en'] as const) : (['vi'] as const)) {
      if (languageButton && (await page.locator('html').getAttribute('lang')) !== lang) await page.getByTestId(languageButton).click();
      await expect.poll(() => page.locator('html').getAttribute('lang')).toBe(lang);
      for (const v of SIZES) {
        await resize(page, v);
        await screenshotAt(page, v, `${name}-${lang}`);
        expect(await overflowProblems(page), `${name} (${lang}) at ${viewportName(v)}`).toEqual([]);
        expect(await page.locator('body').innerText(), `${name} (${lang})`).not.toMatch(/\b(declare|visitor|banner|result|reason|supervisor)\.[A-Za-z_.-]+/);
      }
    }
    if (languageButton) {
      await page.getByTestId(languageButton).click();
      await expect.poll(() => page.locator('html').getAttribute('lang')).toBe('vi');
    }
    await resize(page, SIZES[0]!);
  }

  async function scan(text: string): Promise<void> {
    await rig.pty.write(text + '\r');
  }

  async function backToIdle(): Promise<void> {
    if (await page.getByTestId('result').isVisible()) await page.getByTestId('result').click();
    await page.getByTestId('result').waitFor({ state: 'detached' });
  }

  async function holdToOpenSupervisor(): Promise<void> {
    const box = (await page.getByTestId('supervisor-open').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.getByTestId('supervisor').waitFor({ timeout: 10_000 });
    await page.mouse.up();
  }

  it('the notice, whom and why, the declaration, then "please wait" for a supervisor; nothing of the address or birth date on the wire', { timeout: 180_000 }, async () => {
    const from = received.length;
    await scan(CARD);
    await page.getByTestId('visitor-notice').waitFor();
    expect(await page.getByTestId('visitor-name').textContent()).toBe(`Xin chào, ${VISITOR_NAME}`);
    expect(await page.getByTestId('visitor-kept-days').textContent()).toContain(String(RETENTION_DAYS));
    await sweep('visitor-notice');
    await page.getByTestId('visitor-agree').click();
    await page.getByTestId('visitor-host').waitFor();
    expect(await page.getByTestId('visitor-host-choice').allTextContents()).toEqual(HOSTS);
    await sweep('visitor-host');
    // "Other": typed on the on-screen keyboard.
    await page.getByTestId('visitor-host-other').click();
    for (const k of 'BAO VE') await page.locator(`[data-testid=keyboard] [data-key="${k}"]`).click();
    expect(await page.getByTestId('visitor-host-text').inputValue()).toBe('BAO VE');
    await sweep('visitor-host-typing');
    await page.getByTestId('visitor-host-back').click();
    await page.getByTestId('visitor-host-choice').nth(1).click();
    await page.getByTestId('visitor-purpose').waitFor();
    await sweep('visitor-purpose');
    await page.getByTestId('visitor-purpose-choice').first().click();
    await page.getByTestId('declare-form').waitFor();
    await sweep('visitor-declare');
    for (const q of ['travel', 'contactCase', 'contactArea', 'contactSymptoms']) await page.getByTestId(`q-${q}-no`).click();
    await page.getByTestId('declare-next').click();
    for (const q of DECLARATION_QUESTIONS.filter((x) => !['travel', 'contactCase', 'contactArea', 'contactSymptoms'].includes(x))) await page.getByTestId(`q-${q}-no`).click();
    const openings = rig.relayOpenings();
    await page.getByTestId('declare-submit').click();
    await page.locator('[data-testid=result][data-waiting=true]').waitFor();
    expect(await page.getByTestId('result-name').textContent()).toBe(VISITOR_NAME);
    expect(await page.getByTestId('result-approval-note').isVisible()).toBe(true);
    expect(rig.relayOpenings()).toBe(openings);
    // A result covers the language button (the next person reads the kiosk's language): Vietnamese only.
    await sweep('visitor-result-waiting', null);
    // The page never received what is never kept.
    const wire = received.slice(from).join('\n');
    expect(wire).toContain(VISITOR_NAME);
    for (const never of ['079912345678', '212345678', '01021990', 'Đường Thử Nghiệm']) expect(wire).not.toContain(never);
    await backToIdle();
  });

  it('a visitor who declines: nothing is kept and the gate says so', { timeout: 60_000 }, async () => {
    const before = [...rig.kiosk.events.since(0)].length;
    await scan(SECOND_CARD);
    await page.getByTestId('visitor-notice').waitFor();
    await page.getByTestId('visitor-decline').click();
    await page.getByTestId('form-message').waitFor();
    await screenshotAt(page, SIZES[0]!, 'visitor-declined-vi');
    expect(await overflowProblems(page)).toEqual([]);
    expect([...rig.kiosk.events.since(0)].length).toBe(before);
  });

  it('a named supervisor approves the waiting visitor on the Visitors tab; the next scan of the card admits', { timeout: 120_000 }, async () => {
    const registeredAt = Date.now();
    await holdToOpenSupervisor();
    await page.getByTestId('account-lan').click();
    for (const k of '246810') await page.getByTestId(`pin-${k}`).click();
    await page.getByTestId('pin-OK').click();
    await page.getByTestId('tab-visitors').click();
    await page.locator('[data-testid=visitor-row][data-state=pending-approval]').waitFor();
    expect(await page.getByTestId('visitor-row').first().textContent()).toContain(VISITOR_NAME);
    await sweep('supervisor-visitors', 'supervisor-language');
    await page.getByTestId('visitor-approve').first().click();
    await page.locator('[data-testid=visitor-row][data-state=approved]').waitFor();
    expect(await page.getByTestId('supervisor-message').textContent()).toContain(VISITOR_NAME);
    await sweep('supervisor-visitors-approved', 'supervisor-language');
    await page.getByTestId('supervisor-close').click();
    await page.getByTestId('supervisor').waitFor({ state: 'detached' });
    // Past the repeat window of the registration's own decision.
    await new Promise((r) => setTimeout(r, Math.max(0, registeredAt + 6_000 - Date.now())));
    const openings = rig.relayOpenings();
    await scan(CARD);
    await page.locator('[data-testid=result][data-outcome=allow]').waitFor();
    expect(await page.getByTestId('result-name').textContent()).toBe(VISITOR_NAME);
    await expect.poll(() => rig.relayOpenings()).toBe(openings + 1);
    await screenshotAt(page, SIZES[0]!, 'visitor-admitted-vi');
    await backToIdle();
  });
});
