import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { SAFEGATE_BIN } from '../../helpers/cli.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';
import { launchChromium, openScreens, screenshot } from '../../helpers/browser.js';

/**
 * The README's run command ends in `safegate demo`: embedded broker, reference hub, kiosk core
 * with the simulated (stdin) scanner and GPIO, and the screens. Without a display it prints the
 * screens' address; this test opens it in Chromium and scans through the simulated scanner.
 */
describe('the demo with its screens', () => {
  const dir = tempDir('safegate-demo-');
  let browser: Browser | undefined;
  const child = spawn(process.execPath, [SAFEGATE_BIN, 'demo', '--dir', dir.path], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));

  afterAll(async () => {
    await browser?.close();
    child.stdin.end();
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    dir.remove();
  });

  it('prints the screens address, serves the pass sheet, and shows a scan from the simulated scanner', async () => {
    const url = await waitFor(() => /open (http:\/\/127\.0\.0\.1:\d+\/#secret=[\w-]+) in a browser/.exec(out)?.[1], 'the screens address', 20_000);
    const allowed = /allowed \(Nguyễn Văn An\):\n\s+(SG1:[^\n]+)/.exec(out)?.[1];
    const quarantined = /quarantined \(Lê Văn Cường\):\n\s+(SG1:[^\n]+)/.exec(out)?.[1];
    expect(allowed).toBeDefined();
    expect(out).toContain('supervisor screen PIN for the demo: 123456');

    const sheet = await (await fetch(new URL('/demo/passes.html', url))).text();
    expect(sheet.match(/<img src="data:image\/png;base64,/g)).toHaveLength(7);
    for (const label of ['allowed', 'expired pass', 'F1 without a recent test', 'quarantined', 'unknown worker']) expect(sheet).toContain(label);

    browser = await launchChromium();
    const { page } = await openScreens(browser, url, { camera: false });
    await page.getByTestId('idle').waitFor();
    await expect.poll(() => page.getByTestId('link').textContent(), { timeout: 15_000 }).toBe('Đã kết nối hệ thống');
    expect(await page.getByTestId('notices').textContent()).toContain('Đeo khẩu trang');
    await screenshot(page, 'demo-idle');

    child.stdin.write(allowed + '\n');
    await page.getByTestId('result').waitFor();
    expect(await page.getByTestId('result-name').textContent()).toBe('Nguyễn Văn An');
    expect(await page.getByTestId('result').getAttribute('data-outcome')).toBe('allow');
    await screenshot(page, 'demo-result-allow');
    await page.getByTestId('result').click();

    child.stdin.write(quarantined + '\n');
    await expect.poll(() => page.getByTestId('result-reasons').textContent().catch(() => '')).toContain('Đang trong thời gian cách ly');
    await screenshot(page, 'demo-result-deny');
    await waitFor(() => (/simulated gate relay OPEN/.test(out) ? true : undefined), 'the simulated relay');
  }, 60_000);
});
