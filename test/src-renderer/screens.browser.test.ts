import { readFileSync } from 'node:fs';
import ExcelJS from 'exceljs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENY_REASONS, DENY_REASON_CODES, isSensitive, type DenyReason } from '../../base/common/reasons.js';
import type { WorkerRecord } from '../../base/common/types.js';
import { healthyWorker, passFor } from '../helpers/fixtures.js';
import { KioskUnderTest } from '../helpers/kiosk.js';
import { launchChromium, openScreens, screenshot } from '../helpers/browser.js';
import { makeCameraVideo } from '../helpers/camera-video.js';

/**
 * The screens in real Chromium (Debian's, driven by playwright-core) against a running kiosk core
 * over the loopback transport: the serial scanner is a real pty, the camera is Chromium's fake
 * camera playing a video this test makes, GPIO is simulated. Each test saves a screenshot in
 * test-output/screens/.
 */
const DAY = 86_400_000;
const HEALTH: [DenyReason, Partial<WorkerRecord>][] = [
  ['CASE_F0', { caseStatus: 'F0' }],
  ['QUARANTINE_ACTIVE', { quarantineUntil: Date.now() + 7 * DAY }],
  ['F1_TEST_REQUIRED', { caseStatus: 'F1' }],
  ['DECLARATION_MISSING', { declaredAt: null }],
  ['DECLARATION_FLAGGED', { declarationFlagged: true }],
  ['VACCINATION_INSUFFICIENT', { vaccineDoses: 0 }],
];
const HEALTH_CODES = DENY_REASON_CODES.filter(isSensitive);
/** How long the supervisor corner target is held (SUPERVISOR_HOLD_MS in src-renderer/App.tsx). */
const SUPERVISOR_HOLD_MS = 2_000;

/**
 * Holds the supervisor corner target down until the supervisor screen opens (about 2 s; on a page
 * whose clock the test holds, the test moves it on by the hold).
 */
