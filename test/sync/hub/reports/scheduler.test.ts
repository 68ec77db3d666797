import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../base/node/logger.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import type { HubSqlTarget } from '../../../../sync/hub/hub-sql.js';
import { AlertBook } from '../../../../sync/hub/notify/alert-book.js';
import { createMailer, type Mailer } from '../../../../sync/hub/notify/mailer.js';
import { PgHubStore } from '../../../../sync/hub/pg-store.js';
import { parseWorkerList } from '../../../../sync/hub/registry-upload.js';
import { keptLabourList, keptLabourLists, reportRecipientsOf, ReportScheduler } from '../../../../sync/hub/reports/scheduler.js';
import { SqliteHubStore, type HubStore } from '../../../../sync/hub/store.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { readableMail, TestSmtpServer } from '../../../helpers/smtp-server.js';

const ZONE = 'Asia/Ho_Chi_Minh';
/** HH:MM on 2026-11-26 (day 1) or 2026-11-27 (day 2) in the province (UTC+7). */
const at = (day: 1 | 2, hhmm: string) => Date.parse(`2026-11-2${5 + day}T${hhmm}:00+07:00`);

const LIST_A = 'Mã nhân viên,Họ và tên,Số CCCD,Số điện thoại,Kết quả xét nghiệm,Ngày xét nghiệm\nW-1,Nguyễn Thị Lan,079190000001,0912345601,Âm tính,26/11/2026\nW-2,Trần Văn Bình,079185000002,0912345602,Dương tính,26/11/2026\n';
const LIST_B = 'Mã nhân viên,Họ và tên\nW-9,Lê Văn Chín\n';

const dir = tempDir('safegate-reports-smtp-');
const smtp = new TestSmtpServer(`${dir.path}/mail`);
beforeAll(() => smtp.start(), 20_000);
afterAll(async () => {
  await smtp.stop();
  dir.remove();
});

/** Messages received since `from` (an index into the server's folder), with their text as a reader sees it. */
const since = (from: number) => smtp.messages().slice(from).map((m) => ({ ...m, text: readableMail(m.raw) }));

