import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../base/node/sqlite.js';
import { DIRECTORY_MIGRATIONS } from '../../sync/hub/directory.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { makeCameraVideo } from '../helpers/camera-video.js';
import { safegate, safegateProcess, type RunningProcess } from '../helpers/cli.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';
import { freePort, TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const HEADER = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';

/**
 * Check-in where there is no kiosk, end to end: a checkpoint's signed code made with
 * `safegate hub checkpoint code`, shown to the phone page's camera (Chromium's fake camera playing a
 * video of the printed code) and, as the page's fallback, chosen as a photo; the visit is uploaded
 * to a running `safegate hub run` exactly once (check-in, then check-out by scanning again), and a
 * visit scanned offline waits on the phone and is sent once when it is back online.
 */
describe('phone page: check-in from a checkpoint code (running hub, Chromium fake camera)', () => {
  const dir = tempDir('safegate-phone-checkin-');
  let broker: TestBroker;
  let hub: RunningProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let directoryPath = '';
  let config = '';
  const children: ChildProcess[] = [];
  const posts: string[] = [];

  function heldVisits(): { worker_id: string; checkpoint_id: string; direction: string; time_verified: number; code_kind: string }[] {
    const db = openDatabase(directoryPath, { migrations: DIRECTORY_MIGRATIONS });
    try {
      return db.prepare('SELECT worker_id, checkpoint_id, direction, time_verified, code_kind FROM visits ORDER BY received_ms, at_ms').all() as never;
    } finally {
      db.close();
    }
  }

  beforeAll(async () => {
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    const keysDir = join(dir.path, 'hub-keys');
    const keyOf = (role: string) => /private:\s+(\S+)/.exec(safegate(['keys', 'generate', '--role', role, '--out', join(keysDir, role)]).stdout)![1]!;
    const phonePassKey = keyOf('phone-pass');
    const checkpointCodeKey = keyOf('checkpoint-code');
    config = join(dir.path, 'hub.yaml');
    directoryPath = join(dir.path, 'directory.db');
    const port = await freePort();
    const tls = { ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, 'hub.1.crt'), key: join(certs.dir, 'hub.1.key') };
    writeFileSync(config, stringify({ id: 'hub.1', broker: { ...tls, url: broker.url }, directory: { path: directoryPath }, phonePassKey, checkpointCodeKey, console: { port }, log: { level: 'info' } }));
    const run = (...args: string[]) => safegate(['hub', ...args, '--config', config]);
    expect(run('org', 'add', 'ORG-A', '--name', 'Công ty May A').status).toBe(0);
    expect(run('site', 'add', 'xuong-a', '--org', 'ORG-A').status).toBe(0);
    expect(run('checkpoint', 'add', 'nha-an', '--site', 'xuong-a', '--kind', 'canteen', '--name', 'Nhà ăn ca 1').status).toBe(0);
    expect(run('checkpoint', 'add', 'xe-01', '--site', 'xuong-a', '--kind', 'bus', '--name', 'Xe đưa đón 01').status).toBe(0);
    const list = join(dir.path, 'a.csv');
    writeFileSync(list, `${HEADER}\n1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,,,2\n`);
    expect(run('roster', 'upload', '--org', 'ORG-A', list).status).toBe(0);
    const link = run('link', 'make', '--org', 'ORG-A', '--workers', 'A001').stdout.trim().split('\n')[1]!.split('\t')[2]!;
    const printed = run('checkpoint', 'code', '--checkpoint', 'nha-an');
    expect(printed.stderr).toBe('');
    const code = printed.stdout.split('\n')[0]!;
    expect(code).toMatch(/^SGC1:/);
    hub = safegateProcess(['hub', 'run', '--config', config]);
    children.push(hub.child);
    await waitFor(() => hub.logs.find((l) => l.msg === 'console listening'), 'console listening', 20_000);

    // The posted code in front of the phone's camera (after a second of nothing).
    const video = await makeCameraVideo(dir.path, [
      { text: null, frames: 30 },
      { text: code, frames: 120 },
    ]);
    browser = await launchChromium({ cameraVideo: video });
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'vi-VN' });
    await context.grantPermissions(['camera'], { origin: new URL(link).origin });
    page = await context.newPage();
    page.on('pageerror', (e) => console.log('phone page error:', e.message));
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/phone/api/visit')) posts.push(r.url());
    });
    await page.goto(link);
    await page.getByTestId('accept').click();
    await page.getByTestId('pass').waitFor();
  }, 90_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await broker?.stop();
    dir.remove();
  });

  /** The latest visit's line on the page (its state and direction), read without waiting for it to exist. */
  const statusOf = (name: 'data-state' | 'data-direction') => page.evaluate((n) => document.querySelector('[data-testid="checkin-status"]')?.getAttribute(n) ?? null, name);
  const status = () => page.getByTestId('checkin-status');

  it('a code scanned with the camera checks in; scanning it again checks out; each visit reaches the hub once', async () => {
    await page.locator('nav.tabs button[data-tab="checkin"]').click();
    await page.getByTestId('scan').click();
    await expect.poll(() => statusOf('data-state'), { timeout: 20_000 }).toBe('sent');
    expect(await statusOf('data-direction')).toBe('in');
    expect(await page.getByTestId('checkin-open').textContent()).toMatch(/nha-an/);
    await screenshot(page, 'phone-checkin-in');
    expect(heldVisits()).toEqual([{ worker_id: 'A001', checkpoint_id: 'nha-an', direction: 'in', time_verified: 1, code_kind: 'static' }]);

    await page.getByTestId('scan').click();
    await expect.poll(() => statusOf('data-direction'), { timeout: 20_000 }).toBe('out');
    await expect.poll(() => statusOf('data-state')).toBe('sent');
    expect(await page.getByTestId('checkin-open').count()).toBe(0);
    expect(heldVisits().map((v) => v.direction)).toEqual(['in', 'out']);
    expect(posts).toHaveLength(2);
  }, 60_000);

  it('offline, a photo of a rotating code is kept on the phone and sent once when it is back online', async () => {
    const png = join(dir.path, 'bus.png');
    const made = safegate(['hub', 'checkpoint', 'code', '--checkpoint', 'xe-01', '--rotating', '--png', png, '--config', config]);
    expect(made.stderr).toBe('');
    await context.setOffline(true);
    await page.getByTestId('photo').setInputFiles(png);
    await expect.poll(() => statusOf('data-state'), { timeout: 15_000 }).toBe('queued');
    expect(await status().textContent()).toMatch(/xe-01.*sẽ tự gửi khi có mạng/s);
    await screenshot(page, 'phone-checkin-queued');
    expect(heldVisits()).toHaveLength(2);
    await context.setOffline(false);
    await expect.poll(() => statusOf('data-state'), { timeout: 15_000 }).toBe('sent');
    expect(heldVisits().at(-1)).toEqual({ worker_id: 'A001', checkpoint_id: 'xe-01', direction: 'in', time_verified: 1, code_kind: 'rotating' });
    expect(posts).toHaveLength(3);
    // A photo that is not a SafeGate code is refused on the page itself.
    const other = join(dir.path, 'other.png');
    const QRCode = (await import('qrcode')).default;
    await QRCode.toFile(other, 'https://example.com/', { width: 400 });
    await page.getByTestId('photo').setInputFiles(other);
    await expect.poll(() => page.getByTestId('checkin-problem').textContent()).toMatch(/không phải mã điểm danh/);
    expect(posts).toHaveLength(3);
  }, 60_000);
});
