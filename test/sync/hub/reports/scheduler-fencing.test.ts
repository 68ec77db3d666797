import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { silentLogger } from '../../../../base/node/logger.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import type { Mailer, MailMessage } from '../../../../sync/hub/notify/mailer.js';
import { ReportScheduler } from '../../../../sync/hub/reports/scheduler.js';
import { SqliteHubStore } from '../../../../sync/hub/store.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { tempDir } from '../../../helpers/fixtures.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const AT_1801 = Date.parse('2026-11-26T18:01:00+07:00');
const AT_1605 = Date.parse('2026-11-26T16:05:00+07:00');

/** A mailer whose sends wait until the test settles them, one by one, recording each. */
class HeldMailer implements Mailer {
  readonly configured = true;
  readonly sent: { to: string; settle: (error?: Error) => void }[] = [];
  constructor(readonly sendDeadlineMs = 1_000) {}
  send(message: MailMessage): Promise<{ messageId: string }> {
    return new Promise((resolve, reject) => {
      this.sent.push({ to: String(message.to), settle: (error) => (error ? reject(error) : resolve({ messageId: 'm' })) });
    });
  }
  close(): void {}
}

/** A mailer that sends at once. */
const quickMailer = (): Mailer & { to: string[] } => {
  const to: string[] = [];
  return { configured: true, sendDeadlineMs: 1_000, to, send: async (m) => (to.push(String(m.to)), { messageId: 'm' }), close: () => {} };
};

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

/**
 * The reports' schedule when a piece of work outlives its claim: each claim's result applies only to
 * that claim (a late failure never frees the claim another process took since), the lease is sized
 * above the mailer's longest send, and no "list ready" notice goes out for a list that was not made.
 */
describe.each(directoryBackends)('report scheduler claims on $name', (backend) => {
  const dir = tempDir('safegate-report-fence-');
  const open: { close(): Promise<void> | void }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  async function hub(mailer: Mailer, recipients: (orgId: string | null) => Promise<string[]>, directory?: HubDirectory) {
    const target = await backend.target();
    const d = directory ?? (await HubDirectory.open(target));
    if (!directory) open.push(d);
    const store = new SqliteHubStore(`${dir.path}/hub-${open.length}.db`);
    open.push(store);
    const scheduler = (m: Mailer, leaseMs?: number, on: HubDirectory = d) =>
      new ReportScheduler({ directory: on, store, zone: ZONE, silentAfterMs: 15 * 60_000, mailer: m, recipients, consoleUrl: 'https://hub.example.vn', summaryTime: '18:00', labourListTime: '16:00', log: silentLogger, ...(leaseMs ? { leaseMs } : {}) });
    return { directory: d, scheduler: (m: Mailer, leaseMs?: number, on?: HubDirectory) => scheduler(m, leaseMs, on) };
  }

  it('a send that outlives its lease: its late failure leaves the claim another process took since, so no third process sends it again', async () => {
    const { directory, scheduler } = await hub(new HeldMailer(), async (orgId) => (orgId === null ? ['soyte@tayninh.gov.vn'] : []));
    const slowOne = new HeldMailer();
    const slowTwo = new HeldMailer();
    const one = scheduler(slowOne, 60_000).runDue(AT_1801);
    await until(() => slowOne.sent.length === 1);
    // One's lease has run out: two takes the work and is sending too.
    const two = scheduler(slowTwo, 60_000).runDue(AT_1801 + 61_000);
    await until(() => slowTwo.sent.length === 1);
    // One's send fails late: not recorded (its claim is no longer the row's), two's lease stands.
    slowOne.sent[0]!.settle(new Error('421 too slow'));
    expect(await one).toEqual({ labourLists: 0, notices: 0, summaries: 0, failed: 0 });
    const third = quickMailer();
    expect(await scheduler(third, 60_000).runDue(AT_1801 + 62_000)).toMatchObject({ summaries: 0 });
    expect(third.to).toEqual([]);
    // Two's send goes: done once; one's late success of a taken claim would not count either.
    slowTwo.sent[0]!.settle();
    expect(await two).toMatchObject({ summaries: 1, failed: 0 });
    const rows = await directory.sql.all<{ state: string; attempts: number; last_error: string | null }>(sql`SELECT state, attempts, last_error FROM report_runs`);
    expect(rows.map((r) => [r.state, Number(r.attempts), r.last_error])).toEqual([['done', 1, null]]);
  });

  it("a send that succeeds after its claim was taken is not counted, and the taker's success marks it done once", async () => {
    const { directory, scheduler } = await hub(new HeldMailer(), async (orgId) => (orgId === null ? ['soyte@tayninh.gov.vn'] : []));
    const slowOne = new HeldMailer();
    const slowTwo = new HeldMailer();
    const one = scheduler(slowOne, 60_000).runDue(AT_1801);
    await until(() => slowOne.sent.length === 1);
    const two = scheduler(slowTwo, 60_000).runDue(AT_1801 + 61_000);
    await until(() => slowTwo.sent.length === 1);
    slowOne.sent[0]!.settle();
    expect(await one).toMatchObject({ summaries: 0 });
    // Two's claim still holds: it fails and is retried later, not lost to one's late success.
    slowTwo.sent[0]!.settle(new Error('451 try later'));
    expect(await two).toMatchObject({ summaries: 0, failed: 1 });
    const rows = await directory.sql.all<{ state: string; last_error: string | null }>(sql`SELECT state, last_error FROM report_runs`);
    expect(rows.map((r) => [r.state, r.last_error])).toEqual([['claimed', '451 try later']]);
  });

  it("the lease is above the mailer's longest send (three 30 s SMTP timeouts: 90 s)", async () => {
    const { scheduler } = await hub(new HeldMailer(), async () => []);
    expect(scheduler(new HeldMailer(90_000)).leaseMs).toBeGreaterThan(90_000);
    expect(scheduler(new HeldMailer(1_000)).leaseMs).toBeGreaterThanOrEqual(120_000);
  });

  it('no "list ready" notice for an organisation whose list was not made (gone before it was read)', async () => {
    const { directory, scheduler } = await hub(new HeldMailer(), async (orgId) => (orgId === null ? [] : ['quanly@may-a.vn']));
    // The organisations as read a moment before the organisation was removed.
    const stale = new Proxy(directory, {
      get: (target, p, receiver) =>
        p === 'organisations' ? async () => [{ id: 'org-gone', name: 'Công ty Đã Đi', kind: 'company', sites: 1, workers: 3 }] : (Reflect.get(target, p, receiver) as unknown),
    });
    const mailer = quickMailer();
    expect(await scheduler(mailer, 60_000, stale).runDue(AT_1605)).toEqual({ labourLists: 0, notices: 0, summaries: 0, failed: 0 });
    expect(mailer.to).toEqual([]);
  });
});
