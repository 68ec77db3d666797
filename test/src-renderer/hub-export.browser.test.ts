import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { createLogger } from '../../base/node/logger.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { HubExports } from '../../sync/hub/exports.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { freePort, TestCertificates } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/fixtures.js';
import { KioskUnderTest } from '../helpers/kiosk.js';
import { launchChromium, openScreens, screenshot } from '../helpers/browser.js';

const DEVICE = 'test-kiosk-01';

/**
 * The supervisor screen in Chromium sends an export to a running hub console (real HTTP on
 * loopback): "Gửi lên trung tâm" in the export target list, the hub storing it, and with the hub
 * down the reason on screen and a "send the waiting again" button that sends it once it is back.
 */
describe('supervisor screen: send an export to the hub (Chromium)', () => {
  const dir = tempDir('safegate-hub-export-screen-');
  const certs = new TestCertificates(join(dir.path, 'certs'));
  certs.issue(DEVICE);
  let directory: HubDirectory;
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  let exports: HubExports;
  const rig = new KioskUnderTest();
  let server: ConsoleServer | undefined;
  let port = 0;
  let browser: Browser;
  let page: Page;

  const startConsole = async () => {
    server = new ConsoleServer({ store: accounts, host: '127.0.0.1', port, trustProxy: false, lockoutBaseMs: 1_000, log: createLogger({ level: 'fatal' }), hub: { directory, store: hubStore, zone: 'Asia/Ho_Chi_Minh', exports } });
    await server.start();
  };

  beforeAll(async () => {
    port = await freePort();
    directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'hub-directory.db') });
    exports = new HubExports({ sql: directory.sql, directory, caPem: certs.credentials(DEVICE).ca });
    await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.addCheckpoint({ id: 'cong-a', siteId: 'xuong-a', kind: 'gate', orgIds: ['ORG-A'] });
    await directory.placeDevices('cong-a', [DEVICE]);
    await startConsole();
    const files = { ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${DEVICE}.crt`), key: join(certs.dir, `${DEVICE}.key`) };
    await rig.start({ hub: { broker: { url: 'mqtts://127.0.0.1:9', ...files }, consoleUrl: `http://127.0.0.1:${port}` } });
    await rig.kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Nguyễn Thị Lan', pin: '246810' });
    await rig.scan('NOT-A-PASS');
    const screens = await rig.kiosk.startScreens();
    browser = await launchChromium();
    ({ page } = await openScreens(browser, screens.screenUrl, { camera: false }));
    await page.getByTestId('idle').waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rig.stop();
    await server?.stop();
    await accounts.close();
    await hubStore.close();
    await directory?.close();
    dir.remove();
  });

  it('sends to the hub, keeps the export while the hub is down, and sends it again once it is back', async () => {
    const box = (await page.getByTestId('supervisor-open').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.getByTestId('supervisor').waitFor({ timeout: 5_000 });
    await page.mouse.up();
    await page.getByTestId('account-lan').click();
    for (const k of '246810') await page.getByTestId(`pin-${k}`).click();
    await page.getByTestId('pin-OK').click();
    await page.getByTestId('tab-today').waitFor();

    await page.getByTestId('export-drive').selectOption({ label: 'Gửi lên trung tâm' });
    await page.getByTestId('export-csv').click();
    await expect.poll(() => page.getByTestId('supervisor-message').textContent()).toMatch(/^Đã gửi 1 dòng lên trung tâm \(safegate-log-.*\.csv\)\.$/);
    expect((await exports.list()).map((e) => [e.deviceId, e.supervisorId, e.rows])).toEqual([[DEVICE, 'lan', 1]]);
    await screenshot(page, 'supervisor-sent-to-hub');

    await server!.stop();
    await page.getByTestId('export-xlsx').click();
    await expect.poll(() => page.getByTestId('supervisor-message').textContent()).toMatch(/the hub could not be reached .* the export is kept on this kiosk/);
    await expect.poll(() => page.getByTestId('export-send-waiting').textContent()).toBe('Gửi lại 1 tệp đang chờ');
    await screenshot(page, 'supervisor-hub-unreachable');

    await startConsole();
    await page.getByTestId('export-send-waiting').click();
    await expect.poll(() => page.getByTestId('supervisor-message').textContent()).toBe('Đã gửi lại 1 tệp lên trung tâm.');
    expect(await page.getByTestId('export-send-waiting').count()).toBe(0);
    expect((await exports.list()).map((e) => e.format).sort()).toEqual(['csv', 'xlsx']);
  }, 90_000);
});
