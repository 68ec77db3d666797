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
    // The start ends with one block: what to open, the supervisor's PIN, where the passes are.
    const block = await waitFor(() => /\n(={78})\n {2}SafeGate demo is running\n([\s\S]*?)\n\1\n/.exec(out)?.[2], 'the first-run block', 45_000);
    const url = /^ {2}Screens: {5}open (http:\/\/127\.0\.0\.1:\d+\/#secret=[\w-]+) in a browser on this machine$/m.exec(block)?.[1];
    expect(url).toBeDefined();
    expect(block).toMatch(/^ {2}Supervisor: {2}Demo supervisor, PIN \d{6,}/m);
    expect(block).toContain(`  Demo passes: ${dir.path}/passes.html: print it`);
    expect(block).toContain(`also at ${new URL('/demo/passes.html', url).href}`);
    // Nothing the demo prints at its start comes after the block (scan results come later, as they happen).
    const afterBlock = out.slice(out.indexOf('SafeGate demo is running'));
    expect(afterBlock.indexOf('SG1:')).toBe(-1);
    expect(out.indexOf('[roster from the hub')).toBeLessThan(out.indexOf('SafeGate demo is running'));
    const allowed = /allowed \(Nguyễn Văn An\):\n\s+(SG1:[^\n]+)/.exec(out)?.[1];
    const quarantined = /quarantined \(Lê Văn Cường\):\n\s+(SG1:[^\n]+)/.exec(out)?.[1];
    expect(allowed).toBeDefined();

    // The demo hub serves the console: its address and three demo logins, passwords made at this start.
    const consoleUrl = /^ {2}Console: {5}open (http:\/\/127\.0\.0\.1:\d+)\/ in a browser/m.exec(block)?.[1];
    const logins = [...block.matchAll(/^ {15}(demo-operator|demo-manager|demo-health) \/ (\S+) {2}\(/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(consoleUrl).toBeDefined();
    expect(logins.map((l) => l[0])).toEqual(['demo-operator', 'demo-manager', 'demo-health']);
    const sessions = new Map<string, string>();
    for (const [name, password] of logins) {
      const csrf = await fetch(`${consoleUrl}/api/csrf`);
      const token = ((await csrf.json()) as { token: string }).token;
      const csrfCookie = csrf.headers.getSetCookie()[0]!.split(';')[0]!;
      const login = await fetch(`${consoleUrl}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': token, cookie: csrfCookie },
        body: JSON.stringify({ name, password }),
      });
      expect([name, login.status]).toEqual([name, 200]);
      if (name === 'demo-manager') expect(await login.json()).toEqual({ name, role: 'manager', org: 'demo-org' });
      sessions.set(name, [csrfCookie, ...login.headers.getSetCookie().map((c) => c.split(';')[0]!)].join('; '));
    }
    const get = async (name: string, path: string) => {
      const r = await fetch(`${consoleUrl}${path}`, { headers: { cookie: sessions.get(name)! } });
      expect([path, r.status]).toEqual([path, 200]);
      return r.json() as Promise<unknown>;
    };
    // The console shows a trace: the health officer finds the demo case's trace with its contacts on
    // the bus, in the zone and at the canteen, and not the near misses.
    const { traces } = (await get('demo-health', '/api/traces')) as { traces: { traceId: string; caseWorkerId: string }[] };
    const demoTrace = traces.find((t) => t.caseWorkerId === 'W0005');
    expect(demoTrace).toBeDefined();
    const trace = (await get('demo-health', `/api/traces/${demoTrace!.traceId}`)) as { contacts: { workerId: string; degree: number; exposures: { place: { kind: string } }[] }[] };
    const f1 = trace.contacts.filter((c) => c.degree === 1);
    expect(Object.fromEntries(f1.map((c) => [c.workerId, [...new Set(c.exposures.map((e) => e.place.kind))].sort()]))).toEqual({
      W0001: ['bus', 'zone'],
      W0002: ['canteen'],
      W0004: ['canteen'],
      W0006: ['bus', 'zone'],
    });
    // Khánh was in the zone after the case left, with Giang (who never scanned out): an F2 through her.
    expect(trace.contacts.filter((c) => c.degree === 2).map((c) => c.workerId)).toEqual(['W0008']);
    // And an alert delivered: this morning's, taken by the demo's stand-in SMS gateway over a signed webhook.
    await waitFor(() => (/\[demo SMS gateway: alert \S+ \(health\) accepted/.test(out) ? true : undefined), 'the alert at the demo gateway', 15_000);
    const book = (await get('demo-manager', '/api/alerts/book')) as { alerts: { kind: string; deliveries: { channel: string; state: string }[] }[] };
    expect(book.alerts.find((a) => a.kind === 'confirmed-case-entry-attempt')?.deliveries).toEqual([expect.objectContaining({ channel: 'webhook', state: 'sent' })]);

    const sheet = await (await fetch(new URL('/demo/passes.html', url))).text();
    expect(sheet.match(/<img src="data:image\/png;base64,/g)).toHaveLength(8);
    for (const label of ['allowed', 'expired pass', 'F1 without a recent test', 'quarantined', 'unknown worker']) expect(sheet).toContain(label);

    browser = await launchChromium();
    const { page } = await openScreens(browser, url!, { camera: false });
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
    // Discreet mode (the default): the queue reads what to do, never the health reason.
    await expect.poll(() => page.getByTestId('result-guidance').textContent().catch(() => '')).toBe('Vui lòng gặp bảo vệ cổng để được hướng dẫn');
    expect(await page.getByTestId('result').textContent()).not.toContain('cách ly');
    await screenshot(page, 'demo-result-deny');
    await waitFor(() => (/simulated gate relay OPEN/.test(out) ? true : undefined), 'the simulated relay');

    // The console in Chromium: the health officer's Trace page shows the demo trace, the manager's
    // Alerts page the delivered alert.
    const consolePage = async (name: 'demo-health' | 'demo-manager', hash: string, ready: string) => {
      const context = await browser!.newContext({ viewport: { width: 1280, height: 900 }, locale: 'vi-VN' });
      const p = await context.newPage();
      p.setDefaultTimeout(20_000);
      await p.goto(`${consoleUrl}/#${hash}`);
      await p.getByLabel('Tên tài khoản').fill(name);
      await p.getByLabel('Mật khẩu').fill(logins.find((l) => l[0] === name)![1]);
      await p.getByRole('button', { name: 'Đăng nhập' }).click();
      await p.getByTestId(ready).waitFor();
      return p;
    };
    const tracePage = await consolePage('demo-health', 'trace', 'trace-page');
    await tracePage.getByTestId('trace-open').first().click();
    await tracePage.getByTestId('trace-result').waitFor();
    const shownContacts = await tracePage.getByTestId('trace-contact').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-worker')));
    expect(new Set(shownContacts)).toEqual(new Set(['W0001', 'W0002', 'W0004', 'W0006', 'W0008']));
    await screenshot(tracePage, 'demo-console-trace');
    const alertsPage = await consolePage('demo-manager', 'alerts', 'alerts-page');
    await expect.poll(() => alertsPage.locator('[data-testid="deliveries"] [data-state="sent"]').count()).toBeGreaterThan(0);
    await screenshot(alertsPage, 'demo-console-alerts');
  }, 120_000);
});
