import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, type ConsoleRole } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { createLogger } from '../../base/node/logger.js';
import type { WireEvent } from '../../sync/batch-codec.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { parseWorkerList } from '../../sync/hub/registry-upload.js';
import { formDate } from '../../sync/hub/reports/labour-list.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { tempDir } from '../helpers/fixtures.js';
import { launchChromium, screenshot } from '../helpers/browser.js';

const PASSWORD = 'a long enough password';
const ZONE = 'Asia/Ho_Chi_Minh';
const LIST = Buffer.from('Mã nhân viên,Họ và tên,Số CCCD,Số điện thoại,Kết quả xét nghiệm\nW-1,Nguyễn Thị Lan,079190000001,0912345601,Âm tính\nW-2,Trần Văn Bình,079185000002,0912345602,Dương tính\n');

function passage(seq: number, wallMs: number, workerId: string, decision: 'allow' | 'deny', reasons: string[]): WireEvent {
  return {
    seq,
    wallMs,
    monoUs: seq * 1_000_000,
    bootId: '3f1c2a9e-8d2b-4c1e-9a57-2b7d1e4f0c11',
    clockSynced: true,
    checkpointId: 'cong-a',
    zoneId: 'xuong-a',
    direction: 'entry',
    credentialKind: 'pass',
    workerId,
    codeHash: null,
    decision,
    reasons,
    source: 'serial',
    policyVersion: 3,
  } as WireEvent;
}

/**
 * The console's Reports page in Chromium against a running console (real HTTP on loopback): a
 * manager sees their organisation's summary of the day, with health reasons by name, and downloads
 * its CV 2242 labour list; another organisation's manager is refused both (403, on the audit trail);
 * an operator sees the province's summary with health reasons counted as one.
 */
