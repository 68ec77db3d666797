import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../base/node/logger.js';
import { hashPassword } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { Tracer } from '../../sync/hub/trace.js';
import { SavedTraces } from '../../sync/hub/traces.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { tempDir } from '../helpers/fixtures.js';
import { buildTraceScenario, FORMULA_NAME, NAMES, SCENARIO_NOW, ZONE } from './trace-scenario.js';

const PASSWORD = 'a long enough password';

/**
 * The console's Trace page in Chromium against a running console (real HTTP on loopback), a real
 * hub store with the scenario's kiosk events ingested, phone check-ins uploaded signed, and a
 * registry with checkpoint kinds (test/console/trace-scenario.ts): a health officer traces the case
 * and sees exactly its contacts by day and place, marks one as told (still marked after a reload),
 * and downloads the XLSX and CSV; a manager sees their organisation's contacts only and is told
 * plainly that another organisation's worker is not theirs to trace; an operator has no Trace page.
 */
describe('console trace page (Chromium)', () => {
  const dir = tempDir('safegate-trace-page-');
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let directory: HubDirectory;
  let server: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'hub-directory.db') });
    const { visits } = await buildTraceScenario(directory, hubStore);
    server = new ConsoleServer({
      store: accounts,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: createLogger({ level: 'fatal' }),
      now: () => SCENARIO_NOW,
      hub: { directory, store: hubStore, zone: ZONE, tracing: { tracer: new Tracer({ store: hubStore, directory, visits }), saved: new SavedTraces({ sql: directory.sql, now: () => SCENARIO_NOW }) } },
      // The pages as `npm run build` makes them.
      uiFolder: join(process.cwd(), 'build', 'console-ui'),
    });
    const hash = await hashPassword(PASSWORD);
    const people = [
      { name: 'bs-lan', role: 'health' },
      { name: 'ql-a', role: 'manager', org: 'may-a' },
      { name: 'op', role: 'operator' },
    ] as const;
    for (const p of people) await accounts.addAccount({ ...p, password: PASSWORD }, hash, Date.now());
    await server.start();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await accounts.close();
    await hubStore.close();
    await directory?.close();
    dir.remove();
  });

  const open = async (name: string, ready: 'trace-page' | 'nav' = 'trace-page') => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, locale: 'vi-VN', acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${server.url}/#trace`);
    await page.getByLabel('Tên tài khoản').fill(name);
    await page.getByLabel('Mật khẩu').fill(PASSWORD);
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    await (ready === 'nav' ? page.getByRole('navigation') : page.getByTestId(ready)).waitFor();
    return page;
  };

  /** What the open trace shows: each group (day, place) with its rows' cells. */
  const shown = async (page: Page) => {
    const groups = page.getByTestId('trace-result').getByTestId('trace-group');
    const out: { day: string | null; place: string | null; heading: string; rows: string[][] }[] = [];
    for (let i = 0; i < (await groups.count()); i++) {
      const g = groups.nth(i);
      const rows = g.locator('tbody tr');
      const cells: string[][] = [];
      for (let r = 0; r < (await rows.count()); r++) cells.push((await rows.nth(r).locator('td').allTextContents()).map((c) => c.trim()));
      out.push({ day: await g.getAttribute('data-day'), place: await g.getAttribute('data-place'), heading: (await g.locator('h4').textContent()) ?? '', rows: cells });
    }
    return out;
  };

  const download = async (page: Page, testId: string) => {
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
    return readFileSync((await file.path())!);
  };

  it('a health officer traces the case: exactly its contacts by day and place; marks one as told (kept after a reload); downloads XLSX and CSV', async () => {
    expect(existsSync('build/console-ui/index.html'), 'the console pages are built by `npm run build`').toBe(true);
    const page = await open('bs-lan');
    // The last 14 days by the hub's clock, in the province zone.
    await expect.poll(() => page.getByTestId('trace-from').inputValue()).toBe('2026-11-11');
    expect(await page.getByTestId('trace-to').inputValue()).toBe('2026-11-25');
    // A worker the hub knows nothing of: said plainly, in the page's language.
    await page.getByTestId('trace-worker').fill('nobody-at-all');
    await page.getByTestId('trace-start').click();
    await expect.poll(() => page.getByTestId('trace-error').textContent()).toBe('Hệ thống không biết người lao động nobody-at-all: không có trong danh sách nào, không có lượt ra vào nào.');
    await page.getByTestId('trace-worker').fill('c1');
    // The trace held back until the page has shown that it runs (and cannot be started twice).
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/api/traces', async (route) => {
      if (route.request().method() === 'POST') await held;
      await route.continue();
    });
    await page.getByTestId('trace-start').click();
    await page.getByTestId('trace-running').waitFor();
    expect(await page.getByTestId('trace-start').isDisabled()).toBe(true);
    release();
    await page.getByTestId('trace-result').waitFor();
    expect(await page.getByTestId('trace-running').count()).toBe(0);
    expect(await page.getByTestId('trace-result').locator('h3').textContent()).toBe(`Truy vết ca c1 — ${NAMES['c1']}`);
    const groups = await shown(page);
    // Columns: rank, degree, worker, name, team, organisation, when, minutes, source, clock, told.
    expect(groups.map((g) => [g.day, g.place, g.heading])).toEqual([
      ['2026-11-20', 'nha-an', '2026-11-20 — Nhà ăn (Nhà ăn)'],
      ['2026-11-20', 'xe-01', '2026-11-20 — Xe 01 (Xe đưa đón)'],
      ['2026-11-21', 'khu-cat', '2026-11-21 — Khu cắt (Khu vực)'],
      ['2026-11-21', 'to-may-1', '2026-11-21 — Tổ May 1 (Tổ/đội)'],
    ]);
    expect(groups.map((g) => g.rows.map((r) => r.slice(0, 10)))).toEqual([
      [['4', 'F1', 'a1', FORMULA_NAME, 'Tổ Cắt', 'may-a', '11:45–12:00', '15', 'Ki-ốt', 'Chưa xác minh giờ']],
      [['3', 'F1', 'b1', NAMES['b1'], 'Tổ Xe', 'may-b', '06:40–07:00', '20', 'Ki-ốt', '']],
      [['1', 'F1', 'a2', NAMES['a2'], 'Tổ Cắt', 'may-a', '10:00–12:00', '120', 'Ki-ốt', '']],
      [['2', 'F1', 'a3', NAMES['a3'], 'Tổ May 1', 'may-a', '14:00–15:00', '60', 'Điện thoại', '']],
    ]);

    // Told: who and when, in the province zone; still so after a reload and reopening the trace.
    await page.locator('[data-testid="trace-contact"][data-worker="a2"]').getByTestId('trace-notify').click();
    await expect.poll(() => page.locator('[data-testid="trace-contact"][data-worker="a2"]').getByTestId('trace-notified').textContent()).toBe('Đã báo bởi bs-lan lúc 2026-11-25 10:00');
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'console-trace-vi');
    await page.reload();
    await page.getByTestId('traces').getByTestId('trace-open').first().click();
    await page.getByTestId('trace-result').waitFor();
    expect(await page.locator('[data-testid="trace-contact"][data-worker="a2"]').getByTestId('trace-notified').textContent()).toBe('Đã báo bởi bs-lan lúc 2026-11-25 10:00');
    expect(await page.getByTestId('trace-notify').count()).toBe(3);
    expect((await page.getByTestId('traces').locator('tbody tr').first().locator('td').allTextContents()).slice(1, 7)).toEqual([`c1 — ${NAMES['c1']}`, '2026-11-11 – 2026-11-25', 'F1', '4', '1', 'bs-lan']);

    // The sheets: a row per contact and place, Vietnamese header, the formula-looking name guarded; the CSV with a BOM.
    const csv = await download(page, 'trace-export-csv');
    expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = csv.toString('utf8').slice(1).trimEnd().split('\r\n');
    expect(lines.map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['Hạng,Mức,Mã người lao động', '1,F1,a2', '2,F1,a3', '3,F1,b1', '4,F1,a1']);
    expect(lines[4]).toContain(`"'${FORMULA_NAME.replaceAll('"', '""')}"`);
    expect(lines[1]).toContain(',bs-lan,2026-11-25 10:00:00');
    const book = new ExcelJS.Workbook();
    await book.xlsx.load((await download(page, 'trace-export-xlsx')) as unknown as ArrayBuffer);
    const sheet = book.worksheets[0]!;
    expect(sheet.getRow(1).getCell(4).value).toBe('Họ tên');
    expect(sheet.getColumn(3).values.slice(2)).toEqual(['a2', 'a3', 'b1', 'a1']);
    expect(sheet.getRow(5).getCell(4).value).toBe(`'${FORMULA_NAME}`);
    await page.context().close();
  }, 90_000);

  it("a manager sees their organisation's contacts only, and tracing another organisation's worker is refused (403) with a clear message", async () => {
    const page = await open('ql-a');
    await page.getByTestId('traces').getByTestId('trace-open').first().click();
    await page.getByTestId('trace-result').waitFor();
    expect((await shown(page)).flatMap((g) => g.rows.map((r) => r[2]))).toEqual(['a1', 'a2', 'a3']);
    expect(await page.getByTestId('trace-elsewhere').textContent()).toBe('Còn 1 người tiếp xúc thuộc tổ chức khác: cán bộ y tế có danh sách này.');
    expect(await page.getByTestId('trace-result').textContent()).not.toContain(NAMES['b1']);
    await screenshot(page, 'console-trace-manager-vi');

    await page.getByTestId('trace-worker').fill('b1');
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/traces') && r.request().method() === 'POST'), page.getByTestId('trace-start').click()]);
    expect(answer.status()).toBe(403);
    expect(await page.getByTestId('trace-error').textContent()).toBe('Người này không có trong danh sách của tổ chức bạn. Cán bộ y tế truy vết người lao động của tổ chức khác.');
    await page.context().close();
  }, 60_000);

  it('an operator has no Trace page (tracing is health data) and the API refuses them', async () => {
    const page = await open('op', 'nav');
    expect(await page.getByRole('navigation').getByRole('link', { name: 'Truy vết' }).count()).toBe(0);
    expect(await page.getByTestId('trace-page').count()).toBe(0);
    expect((await page.request.get(`${server.url}/api/traces`)).status()).toBe(403);
    await page.context().close();
  }, 60_000);
});
