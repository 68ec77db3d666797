import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SELFTEST_CHECKS } from '../../base/common/selftest.js';
import { KioskUnderTest } from '../helpers/kiosk.js';
import { TestCertificates } from '../helpers/mosquitto.js';
import { launchChromium, openScreens, overflowProblems, resize, screenshotAt } from '../helpers/browser.js';

const DEVICE = 'test-kiosk-01';

/**
 * The supervisor's Self-test tab in real Chromium at 800x480 (the smallest panel): the running kiosk
 * runs the checks on its own live objects (its pty scanner, simulated GPIO, a hub it cannot reach, a
 * certificate that expires in two days, data the hub never confirmed) and the tab lists them with
 * their colours and what to do, Vietnamese first. Only a signed-in supervisor may run it.
 */
describe('the Self-test tab', () => {
  const rig = new KioskUnderTest();
  const certs = new TestCertificates(join(rig.dir.path, 'certs'));
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    certs.issue(DEVICE);
    const files = { ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${DEVICE}.crt`), key: join(certs.dir, `${DEVICE}.key`) };
    // Port 9 on loopback refuses: the hub is unreachable the whole test.
    await rig.start({ hub: { broker: { url: 'mqtts://127.0.0.1:9', ...files } }, screens: { camera: { enabled: false } } });
    await rig.kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '246810' });
    const server = await rig.kiosk.startScreens();
    browser = await launchChromium();
    ({ page } = await openScreens(browser, server.screenUrl, { camera: false }));
    await resize(page, { width: 800, height: 480 });
    await page.getByTestId('idle').waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig.stop();
  });

  it('refuses a screen without a signed-in supervisor', async () => {
    const reply = await rig.kiosk.screenService.dispatch('supervisor.selftest', { token: 'not-a-session-token-at-all' });
    expect(reply).toMatchObject({ ok: false, error: { code: 'not-signed-in' } });
    expect(rig.kiosk.supervisor.auditTrail().filter((a) => a.action === 'selftest')).toEqual([]);
  });

  it('lists every check with its colour and what to do, in Vietnamese then English, fitting 800x480', { timeout: 60_000 }, async () => {
    const box = (await page.getByTestId('supervisor-open').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.getByTestId('supervisor').waitFor({ timeout: 5_000 });
    await page.mouse.up();
    await page.getByTestId('account-lan').click();
    for (const k of '246810') await page.getByTestId(`pin-${k}`).click();
    await page.getByTestId('pin-OK').click();
    await page.getByTestId('tab-selftest').click();
    expect(await page.getByTestId('tab-selftest').textContent()).toBe('Tự kiểm tra');
    await page.getByTestId('selftest-run').click();
    await expect.poll(() => page.getByTestId('selftest-row').count(), { timeout: 20_000 }).toBe(SELFTEST_CHECKS.length);

    const rows = await page.getByTestId('selftest-row').evaluateAll((els) => els.map((e) => [e.getAttribute('data-check'), e.getAttribute('data-status')]));
    expect(rows.map(([c]) => c)).toEqual([...SELFTEST_CHECKS]);
    const status = Object.fromEntries(rows) as Record<string, string>;
    expect(status).toMatchObject({
      settings: 'pass',
      scanner: 'pass',
      gpio: 'warn',
      database: 'pass',
      broker: 'warn',
      'hub-keys': 'pass',
      // The hub never confirmed the roster: past the policy's limit.
      'data-ages': 'fail',
      certificate: 'warn',
    });
    const row = (check: string) => page.locator(`[data-testid=selftest-row][data-check=${check}]`);
    expect(await row('data-ages').locator('.selftest-check').textContent()).toBe('Độ mới dữ liệu');
    expect(await row('data-ages').locator('.badge').textContent()).toBe('Lỗi');
    expect(await row('data-ages').locator('.selftest-todo').textContent()).toBe('Dữ liệu đã cũ: kiểm tra kết nối với trung tâm.');
    expect(await row('data-ages').locator('.selftest-detail').textContent()).toContain('roster never confirmed by the hub');
    expect(await row('gpio').locator('.selftest-detail').textContent()).toContain('simulated GPIO: no relay here');
    expect(await row('broker').locator('.selftest-detail').textContent()).toContain("this kiosk's link is");
    // Colours: red for a failure, amber for a warning, green for a pass.
    const colour = (check: string) => row(check).locator('.badge').evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(await colour('data-ages')).toBe('rgb(179, 18, 27)');
    expect(await colour('gpio')).toBe('rgb(138, 83, 0)');
    expect(await colour('settings')).toBe('rgb(10, 125, 44)');
    expect(await page.getByTestId('selftest-summary').textContent()).toMatch(/^\d+ đạt · \d+ cần xem · 1 lỗi · Kiểm tra lúc /);
    expect(await overflowProblems(page)).toEqual([]);
    await screenshotAt(page, { width: 800, height: 480 }, 'supervisor-selftest');

    // Portrait too (the same 7-inch panel turned): the six tabs wrap, the list scrolls, nothing spills.
    await resize(page, { width: 480, height: 800 });
    expect(await overflowProblems(page)).toEqual([]);
    await screenshotAt(page, { width: 480, height: 800 }, 'supervisor-selftest');
    await resize(page, { width: 800, height: 480 });

    await page.getByTestId('supervisor-language').click();
    await expect.poll(() => row('data-ages').locator('.selftest-check').textContent()).toBe('Data ages');
    expect(await page.getByTestId('tab-selftest').textContent()).toBe('Self-test');
    expect(await overflowProblems(page)).toEqual([]);
    await screenshotAt(page, { width: 800, height: 480 }, 'supervisor-selftest-en');

    // Audited: who ran it and the counts.
    const audit = rig.kiosk.supervisor.auditTrail().filter((a) => a.action === 'selftest');
    expect(audit).toEqual([expect.objectContaining({ supervisorId: 'lan', detail: expect.stringMatching(/^\d+ pass, \d+ warn, 1 fail$/) })]);
  });
});
