import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, type ConsoleRole } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { createLogger } from '../../base/node/logger.js';
import type { AlertKind } from '../../base/common/types.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { AlertBook, categoryOfKioskAlert } from '../../sync/hub/notify/alert-book.js';
import { parseWorkerList } from '../../sync/hub/registry-upload.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { PROTOCOL_VERSION, type Alert } from '../../sync/protocol.js';
import { tempDir } from '../helpers/fixtures.js';
import { launchChromium, screenshot } from '../helpers/browser.js';

const PASSWORD = 'a long enough password';
const ZONE = 'Asia/Ho_Chi_Minh';

/**
 * The console's Alerts page in Chromium against a running console (real HTTP on loopback, SQLite
 * files): a manager has the page open; a kiosk alert raised into the hub as the hub raises it (the
 * store's row, then the alert book) appears on the open page without a reload, with the badge and
 * the "new" mark; its deliveries' states follow the dispatcher's records (sent, undelivered); the
 * manager acknowledges it (kept, audited); another organisation's manager, page open too, never
 * receives it, neither listed nor fetched; an operator names a webhook recipient and sees its secret once.
 */
describe('console alerts page (Chromium)', () => {
  const dir = tempDir('safegate-alerts-page-');
  let directory: HubDirectory;
  let book: AlertBook;
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let server: ConsoleServer;
  let browser: Browser;
  let seq = 0;
  const recipients: Record<string, string> = {};

  /** As the hub does on a kiosk's alert: the store's row (worker, reasons), then the book's entry. */
  async function raiseKioskAlert(deviceId: string, kind: AlertKind, o: { checkpointId: string; siteId: string; orgId: string | null; workerId?: string; reasons?: string[] }): Promise<string> {
    const a: Alert = { v: PROTOCOL_VERSION, kind, seq: ++seq, atMs: Date.now(), checkpointId: o.checkpointId, reasons: o.reasons ?? [], ...(o.workerId ? { workerId: o.workerId } : {}) };
    await hubStore.recordAlert(deviceId, a, Date.now(), o.orgId ?? undefined);
    const r = await book.raise({ dedupKey: `kiosk:${deviceId}:${a.seq}`, source: 'kiosk', kind, category: categoryOfKioskAlert(kind), orgId: o.orgId, siteId: o.siteId, checkpointId: o.checkpointId, deviceId, seq: a.seq, atMs: a.atMs });
    return r.alertId;
  }

  beforeAll(async () => {
    directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'hub-directory.db') });
    book = new AlertBook({ sql: directory.sql, undeliveredAfterAttempts: 3 });
    server = new ConsoleServer({
      store: accounts,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: createLogger({ level: 'fatal' }),
      hub: { directory, store: hubStore, zone: ZONE, alerts: book },
      uiFolder: join(process.cwd(), 'build', 'console-ui'),
    });
    await directory.addOrganisation({ id: 'ORG-A', name: 'May mặc A', kind: 'company' });
    await directory.addOrganisation({ id: 'ORG-B', name: 'Điện tử B', kind: 'company' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.addSite({ id: 'xuong-b', orgId: 'ORG-B' });
    await directory.addCheckpoint({ id: 'cong-a', siteId: 'xuong-a', kind: 'gate' });
    await directory.addCheckpoint({ id: 'cong-b', siteId: 'xuong-b', kind: 'gate' });
    await directory.placeDevices('cong-a', ['kiosk-a']);
    await directory.placeDevices('cong-b', ['kiosk-b']);
    await directory.uploadWorkers('ORG-A', await parseWorkerList(Buffer.from('Mã NV,Họ và tên,Bộ phận/Tổ\nA001,Trần Thị Mai,Tổ 1\n'), ZONE, Date.now()));
    await directory.uploadWorkers('ORG-B', await parseWorkerList(Buffer.from('Mã NV,Họ và tên,Bộ phận/Tổ\nB001,Phạm Văn Bình,Tổ 2\n'), ZONE, Date.now()));
    recipients.mail = (await book.addRecipient({ orgId: 'ORG-A', siteId: null, channel: 'email', address: 'quanly@may-a.vn' })).recipientId;
    recipients.hook = (await book.addRecipient({ orgId: 'ORG-A', siteId: 'xuong-a', channel: 'webhook', address: 'https://sms.may-a.vn/hook' })).recipientId;
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

  /** Signs in on a new page; `live` resolves when its alert stream is answered. */
  const open = async (name: string, hash = '#alerts'): Promise<Page & { live: Promise<unknown> }> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'vi-VN' });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${server.url}/${hash}`);
    const live = page.waitForResponse((r) => r.url().endsWith('/api/alerts/live') && r.status() === 200);
    await page.getByLabel('Tên tài khoản').fill(name);
    await page.getByLabel('Mật khẩu').fill(PASSWORD);
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    return Object.assign(page, { live });
  };

  it("a kiosk alert appears on a manager's open page without reload, shows its deliveries, and is acknowledged; another organisation's manager never receives it", async () => {
    expect(existsSync('build/console-ui/index.html'), 'the console pages are built by `npm run build`').toBe(true);
    const manA = await open('man-a');
    await manA.getByTestId('alerts-page').getByText('Chưa có.').waitFor();
    const manB = await open('man-b');
    await manB.getByTestId('alerts-page').getByText('Chưa có.').waitFor();
    // Everything B's page receives from the alert API, to show A's alert never reached it.
    const toB: string[] = [];
    manB.on('response', (r) => {
      if (r.url().includes('/api/alerts')) void r.text().then((t) => toB.push(t), () => undefined);
    });
    // A page that reloaded would lose this.
    await manA.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));
    // Both streams are answered before anything is raised (each page reloads its list when its stream opens).
    await manA.live;
    await manB.live;

    const alertId = await raiseKioskAlert('kiosk-a', 'quarantined-entry-attempt', { checkpointId: 'cong-a', siteId: 'xuong-a', orgId: 'ORG-A', workerId: 'A001', reasons: ['QUARANTINE_ACTIVE'] });
    const row = manA.locator(`tr[data-alert="${alertId}"]`);
    await row.waitFor();
    expect(await manA.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    expect(await row.getAttribute('class')).toBe('fresh');
    await expect.poll(() => manA.getByTestId('alerts-badge').textContent()).toBe('1');
    expect(await manA.getByTestId('alerts-news').textContent()).toBe('Có 1 cảnh báo mới từ khi mở trang.');
    const cells = await row.locator('td').allTextContents();
    expect(cells[1]).toContain('Người đang cách ly cố vào');
    expect(cells[4]).toBe('Trần Thị Mai (A001)');

    // The dispatcher's records: the e-mail accepted, the webhook refused three times (undelivered).
    await book.dueDeliveries(Date.now(), 10);
    await book.markSent(alertId, recipients.mail!);
    for (let i = 0; i < 3; i++) await book.markFailed(alertId, recipients.hook!, 'HTTP 503 Service Unavailable', Date.now() - 1);
    await row.locator(`li[data-recipient="${recipients.mail}"] [data-state="sent"]`).waitFor();
    const hook = row.locator(`li[data-recipient="${recipients.hook}"] [data-state="undelivered"]`);
    await hook.waitFor();
    expect(await hook.textContent()).toBe('⚠ chưa gửi được (3 lần thử — HTTP 503 Service Unavailable)');
    await screenshot(manA, 'console-alerts-live-vi');

    // B's page hears of B's own alert, raised after A's: by then A's, had it been sent, would have come first.
    const forB = await raiseKioskAlert('kiosk-b', 'supervisor-override', { checkpointId: 'cong-b', siteId: 'xuong-b', orgId: 'ORG-B', workerId: 'B001', reasons: ['NOT_ON_ROSTER'] });
    await manB.locator(`tr[data-alert="${forB}"]`).waitFor();
    expect(await manB.locator(`tr[data-alert="${alertId}"]`).count()).toBe(0);
    await expect.poll(() => toB.length).toBeGreaterThan(0);
    expect(toB.join('\n')).not.toContain(alertId);
    expect(toB.join('\n')).not.toContain('A001');
    // Asked for by its address (the e-mail's link), it is not there for B.
    expect(await manB.evaluate(async (id) => (await fetch(`/api/alerts/book/${id}`)).status, alertId)).toBe(404);

    await row.getByTestId('acknowledge').click();
    await row.getByTestId('acknowledged').waitFor();
    expect(await row.getByTestId('acknowledged').textContent()).toMatch(/^Đã xác nhận: man-a, /);
    expect((await book.get(alertId))?.acknowledgedBy).toBe('man-a');
    await expect.poll(() => manA.getByTestId('alerts-badge').count()).toBe(0);
    const trail = await accounts.auditTrail(200);
    expect(trail.some((e) => e.account === 'man-a' && e.action === 'POST /api/alerts/:id/ack' && e.target === `/api/alerts/${alertId}/ack` && e.outcome === 'ok')).toBe(true);

    // The link an e-mail carries opens the one alert.
    await manA.goto(`${server.url}/#alerts/${alertId}`);
    await manA.getByTestId('alert-detail').waitFor();
    await expect.poll(() => manA.getByTestId('alert-worker').textContent()).toBe('Trần Thị Mai (A001)');
    await manA.context().close();
    await manB.context().close();
  }, 90_000);

  it('an operator names a webhook recipient for an organisation and sees its secret once; the page in English; older alerts a page further', async () => {
    const page = await open('op');
    await page.getByTestId('recipients').waitFor();
    await page.locator('select[name="recipient-org"]').selectOption('ORG-B');
    await page.locator('select[name="recipient-channel"]').selectOption('webhook');
    await page.locator('input[name="recipient-address"]').fill('https://zalo.dien-tu-b.vn/safegate');
    await page.getByRole('button', { name: 'Thêm người nhận' }).click();
    const secret = await page.getByTestId('recipient-secret').locator('code').textContent();
    expect(secret?.length).toBeGreaterThanOrEqual(16);
    const listed = (await book.listRecipients('ORG-B')).find((r) => r.address === 'https://zalo.dien-tu-b.vn/safegate');
    expect(listed).toMatchObject({ orgId: 'ORG-B', channel: 'webhook' });
    expect((await book.recipient(listed!.recipientId))?.secret).toBe(secret);
    await page.locator(`#recipients-heading ~ .table-wrap tr[data-recipient="${listed!.recipientId}"]`).waitFor();
    await screenshot(page, 'console-alert-recipients-vi');
    // A bad address is refused with the server's reason.
    await page.locator('input[name="recipient-address"]').fill('https://user:pw@zalo.example.vn/x');
    await page.getByRole('button', { name: 'Thêm người nhận' }).click();
    await page.getByText(/carries no user or password/).waitFor();
    // Every text in English too.
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await page.getByRole('heading', { name: 'Who is told' }).waitFor();
    expect(await page.getByTestId('alerts').locator('th').allTextContents()).toEqual(['Time', 'Kind', 'Site', 'Checkpoint / device', 'Worker (id or name)', 'Reason', 'Sent to', 'Acknowledgement']);
    await screenshot(page, 'console-alerts-en');

    // A hundred at a time, newest first: the older ones a page further.
    for (let i = 0; i < 100; i++) {
      await book.raise({ dedupKey: `hub:list-stale:ORG-B:day-${i}`, source: 'hub', kind: 'list-stale', category: 'compliance', orgId: 'ORG-B', siteId: null, checkpointId: null, deviceId: null, seq: null, atMs: Date.now() });
    }
    const rows = page.getByTestId('alerts').locator('tbody tr');
    await expect.poll(() => page.getByTestId('alerts').locator('tbody tr[data-alert]').first().textContent()).toContain('more than 3 days old');
    expect(await rows.count()).toBe(100);
    await page.getByTestId('alerts-older').click();
    await expect.poll(() => rows.count()).toBe(2);
    expect(await page.getByTestId('alerts-older').count()).toBe(0);
    await page.getByRole('button', { name: 'Back to the newest' }).click();
    await expect.poll(() => rows.count()).toBe(100);
    await page.context().close();
  }, 60_000);
});
