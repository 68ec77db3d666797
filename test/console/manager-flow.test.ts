import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { hubDirectoryAt, safegate, safegateProcess, type RunningProcess } from '../helpers/cli.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';
import { freePort, TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const PASSWORD = 'a manager password';
const HEADER = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';
/** ORG-A's list with three bad rows: no name (line 3), a year of birth that is not one (line 4), ORG-B's worker (line 5). */
const BAD_LIST = [
  HEADER,
  '1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,,,2',
  '2,A002,,1991,Nam,,,,Tổ May 1,,,1',
  '3,A003,Đỗ Thị Ngọc,năm ngoái,Nữ,,,,Tổ Cắt,,,2',
  '4,B001,Phạm Văn Bình,1985,Nam,,,,Tổ May 1,,,2',
].join('\n');
const GOOD_LIST = [
  HEADER,
  '1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,,,2',
  '2,A002,Lê Văn Hùng,1991,Nam,079191000002,0912345602,Bình Tân,Tổ May 1,,,1',
  '3,A003,Đỗ Thị Ngọc,1992,Nữ,,,,Tổ Cắt,,,2',
].join('\n');

interface ApiAnswer {
  status: number;
  body: unknown;
}

/** A call from the signed-in page itself: its session cookie and a CSRF token, as the console's own script sends them. */
async function api(page: Page, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  return page.evaluate(
    async ({ method, path, body }) => {
      const headers: Record<string, string> = {};
      if (body !== undefined) headers['content-type'] = typeof body === 'string' ? 'text/csv' : 'application/json';
      if (method !== 'GET') headers['x-csrf-token'] = ((await (await fetch('/api/csrf')).json()) as { token: string }).token;
      const r = await fetch(path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    { method, path, body },
  );
}

/**
 * The issue's console test, against a running `safegate hub run` (real Mosquitto, SQLite files) in
 * real Chromium: an organisation manager signs in, uploads a list with bad rows and sees each by
 * line, fixes it and uploads again, issues passes, downloads a team's PDF sheet, and cannot reach
 * another organisation's workers or passes, through the pages or straight at the API (refused, and
 * written to the audit trail). A health officer changes nothing.
 */
async function openPage(page: Page, fragment: string): Promise<void> {
  await page.goto(new URL(fragment, page.url()).href);
}

describe.each(directoryBackends)("console: an organisation manager's day (running hub on $name, Chromium)", (backend) => {
  const dir = tempDir('safegate-console-flow-');
  let broker: TestBroker;
  let hub: RunningProcess;
  let browser: Browser;
  let url = '';
  let config = '';
  const children: ChildProcess[] = [];
  // PostgreSQL: DATABASE_URL for every command and the hub, so its directory, store and console accounts are all there.
  let env: NodeJS.ProcessEnv = {};
  const run = (...args: string[]) => safegate(['hub', ...args, '--config', config], { env });

  async function signIn(name: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'vi-VN', acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel('Tên tài khoản').fill(name);
    await page.getByLabel('Mật khẩu').fill(PASSWORD);
    await page.getByRole('button', { name: 'Đăng nhập' }).click();
    await page.getByTestId('who').waitFor();
    return page;
  }

  beforeAll(async () => {
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    const generated = safegate(['keys', 'generate', '--role', 'pass', '--out', join(dir.path, 'hub-keys')]);
    expect(generated.status).toBe(0);
    const passKey = /private:\s+(\S+)/.exec(generated.stdout)![1]!;
    config = join(dir.path, 'hub.yaml');
    const tls = { ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, 'hub.1.crt'), key: join(certs.dir, 'hub.1.key') };
    const at = hubDirectoryAt(await backend.target());
    env = at.env;
    writeFileSync(config, stringify({ id: 'hub.1', broker: { ...tls, url: broker.url }, directory: { path: at.path }, passKey, console: { port: await freePort() }, log: { level: 'info' } }));
    expect(run('org', 'add', 'ORG-A', '--name', 'Công ty May A').status).toBe(0);
    expect(run('org', 'add', 'ORG-B', '--name', 'Công ty Điện tử B').status).toBe(0);
    expect(run('site', 'add', 'xuong-a', '--org', 'ORG-A').status).toBe(0);
    expect(run('site', 'add', 'xuong-b', '--org', 'ORG-B').status).toBe(0);
    const b = join(dir.path, 'b.csv');
    writeFileSync(b, `${HEADER}\n1,B001,Phạm Văn Bình,1985,Nam,079185000009,0987000009,Khu B,Tổ Hàn,,,2\n2,B002,Vũ Thị Lan,1993,Nữ,,,,Tổ Hàn,,,2\n`);
    expect(run('roster', 'upload', '--org', 'ORG-B', b).status).toBe(0);
    for (const [name, role, org] of [['op', 'operator'], ['mgr-a', 'manager', 'ORG-A'], ['med', 'health']] as const) {
      const added = safegate(['hub', 'user', 'add', '--config', config, '--name', name, '--role', role, ...(org ? ['--org', org] : [])], { input: `${PASSWORD}\n`, env });
      expect(added.stderr).toBe('');
    }
    hub = safegateProcess(['hub', 'run', '--config', config], undefined, { env });
    children.push(hub.child);
    url = String((await waitFor(() => hub.logs.find((l) => l.msg === 'console listening'), 'console listening', 15_000)).url);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await broker?.stop();
    dir.remove();
  });

  it('uploads a list with bad rows and sees each by line (nothing changes), fixes it and uploads again, then finds only its own workers', async () => {
    const page = await signIn('mgr-a');
    await page.getByRole('link', { name: 'Người lao động' }).click();
    await page.getByTestId('workers-page').waitFor();
    // A manager has no choice of organisation: the page is theirs.
    expect(await page.locator('select[name="org"]').count()).toBe(0);
    await page.getByLabel('Tệp danh sách').setInputFiles({ name: 'ds-ORG-A.csv', mimeType: 'text/csv', buffer: Buffer.from(BAD_LIST) });
    await page.getByRole('button', { name: 'Tải lên' }).click();
    const problems = page.getByTestId('upload-problems');
    await problems.waitFor();
    const rows = await problems.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => r[0])).toEqual(expect.arrayContaining(['3', '4']));
    // The hub sends each problem as a code and its parameters: the Vietnamese page says it in Vietnamese, by line.
    expect(rows.find((r) => r[0] === '3')?.[1]).toBe('Họ và tên: bắt buộc phải có.');
    expect(rows.find((r) => r[0] === '4')?.[1]).toMatch(/^Năm sinh: cần một năm từ \d{4} đến \d{4}, nhưng là "năm ngoái"\.$/);
    await screenshot(page, 'console-manager-upload-refused');
    // The first refusal is the file's own (rows); a row naming another organisation's worker is refused once the rows read.
    await page.getByLabel('Tệp danh sách').setInputFiles({ name: 'ds-ORG-A.csv', mimeType: 'text/csv', buffer: Buffer.from(BAD_LIST.split('\n').filter((l) => !/^[23],/.test(l)).join('\n')) });
    await page.getByRole('button', { name: 'Tải lên' }).click();
    await expect.poll(() => problems.locator('tbody tr').allTextContents()).toEqual(['3Mã NV B001 đang có trong danh sách của tổ chức khác.']);
    // In English, the same problem in English.
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await expect.poll(() => problems.locator('tbody tr').allTextContents()).toEqual(["3Worker id B001 is on another organisation's list."]);
    await page.getByRole('button', { name: 'Chuyển sang tiếng Việt' }).click();
    expect(await page.getByTestId('org-workers').textContent()).toBe('0');

    await page.getByLabel('Tệp danh sách').setInputFiles({ name: 'ds-ORG-A.csv', mimeType: 'text/csv', buffer: Buffer.from(GOOD_LIST) });
    await page.getByRole('button', { name: 'Tải lên' }).click();
    await expect.poll(() => page.getByTestId('upload-result').textContent()).toMatch(/^Đã nhận danh sách: 3 người/);
    expect(await problems.count()).toBe(0);
    await expect.poll(() => page.getByTestId('org-workers').textContent()).toBe('3');
    await screenshot(page, 'console-manager-upload-taken');

    await page.getByRole('button', { name: 'Tìm' }).click();
    const results = page.getByTestId('worker-results');
    await expect.poll(() => results.locator('tbody tr').count()).toBe(3);
    const text = await results.textContent();
    expect(text).toContain('Lê Văn Hùng');
    // Lists never show ID number, phone or residence.
    for (const secret of ['079190000001', '0912345601', 'KTX Tân Tạo']) expect(text).not.toContain(secret);
    await page.getByLabel('Tên, tổ hoặc mã').fill('Phạm Văn Bình');
    await page.getByRole('button', { name: 'Tìm' }).click();
    await expect.poll(() => results.locator('tbody tr').count()).toBe(0);
    await screenshot(page, 'console-manager-workers');
    await page.context().close();
  });

  it("issues passes to a team and downloads the team's sheet as a PDF", async () => {
    const page = await signIn('mgr-a');
    await page.getByRole('link', { name: 'Thẻ ra vào' }).click();
    await page.getByTestId('passes-page').waitFor();
    const issueTeam = page.locator('select[name="issue-team"]');
    await expect.poll(() => issueTeam.locator('option').allTextContents()).toEqual(['', 'Tổ Cắt', 'Tổ May 1']);
    await issueTeam.selectOption('Tổ May 1');
    await page.getByRole('button', { name: 'Cấp thẻ' }).click();
    await expect.poll(() => page.getByTestId('issue-result').textContent()).toMatch(/^Đã cấp 2 thẻ/);
    await expect.poll(() => page.getByTestId('passes').locator('tbody tr').count()).toBe(2);
    // Each pass shows its worker's name and team from the list, never their ID number, phone or residence.
    const passRows = await page.getByTestId('passes').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(passRows.map((r) => [r[1], r[2]]).sort()).toEqual([
      ['Lê Văn Hùng (A002)', 'Tổ May 1'],
      ['Trần Thị Mai (A001)', 'Tổ May 1'],
    ]);
    const listed = await api(page, 'GET', '/api/organisations/ORG-A/passes');
    expect(Object.keys((listed.body as object[])[0]!).sort()).toEqual(['expiresAtMs', 'fullName', 'issuedAtMs', 'kind', 'orgId', 'passId', 'revokedAtMs', 'revokedBecause', 'state', 'team', 'workerId']);
    expect(JSON.stringify(listed.body) + passRows.join()).not.toMatch(/079190000001|079191000002|0912345601|0912345602|KTX Tân Tạo|Bình Tân/);

    await page.locator('select[name="sheet-team"]').selectOption('Tổ May 1');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Tải phiếu PDF' }).click()]);
    expect(download.suggestedFilename()).toBe('passes-ORG-A-Tổ May 1.pdf');
    const file = join(dir.path, 'sheet.pdf');
    await download.saveAs(file);
    const pdf = readFileSync(file);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.length).toBeGreaterThan(1_000);
    // The two team members already held live passes: the sheet prints those, issuing none.
    expect(await page.getByTestId('passes').locator('tbody tr').count()).toBe(2);
    await screenshot(page, 'console-manager-passes');

    // Phone links for a team: each address shown once, on the hub's phone page, the token in the fragment.
    await page.locator('select[name="links-team"]').selectOption('Tổ Cắt');
    await page.getByRole('button', { name: 'Tạo đường dẫn' }).click();
    const link = page.getByLabel('Đường dẫn A003');
    await link.waitFor();
    expect(await link.inputValue()).toMatch(new RegExp(`^${url.replace(/[.]/g, '\\.')}/phone/#t=[A-Za-z0-9_-]{43}$`));
    await screenshot(page, 'console-manager-phone-links');

    // Revoking one pass from the list.
    await page.getByRole('button', { name: /^Thu hồi [0-9a-f]{16}$/ }).first().click();
    await expect.poll(() => page.getByTestId('passes').getByText('Đã thu hồi').count()).toBe(1);
    await page.context().close();
  });

  it("cannot reach another organisation's workers or passes, through the pages or straight at the API; each attempt is in the audit trail", async () => {
    const page = await signIn('mgr-a');
    // The pages: only their own organisation is listed anywhere.
    const orgs = await api(page, 'GET', '/api/organisations');
    expect((orgs.body as { id: string }[]).map((o) => o.id)).toEqual(['ORG-A']);
    await page.getByRole('link', { name: 'Tổ chức và cơ sở' }).click();
    await page.getByTestId('organisations').waitFor();
    await expect.poll(() => page.getByTestId('organisations').locator('tbody tr').count()).toBe(1);
    expect(await page.getByTestId('organisations-page').textContent()).not.toContain('ORG-B');
    expect(await page.getByTestId('sites').textContent()).not.toContain('xuong-b');

    // The API, with the manager's own session and CSRF token.
    const attempts: [string, string, unknown?][] = [
      ['GET', '/api/organisations/ORG-B/workers'],
      ['GET', '/api/organisations/ORG-B/workers?q=B001'],
      ['POST', '/api/organisations/ORG-B/workers', GOOD_LIST],
      ['GET', '/api/organisations/ORG-B/passes'],
      ['GET', '/api/organisations/ORG-B/teams'],
      ['POST', '/api/organisations/ORG-B/passes', { team: 'Tổ Hàn', expiresAtMs: Date.now() + 86_400_000 }],
      ['POST', '/api/organisations/ORG-B/sheet', { team: 'Tổ Hàn' }],
      ['POST', '/api/organisations/ORG-B/workers/B001/revoke', {}],
      ['GET', '/api/sites?org=ORG-B'],
      ['GET', '/api/organisations/ORG-B/phone-links'],
      ['POST', '/api/organisations/ORG-B/phone-links', { team: 'Tổ Hàn' }],
      ['POST', '/api/person-requests/access', { workerId: 'B001' }],
    ];
    for (const [method, path, body] of attempts) {
      const r = await api(page, method, path, body);
      expect([path, r.status]).toEqual([path, 403]);
    }
    // Its own organisation's passes do not include another's, and a pass of ORG-B is not found through ORG-A.
    const op = await signIn('op');
    const bIssued = await api(op, 'POST', '/api/organisations/ORG-B/passes', { team: 'Tổ Hàn', expiresAtMs: Date.now() + 86_400_000 });
    expect(bIssued.status).toBe(201);
    const bPass = (bIssued.body as { passes: { passId: string }[] }).passes[0]!.passId;
    expect((await api(page, 'POST', `/api/organisations/ORG-A/passes/${bPass}/revoke`, {})).status).toBe(404);
    expect((await api(page, 'GET', '/api/organisations/ORG-A/passes?worker=B001')).body).toEqual([]);
    const bWorkers = (await api(op, 'GET', '/api/organisations/ORG-B/workers')).body as { workerId: string }[];
    expect(bWorkers.map((w) => w.workerId)).toEqual(['B001', 'B002']);
    expect((await api(op, 'GET', `/api/organisations/ORG-B/passes?worker=B001`)).body).toEqual([expect.objectContaining({ passId: bPass, state: 'live' })]);

    const trail = (await api(op, 'GET', '/api/audit?limit=1000')).body as { account: string; action: string; target: string; outcome: string }[];
    for (const [method, path] of attempts) {
      // A worker id in a path stays out of the trail (its parameter's name in its place).
      const target = path.split('?')[0]!.replace(/\/workers\/[^/]+\/revoke$/, '/workers/:worker/revoke');
      expect(trail.some((e) => e.account === 'mgr-a' && e.action.startsWith(`${method} `) && e.target === target && e.outcome === 'refused'), `${method} ${path} audited`).toBe(true);
    }
    expect(trail.some((e) => e.account === 'mgr-a' && e.action === 'POST /api/organisations/:org/workers' && e.target === '/api/organisations/ORG-A/workers' && e.outcome === 'ok')).toBe(true);
    await page.context().close();
    await op.context().close();
  });

  it('a health officer reads but cannot change anything: no upload or issue forms, and every change refused at the API', async () => {
    const page = await signIn('med');
    await page.getByRole('link', { name: 'Người lao động' }).click();
    await page.locator('select[name="org"]').selectOption('ORG-A');
    await page.getByRole('button', { name: 'Tìm' }).waitFor();
    expect(await page.getByLabel('Tệp danh sách').count()).toBe(0);
    await page.getByRole('link', { name: 'Thẻ ra vào' }).click();
    await page.getByTestId('passes-page').waitFor();
    await page.locator('select[name="org"] option[value="ORG-A"]').waitFor({ state: 'attached' });
    await page.locator('select[name="org"]').selectOption('ORG-A');
    // The list is read after the choice; on a loaded CI machine (two workers, a hub and PostgreSQL on two
    // cores) that took longer than the default 10 s poll twice: this waits for the page's own answer.
    await expect
      .poll(async () => ((await page.locator('[role="alert"]').count()) > 0 ? `refused: ${await page.locator('[role="alert"]').first().innerText()}` : page.getByTestId('passes').locator('tbody tr').count()), { timeout: 30_000 })
      .toBe(2);
    expect(await page.getByRole('button', { name: 'Cấp thẻ' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Thu hồi/ }).count()).toBe(0);
    await page.getByRole('link', { name: 'Tổ chức và cơ sở' }).click();
    await page.getByText('Bạn chỉ có quyền xem.').waitFor();
    await page.getByRole('link', { name: 'Cảnh báo' }).click();
    // The hub's own alerts are listed (ORG-A had sent no list when the hub started): read, never acknowledged, by a health officer.
    await expect.poll(() => page.getByTestId('alerts').locator('tbody tr').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('acknowledge').count()).toBe(0);
    await page.getByRole('link', { name: 'Tổ chức và cơ sở' }).click();
    await screenshot(page, 'console-health-read-only');
    const changes: [string, string, unknown][] = [
      ['POST', '/api/organisations', { id: 'ORG-C', name: 'C', kind: 'company' }],
      ['POST', '/api/sites', { id: 'xuong-c', orgId: 'ORG-A' }],
      ['POST', '/api/checkpoints', { id: 'cong-c', siteId: 'xuong-a', kind: 'gate' }],
      ['POST', '/api/organisations/ORG-A/workers', GOOD_LIST],
      ['POST', '/api/organisations/ORG-A/passes', { team: 'Tổ Cắt', expiresAtMs: Date.now() + 86_400_000 }],
      ['POST', '/api/organisations/ORG-A/sheet', { team: 'Tổ Cắt' }],
      ['POST', '/api/organisations/ORG-A/workers/A001/revoke', {}],
      ['POST', '/api/organisations/ORG-A/phone-links', { team: 'Tổ Cắt' }],
      ['POST', '/api/person-requests/access', { workerId: 'A001' }],
      ['POST', '/api/person-requests/erasure', { workerId: 'A001' }],
      ['POST', '/api/notices', { id: 'n1', vi: 'x', priority: 'info', expiresAtMs: Date.now() + 86_400_000 }],
      ['POST', '/api/accounts', { name: 'x', role: 'operator', password: PASSWORD }],
    ];
    for (const [method, path, body] of changes) expect([path, (await api(page, method, path, body)).status]).toEqual([path, 403]);
    expect(run('org', 'list').stdout).not.toContain('ORG-C');
    await page.context().close();
  });

  it("an operator exports everything held about one worker and erases them (Decree 13); the audit trail keeps the request, not the person's id", async () => {
    const op = await signIn('op');
    await openPage(op, '#person');
    await op.getByLabel('Mã người lao động').fill('B002');
    const [download] = await Promise.all([op.waitForEvent('download'), op.getByRole('button', { name: 'Xuất dữ liệu (JSON)' }).click()]);
    const file = join(dir.path, 'person.json');
    await download.saveAs(file);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { format: string; workerId: string; requestId: string; organisationList: { fullName: string } };
    expect([doc.format, doc.workerId, doc.organisationList.fullName]).toEqual(['safegate-person-export/1', 'B002', 'Vũ Thị Lan']);
    await op.getByRole('button', { name: 'Xoá' }).waitFor();
    expect(await op.getByRole('button', { name: 'Xoá' }).isDisabled()).toBe(true);
    await op.getByLabel('Tôi xác nhận xoá người này khỏi hệ thống (không hoàn tác được)').check();
    await op.getByRole('button', { name: 'Xoá' }).click();
    await expect.poll(() => op.getByTestId('person-result').textContent()).toMatch(/^Đã xoá\. Mã yêu cầu [0-9a-f-]{36}/);
    await screenshot(op, 'console-operator-person-erased');
    expect(run('pass', 'list', '--org', 'ORG-B', '--worker', 'B002').stdout).not.toContain('live');
    expect(((await api(op, 'GET', '/api/organisations/ORG-B/workers')).body as { workerId: string }[]).map((w) => w.workerId)).toEqual(['B001']);
    const trail = (await api(op, 'GET', '/api/audit?limit=1000')).body as { account: string; action: string; target: string }[];
    expect(trail.filter((e) => e.action.startsWith('person ')).map((e) => [e.account, e.action, e.target.split(':')[0]])).toEqual([
      ['op', 'person access', `request ${doc.requestId}`],
      ['op', 'person erasure', expect.stringMatching(/^request [0-9a-f-]{36}$/)],
    ]);
    expect(JSON.stringify(trail.filter((e) => e.account === 'op'))).not.toContain('B002');
    // Registry: the operator adds a gate at ORG-A's workshop and places a device there.
    await openPage(op, '#organisations');
    await op.locator('select[name="checkpoint-site"]').selectOption('xuong-a');
    await op.locator('input[name="checkpoint-id"]').fill('cong-a');
    await op.locator('form[aria-labelledby="add-checkpoint"]').getByRole('button', { name: 'Thêm' }).click();
    await op.locator('select[name="setup-checkpoint"]').selectOption('cong-a');
    await op.locator('input[name="setup-devices"]').fill('kiosk-a-01');
    await op.getByRole('button', { name: 'Đặt thiết bị tại đây' }).click();
    await expect.poll(() => op.getByTestId('checkpoints').locator('tbody tr').allTextContents()).toEqual([expect.stringMatching(/^cong-acong-aCổngxuong-aORG-Akiosk-a-01Hiện mã xoay vòng$/)]);
    await screenshot(op, 'console-operator-registry');

    // Accounts: the operator adds ORG-B's manager from the accounts page; the audit trail is shown there.
    await openPage(op, '#accounts');
    await op.getByTestId('audit').locator('tbody tr').first().waitFor();
    await op.getByLabel('Tài khoản', { exact: true }).fill('mgr-b');
    await op.locator('select[name="account-org"]').selectOption('ORG-B');
    await op.getByLabel('Mật khẩu (12 ký tự trở lên)').fill(PASSWORD);
    await op.getByRole('button', { name: 'Thêm' }).click();
    await expect.poll(() => op.getByTestId('accounts').textContent()).toContain('mgr-b');
    await screenshot(op, 'console-operator-accounts');
    const mgrB = await signIn('mgr-b');
    expect(((await api(mgrB, 'GET', '/api/organisations')).body as { id: string }[]).map((o) => o.id)).toEqual(['ORG-B']);
    await mgrB.context().close();
    // A manager's console has no such page.
    const mgr = await signIn('mgr-a');
    expect(await mgr.getByRole('link', { name: 'Dữ liệu cá nhân' }).count()).toBe(0);
    expect(await mgr.getByRole('link', { name: 'Tài khoản và nhật ký' }).count()).toBe(0);
    await op.context().close();
    await mgr.context().close();
  });

  it("works with the keyboard alone, and at a phone's width the page does not scroll sideways", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'vi-VN' });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel('Tên tài khoản').focus();
    await page.keyboard.type('mgr-a');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByTestId('who').waitFor();
    const focused = () => page.evaluate(() => document.activeElement?.textContent ?? '');
    for (let i = 0; i < 20 && (await focused()) !== 'Người lao động'; i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByTestId('workers-page').waitFor();
    for (let i = 0; i < 30 && (await focused()) !== 'Tìm'; i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByTestId('worker-results').waitFor();
    for (const p of ['#organisations', '#workers', '#passes', '#entries']) {
      await page.goto(`${url}/${p}`);
      await page.locator('section h2').first().waitFor();
      expect([p, await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)]).toEqual([p, true]);
    }
    await page.goto(`${url}/#workers`);
    await page.getByTestId('workers-page').waitFor();
    await screenshot(page, 'console-manager-phone-width');
    await context.close();
  });
});
