import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
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
import { addVisitors, buildTraceScenario, SCENARIO_NOW, VISITOR_A, ZONE } from './trace-scenario.js';

const PASSWORD = 'a long enough password';

/**
 * The console's Trace page with visitors (issue 14) in Chromium against a running console: the
 * visitor contact is named by their visit, and the visitors on the case's site meanwhile are listed
 * apart (test/console/trace-scenario.ts addVisitors).
 */
describe('console trace page with visitors (Chromium)', () => {
  const dir = tempDir('safegate-trace-visitors-page-');
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let directory: HubDirectory;
  let server: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'hub-directory.db') });
    const { visits } = await buildTraceScenario(directory, hubStore);
    await addVisitors(directory, hubStore);
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

  it("a health officer sees a visitor contact by their name and visit, and the visitors on site meanwhile, with entry, exit and minutes", async () => {
    expect(existsSync('build/console-ui/index.html'), 'the console pages are built by `npm run build`').toBe(true);
    const page = await open('bs-lan');
    await expect.poll(() => page.getByTestId('trace-from').inputValue()).toBe('2026-11-11');
    await page.getByTestId('trace-worker').fill('c1');
    await page.getByTestId('trace-start').click();
    await page.getByTestId('trace-result').waitFor();
    const row = page.locator(`[data-testid="trace-contact"][data-worker="${VISITOR_A}"]`);
    // Columns: rank, degree, id, name, team (for a visitor: whom and why), organisation, when, minutes.
    expect((await row.locator('td').allTextContents()).slice(1, 8).map((c) => c.trim())).toEqual(['F1', VISITOR_A, 'Khách A (khách)', 'Thăm Tổ Cắt — Kiểm hàng', 'may-a', '09:00–09:30', '30']);
    const visitors = page.getByTestId('trace-visitors').locator('tbody tr');
    const cells = [];
    for (let r = 0; r < (await visitors.count()); r++) cells.push((await visitors.nth(r).locator('td').allTextContents()).map((c) => c.trim()));
    expect(cells).toEqual([
      ['Khách A', 'Tổ Cắt', 'Kiểm hàng', 'xuong-1', '2026-11-21 08:55', '2026-11-21 10:00', '65', ''],
      ['Khách Bê', 'Đội xe', 'Bảo dưỡng xe', 'xuong-1', '2026-11-20 06:00', '2026-11-20 08:00', '30', ''],
    ]);
    await page.getByTestId('trace-visitors').scrollIntoViewIfNeeded();
    await screenshot(page, 'console-trace-visitors-vi');
    await page.context().close();
  }, 90_000);
});
