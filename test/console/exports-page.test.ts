import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, type ConsoleRole } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { createLogger } from '../../base/node/logger.js';
import { EXPORT_UPLOAD_PATH, signExportUpload } from '../../base/node/export-upload.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { HubExports } from '../../sync/hub/exports.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { TestCertificates } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/fixtures.js';
import { launchChromium, screenshot } from '../helpers/browser.js';

const PASSWORD = 'a long enough password';
const DEVICE = 'cong-a-kiosk-1';

/**
 * The console's "Exports" page in Chromium against a running console (real HTTP on loopback): an
 * export a kiosk sent (signed with its certificate) is listed with its device, site, supervisor,
 * rows and size, and downloads whole for an operator, a health officer and the manager of the
 * organisation the gate serves; another organisation's manager sees none.
 */
describe('console exports page (Chromium)', () => {
  const dir = tempDir('safegate-exports-page-');
  const certs = new TestCertificates(join(dir.path, 'certs'));
  const device = certs.issue(DEVICE);
  let directory: HubDirectory;
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let server: ConsoleServer;
  const body = Buffer.from('\uFEFFSố sự kiện,Thời gian\r\n1,2026-11-27 07:58:03\r\n2,2026-11-27 08:01:10\r\n');
  let browser: Browser;

  beforeAll(async () => {
    directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'hub-directory.db') });
    server = new ConsoleServer({
      store: accounts,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: createLogger({ level: 'fatal' }),
      hub: { directory, store: hubStore, zone: 'Asia/Ho_Chi_Minh', exports: new HubExports({ sql: directory.sql, directory, caPem: device.ca }) },
      // The pages as `npm run build` makes them.
      uiFolder: join(process.cwd(), 'build', 'console-ui'),
    });
    await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
    await directory.addOrganisation({ id: 'ORG-B', name: 'B', kind: 'company' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.addCheckpoint({ id: 'cong-a', siteId: 'xuong-a', kind: 'gate', orgIds: ['ORG-A'] });
    await directory.placeDevices('cong-a', [DEVICE]);
    const hash = await hashPassword(PASSWORD);
    const people: [string, ConsoleRole, string?][] = [['op', 'operator'], ['man-a', 'manager', 'ORG-A'], ['man-b', 'manager', 'ORG-B'], ['doctor', 'health']];
    for (const [name, role, org] of people) await accounts.addAccount({ name, role, password: PASSWORD, ...(org ? { org } : {}) }, hash, Date.now());
    await server.start();
    const description = { exportId: 'page-0123456789abcdef', fileName: 'safegate-log-2026-11-27.csv', format: 'csv' as const, rows: 2, supervisorId: 'giam-sat-1', supervisorName: 'Trần Thị Lan', madeMs: Date.now() };
    const r = await fetch(server.url + EXPORT_UPLOAD_PATH, { method: 'POST', headers: signExportUpload({ deviceId: DEVICE, description, body, certPem: device.cert, keyPem: device.key, nowMs: Date.now() }), body });
    expect(r.status).toBe(201);
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

  const open = async (name: string) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'vi-VN', acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${server.url}/#exports`);
    await page.getByLabel('Tên tài khoản').fill(name);
    await page.getByLabel('Mật khẩu').fill(PASSWORD);
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    await page.getByTestId('exports-page').waitFor();
    return page;
  };

  it.each(['op', 'man-a', 'doctor'])('%s sees the export and downloads it whole', async (name) => {
    expect(existsSync('build/console-ui/index.html'), 'the console pages are built by `npm run build`').toBe(true);
    const page = await open(name);
    const row = page.getByTestId('exports').locator('tbody tr');
    await expect.poll(() => row.count()).toBe(1);
    const cells = await row.locator('td').allTextContents();
    expect(cells.slice(0, 4)).toEqual([DEVICE, 'xuong-a', 'cong-a', 'Trần Thị Lan (giam-sat-1)']);
    expect(cells[5]).toBe('2');
    expect(cells[6]).toBe('1 KB');
    if (name === 'man-a') await screenshot(page, 'console-exports-vi');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
    expect(download.suggestedFilename()).toBe(`${DEVICE}-safegate-log-2026-11-27.csv`);
    expect(readFileSync((await download.path())!)).toEqual(body);
    await page.context().close();
  }, 60_000);

  it("another organisation's manager sees no export", async () => {
    const page = await open('man-b');
    await page.getByText('Chưa có.').waitFor();
    expect(await page.getByTestId('exports').locator('tbody tr').count()).toBe(0);
    await page.context().close();
  }, 60_000);
});
