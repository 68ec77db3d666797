import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { silentLogger } from '../../base/node/logger.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { EnrolmentBook } from '../../sync/hub/fleet/enrolment-book.js';
import { revokeDevice } from '../../sync/hub/fleet/revocation.js';
import { PROTOCOL_VERSION } from '../../sync/protocol.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { busTripEvents } from '../helpers/bus-events.js';
import { tempDir } from '../helpers/fixtures.js';

const PASSWORD = 'a long enough password';
/** The built console (npx vite build --config vite.console.config.ts). */
const UI = fileURLToPath(new URL('../../build/console-ui', import.meta.url));

/**
 * The console's Devices page in real Chromium: an operator sees a device's enrolment, certificate
 * days and refused settings, revokes it after confirming (the page's own CSRF-protected call), and
 * the row then says revoked and offers no revoke button.
 */
describe('console Devices page in Chromium', () => {
  const dir = tempDir('safegate-console-devpage-');
  const store = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  let directory: HubDirectory;
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page;
  const revoked: string[] = [];

  beforeAll(async () => {
    directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
    const book = new EnrolmentBook(directory.sql);
    const now = Date.now();
    await book.recordCertificate('kiosk-a', { serialHex: '0a1b', notAfterMs: now + 100 * 86_400_000, fingerprint: 'aa'.repeat(32) }, new Uint8Array([1]));
    await hubStore.recordHeartbeat(
      'kiosk-a',
      { v: PROTOCOL_VERSION, atMs: now, software: '1.4.2', outboxDepth: 0, oldestUnsyncedAgeS: null, scanner: 'ready', gpio: 'real', clockOffsetMs: null, rosterAgeS: 60, policyVersion: 2, heldEvents: 0, disk: null, fleet: { enrolled: true, certDaysLeft: 99.9, settingsVersion: 3, settingsRefused: { version: 4, problems: ['gate.relay.pulseMs: too long'] } } },
      now,
    );
    server = new ConsoleServer({
      store,
      host: '127.0.0.1',
      port: 0,
      trustProxy: false,
      lockoutBaseMs: 1_000,
      log: silentLogger,
      uiFolder: UI,
      hub: {
        directory,
        store: hubStore,
        zone: 'Asia/Ho_Chi_Minh',
        fleet: {
          book,
          revoke: (id) =>
            revokeDevice(id, {
              markRevoked: (d, atMs) => (revoked.push(d), book.markRevoked(d, atMs)),
              writeCrl: () => Promise.resolve(join(dir.path, 'crl.pem')),
              cutOff: () => Promise.resolve({ ok: true }),
            }),
        },
      },
    });
    // A bus unit at a bus checkpoint with one trip (issue 13): the page lists it with its riders.
    await directory.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' });
    await directory.addSite({ id: 'kcn', orgId: 'org-a' });
    await directory.addCheckpoint({ id: 'xe-1', siteId: 'kcn', kind: 'bus', orgIds: ['org-a'] });
    await directory.assignSite('kcn', ['bus-1']);
    await directory.placeDevices('xe-1', ['bus-1']);
    await hubStore.ingest('bus-1', busTripEvents({ startMs: now - 3_600_000, riders: 3, routeId: 'R1', gpsClock: true }), now);
    await store.addAccount({ name: 'op', role: 'operator', password: PASSWORD }, await hashPassword(PASSWORD), now);
    await server.start();
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'vi-VN' })).newPage();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server.stop();
    await store.close();
    await hubStore.close();
    await directory.close();
    dir.remove();
  });

  it('shows the device, and an operator revokes it after confirming', async () => {
    await page.goto(`${server.url}/#devices`);
    await page.fill('input[name=name]', 'op');
    await page.fill('input[name=password]', PASSWORD);
    await page.press('input[name=password]', 'Enter');
    const row = page.locator('tr[data-device="kiosk-a"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.innerText()).toContain('Đã đăng ký');
    expect(await row.innerText()).toContain('99.9');
    expect(await row.locator('[data-testid=settings-refused]').innerText()).toContain('Từ chối cấu hình v4: gate.relay.pulseMs: too long');

    await row.getByRole('button', { name: 'Thu hồi' }).click();
    const dialog = page.locator('[data-testid=revoke-confirm]');
    expect(await dialog.innerText()).toContain('Thu hồi thiết bị kiosk-a?');
    // Cancelling does nothing.
    await dialog.getByRole('button', { name: 'Huỷ' }).click();
    expect(revoked).toEqual([]);
    await row.getByRole('button', { name: 'Thu hồi' }).click();
    await page.getByRole('button', { name: 'Thu hồi kiosk-a' }).click();
    await page.locator('[data-testid=revoke-outcome]').waitFor({ timeout: 10_000 });
    expect(revoked).toEqual(['kiosk-a']);
    await row.locator('text=Đã thu hồi').first().waitFor({ timeout: 10_000 });
    expect(await row.getByRole('button', { name: 'Thu hồi' }).count()).toBe(0);
    await screenshot(page, 'console-devices-revoked');
  });

  it("lists a bus unit's trips, and a trip's riders on expanding it", async () => {
    const bus = page.locator('tr[data-device="bus-1"]');
    await bus.waitFor({ timeout: 10_000 });
    // A gate kiosk offers no trips.
    expect(await page.locator('tr[data-device="kiosk-a"]').getByRole('button', { name: 'Chuyến xe' }).count()).toBe(0);
    await bus.getByRole('button', { name: 'Chuyến xe' }).click();
    const trip = page.locator('[data-testid=bus-trips] tr[data-trip]');
    await trip.first().waitFor({ timeout: 10_000 });
    expect(await trip.count()).toBe(1);
    const text = await trip.innerText();
    expect(text).toContain('R1');
    expect(text).toContain('D000007');
    expect(text).toContain('kết thúc');
    expect(text).toContain('GPS');
    const riders = trip.locator('[data-testid=trip-riders]');
    expect(await riders.isVisible()).toBe(false);
    await trip.getByText('Xem 3 người đi').click();
    await riders.waitFor({ state: 'visible', timeout: 10_000 });
    const rows = await riders.locator('tbody tr').allInnerTexts();
    expect(rows.map((r) => r.split('\t')[0])).toEqual(['W020000', 'W020037', 'W020074']);
    expect(rows[2]).toContain('khi kết thúc chuyến');
    expect(rows[0]).toContain('quét thẻ');
    await screenshot(page, 'console-devices-bus-trips');
  });
});