async function holdToOpenSupervisor(page: Page, opts: { pausedClock?: boolean } = {}): Promise<void> {
  const box = (await page.getByTestId('supervisor-open').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  if (opts.pausedClock) await page.clock.runFor(SUPERVISOR_HOLD_MS);
  await page.getByTestId('supervisor').waitFor({ timeout: 5_000 });
  await page.mouse.up();
}

async function signIn(page: Page, id: string, pin: string, opts: { pausedClock?: boolean } = {}): Promise<void> {
  await holdToOpenSupervisor(page, opts);
  await page.getByTestId(`account-${id}`).click();
  for (const k of pin) await page.getByTestId(`pin-${k}`).click();
  await page.getByTestId('pin-OK').click();
  await page.getByTestId('tab-today').waitFor();
}

describe('kiosk screens in Chromium', () => {
  const rig = new KioskUnderTest();
  let url: string;
  let browser: Browser;
  let page: Page;
  /** Every WebSocket message the page received, as text. */
  const received: string[] = [];
  const now = Date.now();

  beforeAll(async () => {
    // A result stays until the test taps it away (30 s, the longest the settings allow), as the
    // test reads each one: at the default 4 s, a loaded machine read past it and waited for an
    // element that had gone.
    await rig.start({ screens: { resultSeconds: 30, supervisor: { maxFailedLogins: 3 } } });
    rig.kiosk.roster.upsertAll([
      healthyWorker('W0001', now, { displayName: 'Nguyễn Văn An', team: 'Tổ cắt' }),
      healthyWorker('W0002', now, { displayName: 'Trần Thị Bình', team: 'Tổ may' }),
      healthyWorker('W0004', now, { displayName: '=HYPERLINK("http://x.invalid","Phạm")', team: 'Tổ may' }),
      healthyWorker('W0005', now, { displayName: 'Võ Thị Em', team: 'Tổ đóng gói' }),
      healthyWorker('W0006', now, { displayName: 'Đỗ Văn Giang', team: 'Tổ cắt' }),
      ...HEALTH.map(([, o], i) => healthyWorker(`H${i + 1}`, now, { displayName: `Người thử số ${i + 1}`, team: 'Tổ may', ...o })),
    ]);
    await rig.kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '246810' });
    await rig.kiosk.supervisor.addSupervisor({ id: 'khoa', name: 'Trương Đình Khoa', pin: '135790' });
    const server = await rig.kiosk.startScreens();
    url = server.screenUrl;
    browser = await launchChromium();
    ({ page } = await openScreens(browser, url, { camera: false }));
    page.on('websocket', (ws) => ws.on('framereceived', (f) => received.push(String(f.payload))));
    await page.getByTestId('idle').waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig.stop();
  });

  async function backToIdle(p: Page): Promise<void> {
    if (await p.getByTestId('result').isVisible()) await p.getByTestId('result').click();
    await p.getByTestId('result').waitFor({ state: 'detached' });
  }

  async function scanShown(text: string): Promise<void> {
    await rig.pty.write(text + '\r');
    await page.getByTestId('result').waitFor();
  }

  it('shows the checkpoint, the clock, the link and data state and the outbox in Vietnamese on the idle screen', async () => {
    await expect.poll(() => page.getByTestId('checkpoint-name').textContent()).toBe('Cổng A');
    expect(await page.getByTestId('link').textContent()).toBe('Chạy độc lập');
    expect(await page.getByTestId('outbox').textContent()).toMatch(/^Chờ đồng bộ: \d+$/);
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');
    await screenshot(page, 'idle-vi');
  });

  it('discreet mode: for each health refusal the public screen says what to do and shows no health reason (text, DOM, WebSocket payload)', async () => {
    const healthTexts = HEALTH_CODES.flatMap((c) => [c, DENY_REASONS[c].vi, DENY_REASONS[c].en]);
    for (const [i, [reason]] of HEALTH.entries()) {
      const openings = rig.relayOpenings();
      const from = received.length;
      await scanShown(passFor(rig.keys, `H${i + 1}`));
      const result = page.getByTestId('result');
      expect(await result.getAttribute('data-outcome')).toBe('deny');
      expect(await result.getAttribute('data-kind')).toBe('health');
      expect(await page.getByTestId('result-headline').textContent()).toBe('DỪNG LẠI');
      expect(await page.getByTestId('result-name').textContent()).toBe(`Người thử số ${i + 1}`);
      expect(await page.getByTestId('result-guidance').textContent()).toBe('Vui lòng gặp bảo vệ cổng để được hướng dẫn');
      // Nowhere on the page (text or attributes) and in no message the page received for it.
      const html = await page.evaluate(() => document.documentElement.outerHTML);
      const text = await page.evaluate(() => document.body.innerText);
      const wire = received.slice(from).join('\n');
      expect(wire).toContain(`Người thử số ${i + 1}`);
      for (const t of healthTexts) {
        expect(html, reason).not.toContain(t);
        expect(text, reason).not.toContain(t);
        expect(wire, reason).not.toContain(t);
      }
      if (i === 0) await screenshot(page, 'result-health-discreet-vi');
      expect(rig.relayOpenings()).toBe(openings);
      await backToIdle(page);
    }
    // The supervisor reads them, signed in (checked in the supervisor tests below).
    expect([...rig.kiosk.events.since(now - 60_000)].map((e) => e.reasons[0])).toEqual(HEALTH.map(([r]) => r));
  });

  it('a credential or procedural refusal keeps its plain reason, says what to do next and looks different from a health refusal', async () => {
    const health = { icon: '', colour: '' };
    rig.kiosk.gatekeeper.emit('passage', { seq: 9_999, decision: { outcome: 'deny', direction: 'entry', reasons: ['CASE_F0'] }, displayName: 'X', credentialAccepted: true, durable: true, timing: { receivedAtNs: 0n, committedAtNs: 0n, actuatedAtNs: 0n } });
    await page.getByTestId('result').waitFor();
    health.icon = (await page.getByTestId('result-icon').getAttribute('data-icon'))!;
    health.colour = await page.getByTestId('result').evaluate((el) => getComputedStyle(el).backgroundColor);
    await backToIdle(page);

    // An expired pass names its holder and says to renew it; never "cannot be identified".
    await scanShown(passFor(rig.keys, 'W0006', { issuedAgoMs: 40 * DAY, expiresInMs: -DAY }));
    expect(await page.getByTestId('result').getAttribute('data-kind')).toBe('credential');
    expect(await page.getByTestId('result-reasons').textContent()).toBe(DENY_REASONS.PASS_EXPIRED.vi);
    expect(await page.getByTestId('result-guidance').textContent()).toContain('gia hạn thẻ');
    expect(await page.evaluate(() => document.body.innerText)).not.toMatch(/Không xác định|not identified/);
    const icon = await page.getByTestId('result-icon').getAttribute('data-icon');
    const colour = await page.getByTestId('result').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(icon).not.toBe(health.icon);
    expect(colour).not.toBe(health.colour);
    await screenshot(page, 'result-credential-expired-vi');
    await backToIdle(page);

    // Already inside: a new pass of someone who came in and did not scan out.
    await scanShown(passFor(rig.keys, 'W0005'));
    expect(await page.getByTestId('result').getAttribute('data-outcome')).toBe('allow');
    await backToIdle(page);
    await scanShown(passFor(rig.keys, 'W0005', { issuedAgoMs: 120_000 }));
    expect(await page.getByTestId('result').getAttribute('data-kind')).toBe('procedure');
    expect(await page.getByTestId('result-reasons').textContent()).toBe(DENY_REASONS.ANTI_PASSBACK.vi);
    expect(await page.getByTestId('result-guidance').getAttribute('data-guidance')).toBe('scan-out-first');
    expect(await page.getByTestId('result-icon').getAttribute('data-icon')).not.toBe(health.icon);
    expect(await page.getByTestId('result').evaluate((el) => getComputedStyle(el).backgroundColor)).not.toBe(health.colour);
    await screenshot(page, 'result-procedure-vi');
    await backToIdle(page);
  });

  it('shows a clear "already recorded" screen for a repeat scan within the repeat window', async () => {
    const text = passFor(rig.keys, 'W0002');
    await scanShown(text);
    expect(await page.getByTestId('result').getAttribute('data-outcome')).toBe('allow');
    await backToIdle(page);
    const openings = rig.relayOpenings();
    await scanShown(text);
    expect(await page.getByTestId('result').getAttribute('data-outcome')).toBe('repeat');
    expect(await page.getByTestId('result-headline').textContent()).toBe('ĐÃ GHI NHẬN');
    expect(await page.getByTestId('result').textContent()).toContain('không cần quét lại');
    expect(rig.relayOpenings()).toBe(openings);
    await screenshot(page, 'result-repeat-vi');
    await backToIdle(page);
  });

  it('takes a keyboard-wedge burst ending in Enter as a scan, and ignores a person typing', async () => {
    const openings = rig.relayOpenings();
    await page.keyboard.type('W0001W0001', { delay: 120 });
    await page.keyboard.press('Enter');
    await page.waitForTimeout(500);
    expect(await page.getByTestId('result').count()).toBe(0);

    // The scanner's burst is dispatched in the page in one go, as a scanner's keys arrive (a few ms
    // apart): typed from here, each key is a round trip to the browser, and on a loaded machine one
    // came more than 400 ms late, so the detector started afresh in the middle of the pass.
    await page.evaluate((text) => {
      for (const key of [...text, 'Enter']) document.body.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
    }, passFor(rig.keys, 'W0001'));
    await page.getByTestId('result').waitFor();
    expect(await page.getByTestId('result').getAttribute('data-outcome')).toBe('allow');
    expect(await page.getByTestId('result-name').textContent()).toBe('Nguyễn Văn An');
    await screenshot(page, 'result-allow-keyboard-wedge');
    expect(rig.relayOpenings()).toBe(openings + 1);
    const last = [...rig.kiosk.events.since(now - 60_000)].at(-1)!;
    expect(last.source).toBe('keyboard');
    await backToIdle(page);
  });

  it('switches to English for one worker: the result is in English, then the screens return to Vietnamese', async () => {
    await page.getByTestId('language').click();
    await expect.poll(() => page.locator('.prompt').textContent()).toBe('Show your QR code to the camera or the scanner');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await scanShown(passFor(rig.keys, 'W9999'));
    expect(await page.getByTestId('result-headline').textContent()).toBe('STOP');
    expect(await page.getByTestId('result-reasons').textContent()).toBe(DENY_REASONS.UNKNOWN_WORKER.en);
    expect(await page.getByTestId('result-guidance').textContent()).toBe('Please ask the HR office for a pass');
    await screenshot(page, 'result-deny-en');
    await backToIdle(page);
    // The next worker reads the kiosk's own language.
    await expect.poll(() => page.locator('.prompt').textContent()).toBe('Đưa mã QR vào trước camera hoặc máy quét');
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');
  });

  it('opens the supervisor screen only on a long press of the corner target, not on a tap', async () => {
    await page.getByTestId('supervisor-open').click();
    await page.waitForTimeout(2_500);
    expect(await page.getByTestId('supervisor').count()).toBe(0);
    // Held: the progress shows while held, and the screen opens.
    const box = (await page.getByTestId('supervisor-open').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await expect.poll(() => page.getByTestId('supervisor-open').getAttribute('data-holding')).toBe('true');
    // Released early: nothing opens.
    await page.mouse.up();
    await page.waitForTimeout(2_200);
    expect(await page.getByTestId('supervisor').count()).toBe(0);
    await holdToOpenSupervisor(page);
    await page.getByTestId('account-lan').waitFor();
    await page.getByTestId('supervisor-close').click();
    await page.getByTestId('supervisor').waitFor({ state: 'detached' });
  });

  it('locks one supervisor out after repeated wrong PINs, even for the right PIN, and not the others', async () => {
    await holdToOpenSupervisor(page);
    await page.getByTestId('account-khoa').click();
    const message = page.getByTestId('supervisor-message');
    for (const expected of [/Sai mã PIN. Còn 2 lần thử./, /Sai mã PIN. Còn 1 lần thử./, /Tạm khóa do nhập sai nhiều lần/]) {
      await page.getByTestId('pin').fill('111111');
      await page.getByTestId('pin-OK').click();
      await expect.poll(() => message.textContent(), { timeout: 10_000 }).toMatch(expected);
    }
    await page.getByTestId('pin').fill('135790');
    await page.getByTestId('pin-OK').click();
    await expect.poll(() => message.textContent(), { timeout: 10_000 }).toMatch(/Tạm khóa/);
    expect(await page.getByTestId('tab-today').count()).toBe(0);
    await screenshot(page, 'supervisor-locked');
    const audit = rig.kiosk.supervisor.auditTrail(now).filter((a) => a.supervisorId === 'khoa').map((a) => a.action);
    expect(audit.filter((a) => a === 'login-failed')).toHaveLength(3);
    expect(audit).toContain('login-locked-out');
    expect(audit).not.toContain('login');
    await page.getByTestId('supervisor-close').click();
  });

  it('keeps the gate working while a supervisor is signed in: scans are decided, shown and opened, then the supervisor view returns, refreshed', async () => {
    await signIn(page, 'lan', '246810');
    expect(await page.getByTestId('supervisor-who').textContent()).toBe('Nguyễn Thị Lan');
    await page.getByTestId('tab-inside').click();
    await page.getByTestId('inside-row').first().waitFor();
    const before = await page.getByTestId('inside-row').count();
    const openings = rig.relayOpenings();
    await scanShown(passFor(rig.keys, 'W0004'));
    expect(await page.getByTestId('result').getAttribute('data-outcome')).toBe('allow');
    expect(rig.relayOpenings()).toBe(openings + 1);
    await screenshot(page, 'supervisor-scan-while-signed-in');
    await page.getByTestId('result').click();
    // Back where it was (the same tab), with the new person in the list.
    expect(await page.getByTestId('tab-inside').getAttribute('aria-selected')).toBe('true');
    await expect.poll(() => page.getByTestId('inside-row').count()).toBe(before + 1);
    // A refusal while the supervisor watches: shown, gate shut, and the denied list follows.
    await page.getByTestId('tab-denied').click();
    await page.getByTestId('log-row').first().waitFor();
    const denied = await page.getByTestId('log-row').count();
    await scanShown(passFor(rig.keys, 'W8888'));
    expect(await page.getByTestId('result').getAttribute('data-outcome')).toBe('deny');
    expect(rig.relayOpenings()).toBe(openings + 1);
    await page.getByTestId('result').click();
    await expect.poll(() => page.getByTestId('log-row').count()).toBe(denied + 1);
  });

  it('search shows nothing before a search, the summary follows the filter, times read dd/MM/yyyy HH:mm in the province zone', async () => {
    await page.getByTestId('tab-today').click();
    await page.getByTestId('log-row').first().waitFor();
    const first = await page.getByTestId('log-row').first().locator('td').first().textContent();
    expect(first).toMatch(/^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}$/);
    const expected = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Ho_Chi_Minh', day: '2-digit', month: '2-digit', year: 'numeric' }).format(Date.now());
    expect(first!.slice(0, 10)).toBe(expected);
    await page.getByTestId('tab-search').click();
    expect(await page.getByTestId('log-row').count()).toBe(0);
    expect(await page.getByTestId('summary').count()).toBe(0);
    await page.getByTestId('search-hint').waitFor();
    await page.getByTestId('search-text').fill('vo thi em');
    await page.getByTestId('search-go').click();
    // Võ Thị Em came in, then was refused for anti-passback.
    await expect.poll(() => page.getByTestId('log-row').count()).toBe(2);
    expect(await page.getByTestId('summary').textContent()).toBe('Vào: 1 · Ra: 0 · Từ chối: 1');
    await screenshot(page, 'supervisor-search');
  });

  it('offers no override for what the policy forbids; the dialog shows why, that the gate opens at once, reasons to pick and a confirmation', async () => {
    await page.getByTestId('tab-denied').click();
    await page.getByTestId('log-row').first().waitFor();
    const rowOf = (name: string) => page.getByTestId('log-row').filter({ hasText: name });
    const person = (r: DenyReason) => `Người thử số ${HEALTH.findIndex(([h]) => h === r) + 1}`;
    // The supervisor sees the health reason; a confirmed case and a quarantine offer no override.
    expect(await rowOf(person('QUARANTINE_ACTIVE')).textContent()).toContain(DENY_REASONS.QUARANTINE_ACTIVE.vi);
    for (const r of ['CASE_F0', 'QUARANTINE_ACTIVE'] as DenyReason[]) {
      expect(await rowOf(person(r)).getByTestId('override').count()).toBe(0);
      expect(await rowOf(person(r)).getByTestId('not-overridable').count()).toBe(1);
    }
    await rowOf(person('F1_TEST_REQUIRED')).getByTestId('override').click();
    const dialog = page.getByTestId('override-dialog');
    expect(await page.getByTestId('override-refused').textContent()).toContain(DENY_REASONS.F1_TEST_REQUIRED.vi);
    expect(await page.getByTestId('override-opens').textContent()).toBe('Cổng sẽ mở ngay khi bạn xác nhận.');
    expect(await page.getByTestId('override-next').isDisabled()).toBe(true);
    await page.getByTestId('override-reason-other').click();
    expect(await page.getByTestId('override-next').isDisabled()).toBe(true);
    await page.getByTestId('override-reason-negative-test-shown').click();
    await page.getByTestId('override-next').click();
    expect(await dialog.getAttribute('data-step')).toBe('confirm');
    expect(await page.getByTestId('override-summary').textContent()).toContain('Đã xuất trình kết quả xét nghiệm âm tính');
    await screenshot(page, 'supervisor-override-confirm');
    const openings = rig.relayOpenings();
    await page.getByTestId('override-confirm').click();
    await page.getByTestId('result').waitFor();
    expect(await page.getByTestId('result').getAttribute('data-kind')).toBe('override');
    expect(rig.relayOpenings()).toBe(openings + 1);
    await page.getByTestId('result').click();
    await expect.poll(() => rowOf(person('F1_TEST_REQUIRED')).textContent()).toContain('Đã cho phép');
    const audit = rig.kiosk.supervisor.auditTrail(now).filter((a) => a.action === 'override');
    expect(audit.at(-1)).toMatchObject({ supervisorId: 'lan' });
    expect(audit.at(-1)!.detail).toContain('negative-test-shown');
  });

  it('prints the roll-call of who is inside now (the list alone, with a tick column) and exports it', async () => {
    await page.getByTestId('tab-inside').click();
    // The list is read once it holds the worker the supervisor let in just before (its refresh can lag the click).
    const overridden = `Người thử số ${HEALTH.findIndex(([h]) => h === 'F1_TEST_REQUIRED') + 1}`;
    await expect.poll(async () => (await page.getByTestId('inside-row').allTextContents()).some((t) => t.includes(overridden))).toBe(true);
    const inside = await page.getByTestId('inside-row').allTextContents();
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    expect(file.suggestedFilename()).toMatch(/^safegate-inside-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}\.csv$/);
    const lines = readFileSync((await file.path())!, 'utf8').trim().split('\r\n').slice(1);
    expect(lines).toHaveLength(inside.length);
    for (const name of ['Võ Thị Em', 'Nguyễn Văn An', 'Trần Thị Bình']) expect(lines.filter((l) => l.includes(name)), name).toHaveLength(1);
    await page.emulateMedia({ media: 'print' });
    try {
      expect(await page.getByTestId('inside').isVisible()).toBe(true);
      expect(await page.locator('.print-title').isVisible()).toBe(true);
      expect(await page.locator('.print-title').textContent()).toMatch(/^Danh sách người đang ở trong — \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}$/);
      for (const hidden of ['supervisor-open', 'idle', 'print', 'tab-today']) expect(await page.getByTestId(hidden).isVisible(), hidden).toBe(false);
      const pdf = await page.pdf({ format: 'A4' });
      expect(pdf.subarray(0, 4).toString()).toBe('%PDF');
    } finally {
      await page.emulateMedia({ media: 'screen' });
    }
  });

  it('exports the log as CSV (UTF-8 with BOM, formula cells guarded) and as XLSX', async () => {
    await page.getByTestId('tab-today').click();
    await page.getByTestId('log-row').first().waitFor();
    await screenshot(page, 'supervisor-today');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    expect(csv.suggestedFilename()).toMatch(/^safegate-log-\d{4}-\d{2}-\d{2}\.csv$/);
    const bytes = readFileSync((await csv.path())!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8').slice(1);
    const lines = text.trim().split('\r\n');
    expect(lines[0]).toMatch(/^Số sự kiện,Thời gian,Chiều,Kết quả,Mã người lao động,Họ tên,Tổ,Lý do,/);
    const rows = [...rig.kiosk.events.since(0)].filter((e) => e.source !== 'input').length;
    expect(lines).toHaveLength(rows + 1);
    expect(text).toContain(DENY_REASONS.QUARANTINE_ACTIVE.vi);
    expect(text).toContain(`"'=HYPERLINK(""http://x.invalid"",""Phạm"")"`);
    expect(text).not.toMatch(/(^|,)"?=HYPERLINK/m);

    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-xlsx').click()]);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(readFileSync((await xlsx.path())!) as unknown as ArrayBuffer);
    const sheet = book.worksheets[0]!;
    expect(sheet.rowCount).toBe(rows + 1);
    expect(sheet.getRow(1).getCell(6).value).toBe('Họ tên');
    const names = Array.from({ length: rows }, (_, i) => sheet.getRow(i + 2).getCell(6).value);
    expect(names).toContain('Trần Thị Bình');
    expect(names).toContain('=HYPERLINK("http://x.invalid","Phạm")');
    await page.getByTestId('supervisor-close').click();
  });

  /**
   * Timers measured in minutes, on a page of their own whose clock the test holds: installed before
   * the page loads (so all the page's timers run on it), then paused once the screens are up (the
   * boot needs time to pass), so that only runFor moves it and a slow, loaded machine adds nothing
   * to the waits. What the page does after a touch (a list over the network) is awaited before the
   * clock moves on, or its call would time out in fake time.
   */
  describe('with the page clock held by the test', () => {
    let clocked: Page;

    beforeAll(async () => {
      ({ page: clocked } = await openScreens(browser, url, { camera: false, clock: true }));
      await clocked.getByTestId('idle').waitFor();
      // pauseAt takes a time ahead of the page's clock, which has followed real time since the page
      // loaded: a minute ahead of now is ahead of it, however slow the machine (nothing on the idle
      // screen waits on a minute).
      await clocked.clock.pauseAt(Date.now() + 60_000);
    });

    it('closes an unattended supervisor screen after two minutes and signs out, though the screen re-renders for scans meanwhile', async () => {
      await signIn(clocked, 'lan', '246810', { pausedClock: true });
      // The last touch: the two minutes start here.
      await clocked.getByTestId('tab-inside').click();
      await clocked.getByTestId('inside-row').first().waitFor();
      const inside = await clocked.getByTestId('inside-row').count();
      await clocked.clock.runFor('01:00');
      // A worker comes in meanwhile: a result covers the screen, the list underneath follows (every
      // part of the screen renders again), and none of that is the supervisor's touch.
      rig.kiosk.roster.upsertAll([healthyWorker('W0007', now, { displayName: 'Lê Văn Hùng', team: 'Tổ cắt' })]);
      await rig.pty.write(passFor(rig.keys, 'W0007') + '\r');
      await clocked.getByTestId('result').waitFor();
      await clocked.clock.runFor(500);
      await expect.poll(() => clocked.getByTestId('inside-row').count(), { timeout: 10_000 }).toBe(inside + 1);
      await clocked.clock.runFor('00:58');
      expect(await clocked.getByTestId('result').count()).toBe(0);
      expect(await clocked.getByTestId('supervisor').count()).toBe(1);
      await clocked.clock.runFor('00:02');
      await clocked.getByTestId('supervisor').waitFor({ state: 'detached', timeout: 10_000 });
      await expect.poll(() => rig.kiosk.supervisor.auditTrail(now).at(-1)?.action, { timeout: 10_000 }).toBe('logout');
    });

    it('returns to the kiosk language after a short while untouched, even without a scan', async () => {
      await clocked.getByTestId('language').click();
      await clocked.locator('html[lang="en"]').waitFor({ state: 'attached', timeout: 10_000 });
      await clocked.clock.runFor('00:29');
      expect(await clocked.locator('html').getAttribute('lang')).toBe('en');
      await clocked.clock.runFor('00:02');
      await clocked.locator('html[lang="vi"]').waitFor({ state: 'attached', timeout: 10_000 });
    });
  });
});

