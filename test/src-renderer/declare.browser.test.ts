import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLARATION_QUESTIONS, type DeclarationQuestion } from '../../base/common/declaration.js';
import { DENY_REASONS, DENY_REASON_CODES, isSensitive, type DenyReason } from '../../base/common/reasons.js';
import type { Passage } from '../../src-main/core/gatekeeper.js';
import { createLogger } from '../../base/node/logger.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { loadSettings } from '../../src-main/core/config.js';
import { healthyWorker, passFor, waitFor, writeKioskConfig, type KioskConfigOptions } from '../helpers/fixtures.js';
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

/**
 * A kiosk with a screen (not headless: it takes declarations), its scanner a real pty, GPIO
 * simulated, no removable drives.
 */
class ScreenKiosk extends KioskUnderTest {
  override async start(options: KioskConfigOptions = {}): Promise<this> {
    await this.pty.plug();
    const file = writeKioskConfig(this.dir.path, { scannerPath: this.pty.devicePath, ...options });
    const log = createLogger({ level: 'debug', destination: { write: (s: string) => void this.logs.push(JSON.parse(s)) } });
    this.kiosk = new Kiosk(loadSettings(file), { headless: false, log, onTransition: (t) => this.transitions.push(t) });
    this.kiosk.start();
    await waitFor(() => (this.kiosk.scanner?.state === 'ready' ? true : undefined), 'scanner ready');
    return this;
  }
}

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
  const rig = new ScreenKiosk();
  let browser: Browser;
  let page: Page;
  let url: string;
  const now = Date.now();

  beforeAll(async () => {
    await rig.start({ screens: { resultSeconds: 30, camera: { enabled: false }, supervisor: { drives: 'off' } } });
    rig.kiosk.roster.upsertAll([
      healthyWorker('W0101', now, { displayName: 'Nguyễn Văn Khai', declaredAt: null }),
      healthyWorker('W0102', now, { displayName: 'Trần Thị Sốt', declaredAt: null }),
      healthyWorker('W0103', now, { displayName: 'Lê Văn Đến', declaredAt: null }),
      healthyWorker('W0104', now, { displayName: 'Phạm Văn Qua' }),
      healthyWorker('W0105', now, { displayName: 'Võ Thị Bấm', declaredAt: null }),
      healthyWorker('W0106', now, { displayName: 'Bùi Văn Đã Vào' }),
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

  /** Answers the questions given "yes" and every other "no", one tap each: returns the taps. */
  async function answer(p: Page, yes: DeclarationQuestion[] = []): Promise<number> {
    let taps = 0;
    const tap = async (id: string) => {
      await p.getByTestId(id).click();
      taps++;
    };
    for (const q of PAGE_1) await tap(`q-${q}-${yes.includes(q) ? 'yes' : 'no'}`);
    await tap('declare-next');
    for (const q of PAGE_2) await tap(`q-${q}-${yes.includes(q) ? 'yes' : 'no'}`);
    await tap('declare-submit');
    return taps;
  }

  /** The last opening is over (a pulse still on would take the next in without a new transition to count). */
  async function relayIdle(): Promise<void> {
    await expect.poll(() => rig.transitions.filter((t) => t.output === 'relay').at(-1)?.active ?? false).toBe(false);
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
        // The idle screen's "Health declaration" button, and pressed (the prompt asks for the scan).
        await page.getByTestId('declare-open').waitFor();
        await fits('declare-idle', lang, v);
        await page.getByTestId('declare-open').click();
        await fits('declare-idle-armed', lang, v);
        await page.getByTestId('declare-open').click();
        expect(await page.getByTestId('declare-open').getAttribute('aria-pressed')).toBe('false');
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

  it('offers "Declare now" only on a refusal for a missing declaration, with a token (never after a flagged one: it stands for the day)', { timeout: 60_000 }, async () => {
    await resize(page, SIZES[1]!);
    const cases: [string, Passage, boolean][] = [
      ['missing', passage('deny', ['DECLARATION_MISSING'], { declareToken: 'offer-token-0123456789a' }), true],
      ['flagged', passage('deny', ['DECLARATION_FLAGGED'], { declareToken: 'offer-token-0123456789b' }), false],
      ['flagged and missing', passage('deny', ['DECLARATION_MISSING', 'DECLARATION_FLAGGED'], { declareToken: 'offer-token-0123456789e' }), false],
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
  it('a worker refused for a missing declaration declares on the screen (13 taps, all no) and is admitted by a new scan event', { timeout: 60_000 }, async () => {
    await backToIdle(page);
    await resize(page, SIZES[0]!);
    await relayIdle();
    const openings = rig.relayOpenings();
    await rig.pty.write(passFor(rig.keys, 'W0101') + '\r');
    await page.getByTestId('declare-now').waitFor();
    const refused = Number(await page.getByTestId('result').getAttribute('data-seq'));
    expect(await page.getByTestId('result').getAttribute('data-kind')).toBe('health');
    await screenshotAt(page, SIZES[0]!, 'declare-flow-refused-vi');
    await page.getByTestId('declare-now').click();
    expect(await page.getByTestId('declare-name').textContent()).toContain('Nguyễn Văn Khai');
    const taps = await answer(page);
    expect(taps).toBe(13);
    await page.locator('[data-testid=result][data-outcome=allow]').waitFor();
    await screenshotAt(page, SIZES[0]!, 'declare-flow-admitted-vi');
    const admitted = Number(await page.getByTestId('result').getAttribute('data-seq'));
    expect(admitted).toBeGreaterThan(refused);
    await expect.poll(() => rig.relayOpenings()).toBe(openings + 1);
    // In the kiosk's log: the refusal, the declaration (clean, answer codes only), the new admitted scan.
    const events = [...rig.kiosk.events.since(now - 60_000)].filter((e) => e.workerId === 'W0101');
    const declaration = events.find((e) => e.source === 'declaration');
    expect(declaration?.decision).toBe('allow');
    expect(declaration?.declaration).toEqual({ answers: 0 });
    expect(events.find((e) => e.seq === admitted)?.decision).toBe('allow');
    await backToIdle(page);
  });

  it('a flagged declaration refuses with a health result (no reason on the public screen) and raises the alert', { timeout: 60_000 }, async () => {
    await resize(page, SIZES[1]!);
    const openings = rig.relayOpenings();
    await rig.pty.write(passFor(rig.keys, 'W0102') + '\r');
    await page.getByTestId('declare-now').click();
    expect(await answer(page, ['fever', 'cough'])).toBe(13);
    await page.locator('[data-testid=result][data-outcome=deny]').waitFor();
    expect(await page.getByTestId('result').getAttribute('data-kind')).toBe('health');
    const html = await page.evaluate(() => document.documentElement.outerHTML);
    for (const h of HEALTH_TEXTS) expect(html).not.toContain(h);
    await screenshotAt(page, SIZES[1]!, 'declare-flow-flagged-vi');
    const events = [...rig.kiosk.events.since(now - 60_000)].filter((e) => e.workerId === 'W0102');
    const declaration = events.find((e) => e.source === 'declaration');
    expect(declaration?.decision).toBe('deny');
    expect(declaration?.reasons).toEqual(['DECLARATION_FLAGGED']);
    expect(declaration?.declaration).toEqual({ answers: 0b110 });
    const refusal = events.at(-1)!;
    expect(refusal.source).not.toBe('declaration');
    expect(refusal.reasons).toContain('DECLARATION_FLAGGED');
    expect(Number(await page.getByTestId('result').getAttribute('data-seq'))).toBe(refusal.seq);
    // The alert is on the scan decided again, not on the declaration itself.
    const alerts = rig.kiosk.events.unsentAlerts(50).filter((a) => a.event.workerId === 'W0102');
    expect(alerts.map((a) => [a.kind, a.event.seq])).toEqual([['flagged-entry-attempt', refusal.seq]]);
    expect(rig.relayOpenings()).toBe(openings);
    await backToIdle(page);
  });

  it('other scans while the form is open are decided and shown in the banner; the form keeps its answers and is sent after', { timeout: 60_000 }, async () => {
    await resize(page, SIZES[2]!);
    await rig.pty.write(passFor(rig.keys, 'W0103') + '\r');
    await page.getByTestId('declare-now').click();
    for (const q of PAGE_1) await page.getByTestId(`q-${q}-no`).click();
    await page.getByTestId('declare-next').click();
    await page.getByTestId('q-fever-no').click();
    await relayIdle();
    const openings = rig.relayOpenings();
    await rig.pty.write(passFor(rig.keys, 'W0104') + '\r');
    await page.getByTestId('scan-banner').waitFor();
    expect(await page.getByTestId('scan-banner').getAttribute('data-outcome')).toBe('allow');
    expect(await page.getByTestId('scan-banner-name').textContent()).toBe('Phạm Văn Qua');
    await expect.poll(() => rig.relayOpenings()).toBe(openings + 1);
    await screenshotAt(page, SIZES[2]!, 'declare-flow-banner-vi');
    expect(await page.getByTestId('result').count()).toBe(0);
    expect(await page.getByTestId('q-fever').getAttribute('data-answer')).toBe('no');
    for (const q of PAGE_2.slice(1)) await page.getByTestId(`q-${q}-no`).click();
    await page.getByTestId('declare-submit').click();
    await page.locator('[data-testid=result][data-outcome=allow]').waitFor();
    expect(await page.getByTestId('result-name').textContent()).toBe('Lê Văn Đến');
    await backToIdle(page);
  });

  it('from the idle screen: "Health declaration", then the scan opens the questions; the answer is the new result', { timeout: 60_000 }, async () => {
    await resize(page, SIZES[1]!);
    await page.getByTestId('declare-open').click();
    expect(await page.getByTestId('declare-open').getAttribute('aria-pressed')).toBe('true');
    await screenshotAt(page, SIZES[1]!, 'declare-idle-armed-vi');
    expect(await overflowProblems(page)).toEqual([]);
    await rig.pty.write(passFor(rig.keys, 'W0105') + '\r');
    await page.getByTestId('declare-form').waitFor();
    expect(await page.getByTestId('result').count()).toBe(0);
    expect(await answer(page)).toBe(13);
    await page.locator('[data-testid=result][data-outcome=allow]').waitFor();
    expect(await page.getByTestId('result-name').textContent()).toBe('Võ Thị Bấm');
    await backToIdle(page);
    // Disarmed: the next scan is an ordinary result.
    expect(await page.getByTestId('declare-open').getAttribute('aria-pressed')).toBe('false');
  });

  it('from the idle screen, someone let through declares anyway: the screen says the declaration is recorded, not "stop" (they are inside)', { timeout: 60_000 }, async () => {
    await backToIdle(page);
    await page.getByTestId('declare-open').click();
    await relayIdle();
    const openings = rig.relayOpenings();
    await rig.pty.write(passFor(rig.keys, 'W0106') + '\r');
    await page.getByTestId('declare-form').waitFor();
    // The gate opened for the scan itself.
    await expect.poll(() => rig.relayOpenings()).toBe(openings + 1);
    expect(await answer(page)).toBe(13);
    await page.getByTestId('result-declared').waitFor();
    expect(await page.getByTestId('result').getAttribute('data-outcome')).toBe('repeat');
    expect(await page.getByTestId('result-name').textContent()).toBe('Bùi Văn Đã Vào');
    await screenshotAt(page, SIZES[1]!, 'declare-flow-recorded-vi');
    const events = [...rig.kiosk.events.since(now - 60_000)].filter((e) => e.workerId === 'W0106');
    // Nothing is decided again: no refusal (anti-passback) in the entry log for someone who went through.
    expect(events.map((e) => [e.source === 'declaration' ? 'declaration' : 'scan', e.decision])).toEqual([
      ['scan', 'allow'],
      ['declaration', 'allow'],
    ]);
    expect(rig.relayOpenings()).toBe(openings + 1);
    await backToIdle(page);
  });
});
