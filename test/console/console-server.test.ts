import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { hashPassword } from '../../console/server/accounts.js';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { safegate, safegateProcess, type RunningProcess } from '../helpers/cli.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';
import { freePort, TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const PASSWORD = 'correct horse battery';

interface ApiAnswer {
  status: number;
  body: Record<string, unknown> & { error?: string; retryAfterSeconds?: number };
}

/** A call from the console's own page in Chromium: same origin, its cookies included, as a script of an attacker's page never could. */
async function api(page: Page, method: string, path: string, body?: unknown, opts: { csrf?: boolean } = {}): Promise<ApiAnswer> {
  return page.evaluate(
    async ({ method, path, body, csrf }) => {
      const headers: Record<string, string> = {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (csrf) headers['x-csrf-token'] = ((await (await fetch('/api/csrf')).json()) as { token: string }).token;
      const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as ApiAnswer['body'] };
    },
    { method, path, body, csrf: opts.csrf ?? method !== 'GET' },
  );
}

/**
 * The hub console against a running `safegate hub run` (a real Mosquitto, SQLite files) from real
 * Chromium: sign-in refusals, the growing lockout, role separation on the API, CSRF, the audit trail.
 */
describe('hub console (running hub, Chromium)', () => {
  const dir = tempDir('safegate-console-');
  let broker: TestBroker;
  let hub: RunningProcess;
  let browser: Browser;
  let url = '';
  let config = '';
  const children: ChildProcess[] = [];

  const addUser = (name: string, role: string, org?: string, password = PASSWORD) =>
    safegate(['hub', 'user', 'add', '--config', config, '--name', name, '--role', role, ...(org ? ['--org', org] : [])], { input: `${password}\n` });

  async function signedIn(name: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    const r = await api(page, 'POST', '/api/login', { name, password: PASSWORD });
    expect(r.status).toBe(200);
    return page;
  }

  beforeAll(async () => {
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    const port = await freePort();
    config = join(dir.path, 'hub.yaml');
    const tls = { ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, 'hub.1.crt'), key: join(certs.dir, 'hub.1.key') };
    writeFileSync(config, stringify({ id: 'hub.1', broker: { ...tls, url: broker.url }, console: { port, lockoutSeconds: 3 }, log: { level: 'info' } }));
    expect(addUser('op', 'operator').status).toBe(0);
    expect(safegate(['hub', 'org', 'add', 'ORG-A', '--name', 'Công ty A', '--config', config]).status).toBe(0);
    expect(addUser('mgr', 'manager', 'ORG-A').status).toBe(0);
    expect(addUser('locky', 'health').status).toBe(0);
    hub = safegateProcess(['hub', 'run', '--config', config]);
    children.push(hub.child);
    const listening = await waitFor(() => hub.logs.find((l) => l.msg === 'console listening'), 'console listening', 15_000);
    url = String(listening.url);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await broker?.stop();
    dir.remove();
  });

  it('hub user add takes the password from stdin only, refuses a short one, a manager without an organisation, and a duplicate', () => {
    expect(addUser('nopass', 'operator', undefined, '').stderr).toMatch(/no password on stdin/);
    expect(addUser('short', 'operator', undefined, 'short').stderr).toMatch(/12 to 200 characters/);
    expect(addUser('orgless', 'manager').stderr).toMatch(/names their organisation/);
    expect(addUser('ghost', 'manager', 'ORG-NOWHERE').stderr).toMatch(/no organisation ORG-NOWHERE in the hub's registry/);
    expect(addUser('op', 'operator').stderr).toMatch(/already exists/);
    const list = safegate(['hub', 'user', 'list', '--config', config]);
    expect(list.stdout).toMatch(/^mgr\tmanager\tORG-A\t/m);
    expect(list.stdout).not.toMatch(/nopass|short|orgless|ghost/);
  });

  it('listens on loopback by default', () => {
    expect(new URL(url).hostname).toBe('127.0.0.1');
  });

  it('refuses a wrong password and an unknown name alike, and signs in with the right one into an HttpOnly SameSite=Strict cookie', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    const wrong = await api(page, 'POST', '/api/login', { name: 'op', password: 'not the password' });
    const unknown = await api(page, 'POST', '/api/login', { name: 'nobody', password: 'not the password' });
    expect(wrong).toEqual({ status: 401, body: { error: 'wrong name or password' } });
    expect(unknown).toEqual(wrong);
    expect((await api(page, 'GET', '/api/me')).status).toBe(401);
    const ok = await api(page, 'POST', '/api/login', { name: 'op', password: PASSWORD });
    expect(ok).toEqual({ status: 200, body: { name: 'op', role: 'operator' } });
    const cookie = (await context.cookies()).find((c) => c.name === 'sg_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false });
    expect(await page.evaluate(() => document.cookie)).not.toContain('sg_session');
    expect(await api(page, 'GET', '/api/me')).toEqual({ status: 200, body: { name: 'op', role: 'operator' } });
    await context.close();
  });

  it('locks an account after five wrong passwords, refuses even the right one meanwhile, and locks it twice as long at the next wrong one', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    const wrong = () => api(page, 'POST', '/api/login', { name: 'locky', password: 'guess guess guess' });
    for (let i = 0; i < 4; i++) expect((await wrong()).body.retryAfterSeconds).toBeUndefined();
    // The first lockout is 3 s (the settings' lockoutSeconds): long enough that the next request,
    // a sign-in hashed with a slow KDF on a loaded machine, still finds the account locked.
    expect(await wrong()).toMatchObject({ status: 401, body: { retryAfterSeconds: 3 } });
    const meanwhile = await api(page, 'POST', '/api/login', { name: 'locky', password: PASSWORD });
    expect(meanwhile.status).toBe(429);
    await new Promise((r) => setTimeout(r, 3_100));
    expect(await wrong()).toMatchObject({ status: 401, body: { retryAfterSeconds: 6 } });
    expect(await api(page, 'POST', '/api/login', { name: 'locky', password: PASSWORD })).toMatchObject({ status: 429 });
    await new Promise((r) => setTimeout(r, 6_100));
    expect(await api(page, 'POST', '/api/login', { name: 'locky', password: PASSWORD })).toEqual({ status: 200, body: { name: 'locky', role: 'health' } });
    await context.close();
  }, 45_000);

  it("a manager's session cannot call operator-only routes, read or write, cookie and CSRF token included", async () => {
    const page = await signedIn('mgr');
    expect(await api(page, 'GET', '/api/me')).toEqual({ status: 200, body: { name: 'mgr', role: 'manager', org: 'ORG-A' } });
    expect((await api(page, 'GET', '/api/accounts')).status).toBe(403);
    expect((await api(page, 'GET', '/api/audit')).status).toBe(403);
    const made = await api(page, 'POST', '/api/accounts', { name: 'mgr-made', role: 'operator', password: PASSWORD });
    expect(made.status).toBe(403);
    const operator = await signedIn('op');
    const names = ((await api(operator, 'GET', '/api/accounts')).body as unknown as { name: string }[]).map((a) => a.name);
    expect(names).toEqual(['locky', 'mgr', 'op']);
    await page.context().close();
    await operator.context().close();
  });

  it('refuses a state-changing request without its CSRF token, and takes it with one', async () => {
    const page = await signedIn('op');
    const body = { name: 'health-2', role: 'health', password: PASSWORD };
    const refused = await api(page, 'POST', '/api/accounts', body, { csrf: false });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatch(/csrf/i);
    expect((await api(page, 'POST', '/api/logout', undefined, { csrf: false })).status).toBe(403);
    expect((await api(page, 'POST', '/api/login', { name: 'op', password: PASSWORD }, { csrf: false })).status).toBe(403);
    expect(safegate(['hub', 'user', 'list', '--config', config]).stdout).not.toContain('health-2');
    expect(await api(page, 'POST', '/api/accounts', body)).toEqual({ status: 201, body: { name: 'health-2', role: 'health' } });
    const stray = await api(page, 'POST', '/api/accounts', { name: 'stray-2', role: 'manager', org: 'ORG-NOWHERE', password: PASSWORD });
    expect(stray).toEqual({ status: 400, body: { error: "no organisation ORG-NOWHERE in the hub's registry" } });
    expect((await api(page, 'POST', '/api/logout')).status).toBe(200);
    expect((await api(page, 'GET', '/api/me')).status).toBe(401);
    await page.context().close();
  });

  it('the pages: sign-in in Vietnamese refuses a wrong password, then shows who you are and your role; English on request', async () => {
    expect(existsSync('build/console-ui/index.html'), 'the console pages are built by `npm run build`').toBe(true);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'vi-VN' });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByRole('heading', { name: 'Đăng nhập' }).waitFor();
    await page.getByLabel('Tên tài khoản').fill('mgr');
    await page.getByLabel('Mật khẩu').fill('not the password');
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toBe('Sai tên tài khoản hoặc mật khẩu.');
    await screenshot(page, 'console-login-refused');
    await page.getByLabel('Mật khẩu').fill(PASSWORD);
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    await page.getByRole('link', { name: 'Tài khoản của bạn' }).click();
    await page.getByTestId('me').waitFor();
    expect(await page.getByTestId('me-name').textContent()).toBe('mgr');
    expect(await page.getByTestId('me-role').textContent()).toBe('Quản lý tổ chức (chỉ tổ chức của mình)');
    expect(await page.getByTestId('me-org').textContent()).toBe('ORG-A');
    await screenshot(page, 'console-me-vi');
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await expect.poll(() => page.getByTestId('me-role').textContent()).toBe('Organisation manager (their organisation only)');
    await page.reload();
    await page.getByTestId('me').waitFor(); // the #account address keeps the page
    expect(await page.getByRole('heading', { name: 'Your account' }).count()).toBe(1);
    await screenshot(page, 'console-me-en');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByTestId('login').waitFor();
    expect((await api(page, 'GET', '/api/me')).status).toBe(401);
    await context.close();
  });

  it('the audit trail has every sign-in and every API call, refused ones included', async () => {
    const page = await signedIn('op');
    const trail = (await api(page, 'GET', '/api/audit?limit=1000')).body as unknown as { account: string; action: string; target: string; outcome: string; ip: string }[];
    const has = (account: string, action: string, outcome: string, target?: string) =>
      trail.some((e) => e.account === account && e.action === action && e.outcome === outcome && (target === undefined || e.target === target));
    expect(has('op', 'login', 'refused', 'wrong name or password')).toBe(true);
    expect(has('nobody', 'login', 'refused')).toBe(true);
    expect(has('locky', 'login', 'refused', 'locked')).toBe(true);
    expect(has('locky', 'login', 'ok')).toBe(true);
    expect(has('mgr', 'GET /api/accounts', 'refused')).toBe(true);
    expect(has('mgr', 'POST /api/accounts', 'refused')).toBe(true);
    expect(has('op', 'POST /api/accounts', 'refused')).toBe(true);
    expect(has('op', 'POST /api/accounts', 'ok')).toBe(true);
    expect(has('op', 'GET /api/accounts', 'ok')).toBe(true);
    expect(has('-', 'GET /api/me', 'refused')).toBe(true);
    expect(trail.every((e) => e.ip === '127.0.0.1')).toBe(true);
    expect(JSON.stringify(trail)).not.toContain(PASSWORD);
    await page.context().close();
  });

  it("refuses the sign-in of a manager whose organisation is not in the registry, and writes the refusal to the audit trail", async () => {
    // `hub user add` refuses such an account; one made before that check (or by hand) is refused at sign-in.
    const accounts = new SqliteConsoleStore(join(dir.path, 'hub-console.db'));
    await accounts.addAccount({ name: 'stray', role: 'manager', org: 'ORG-GONE', password: PASSWORD }, await hashPassword(PASSWORD), Date.now());
    await accounts.close();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    const r = await api(page, 'POST', '/api/login', { name: 'stray', password: PASSWORD });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatch(/ORG-GONE is not in the hub's registry/);
    expect((await api(page, 'GET', '/api/me')).status).toBe(401);
    const operator = await signedIn('op');
    const trail = (await api(operator, 'GET', '/api/audit?limit=1000')).body as unknown as { account: string; action: string; outcome: string }[];
    expect(trail.some((e) => e.account === 'stray' && e.action === 'login' && e.outcome === 'refused')).toBe(true);
    await context.close();
    await operator.context().close();
  });
});
