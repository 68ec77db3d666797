import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../base/node/logger.js';
import { HubKeyring } from '../../base/node/keys.js';
import { hashPassword, type ConsoleRole } from '../../console/server/accounts.js';
import { ConsoleServer } from '../../console/server/server.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { createNodeDecoder, readImageFrame } from '../../src-main/core/decoders.js';
import { readCheckpointCode, ROTATING_WINDOW_SECONDS } from '../../sync/hub/checkpoint-codes.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { launchChromium, overflowProblems, screenshot } from '../helpers/browser.js';
import { tempDir } from '../helpers/fixtures.js';

const PASSWORD = 'a long enough password';
const WINDOW_MS = ROTATING_WINDOW_SECONDS * 1000;
/** The hub's clock, which the test holds: 20 s into a window, so its code has 10 s left. */
const FIRST_WINDOW_MS = Date.UTC(2026, 10, 27, 4, 30, 0);

interface Answer {
  status: number;
  body: { error?: string; code?: string; windowStartMs?: number; nextAtMs?: number; hubTimeMs?: number; name?: string; checkpointId?: string };
}

/** A call from the signed-in page itself, with its session cookie. */
const apiGet = (page: Page, path: string): Promise<Answer> =>
  page.evaluate(async (p) => {
    const r = await fetch(p);
    return { status: r.status, body: (await r.json().catch(() => ({}))) as Answer['body'] };
  }, path);

/**
 * The rotating check-in code display (console/ui/pages/CheckpointDisplay.tsx) in Chromium against a
 * console serving real HTTP on loopback, its directory and accounts in SQLite files, on a hub clock
 * the test holds and a page clock it moves: a manager opens their checkpoint's display from the
 * Organisations page; the QR on the screen, read from a screenshot, is the hub's signed rotating
 * code of that checkpoint and window; when the window ends a new code is drawn; while the hub
 * cannot be reached no code is shown at all. Another organisation's manager and a health officer
 * are refused, by the API and on the page.
 */
