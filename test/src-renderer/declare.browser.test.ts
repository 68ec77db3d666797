import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARATION_QUESTIONS, type DeclarationQuestion } from '../../base/common/declaration.js';
import { DENY_REASONS, DENY_REASON_CODES, isSensitive, type DenyReason } from '../../base/common/reasons.js';
import type { Passage } from '../../src-main/core/gatekeeper.js';
import { healthyWorker } from '../helpers/fixtures.js';
import { KioskUnderTest } from '../helpers/kiosk.js';
import { launchChromium, openScreens, overflowProblems, resize, screenshotAt, viewportName, type Viewport } from '../helpers/browser.js';

/**
 * The health declaration on the kiosk's screen (issue 14) in real Chromium against a running kiosk
 * over the loopback transport, its scanner a real pty: a worker refused for a missing declaration
 * declares on the screen and is decided again; meanwhile other people's scans are decided and shown
 * in a banner without losing the form; an abandoned form sends nothing. Screenshots of every step
 * at the landscape panels in test-output/screens/<size>/declare-*.png, with overflow checks.
 */
const SIZES: Viewport[] = [
  { width: 800, height: 480 },
  { width: 1024, height: 600 },
  { width: 1280, height: 800 },
];
const LANGUAGES = ['vi', 'en'] as const;
const HEALTH_TEXTS = DENY_REASON_CODES.filter(isSensitive).flatMap((c) => [c, DENY_REASONS[c].vi, DENY_REASONS[c].en]);
/** The two parts of the form (src-renderer/screens/Declare.tsx DECLARE_PAGES). */
const PAGE_1: DeclarationQuestion[] = ['travel', 'contactCase', 'contactArea', 'contactSymptoms'];
const PAGE_2: DeclarationQuestion[] = ['fever', 'cough', 'breath', 'throat', 'nausea', 'diarrhoea', 'tasteSmell'];
const LONG_NAME = 'Nguyễn Thị Phương Thảo Hoàng Ngọc Bích';

let fakeSeq = 50_000;
/** A result as the gatekeeper emits it, for screens that do not need the core to act on it. */
function passage(outcome: 'allow' | 'deny', reasons: DenyReason[], extra: Partial<Passage> = {}): Passage {
  return {
    seq: ++fakeSeq,
    decision: { outcome, direction: 'entry', reasons } as Passage['decision'],
    displayName: LONG_NAME,
    credentialAccepted: true,
    durable: true,
    timing: { receivedAtNs: 0n, committedAtNs: 0n, actuatedAtNs: 0n },
    ...extra,
  };
}

