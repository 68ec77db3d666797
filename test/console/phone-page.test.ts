import type { ChildProcess } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubKeyring } from '../../base/node/keys.js';
import { checkPhonePass, type ProofTimeRules } from '../../base/node/phone-pass.js';
import { createNodeDecoder, readImageFrame } from '../../src-main/core/decoders.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { safegate, safegateProcess, type RunningProcess } from '../helpers/cli.js';
import { healthyWorker, tempDir, waitFor } from '../helpers/fixtures.js';
import { KioskUnderTest } from '../helpers/kiosk.js';
import builtInPolicy from '../../base/common/policy/default-policy.json' with { type: 'json' };
import { freePort, TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const HEADER = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';
/** The kiosk's rules as the built-in policy sets them, on a synchronised kiosk clock. */
const KIOSK_RULES: ProofTimeRules = { maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, kioskClockSynced: true, unverifiedKioskClock: 'accept-with-flag' };

/**
 * The worker's phone page in real Chromium against a running `safegate hub run` (real Mosquitto,
 * SQLite files): a link made with `safegate hub link make` is opened, the Decree 13 notice shown and
 * accepted, a phone pass bound to a WebCrypto key; the QR on the screen, read from a screenshot with
 * the project's decoder, is admitted by the kiosk's verification; offline the page still shows a
 * fresh code; the link cannot be used twice; a screenshot's code replayed later is PASS_STALE.
 */
describe('phone page: a worker opens their link (running hub, Chromium)', () => {
  const dir = tempDir('safegate-phone-page-');
  let broker: TestBroker;
  let hub: RunningProcess;
  let browser: Browser;
  let link = '';
  const keyring = new HubKeyring();
  const children: ChildProcess[] = [];
  const contexts: BrowserContext[] = [];
  let decode: (file: string) => Promise<string[]>;
  let phonePassPublicKeyFile = '';

  async function phone(): Promise<{ context: BrowserContext; page: Page }> {
    // A phone: portrait, touch, Vietnamese.
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'vi-VN' });
    contexts.push(context);
    return { context, page: await context.newPage() };
  }

  /** What a scanner would read off the phone's screen now. */
  async function scanScreen(page: Page, name: string): Promise<string> {
    const file = await screenshot(page, name);
    const texts = await decode(file);
    expect(texts).toHaveLength(1);
    return texts[0]!;
  }

  beforeAll(async () => {
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    const keysDir = join(dir.path, 'hub-keys');
    const generated = safegate(['keys', 'generate', '--role', 'phone-pass', '--out', keysDir]);
    expect(generated.stderr).toBe('');
    const phonePassKey = /private:\s+(\S+)/.exec(generated.stdout)![1]!;
    const pub = readdirSync(keysDir).find((f) => f.endsWith('.pub.pem'))!;
    keyring.add(createPublicKey(readFileSync(join(keysDir, pub))), { role: 'phone-pass', source: 'test' });
    phonePassPublicKeyFile = join(keysDir, pub);
    const config = join(dir.path, 'hub.yaml');
    const port = await freePort();
    const tls = { ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, 'hub.1.crt'), key: join(certs.dir, 'hub.1.key') };
    writeFileSync(config, stringify({ id: 'hub.1', broker: { ...tls, url: broker.url }, phonePassKey, console: { port }, log: { level: 'info' } }));
    const run = (...args: string[]) => safegate(['hub', ...args, '--config', config]);
    expect(run('org', 'add', 'ORG-A', '--name', 'Công ty May A').status).toBe(0);
    expect(run('site', 'add', 'xuong-a', '--org', 'ORG-A').status).toBe(0);
    const list = join(dir.path, 'a.csv');
    writeFileSync(list, `${HEADER}\n1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,,,2\n`);
    expect(run('roster', 'upload', '--org', 'ORG-A', list).status).toBe(0);
    const made = run('link', 'make', '--org', 'ORG-A', '--workers', 'A001');
    expect(made.stderr).toBe('');
    link = made.stdout.trim().split('\n')[1]!.split('\t')[2]!;
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/phone/#t=`));
    hub = safegateProcess(['hub', 'run', '--config', config]);
    children.push(hub.child);
    await waitFor(() => hub.logs.find((l) => l.msg === 'console listening'), 'console listening', 15_000);
    browser = await launchChromium();
    const decoder = await createNodeDecoder('zxing-wasm');
    decode = async (file) => decoder.decode(await readImageFrame(file));
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await broker?.stop();
    dir.remove();
  });

  let firstCode = '';
  let firstCodeAtMs = 0;
  let worker: { context: BrowserContext; page: Page };

  it('shows the Decree 13 notice first; accepting makes the key and gets a pass whose on-screen code the kiosk admits', async () => {
    worker = await phone();
    const { page } = worker;
    await page.goto(link);
    const notice = page.getByTestId('notice');
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/Nghị định 13\/2023\/NĐ-CP.*Trần Thị Mai \(Công ty May A\).*Mục đích.*Thời gian lưu.*Quyền của bạn/s);
    await screenshot(page, 'phone-notice');
    await page.getByTestId('accept').click();
    await page.getByTestId('pass').waitFor();
    expect(await page.getByTestId('name').textContent()).toBe('Trần Thị Mai');
    expect(new URL(page.url()).hash).toBe('');
    await page.waitForFunction(() => document.querySelector('canvas')?.dataset.code !== undefined);
    firstCodeAtMs = Date.now();
    firstCode = await scanScreen(page, 'phone-pass');
    expect(firstCode).toMatch(/^SGP1:/);
    expect(checkPhonePass(firstCode, keyring, Date.now(), KIOSK_RULES)).toMatchObject({ ok: true, pass: { claims: { workerId: 'A001' } } });
    // Installable: Chromium finds nothing missing (a manifest with name, icon, start URL and display, a
    // service worker); a test browser's profile is always incognito, which it names as the only reason.
    const cdp = await worker.context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    expect(installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito')).toEqual([]);
    await cdp.detach();
    // The key stays in the browser as a non-extractable CryptoKey.
    const extractable = await page.evaluate(
      () =>
        new Promise<boolean>((resolve, reject) => {
          const req = indexedDB.open('safegate-phone');
          req.onsuccess = () => {
            const get = req.result.transaction('binding').objectStore('binding').get('current');
            get.onsuccess = () => resolve((get.result as { key: CryptoKey }).key.extractable);
            get.onerror = () => reject(new Error(String(get.error)));
          };
        }),
    );
    expect(extractable).toBe(false);
  });

  it('offline at the gate the page still opens and shows a fresh code the kiosk admits', async () => {
    const { context, page } = worker;
    // The service worker is active and the page's files are kept (the page fills the cache on its first visit).
    await page.waitForFunction(async () => {
      await navigator.serviceWorker.ready;
      const kept = await (await caches.open('safegate-phone-v1')).keys();
      return kept.some((r) => r.url.endsWith('.js')) && kept.some((r) => new URL(r.url).pathname === '/phone/');
    });
    await context.setOffline(true);
    await page.reload();
    await page.getByTestId('pass').waitFor();
    await page.waitForFunction((before) => Number(document.querySelector('canvas')?.dataset.drawnAt ?? 0) > before, firstCodeAtMs);
    expect(await page.getByTestId('offline').isVisible()).toBe(true);
    const code = await scanScreen(page, 'phone-pass-offline');
    expect(code).not.toBe(firstCode);
    expect(checkPhonePass(code, keyring, Date.now(), KIOSK_RULES)).toMatchObject({ ok: true, pass: { claims: { workerId: 'A001' } } });
    await context.setOffline(false);
  });

  it('the same link on a second phone is refused', async () => {
    const { page } = await phone();
    await page.goto(link);
    const refused = page.getByTestId('link-refused');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/đã được dùng/);
    await screenshot(page, 'phone-link-used');
    // English is one tap away, and stays chosen.
    await page.getByTestId('language').click();
    await expect.poll(() => page.getByTestId('link-refused').textContent()).toMatch(/already been used/);
    await page.reload();
    await expect.poll(() => page.getByTestId('link-refused').textContent()).toMatch(/already been used/);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
  });

  it("a screenshot's code replayed after the limit is PASS_STALE", () => {
    expect(checkPhonePass(firstCode, keyring, firstCodeAtMs + 61_000, KIOSK_RULES)).toMatchObject({ ok: false, failure: 'PASS_STALE' });
  });

  it('at a real kiosk (serial scanner, its own clock, a policy limit of 5 s): the code on the screen opens the gate, a screenshot of it 6 s later is PASS_STALE', async () => {
    const kiosk = new KioskUnderTest();
    try {
      // The kiosk trusts the hub's phone-pass key, installed in keys/phone-pass/ as IT staff would.
      mkdirSync(join(kiosk.keys.keysDir, 'phone-pass'), { recursive: true });
      copyFileSync(phonePassPublicKeyFile, join(kiosk.keys.keysDir, 'phone-pass', basename(phonePassPublicKeyFile)));
      const policy = structuredClone(builtInPolicy) as typeof builtInPolicy;
      policy.params.passes.maxProofAgeSeconds = 5;
      const policyFile = join(kiosk.dir.path, 'policy.json');
      writeFileSync(policyFile, JSON.stringify(policy));
      await kiosk.start({ policyFile });
      kiosk.kiosk.roster.upsertAll([healthyWorker('A001')]);
      const { page } = worker;
      // The worker opens their (used) link again from the message: this phone shows its pass.
      await page.goto(link);
      await expect.poll(() => new URL(page.url()).hash).toBe('');
      await page.getByTestId('pass').waitFor();
      const shownAt = Date.now();
      const code = await scanScreen(page, 'phone-pass-at-kiosk');
      const admitted = await kiosk.scan(code);
      expect(admitted.decision).toEqual({ outcome: 'allow', direction: 'entry', reasons: [] });
      // Someone else shows a screenshot of it later (an exit-and-entry later, so anti-passback is not what refuses it).
      await new Promise((r) => setTimeout(r, Math.max(0, shownAt + 6_500 - Date.now())));
      const replayed = await kiosk.scan(code);
      expect(replayed.decision.reasons).toEqual(['PASS_STALE']);
      expect(replayed.displayName).toBeNull();
      expect(kiosk.relayOpenings()).toBe(1);
    } finally {
      await kiosk.stop();
    }
  }, 30_000);

  it('the code changes by itself every 30 s, each one a fresh proof', async () => {
    const { page } = worker;
    await page.clock.install();
    await page.reload();
    await page.getByTestId('pass').waitFor();
    await page.waitForFunction(() => document.querySelector('canvas')?.dataset.code !== undefined);
    const drawn = () => page.evaluate(() => ({ code: document.querySelector('canvas')!.dataset.code!, at: Number(document.querySelector('canvas')!.dataset.drawnAt) }));
    const before = await drawn();
    await page.clock.fastForward(31_000);
    await page.waitForFunction((at) => Number(document.querySelector('canvas')?.dataset.drawnAt) > at, before.at);
    const after = await drawn();
    expect(after.at - before.at).toBeGreaterThanOrEqual(30_000);
    expect(after.code).not.toBe(before.code);
    // Each is admitted at the moment it was drawn (the page's clock ran 31 s ahead here), and the first is stale by then.
    expect(checkPhonePass(after.code, keyring, after.at, KIOSK_RULES)).toMatchObject({ ok: true });
    expect(checkPhonePass(before.code, keyring, before.at + 61_000, KIOSK_RULES)).toMatchObject({ ok: false, failure: 'PASS_STALE' });
  });
});
