import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DenyReason } from '../../base/common/reasons.js';
import type { Passage } from '../../src-main/core/gatekeeper.js';
import { healthyWorker, passFor } from '../helpers/fixtures.js';
import { KioskUnderTest } from '../helpers/kiosk.js';
import { VIEWPORTS, launchChromium, openScreens, overflowProblems, resize, screenshotAt, viewportName, type Viewport } from '../helpers/browser.js';

/**
 * Every screen at every panel size it runs on (800x480 to 1920x1080, landscape and portrait), in
 * Vietnamese (the longer texts) and English, in real Chromium against a running kiosk: one browser,
 * the viewport resized, a screenshot of each in test-output/screens/<viewport>/<screen>-<lang>.png,
 * and a check that fails when anything does not fit (the document scrolls, an element lies outside
 * the screen, or text is clipped).
 *
 * Results are the gatekeeper's passage events as the screens receive them (through the real screen
 * service and transport), one for every kind of result and every refusal; the log behind the
 * supervisor views is made of real scans.
 */
const LANGUAGES = ['vi', 'en'] as const;
type Language = (typeof LANGUAGES)[number];

const LONG_NAME = 'Nguyễn Thị Phương Thảo Hoàng Ngọc Bích';

function passage(outcome: 'allow' | 'deny' | 'repeat', reasons: DenyReason[], o: { direction?: 'entry' | 'exit'; name?: string | null; accepted?: boolean } = {}): Passage {
  return {
    seq: outcome === 'repeat' ? null : 1_000 + Math.floor(Math.random() * 1_000_000),
    decision: { outcome, direction: o.direction ?? 'entry', reasons } as Passage['decision'],
    displayName: o.name === undefined ? LONG_NAME : o.name,
    credentialAccepted: o.accepted ?? true,
    durable: true,
    timing: { receivedAtNs: 0n, committedAtNs: 0n, actuatedAtNs: 0n },
  };
}

const CREDENTIAL: DenyReason[] = ['MALFORMED_CODE', 'UNKNOWN_KEY', 'BAD_SIGNATURE', 'PASS_EXPIRED', 'PASS_NOT_YET_VALID', 'UNKNOWN_WORKER', 'BADGE_NOT_ACCEPTED', 'PASS_REVOKED', 'PASS_STALE', 'PHONE_CLOCK_AHEAD', 'PHONE_PASS_REQUIRED'];

/** Every kind of result the public screen shows. */
const RESULTS: [string, Passage][] = [
  ['result-allow-entry', passage('allow', [])],
  ['result-allow-exit', passage('allow', [], { direction: 'exit' })],
  ['result-override', passage('allow', ['SUPERVISOR_OVERRIDE'])],
  ['result-repeat', passage('repeat', [])],
  ['result-procedure-anti-passback', passage('deny', ['ANTI_PASSBACK'])],
  ...CREDENTIAL.map((r): [string, Passage] => [`result-credential-${r.toLowerCase()}`, passage('deny', [r], { accepted: false, name: r === 'PASS_EXPIRED' || r === 'PASS_REVOKED' ? LONG_NAME : null })]),
  ['result-device-store-unavailable', passage('deny', ['STORE_UNAVAILABLE'])],
  ['result-device-data-too-old', passage('deny', ['DATA_TOO_OLD'])],
  ['result-device-clock-unverified', passage('deny', ['CLOCK_UNVERIFIED'])],
  // Discreet mode: what the queue sees of a health refusal (several health reasons and a procedural one).
  ['result-health-discreet', passage('deny', ['F1_TEST_REQUIRED', 'DECLARATION_FLAGGED', 'VACCINATION_INSUFFICIENT', 'ANTI_PASSBACK'])],
];