describe('the camera in Chromium', () => {
  const rig = new KioskUnderTest();
  let browser: Browser;

  afterAll(async () => {
    await browser?.close();
    await rig.stop();
  });

  it('reads a pass shown to the camera while a supervisor is signed in: opens the simulated gate, names the worker, and the supervisor screen comes back', async () => {
    // The camera is turned on once the supervisor is signed in (the kiosk's screens read the setting
    // at their next state poll), so the pass comes into view while signed in however long signing
    // in takes: a video timed to the sign-in (nothing for 8 s, then the pass) lost that race on a
    // loaded machine.
    await rig.start({ screens: { camera: { enabled: false } } });
    rig.kiosk.roster.upsertAll([healthyWorker('W0101', Date.now(), { displayName: 'Đặng Văn Phúc' })]);
    await rig.kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '246810' });
    const video = await makeCameraVideo(rig.dir.path, [
      { text: null, frames: 30 },
      { text: passFor(rig.keys, 'W0101'), frames: 90 },
    ]);
    const server = await rig.kiosk.startScreens();
    browser = await launchChromium({ cameraVideo: video });
    const { page } = await openScreens(browser, server.screenUrl);
    await page.getByTestId('idle').waitFor();
    await signIn(page, 'lan', '246810');
    expect(rig.relayOpenings()).toBe(0);
    rig.kiosk.settings.screens.camera.enabled = true;
    const result = page.getByTestId('result');
    await result.waitFor({ timeout: 20_000 });
    expect(await result.getAttribute('data-outcome')).toBe('allow');
    expect(await page.getByTestId('result-name').textContent()).toBe('Đặng Văn Phúc');
    expect(await page.getByTestId('result-headline').textContent()).toBe('MỜI VÀO');
    await screenshot(page, 'result-allow-camera');
    expect(rig.relayOpenings()).toBe(1);
    const events = [...rig.kiosk.events.since(0)];
    expect(events.map((e) => [e.source, e.decision, e.workerId])).toEqual([['camera', 'allow', 'W0101']]);
    await result.click();
    await page.getByTestId('tab-today').waitFor();
    expect(await page.getByTestId('camera-status').textContent()).toBe('Camera đang quét');
    await screenshot(page, 'supervisor-camera-still-scanning');
  }, 60_000);
});