describe('the health declaration on the kiosk screen, in Chromium against a real kiosk', () => {
  const rig = new KioskUnderTest();
  let browser: Browser;
  let page: Page;
  let url: string;
  const now = Date.now();

  beforeAll(async () => {
    await rig.start({ screens: { resultSeconds: 30, camera: { enabled: false } } });
    rig.kiosk.roster.upsertAll([
      healthyWorker('W0101', now, { displayName: 'Nguyễn Văn Khai', declaredAt: null }),
      healthyWorker('W0102', now, { displayName: 'Trần Thị Sốt', declaredAt: null }),
      healthyWorker('W0103', now, { displayName: 'Lê Văn Đến', declaredAt: null }),
      healthyWorker('W0104', now, { displayName: 'Phạm Văn Qua' }),
      healthyWorker('W0105', now, { displayName: 'Võ Thị Bấm', declaredAt: null }),
    ]);
    const server = await rig.kiosk.startScreens();
    url = server.screenUrl;
    browser = await launchChromium();
    ({ page } = await openScreens(browser, url, { camera: false }));
    await page.getByTestId('idle').waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig.stop();
  });

  async function useLanguage(p: Page, lang: 'vi' | 'en', button = 'language'): Promise<void> {
    if ((await p.locator('html').getAttribute('lang')) !== lang) await p.getByTestId(button).click();
    await expect.poll(() => p.locator('html').getAttribute('lang')).toBe(lang);
  }

  async function fits(name: string, lang: string, v: Viewport): Promise<void> {
    await screenshotAt(page, v, `${name}-${lang}`);
    expect(await overflowProblems(page), `${name} (${lang}) at ${viewportName(v)}`).toEqual([]);
    // Every text is translated: a message key shown as it is fails.
    expect(await page.locator('body').innerText(), `${name} (${lang})`).not.toMatch(/\b(declare|visitor|banner|result|reason)\.[A-Za-z_-]+/);
  }

  async function backToIdle(p: Page): Promise<void> {
    if (await p.getByTestId('result').isVisible()) await p.getByTestId('result').click();
    await p.getByTestId('result').waitFor({ state: 'detached' });
  }

  it('the form asks all 11 questions across its two parts, one answer each (no "no to all"), in each language and size', { timeout: 120_000 }, async () => {
    expect([...PAGE_1, ...PAGE_2].sort()).toEqual([...DECLARATION_QUESTIONS].sort());
    for (const lang of LANGUAGES) {
      for (const v of SIZES) {
        // Each person reads the kiosk's language first (a form that closes goes back to it).
        await useLanguage(page, lang);
        await resize(page, v);
        rig.kiosk.gatekeeper.emit('passage', passage('deny', ['DECLARATION_MISSING'], { declareToken: 'layout-token-0123456789' }));
        await page.getByTestId('declare-now').waitFor();
        await fits('declare-result-offer', lang, v);
        await page.getByTestId('declare-now').click();
        await page.getByTestId('declare-form').waitFor();
        await fits('declare-part1', lang, v);
        // Next waits for every question of the part; no button answers several at once.
        expect(await page.getByTestId('declare-next').isDisabled()).toBe(true);
        for (const q of PAGE_1) await page.getByTestId(`q-${q}-no`).click();
        await page.getByTestId('declare-next').click();
        expect(await page.getByTestId('declare-form').getAttribute('data-page')).toBe('2');
        await fits('declare-part2', lang, v);
        for (const q of PAGE_2.slice(0, 6)) await page.getByTestId(`q-${q}-no`).click();
        expect(await page.getByTestId('declare-submit').isDisabled()).toBe(true);
        await page.getByTestId('q-tasteSmell-yes').click();
        await expect.poll(() => page.getByTestId('declare-review').textContent()).toMatch(lang === 'vi' ? /Mất vị giác/ : /Loss of taste/);
        await fits('declare-review-flagged', lang, v);
        await page.getByTestId('q-tasteSmell-no').click();
        await fits('declare-review-clean', lang, v);
        // A scan by someone else while the form is open: the banner, and the form as it was.
        rig.kiosk.gatekeeper.emit('passage', passage('allow', [], { displayName: 'Đặng Văn Ngoài Cổng' }));
        await page.getByTestId('scan-banner').waitFor();
        await fits('declare-banner', lang, v);
        expect(await page.getByTestId('declare-form').getAttribute('data-page')).toBe('2');
        await page.getByTestId('declare-back').click();
        await page.getByTestId('declare-back').click();
        await page.getByTestId('declare').waitFor({ state: 'detached' });
        await page.getByTestId('idle').waitFor();
      }
    }
    await useLanguage(page, 'vi');
  });

  it('offers "Declare now" only on a refusal the declaration can answer, with a token', { timeout: 60_000 }, async () => {
    await resize(page, SIZES[1]!);
    const cases: [string, Passage, boolean][] = [
      ['missing', passage('deny', ['DECLARATION_MISSING'], { declareToken: 'offer-token-0123456789a' }), true],
      ['flagged', passage('deny', ['DECLARATION_FLAGGED'], { declareToken: 'offer-token-0123456789b' }), true],
      ['no token', passage('deny', ['DECLARATION_MISSING']), false],
      ['allowed', passage('allow', [], { declareToken: 'offer-token-0123456789c' }), false],
      ['credential', passage('deny', ['PASS_EXPIRED'], { declareToken: 'offer-token-0123456789d' }), false],
    ];
    for (const [name, p, offered] of cases) {
      rig.kiosk.gatekeeper.emit('passage', p);
      await page.locator(`[data-testid=result][data-seq="${p.seq}"]`).waitFor();
      expect(await page.getByTestId('declare-now').count(), name).toBe(offered ? 1 : 0);
      // Discreet mode: the button says nothing of why (no health reason on the page).
      const text = await page.evaluate(() => document.documentElement.outerHTML);
      for (const h of HEALTH_TEXTS) expect(text, name).not.toContain(h);
      await backToIdle(page);
    }
  });

  it('a form nobody touches goes back to the gate after 60 s and sends nothing', { timeout: 60_000 }, async () => {
    const ctx = await openScreens(browser, url, { camera: false, clock: true });
    const p = ctx.page;
    try {
      await p.getByTestId('idle').waitFor();
      const before = [...rig.kiosk.events.since(now - 60_000)].length;
      rig.kiosk.gatekeeper.emit('passage', passage('deny', ['DECLARATION_MISSING'], { declareToken: 'abandon-token-012345678' }));
      await p.getByTestId('declare-now').click();
      await p.getByTestId('q-travel-no').click();
      await p.clock.runFor(50_000);
      expect(await p.getByTestId('declare').isVisible()).toBe(true);
      await p.clock.runFor(11_000);
      await p.getByTestId('declare').waitFor({ state: 'detached' });
      await p.getByTestId('idle').waitFor();
      expect([...rig.kiosk.events.since(now - 60_000)].length).toBe(before);
    } finally {
      await ctx.context.close();
    }
  });
});
