import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { loadSettings } from '../../src-main/core/config.js';
import type { Passage } from '../../src-main/core/gatekeeper.js';
import { sql } from 'kysely';
import { HubDirectory } from '../../sync/hub/directory.js';
import type { HubSqlTarget } from '../../sync/hub/hub-sql.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { hubDirectoryAt, safegate, safegateProcess, type RunningProcess } from '../helpers/cli.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { healthyWorker, installKey, passFor, tempDir, waitFor } from '../helpers/fixtures.js';
import { freePort, TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const HEADER = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';

/**
 * The daily health declaration end to end: a worker's phone page (real Chromium) against a running
 * `safegate hub run` (real Mosquitto; the directory in a SQLite file or in PostgreSQL) and a real kiosk of the worker's site on the live
 * site stream. Made offline, the declaration waits on the phone; back online it is sent once, the hub
 * keeps it once and relays its time and flag, and the kiosk's decision changes as the built-in policy
 * says (no declaration: DECLARATION_MISSING; a clean one: allowed; a "yes": DECLARATION_FLAGGED).
 */
describe.each(directoryBackends)('phone page: the daily health declaration reaches the kiosk (running hub on $name, Chromium, real kiosk)', (backend) => {
  const dir = tempDir('safegate-phone-decl-');
  const passKey = generateSigningKeyPair();
  let broker: TestBroker;
  let certs: TestCertificates;
  let hub: RunningProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let kiosk: Kiosk;
  let target: HubSqlTarget;
  let link = '';
  const children: ChildProcess[] = [];
  const posts: string[] = [];
  let issued = 60_000;
  const scan = (workerId: string): Passage =>
    kiosk.gatekeeper.handleScan({ text: passFor(passKey, workerId, { issuedAgoMs: (issued += 1_000) }), source: 'serial', receivedAtNs: process.hrtime.bigint() });

  async function heldDeclarations(): Promise<{ worker_id: string; flagged: number; answers: string | null }[]> {
    const directory = await HubDirectory.open(target);
    try {
      return await directory.sql.all(sql`SELECT worker_id, flagged, answers FROM declarations ORDER BY made_ms`);
    } finally {
      await directory.close();
    }
  }

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    certs.issue('kiosk-d1');
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    const keysDir = join(dir.path, 'hub-keys');
    const generated = safegate(['keys', 'generate', '--role', 'phone-pass', '--out', keysDir]);
    expect(generated.stderr).toBe('');
    const phonePassKey = /private:\s+(\S+)/.exec(generated.stdout)![1]!;
    const config = join(dir.path, 'hub.yaml');
    target = await backend.target();
    const at = hubDirectoryAt(target);
    const port = await freePort();
    const tls = (name: string) => ({ ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) });
    writeFileSync(config, stringify({ id: 'hub.1', broker: { ...tls('hub.1'), url: broker.url }, directory: { path: at.path }, phonePassKey, console: { port }, siteStream: { beatMs: 500 }, log: { level: 'info' } }));
    const run = (...args: string[]) => safegate(['hub', ...args, '--config', config], { env: at.env });
    expect(run('org', 'add', 'ORG-A', '--name', 'Công ty May A').status).toBe(0);
    expect(run('site', 'add', 'xuong-a', '--org', 'ORG-A').status).toBe(0);
    expect(run('device', 'assign', 'kiosk-d1', '--site', 'xuong-a').status).toBe(0);
    const list = join(dir.path, 'a.csv');
    writeFileSync(list, `${HEADER}\n1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,,,2\n`);
    expect(run('roster', 'upload', '--org', 'ORG-A', list).status).toBe(0);
    link = run('link', 'make', '--org', 'ORG-A', '--workers', 'A001').stdout.trim().split('\n')[1]!.split('\t')[2]!;
    hub = safegateProcess(['hub', 'run', '--config', config], undefined, { env: at.env });
    children.push(hub.child);
    await waitFor(() => hub.logs.find((l) => l.msg === 'console listening'), 'console listening', 20_000);
    await waitFor(() => hub.logs.find((l) => l.msg === 'hub online'), 'hub online', 20_000);

    // The kiosk at the worker's site: the gate's decision is what the test watches.
    const kdir = join(dir.path, 'kiosk-d1');
    mkdirSync(kdir);
    installKey(join(kdir, 'keys'), 'pass', passKey);
    const pulse = { pulseMs: 50, maxOnMs: 1_000 };
    writeFileSync(
      join(kdir, 'kiosk.yaml'),
      stringify({
        device: { id: 'kiosk-d1' },
        checkpoint: { id: 'gate-a', name: 'Cổng A', kind: 'gate', zone: 'factory-1', direction: 'entry', site: 'xuong-a' },
        scanner: { source: 'none' },
        gate: { gpio: 'simulated', relay: pulse, greenLight: pulse, redLight: pulse, buzzer: { pulseMs: 20, maxOnMs: 1_000 } },
        store: { path: 'safegate.db', reserveMB: 0 },
        hub: { keysDir: 'keys', broker: { ...tls('kiosk-d1'), url: broker.url, protocolVersion: 5 }, siteStream: { freshMs: 5_000 } },
        clock: { syncedWhen: 'always' },
      }),
    );
    kiosk = new Kiosk(loadSettings(join(kdir, 'kiosk.yaml')), { headless: true, log: silentLogger });
    // On the roster, healthy, but no declaration yet.
    kiosk.roster.upsertAll([healthyWorker('A001', Date.now(), { declaredAt: null })]);
    kiosk.start();
    await waitFor(() => (kiosk.siteStream?.currentSinceMs() ? true : undefined), "the kiosk hears its site's stream", 20_000);

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'vi-VN' });
    page = await context.newPage();
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/phone/api/declaration')) posts.push(r.url());
    });
    await page.goto(link);
    await page.getByTestId('accept').click();
    await page.getByTestId('pass').waitFor();
  }, 90_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    await kiosk?.stop();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await broker?.stop();
    dir.remove();
  });

  async function answer(yes: readonly string[] = []): Promise<void> {
    await page.locator('nav.tabs button[data-tab="declaration"]').click();
    await page.getByTestId('declaration-form').waitFor();
    for (const q of ['travel', 'fever', 'cough', 'breath', 'throat', 'nausea', 'diarrhoea', 'tasteSmell', 'contactCase', 'contactArea', 'contactSymptoms']) {
      await page.getByTestId(`q-${q}-${yes.includes(q) ? 'yes' : 'no'}`).check();
    }
    await page.getByTestId('declaration-submit').click();
  }

  it('made offline it waits on the phone; back online it is sent once and the kiosk admits the worker it refused', async () => {
    expect(scan('A001').decision).toMatchObject({ outcome: 'deny', reasons: ['DECLARATION_MISSING'] });
    await context.setOffline(true);
    // Unanswered questions are refused on the page itself.
    await page.locator('nav.tabs button[data-tab="declaration"]').click();
    await page.getByTestId('declaration-submit').click();
    await expect.poll(() => page.getByTestId('declaration-problem').textContent()).toMatch(/tất cả các câu hỏi/);
    await answer();
    await expect.poll(() => page.getByTestId('declaration-status').getAttribute('data-state')).toBe('queued');
    expect(await page.getByTestId('declaration-status').textContent()).toMatch(/sẽ tự gửi khi có mạng/);
    await screenshot(page, 'phone-declaration-queued');
    expect(await heldDeclarations()).toEqual([]);

    await context.setOffline(false);
    await expect.poll(() => page.getByTestId('declaration-status').getAttribute('data-state'), { timeout: 15_000 }).toBe('sent');
    await screenshot(page, 'phone-declaration-sent');
    // The hub kept it once, with no answers (all "no"); the kiosk got its time over the site stream.
    expect(await heldDeclarations()).toEqual([{ worker_id: 'A001', flagged: 0, answers: null }]);
    await waitFor(() => (kiosk.roster.get('A001')?.declaredAt ? true : undefined), 'the declaration at the kiosk', 15_000);
    expect(scan('A001').decision).toEqual({ outcome: 'allow', direction: 'entry', reasons: [] });

    // Opening the page again, online, sends nothing more: the outbox is empty.
    await page.reload();
    await page.getByTestId('pass').waitFor();
    await page.waitForTimeout(500);
    expect(posts).toHaveLength(1);
    expect(await heldDeclarations()).toHaveLength(1);
  }, 60_000);

  it('a "yes" answer flags it: the page says whom to tell, and the kiosk refuses with DECLARATION_FLAGGED', async () => {
    await answer(['cough']);
    // The page redraws with the new declaration's state (the earlier one's was already "sent").
    await page.getByTestId('declaration-flagged').waitFor();
    await expect.poll(() => page.getByTestId('declaration-status').getAttribute('data-state'), { timeout: 15_000 }).toBe('sent');
    await screenshot(page, 'phone-declaration-flagged');
    await waitFor(() => (kiosk.roster.get('A001')?.declarationFlagged ? true : undefined), 'the flagged declaration at the kiosk', 15_000);
    // (Entered a moment ago, so anti-passback refuses too.)
    const refused = scan('A001').decision;
    expect(refused.outcome).toBe('deny');
    expect(refused.reasons).toContain('DECLARATION_FLAGGED');
    const held = await heldDeclarations();
    expect(held).toHaveLength(2);
    expect(JSON.parse(held[1]!.answers!)).toMatchObject({ cough: true, fever: false });
    // Never in the hub's log: no answer.
    expect(hub.logs.map((l) => JSON.stringify(l)).join('\n')).not.toMatch(/cough|answers/i);
    // English is one tap away.
    await page.getByTestId('language').click();
    await expect.poll(() => page.getByTestId('declaration-status').textContent()).toMatch(/Declaration sent at/);
  }, 60_000);
});