describe('every screen fits every panel size, in Vietnamese and English', () => {
  const rig = new KioskUnderTest();
  let browser: Browser;
  let page: Page;
  const shots: string[] = [];

  /** Checks the screen as it is now at the current size, with a screenshot. */
  async function check(name: string, lang: Language, v: Viewport): Promise<void> {
    // Every size in Vietnamese (the longer texts); English at the smallest panel both ways, for the
    // time it takes. The screenshot first: a failing size is there to look at.
    if (lang === 'vi' || v.width * v.height === 800 * 480) shots.push(await screenshotAt(page, v, `${name}-${lang}`));
    const problems = await overflowProblems(page);
    expect(problems, `${name} (${lang}) at ${viewportName(v)}`).toEqual([]);
    // Every text is translated: a message key shown as it is (a reason or a what-to-do line the catalogue lacks) fails.
    expect(await page.locator('body').innerText(), `${name} (${lang})`).not.toMatch(/\b(reason|guidance)\.[A-Za-z_-]+/);
  }

  async function sweep(name: string, lang: Language): Promise<void> {
    for (const v of VIEWPORTS) {
      await resize(page, v);
      await check(name, lang, v);
    }
    await resize(page, VIEWPORTS[1]!);
  }

  async function useLanguage(lang: Language, button = 'language'): Promise<void> {
    if ((await page.locator('html').getAttribute('lang')) !== lang) await page.getByTestId(button).click();
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe(lang);
  }

  async function holdToOpenSupervisor(): Promise<void> {
    const box = (await page.getByTestId('supervisor-open').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.getByTestId('supervisor').waitFor({ timeout: 5_000 });
    await page.mouse.up();
  }

  beforeAll(async () => {
    // Far more than any disk has free: the storage warning shows.
    await rig.start({ screens: { resultSeconds: 30, camera: { enabled: false }, supervisor: { maxFailedLogins: 3, lockoutMinutes: 5 } }, store: { lowSpaceWarnMB: 1_048_576 } });
    const now = Date.now();
    const team = (i: number) => `Tổ may ${1 + (i % 4)} — Xưởng ${1 + (i % 2)}`;
    rig.kiosk.roster.upsertAll([
      ...Array.from({ length: 24 }, (_, i) => healthyWorker(`W${String(i + 1).padStart(4, '0')}`, now, { displayName: i === 0 ? LONG_NAME : `Trần Văn Người ${i + 1}`, team: team(i) })),
      healthyWorker('W0901', now, { displayName: 'Lê Văn Cường', quarantineUntil: now + 7 * 86_400_000 }),
      healthyWorker('W0902', now, { displayName: 'Phạm Thị Dung', caseStatus: 'F1' }),
    ]);
    for (let i = 1; i <= 24; i++) rig.kiosk.gatekeeper.handleScan({ text: passFor(rig.keys, `W${String(i).padStart(4, '0')}`), source: 'camera', receivedAtNs: process.hrtime.bigint() });
    for (const id of ['W0901', 'W0902', 'W9999']) rig.kiosk.gatekeeper.handleScan({ text: passFor(rig.keys, id), source: 'camera', receivedAtNs: process.hrtime.bigint() });
    rig.kiosk.notices.applyChanges('delta', [
      {
        deleted: false,
        key: 'n-1',
        value: {
          id: 'n-1',
          priority: 'urgent',
          vi: 'Từ 06:00 ngày mai, mọi người lao động phải xuất trình kết quả xét nghiệm nhanh âm tính trong vòng 72 giờ khi vào nhà máy.',
          en: 'From 06:00 tomorrow every worker must show a negative rapid test from the last 72 hours to enter the factory.',
          startsAtMs: now - 60_000,
          expiresAtMs: now + 86_400_000,
        },
      },
      { deleted: false, key: 'n-2', value: { id: 'n-2', priority: 'info', vi: 'Nhà ăn ca 2 mở cửa lúc 11:30.', en: 'The second-shift canteen opens at 11:30.', startsAtMs: now - 60_000, expiresAtMs: now + 86_400_000 } },
    ]);
    await rig.kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '246810' });
    await rig.kiosk.supervisor.addSupervisor({ id: 'khoa', name: 'Trương Đình Khoa Nguyên', pin: '135790' });
    const server = await rig.kiosk.startScreens();
    browser = await launchChromium();
    ({ page } = await openScreens(browser, server.screenUrl, { camera: false }));
    await page.getByTestId('idle').waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig.stop();
  });

  it('idle, with notices and the storage warning', async () => {
    await page.getByTestId('storage').waitFor();
    for (const lang of LANGUAGES) {
      await useLanguage(lang);
      await sweep('idle', lang);
    }
    await useLanguage('vi');
  });

  it('the overflow check itself fails on what does not fit: off screen, clipped text, a document that scrolls', async () => {
    await resize(page, VIEWPORTS[0]!);
    expect(await overflowProblems(page)).toEqual([]);
    const cases = [
      'const d = document.createElement("div"); d.textContent = "off"; d.style.cssText = "position:fixed;left:760px;top:10px;width:100px"; document.body.append(d); return () => d.remove();',
      'const d = document.createElement("p"); d.textContent = "Đưa mã QR vào trước camera hoặc máy quét ".repeat(5); d.style.cssText = "position:fixed;left:0;top:0;width:200px;height:20px;overflow:hidden"; document.body.append(d); return () => d.remove();',
      'const app = document.querySelector(".app"); app.style.height = "200%"; return () => { app.style.height = ""; };',
    ];
    for (const body of cases) {
      await page.evaluate(`window.__undo = (() => { ${body} })()`);
      expect((await overflowProblems(page)).length, body).toBeGreaterThan(0);
      await page.evaluate('window.__undo()');
    }
    expect(await overflowProblems(page)).toEqual([]);
  });

  it('every kind of result', { timeout: 120_000 }, async () => {
    // Size by size, each result replacing the last (a result stays until tapped or its time is up,
    // and the language chosen before the first stays until then): fewer resizes, same screens.
    let seq = 10_000;
    for (const lang of LANGUAGES) {
      await useLanguage(lang);
      for (const v of VIEWPORTS) {
        await resize(page, v);
        for (const [name, p] of RESULTS) {
          const shown = { ...p, seq: p.seq === null ? null : ++seq };
          rig.kiosk.gatekeeper.emit('passage', shown);
          await page.locator(`[data-testid=result][data-seq="${shown.seq ?? ''}"][data-kind]`).waitFor();
          await check(name, lang, v);
        }
      }
      await page.getByTestId('result').click();
      await page.getByTestId('result').waitFor({ state: 'detached' });
    }
  });

  it('the PIN pad, the lockout, each supervisor view and the override dialog', { timeout: 120_000 }, async () => {
    for (const lang of LANGUAGES) {
      await useLanguage(lang);
      await holdToOpenSupervisor();
      await page.getByTestId('account-lan').waitFor();
      await sweep('supervisor-signin', lang);
      if (lang === 'vi') {
        // The lockout is per supervisor: lock out Khoa, then sign in as Lan.
        await page.getByTestId('account-khoa').click();
        for (let i = 0; i < 3; i++) {
          await page.getByTestId('pin').fill('111111');
          await page.getByTestId('pin-OK').click();
          await expect.poll(() => page.getByTestId('supervisor-message').textContent()).toMatch(i < 2 ? new RegExp(`${2 - i}`) : /Tạm khóa/);
        }
      } else {
        await page.getByTestId('account-khoa').click();
        await page.getByTestId('pin').fill('111111');
        await page.getByTestId('pin-OK').click();
        await expect.poll(() => page.getByTestId('supervisor-message').textContent()).toMatch(/Locked/);
      }
      await sweep('supervisor-lockout', lang);
      await page.getByTestId('account-lan').click();
      for (const k of '246810') await page.getByTestId(`pin-${k}`).click();
      await page.getByTestId('pin-OK').click();
      await page.getByTestId('log-row').first().waitFor();
      await sweep('supervisor-today', lang);
      for (const tab of ['inside', 'denied', 'search', 'trace'] as const) {
        await page.getByTestId(`tab-${tab}`).click();
        if (tab === 'inside') await page.getByTestId('inside-row').first().waitFor();
        if (tab === 'denied') await expect.poll(() => page.getByTestId('log-row').count()).toBe(3);
        if (tab === 'search') {
          await page.getByTestId('search-text').fill('tổ may 1');
          await page.getByTestId('search-go').click();
          await expect.poll(() => page.getByTestId('log-row').count()).toBe(6);
        }
        if (tab === 'trace') {
          // Everyone scanned within a minute of W0001: 23 contacts, the refused apart, each passage opened.
          await page.getByTestId('trace-search').fill('W0001');
          await page.getByTestId('trace-go').click();
          await expect.poll(() => page.getByTestId('trace-contact').count()).toBe(23);
          await page.getByTestId('trace-passage').first().locator('summary').click();
        }
        await sweep(`supervisor-${tab}`, lang);
      }
      await page.getByTestId('tab-denied').click();
      await page.getByTestId('override').first().click();
      await page.getByTestId('override-reason-negative-test-shown').click();
      await sweep('supervisor-override-reason', lang);
      await page.getByTestId('override-next').click();
      await sweep('supervisor-override-confirm', lang);
      await page.getByTestId('override-back').click();
      await page.getByTestId('override-cancel').click();
      await page.getByTestId('supervisor-close').click();
      await page.getByTestId('supervisor').waitFor({ state: 'detached' });
    }
    expect(shots.length).toBeGreaterThan(0);
  });
});