describe('checkpoint display: a rotating check-in code on a screen (Chromium)', () => {
  const dir = tempDir('safegate-checkpoint-display-');
  let directory: HubDirectory;
  const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
  const accounts = new SqliteConsoleStore(join(dir.path, 'console.db'));
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const keyring = new HubKeyring();
  keyring.add(key, { role: 'checkpoint-code', source: 'test' });
  let hubNowMs = FIRST_WINDOW_MS + 20_000;
  const optionsWith = (directory: HubDirectory) => ({
    store: accounts,
    host: '127.0.0.1',
    port: 0,
    trustProxy: false,
    lockoutBaseMs: 1_000,
    log: createLogger({ level: 'fatal' }),
    hub: { directory, store: hubStore, zone: 'Asia/Ho_Chi_Minh' },
    // The pages as `npm run build` makes them.
    uiFolder: join(process.cwd(), 'build', 'console-ui'),
    now: () => hubNowMs,
  });
  let server: ConsoleServer;
  /** A hub whose settings name no checkpoint-code key. */
  let keyless: ConsoleServer;
  let browser: Browser;
  let decode: (file: string) => Promise<string[]>;

  beforeAll(async () => {
    directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'hub-directory.db') });
    server = new ConsoleServer({ ...optionsWith(directory), checkpointCodeKey: key });
    keyless = new ConsoleServer(optionsWith(directory));
    await directory.addOrganisation({ id: 'ORG-A', name: 'Công ty May A', kind: 'company' });
    await directory.addOrganisation({ id: 'ORG-B', name: 'Công ty Điện tử B', kind: 'company' });
    await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
    await directory.addSite({ id: 'xuong-b', orgId: 'ORG-B' });
    await directory.addCheckpoint({ id: 'nha-an-a', siteId: 'xuong-a', kind: 'canteen', name: 'Nhà ăn ca 1', orgIds: ['ORG-A'] });
    await directory.addCheckpoint({ id: 'xe-b-01', siteId: 'xuong-b', kind: 'bus', name: 'Xe đưa đón B01', orgIds: ['ORG-B'] });
    const hash = await hashPassword(PASSWORD);
    const people: [string, ConsoleRole, string?][] = [['op', 'operator'], ['man-a', 'manager', 'ORG-A'], ['man-b', 'manager', 'ORG-B'], ['doctor', 'health']];
    for (const [name, role, org] of people) await accounts.addAccount({ name, role, password: PASSWORD, ...(org ? { org } : {}) }, hash, Date.now());
    await server.start();
    await keyless.start();
    browser = await launchChromium();
    const decoder = await createNodeDecoder('zxing-wasm');
    decode = async (file) => decoder.decode(await readImageFrame(file));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await keyless?.stop();
    await accounts.close();
    await hubStore.close();
    await directory?.close();
    dir.remove();
  });

  /** A browser of its own for each person, its clock Playwright's (following real time until the test holds it). */
  const signIn = async (name: string, base = server.url, fragment = '') => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'vi-VN' });
    await context.clock.install();
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${base}/${fragment}`);
    await page.getByLabel('Tên tài khoản').fill(name);
    await page.getByLabel('Mật khẩu').fill(PASSWORD);
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    return page;
  };

  /** The code on the screen: a screenshot of the whole display, read by the project's QR decoder. */
  const codeOnScreen = async (page: Page, name: string): Promise<string> => {
    const texts = await decode(await screenshot(page, name));
    expect(texts).toHaveLength(1);
    return texts[0]!;
  };
  const drawnWindow = (page: Page) => page.evaluate(() => document.querySelector<HTMLCanvasElement>('[data-testid="display-qr"]')?.dataset.windowStartMs ?? null);
  const state = (page: Page) => page.getByTestId('checkpoint-display').getAttribute('data-state');

  it("a manager opens their checkpoint's display: the QR is the hub's rotating code for it, redrawn when the window ends, and taken off while the hub cannot be reached", async () => {
    expect(existsSync('build/console-ui/index.html'), 'the console pages are built by `npm run build`').toBe(true);
    const console = await signIn('man-a');
    await console.getByTestId('organisations-page').waitFor();
    const links = console.getByTestId('show-rotating-code');
    // A manager's list holds the checkpoints serving their organisation only.
    await expect.poll(() => links.count()).toBe(1);
    const [display] = await Promise.all([console.context().waitForEvent('page'), links.click()]);
    expect(new URL(display.url()).hash).toBe('#display/nha-an-a');
    await expect.poll(() => drawnWindow(display)).toBe(String(FIRST_WINDOW_MS));
    // From here on the page's time moves only when the test moves it.
    await display.clock.pauseAt(Date.now() + 1_000);
    expect(await display.getByTestId('display-name').textContent()).toBe('Nhà ăn ca 1');
    expect(await display.getByTestId('display-countdown').textContent()).toMatch(/^Mã mới sau (9|10) giây$/);
    const side = await display.getByTestId('display-qr').evaluate((c) => c.getBoundingClientRect().width);
    // Most of the 800-pixel height: on a 10-inch tablet that is a code some 12 cm wide, read from a metre or more.
    expect(side).toBeGreaterThanOrEqual(600);
    const first = await codeOnScreen(display, 'console-checkpoint-display');
    expect(readCheckpointCode(first, keyring, hubNowMs)).toEqual({ checkpointId: 'nha-an-a', kind: 'rotating', windowStartMs: FIRST_WINDOW_MS });
    // Nothing about a person is on it.
    expect(await display.locator('body').innerText()).not.toMatch(/man-a|ORG-A/);

    // The hub's clock passes into the next window; the page's clock reaches the end of the first.
    hubNowMs += WINDOW_MS;
    await display.clock.runFor(10_000);
    await expect.poll(() => drawnWindow(display)).toBe(String(FIRST_WINDOW_MS + WINDOW_MS));
    const second = await codeOnScreen(display, 'console-checkpoint-display-next');
    expect(second).not.toBe(first);
    expect(readCheckpointCode(second, keyring, hubNowMs)).toEqual({ checkpointId: 'nha-an-a', kind: 'rotating', windowStartMs: FIRST_WINDOW_MS + WINDOW_MS });

    // The hub cannot be reached when that window ends: the code leaves the screen with its window.
    await display.route('**/rotating-code', (route) => route.abort('connectionrefused'));
    hubNowMs += WINDOW_MS;
    await display.clock.runFor(10_000);
    await expect.poll(() => state(display)).toBe('offline');
    expect(await display.getByTestId('display-qr').count()).toBe(0);
    expect(await display.getByTestId('display-status').textContent()).toBe('Mất kết nối với hệ thống — mã đã hết hạn. Đang thử kết nối lại…');
    expect(await decode(await screenshot(display, 'console-checkpoint-display-offline'))).toEqual([]);
    // Back online, the next try draws the current window's code.
    await display.unroute('**/rotating-code');
    await display.clock.runFor(15_000);
    await expect.poll(() => drawnWindow(display)).toBe(String(FIRST_WINDOW_MS + 2 * WINDOW_MS));
    const third = await codeOnScreen(display, 'console-checkpoint-display-back');
    expect(readCheckpointCode(third, keyring, hubNowMs).windowStartMs).toBe(FIRST_WINDOW_MS + 2 * WINDOW_MS);

    // From a small kiosk panel to a wall screen, either way up: everything fits and the code reads.
    for (const v of [{ width: 800, height: 480 }, { width: 480, height: 800 }, { width: 800, height: 1280 }, { width: 1920, height: 1080 }]) {
      await display.setViewportSize(v);
      const expected = Math.floor(v.width >= v.height ? Math.min(v.height * 0.9, v.width * 0.56) : Math.min(v.width * 0.92, v.height * 0.6));
      // The QR library rounds its modules to whole pixels: a pixel or two under the side asked for.
      await expect.poll(async () => Math.abs(expected - (await display.getByTestId('display-qr').evaluate((c) => c.getBoundingClientRect().width)))).toBeLessThanOrEqual(2);
      expect(await overflowProblems(display), `${v.width}x${v.height}`).toEqual([]);
      expect(await codeOnScreen(display, `console-checkpoint-display-${v.width}x${v.height}`)).toBe(third);
    }
    await console.context().close();
  }, 90_000);

  it("another organisation's manager and a health officer are refused, by the API and on the page", async () => {
    const other = await signIn('man-b', server.url, '#display/nha-an-a');
    await expect.poll(() => state(other)).toBe('refused');
    expect(await other.getByTestId('display-status').textContent()).toMatch(/^Bạn không được hiển thị mã của điểm kiểm soát nha-an-a/);
    expect(await other.getByTestId('display-qr').count()).toBe(0);
    await screenshot(other, 'console-checkpoint-display-refused');
    const refused = await apiGet(other, '/api/checkpoints/nha-an-a/rotating-code');
    expect(refused).toEqual({ status: 403, body: { error: 'this checkpoint does not serve your organisation' } });
    // Their own checkpoint they may show.
    expect((await apiGet(other, '/api/checkpoints/xe-b-01/rotating-code')).status).toBe(200);
    await other.context().close();

    const doctor = await signIn('doctor');
    await doctor.getByTestId('organisations-page').waitFor();
    await expect.poll(() => doctor.getByTestId('checkpoints').locator('tbody tr').count()).toBe(2);
    expect(await doctor.getByTestId('show-rotating-code').count()).toBe(0);
    expect((await apiGet(doctor, '/api/checkpoints/nha-an-a/rotating-code')).status).toBe(403);
    await doctor.evaluate(() => (window.location.hash = '#display/nha-an-a'));
    await expect.poll(() => state(doctor)).toBe('refused');
    await doctor.context().close();

    const audit = (await accounts.auditTrail(50)).filter((e) => e.action === 'GET /api/checkpoints/:id/rotating-code' && e.target === '/api/checkpoints/nha-an-a/rotating-code');
    expect(audit.filter((e) => e.outcome === 'refused').map((e) => e.account).sort()).toEqual(expect.arrayContaining(['doctor', 'man-b']));
  }, 60_000);

  it('an operator reaches every checkpoint; a bad or unknown id and a hub without the key are refused with their reasons', async () => {
    const op = await signIn('op');
    await op.getByTestId('organisations-page').waitFor();
    await expect.poll(() => op.getByTestId('show-rotating-code').count()).toBe(2);
    const answer = await apiGet(op, '/api/checkpoints/xe-b-01/rotating-code');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ checkpointId: 'xe-b-01', name: 'Xe đưa đón B01', code: expect.stringMatching(/^SGC1:/), windowStartMs: FIRST_WINDOW_MS + 2 * WINDOW_MS, nextAtMs: FIRST_WINDOW_MS + 3 * WINDOW_MS, hubTimeMs: hubNowMs });
    expect((await apiGet(op, '/api/checkpoints/no-such/rotating-code')).status).toBe(404);
    expect((await apiGet(op, `/api/checkpoints/${encodeURIComponent('bad id!')}/rotating-code`)).status).toBe(400);
    await op.context().close();

    const keylessOp = await signIn('op', keyless.url, '#display/nha-an-a');
    await expect.poll(() => state(keylessOp)).toBe('refused');
    expect(await keylessOp.getByTestId('display-status').textContent()).toMatch(/chưa có khoá ký mã điểm danh/);
    const noKey = await apiGet(keylessOp, '/api/checkpoints/nha-an-a/rotating-code');
    expect(noKey.status).toBe(503);
    expect(noKey.body.error).toMatch(/no checkpoint-code key.*safegate keys generate --role checkpoint-code/);
    await keylessOp.context().close();
  }, 60_000);
});
