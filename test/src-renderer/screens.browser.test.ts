import { readFileSync } from 'node:fs';
import ExcelJS from 'exceljs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENY_REASONS } from '../../base/common/reasons.js';
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
describe('kiosk screens in Chromium', () => {
  const rig = new KioskUnderTest();
  let url: string;
  let browser: Browser;
  let page: Page;
  const now = Date.now();

  beforeAll(async () => {
    await rig.start({ screens: { supervisor: { maxFailedLogins: 3, lockoutMinutes: 5 } } });
    rig.kiosk.roster.upsertAll([
      healthyWorker('W0001', now, { displayName: 'Nguyễn Văn An' }),
      healthyWorker('W0002', now, { displayName: 'Trần Thị Bình' }),
      healthyWorker('W0003', now, { displayName: 'Lê Văn Cường', quarantineUntil: now + 7 * 86_400_000 }),
      healthyWorker('W0004', now, { displayName: '=HYPERLINK("http://x.invalid","Phạm")' }),
      healthyWorker('W0005', now, { displayName: 'Võ Thị Em' }),
    ]);
    const server = await rig.kiosk.startScreens();
    url = server.screenUrl;
    browser = await launchChromium();
    ({ page } = await openScreens(browser, url));
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

  it('shows the checkpoint, the clock, the link and data state and the outbox in Vietnamese on the idle screen', async () => {
    await expect.poll(() => page.getByTestId('checkpoint-name').textContent()).toBe('Cổng A');
    expect(await page.getByTestId('link').textContent()).toBe('Chạy độc lập');
    expect(await page.getByTestId('outbox').textContent()).toMatch(/^Chờ đồng bộ: \d+$/);
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');
    await screenshot(page, 'idle-vi');
  });

  it('shows a denied pass from the serial scanner with its Vietnamese reason, and keeps the gate shut', async () => {
    const openings = rig.relayOpenings();
    await rig.pty.write(passFor(rig.keys, 'W0003') + '\r');
    const result = page.getByTestId('result');
    await result.waitFor();
    expect(await result.getAttribute('data-outcome')).toBe('deny');
    expect(await page.getByTestId('result-headline').textContent()).toBe('DỪNG LẠI');
    expect(await page.getByTestId('result-name').textContent()).toBe('Lê Văn Cường');
    expect(await page.getByTestId('result-reasons').textContent()).toContain(DENY_REASONS.QUARANTINE_ACTIVE.vi);
    await screenshot(page, 'result-deny-vi');
    expect(rig.relayOpenings()).toBe(openings);
    await backToIdle(page);
  });

  it('takes a keyboard-wedge burst ending in Enter as a scan, and ignores a person typing', async () => {
    const openings = rig.relayOpenings();
    await page.keyboard.type('W0002W0002', { delay: 120 });
    await page.keyboard.press('Enter');
    await page.waitForTimeout(500);
    expect(await page.getByTestId('result').count()).toBe(0);

    await page.keyboard.type(passFor(rig.keys, 'W0002'));
    await page.keyboard.press('Enter');
    await page.getByTestId('result').waitFor();
    const reasons = (await page.getByTestId('result-reasons').count()) ? await page.getByTestId('result-reasons').textContent() : '';
    expect(await page.getByTestId('result').getAttribute('data-outcome'), reasons ?? '').toBe('allow');
    expect(await page.getByTestId('result-name').textContent()).toBe('Trần Thị Bình');
    await screenshot(page, 'result-allow-keyboard-wedge');
    expect(rig.relayOpenings()).toBe(openings + 1);
    const last = [...rig.kiosk.events.since(now - 60_000)].at(-1)!;
    expect(last.source).toBe('keyboard');
    await backToIdle(page);
  });

  it('switches to English and back, reasons included', async () => {
    await page.getByTestId('language').click();
    await expect.poll(() => page.locator('.prompt').textContent()).toBe('Show your QR code to the camera or the scanner');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await rig.pty.write(passFor(rig.keys, 'W9999') + '\r');
    await page.getByTestId('result').waitFor();
    expect(await page.getByTestId('result-headline').textContent()).toBe('STOP');
    expect(await page.getByTestId('result-reasons').textContent()).toContain(DENY_REASONS.UNKNOWN_WORKER.en);
    await screenshot(page, 'result-deny-en');
    await backToIdle(page);
    await screenshot(page, 'idle-en');
    await page.getByTestId('language').click();
    await expect.poll(() => page.locator('.prompt').textContent()).toBe('Đưa mã QR vào trước camera hoặc máy quét');
  });

  it('locks the supervisor screen after repeated wrong PINs, even for the right PIN', async () => {
    await rig.kiosk.supervisor.setPin('246810');
    await page.getByTestId('supervisor-open').click();
    const message = page.getByTestId('supervisor-message');
    for (const expected of ['Sai mã PIN. Còn 2 lần thử.', 'Sai mã PIN. Còn 1 lần thử.', 'Tạm khóa do nhập sai nhiều lần. Thử lại sau 5 phút.']) {
      await page.getByTestId('pin').fill('1111');
      await page.getByTestId('pin-OK').click();
      await expect.poll(() => message.textContent(), { timeout: 10_000 }).toBe(expected);
    }
    await page.getByTestId('pin').fill('246810');
    await page.getByTestId('pin-OK').click();
    await expect.poll(() => message.textContent(), { timeout: 10_000 }).toBe('Tạm khóa do nhập sai nhiều lần. Thử lại sau 5 phút.');
    expect(await page.getByTestId('tab-today').count()).toBe(0);
    await screenshot(page, 'supervisor-locked');
    const audit = rig.kiosk.supervisor.auditTrail(now).map((a) => a.action);
    expect(audit.filter((a) => a === 'login-failed')).toHaveLength(3);
    expect(audit).toContain('login-locked-out');
    expect(audit).not.toContain('login');
    await page.getByTestId('supervisor-close').click();
  });

  it('exports the log as CSV (UTF-8 with BOM, formula cells guarded) and as XLSX', async () => {
    await rig.pty.write(passFor(rig.keys, 'W0004') + '\r');
    await page.getByTestId('result').waitFor();
    await backToIdle(page);
    await rig.kiosk.supervisor.setPin('246810'); // a new PIN clears the lockout
    await page.getByTestId('supervisor-open').click();
    for (const k of '246810') await page.getByTestId(`pin-${k}`).click();
    await page.getByTestId('pin-OK').click();
    await page.getByTestId('tab-today').waitFor();
    await page.getByTestId('log-row').first().waitFor();
    expect(await page.getByTestId('summary').textContent()).toMatch(/^Vào: 2 · Ra: 0 · Từ chối: 2$/);
    await screenshot(page, 'supervisor-today');

    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    expect(csv.suggestedFilename()).toMatch(/^safegate-log-\d{4}-\d{2}-\d{2}\.csv$/);
    const bytes = readFileSync((await csv.path())!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8').slice(1);
    const lines = text.trim().split('\r\n');
    expect(lines[0]).toBe('Số sự kiện,Thời gian,Chiều,Kết quả,Mã người lao động,Họ tên,Tổ,Lý do,Nguồn quét,Cho qua bởi quản lý (sự kiện)');
    expect(lines).toHaveLength(5);
    expect(text).toContain('Lê Văn Cường');
    expect(text).toContain(DENY_REASONS.QUARANTINE_ACTIVE.vi);
    expect(text).toContain(`"'=HYPERLINK(""http://x.invalid"",""Phạm"")"`);
    expect(text).not.toMatch(/(^|,)"?=HYPERLINK/m);

    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-xlsx').click()]);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(readFileSync((await xlsx.path())!) as unknown as ArrayBuffer);
    const sheet = book.worksheets[0]!;
    expect(sheet.rowCount).toBe(5);
    expect(sheet.getRow(1).getCell(6).value).toBe('Họ tên');
    const names = [2, 3, 4, 5].map((r) => sheet.getRow(r).getCell(6).value);
    expect(names).toContain('Trần Thị Bình');
    expect(names).toContain('=HYPERLINK("http://x.invalid","Phạm")');
    expect(sheet.getRow(2).getCell(6).formula).toBeUndefined();
    await screenshot(page, 'supervisor-exported');
    await page.getByTestId('supervisor-close').click();
  });

  it('closes an unattended supervisor screen and signs out', async () => {
    await page.clock.install();
    await page.getByTestId('supervisor-open').click();
    for (const k of '246810') await page.getByTestId(`pin-${k}`).click();
    await page.getByTestId('pin-OK').click();
    await page.getByTestId('tab-today').waitFor();
    await page.clock.fastForward('01:00');
    expect(await page.getByTestId('supervisor').count()).toBe(1);
    await page.clock.fastForward('01:01');
    await page.getByTestId('idle').waitFor();
    expect(await page.getByTestId('supervisor').count()).toBe(0);
    await expect.poll(() => rig.kiosk.supervisor.auditTrail(now).at(-1)?.action).toBe('logout');
  });
});

describe('the camera in Chromium', () => {
  const rig = new KioskUnderTest();
  let browser: Browser;

  afterAll(async () => {
    await browser?.close();
    await rig.stop();
  });

  it('reads a pass shown to the camera, opens the simulated gate and names the worker', async () => {
    await rig.start();
    rig.kiosk.roster.upsertAll([healthyWorker('W0101', Date.now(), { displayName: 'Đặng Văn Phúc' })]);
    const video = await makeCameraVideo(rig.dir.path, [
      { text: null, frames: 20 },
      { text: passFor(rig.keys, 'W0101'), frames: 90 },
    ]);
    const server = await rig.kiosk.startScreens();
    browser = await launchChromium({ cameraVideo: video });
    const { page } = await openScreens(browser, server.screenUrl);
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
    await page.getByTestId('camera-status').waitFor();
    expect(await page.getByTestId('camera-status').textContent()).toBe('Camera đang quét');
    await screenshot(page, 'idle-camera');
  }, 60_000);
});