describe.each(directoryBackends)('report scheduler on $name', (backend) => {
  const open: { close(): Promise<void> | void }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  /** One hub process: its own directory handle, store, mailer and scheduler, on the shared databases. */
  async function hubProcess(directoryTarget: HubSqlTarget, storeTarget: HubSqlTarget, mailer: Mailer) {
    const directory = await HubDirectory.open(directoryTarget);
    open.push(directory);
    const store: HubStore = storeTarget.kind === 'postgres' ? await PgHubStore.open(storeTarget.url, 2) : new SqliteHubStore(storeTarget.path);
    open.push(store);
    const scheduler = new ReportScheduler({
      directory,
      store,
      zone: ZONE,
      silentAfterMs: 15 * 60_000,
      mailer,
      recipients: reportRecipientsOf(new AlertBook({ sql: directory.sql })),
      consoleUrl: 'https://hub.example.vn',
      summaryTime: '18:00',
      labourListTime: '16:00',
      log: silentLogger,
      leaseMs: 60_000,
    });
    return { directory, scheduler };
  }

  it('sends each summary and list notice once a day from two hub processes and across a restart, keeps the lists, and retries while the mail server is down', async () => {
    const directoryTarget = await backend.target();
    const storeTarget: HubSqlTarget = directoryTarget.kind === 'postgres' ? await backend.target() : { kind: 'sqlite', path: directoryTarget.path.replace(/hub-directory\.db$/, 'hub.db') };
    const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, secure: false, timeoutMs: 5_000 }, 'SafeGate <hub@hub.example.vn>');
    open.push({ close: () => mailer.close() });
    const one = await hubProcess(directoryTarget, storeTarget, mailer);
    const two = await hubProcess(directoryTarget, storeTarget, mailer);
    const d = one.directory;
    await d.addOrganisation({ id: 'org-a', name: 'Công ty May A', kind: 'company' }, at(1, '08:00'));
    await d.addOrganisation({ id: 'org-b', name: 'Công ty B', kind: 'company' }, at(1, '08:00'));
    await d.addSite({ id: 'site-a', orgId: 'org-a' });
    await d.addSite({ id: 'site-b', orgId: 'org-b' });
    await d.uploadWorkers('org-a', await parseWorkerList(Buffer.from(LIST_A), ZONE, at(1, '09:00')), { nowMs: at(1, '09:00') });
    await d.uploadWorkers('org-b', await parseWorkerList(Buffer.from(LIST_B), ZONE, at(1, '09:00')), { nowMs: at(1, '09:00') });
    const book = new AlertBook({ sql: d.sql });
    await book.addRecipient({ orgId: 'org-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' });
    await book.addRecipient({ orgId: 'org-a', siteId: 'site-a', channel: 'email', address: 'quanly@may-a.vn' }); // named twice: one e-mail
    await book.addRecipient({ orgId: 'org-a', siteId: null, channel: 'email', address: 'it@may-a.vn', categories: ['device'] }); // device alerts only
    await book.addRecipient({ orgId: 'org-a', siteId: null, channel: 'webhook', address: 'https://sms.example.vn/hook' });
    await book.addRecipient({ orgId: null, siteId: null, channel: 'email', address: 'soyte@tayninh.gov.vn' });
    const first = smtp.messages().length;

    // Before 16:00 nothing is due.
    expect(await one.scheduler.runDue(at(1, '15:59'))).toEqual({ labourLists: 0, notices: 0, summaries: 0, failed: 0 });
    // A list kept 8 days ago and never replaced (its organisation has gone): deleted at the next list time.
    await d.sql.write((tx) => tx.run(sql`INSERT INTO labour_lists (org_id, day, made_ms, workers, body) VALUES ('org-gone', '2026-11-18', ${at(1, '16:00') - 8 * 86_400_000}, 1, ${Buffer.from('x')})`));
    // 16:05: both processes at once make each list and send each notice once between them.
    const lists = await Promise.all([one.scheduler.runDue(at(1, '16:05')), two.scheduler.runDue(at(1, '16:05'))]);
    expect(lists[0].labourLists + lists[1].labourLists).toBe(2);
    expect(lists[0].notices + lists[1].notices).toBe(1);
    expect((await keptLabourLists(d.sql)).map((l) => [l.orgId, l.day, l.workers])).toEqual([
      ['org-a', '2026-11-26', 2],
      ['org-b', '2026-11-26', 1],
    ]);
    const kept = (await keptLabourList(d.sql, 'org-a'))!;
    expect((await parseWorkerList(kept.body, ZONE, at(1, '16:10'))).map((w) => [w.workerId, w.idNumber, w.testResult])).toEqual([
      ['W-1', '079190000001', 'negative'],
      ['W-2', '079185000002', 'positive'],
    ]);
    const notices = since(first);
    expect(notices.map((m) => m.to)).toEqual([['quanly@may-a.vn']]);
    expect(notices[0]!.text).toContain('Danh sách người lao động (CV 2242) của Công ty May A (org-a) ngày 26/11/2026 đã sẵn sàng');
    expect(notices[0]!.text).toContain('https://hub.example.vn/#reports');
    expect(notices[0]!.raw).not.toMatch(/Content-Disposition: attachment|multipart/i);

    // 18:01: the summaries, once each, from both processes at once; then a restart finds them done.
    const summaries = await Promise.all([one.scheduler.runDue(at(1, '18:01')), two.scheduler.runDue(at(1, '18:01'))]);
    expect(summaries[0].summaries + summaries[1].summaries).toBe(2);
    const restarted = await hubProcess(directoryTarget, storeTarget, mailer);
    expect(await restarted.scheduler.runDue(at(1, '20:00'))).toEqual({ labourLists: 0, notices: 0, summaries: 0, failed: 0 });
    const day1 = since(first);
    expect(day1.map((m) => m.to[0]).sort()).toEqual(['quanly@may-a.vn', 'quanly@may-a.vn', 'soyte@tayninh.gov.vn']);
    const toA = day1.find((m) => m.to[0] === 'quanly@may-a.vn' && m.text.includes('Báo cáo ngày'))!;
    expect(toA.text).toContain('Báo cáo ngày 2026-11-26 — Công ty May A (org-a)');
    expect(toA.text).toContain('Lượt qua cổng: 0');
    expect(day1.find((m) => m.to[0] === 'soyte@tayninh.gov.vn')!.text).toContain('Báo cáo ngày 2026-11-26 — toàn tỉnh');
    for (const m of day1) {
      // No worker, ID number, phone or test result in any e-mail.
      for (const personal of ['W-1', 'W-2', 'W-9', '079190000001', '0912345601', 'Nguyễn', 'Lan', 'Bình', 'Dương tính', 'positive']) expect(m.text).not.toContain(personal);
    }

    // Day 2, 18:00, the mail server down: attempts recorded, nothing lost; back up, each sent once.
    await smtp.stop();
    const beforeDay2 = smtp.messages().length;
    const down = await one.scheduler.runDue(at(2, '18:00'));
    expect(down).toMatchObject({ summaries: 0, notices: 0, labourLists: 2 });
    expect(down.failed).toBe(3); // org-a's notice and summary, the province's summary
    const failed = await d.sql.all<{ run_key: string; attempts: number; last_error: string | null; state: string }>(
      sql`SELECT run_key, attempts, last_error, state FROM report_runs WHERE day = '2026-11-27' AND kind <> 'labour-list' ORDER BY run_key`,
    );
    expect(failed.map((r) => [r.state, Number(r.attempts), Boolean(r.last_error)])).toEqual([
      ['claimed', 1, true],
      ['claimed', 1, true],
      ['claimed', 1, true],
    ]);
    // Before its retry time another process leaves it alone.
    expect(await two.scheduler.runDue(at(2, '18:00') + 30_000)).toMatchObject({ summaries: 0, notices: 0, failed: 0 });
    await smtp.start();
    const up = await Promise.all([one.scheduler.runDue(at(2, '18:05')), two.scheduler.runDue(at(2, '18:05'))]);
    expect(up[0].summaries + up[1].summaries).toBe(2);
    expect(up[0].notices + up[1].notices).toBe(1);
    expect(await one.scheduler.runDue(at(2, '23:59'))).toEqual({ labourLists: 0, notices: 0, summaries: 0, failed: 0 });
    expect(since(beforeDay2).map((m) => m.to[0]).sort()).toEqual(['quanly@may-a.vn', 'quanly@may-a.vn', 'soyte@tayninh.gov.vn']);
  });
});