describe('console reports page (Chromium)', () => {
  const dir = tempDir('safegate-reports-page-');
  let directory: HubDirectory;
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let server: ConsoleServer;
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
      hub: { directory, store: hubStore, zone: ZONE },
      // The pages as `npm run build` makes them.
      uiFolder: join(process.cwd(), 'build', 'console-ui'),
    });
    await directory.addOrganisation({ id: 'ORG-A', name: 'Công ty May A', kind: 'company' });
    await directory.addOrganisation({ id: 'ORG-B', name: 'Công ty B', kind: 'company' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.addCheckpoint({ id: 'cong-a', siteId: 'xuong-a', kind: 'gate', orgIds: ['ORG-A'] });
    await directory.placeDevices('cong-a', ['kiosk-a']);
    await directory.uploadWorkers('ORG-A', await parseWorkerList(LIST, ZONE, Date.now()));
    // Two passages a minute ago (today in the province), stamped with ORG-A as the hub stamps them.
    const t = Date.now() - 60_000;
    await hubStore.ingestMany([
      { deviceId: 'kiosk-a', receivedMs: Date.now(), orgOf: new Map([['W-1', 'ORG-A'], ['W-2', 'ORG-A']]), events: [passage(1, t, 'W-1', 'allow', []), passage(2, t + 1_000, 'W-2', 'deny', ['CASE_F0'])] },
    ]);
    const hash = await hashPassword(PASSWORD);
    const people: [string, ConsoleRole, string?][] = [['op', 'operator'], ['man-a', 'manager', 'ORG-A'], ['man-b', 'manager', 'ORG-B']];
    for (const [name, role, org] of people) await accounts.addAccount({ name, role, password: PASSWORD, ...(org ? { org } : {}) }, hash, Date.now());
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

  const open = async (name: string) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'vi-VN', acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${server.url}/#reports`);
    await page.getByLabel('Tên tài khoản').fill(name);
    await page.getByLabel('Mật khẩu').fill(PASSWORD);
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    await page.getByTestId('reports-page').waitFor();
    return page;
  };

  it("a manager sees their organisation's day, health reasons by name, and downloads its labour list", async () => {
    expect(existsSync('build/console-ui/index.html'), 'the console pages are built by `npm run build`').toBe(true);
    const page = await open('man-a');
    await expect.poll(() => page.getByTestId('summary-passages').textContent()).toBe('Lượt qua cổng: 2 — cho phép 1 (lượt vào 1), từ chối 1');
    expect(await page.getByTestId('summary').locator('h3').textContent()).toMatch(/^Báo cáo ngày \d{4}-\d{2}-\d{2} — Công ty May A \(ORG-A\)$/);
    // Times as the province reads them, whatever the browser's zone (this one's is UTC).
    expect(await page.getByTestId('summary').locator('.hint').textContent()).toContain(formDate(Date.now(), ZONE));
    expect(await page.getByTestId('summary-denied').locator('tbody tr').allTextContents()).toEqual(['Đang là ca bệnh (F0)1']);
    expect(await page.getByTestId('summary-lists').locator('tbody td').nth(0).textContent()).toBe('ORG-A');
    await screenshot(page, 'console-reports-vi');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('labour-list-now').click()]);
    expect(download.suggestedFilename()).toMatch(/^danh-sach-nld-ORG-A-\d{4}-\d{2}-\d{2}\.xlsx$/);
    const workers = await parseWorkerList(readFileSync((await download.path())!), ZONE, Date.now());
    expect(workers.map((w) => [w.workerId, w.fullName, w.idNumber, w.testResult])).toEqual([
      ['W-1', 'Nguyễn Thị Lan', '079190000001', 'negative'],
      ['W-2', 'Trần Văn Bình', '079185000002', 'positive'],
    ]);
    await page.context().close();
    const trail = await accounts.auditTrail(50);
    expect(trail.find((e) => e.action === 'labour list download' && e.outcome === 'ok')).toMatchObject({ account: 'man-a', target: 'organisation ORG-A: 2 workers' });
  }, 60_000);

  it("another organisation's manager sees their own day and is refused ORG-A's summary and list", async () => {
    const page = await open('man-b');
    await expect.poll(() => page.getByTestId('summary-passages').textContent()).toBe('Lượt qua cổng: 0 — cho phép 0 (lượt vào 0), từ chối 0');
    expect(await page.getByTestId('summary').locator('h3').textContent()).toContain('Công ty B (ORG-B)');
    const status = (path: string) => page.evaluate(async (p) => (await fetch(p)).status, path);
    expect(await status('/api/reports/summary?org=ORG-A')).toBe(403);
    expect(await status('/api/reports/labour-list.xlsx?org=ORG-A')).toBe(403);
    expect(await status('/api/reports/labour-list.xlsx?org=ORG-B')).toBe(200);
    await page.context().close();
    const trail = await accounts.auditTrail(50);
    expect(trail.find((e) => e.action === 'labour list download' && e.outcome === 'refused')).toMatchObject({ account: 'man-b', target: "organisation ORG-A: not this account's" });
  }, 60_000);

  it('an operator sees the province with health reasons counted as one, and an organisation\'s summary, never a labour list', async () => {
    const page = await open('op');
    await expect.poll(() => page.getByTestId('summary-passages').textContent()).toBe('Lượt qua cổng: 2 — cho phép 1 (lượt vào 1), từ chối 1');
    expect(await page.getByTestId('summary').locator('h3').textContent()).toContain('Toàn tỉnh');
    const denied = await page.getByTestId('summary-denied').locator('tbody tr').allTextContents();
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatch(/^Lý do sức khoẻ \(gộp/);
    expect(denied[0]).not.toContain('F0');
    expect(await page.getByTestId('labour-list').count()).toBe(0);
    await page.locator('select[name="report-org"]').selectOption('ORG-A');
    await expect.poll(() => page.getByTestId('summary').locator('h3').textContent()).toContain('Công ty May A (ORG-A)');
    // Labour lists hold named test results, ID numbers and phones: no download for an operator.
    expect(await page.getByTestId('labour-list').count()).toBe(0);
    expect(await page.getByTestId('labour-list-now').count()).toBe(0);
    await page.context().close();
  }, 60_000);
});
