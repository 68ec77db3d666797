import { sql } from 'kysely';
import type { Logger } from '../../../base/node/logger.js';
import { dayKeyIn, timeOfDayIn } from '../../../base/common/time.js';
import type { HubSqlExecutor } from '../hub-sql.js';
import type { AlertBook } from '../notify/alert-book.js';
import type { Mailer } from '../notify/mailer.js';
import { dailySummary, summaryEmail, withoutHealthReasons, type SummarySources } from './daily-summary.js';
import { formDate, labourListFileName, makeLabourListXlsx, readLabourList } from './labour-list.js';

/**
 * The reports' schedule (`safegate hub run`), every day in the province zone:
 * - at `labourListTime` (default 16:00, after the 15:00 test deadline) each organisation's CV 2242
 *   labour list is made and kept for download in the console (`labour_lists`, one per organisation,
 *   replaced daily; one not replaced for 7 days is deleted), and its e-mail recipients get a notice
 *   with the console link: the list itself holds ID numbers, phones and test results and never
 *   travels by e-mail;
 * - at `summaryTime` (default 18:00) each organisation's daily summary goes to its e-mail
 *   recipients and the province's to the province-wide ones (health reasons as one count, no worker).
 *
 * Who: the alert recipients (`safegate hub alerts recipients add`) with an e-mail address, not
 * disabled, whose category filter is none or includes 'compliance' (one who asked for device alerts
 * only does not get reports).
 *
 * Once a day, whatever happens: each piece of work (a list, one e-mail to one address) is a row of
 * `report_runs` a hub process claims with a lease in a directory transaction before doing it and
 * marks done after; two hub processes claim it once between them, a restart finds it done. Each claim
 * carries a token, its lease end (`lease_until_ms`: a run is claimed again only once its lease has
 * ended, so every claim's end is later than the one before — no two claims of a run share it), and
 * its result (done, failed) applies only while the row still holds that token: a process
 * whose work outlived its lease never marks done, nor frees, the claim another process has taken
 * since. The lease is sized above the mailer's longest send (twice its overall deadline), so a send
 * in progress is not taken over in the first place. A failed
 * send is retried at a later turn (the lease grows: 1, 2, 4 ... up to 30 minutes) until it goes. The
 * turn runs at start, so work missed while the hub was down is done then (today's only: yesterday's
 * summary is no news by now), and every `everyMs` after.
 */

export interface ReportSchedulerOptions extends SummarySources {
  mailer: Mailer;
  /** Who gets e-mail for an organisation (null: the province-wide recipients). */
  recipients: (orgId: string | null) => Promise<string[]>;
  /** The console's address as recipients reach it (the e-mails link to `<consoleUrl>/#reports`). */
  consoleUrl: string;
  /** HH:MM in the province zone. */
  summaryTime: string;
  labourListTime: string;
  log: Logger;
  now?: () => number;
  /** How often a turn runs (default 30 s). */
  everyMs?: number;
  /** How long a claim holds before another process may retry the work (default twice the mailer's longest send, at least 2 minutes). */
  leaseMs?: number;
}

type RunKind = 'summary' | 'labour-list' | 'labour-notice';

interface RunRow {
  run_key: string;
  state: 'claimed' | 'done';
  lease_until_ms: number;
  attempts: number;
}

const MAX_RETRY_MS = 30 * 60_000;
/** How long a kept labour list may go without being replaced by the next day's. */
const KEPT_LIST_MAX_AGE_MS = 7 * 86_400_000;
const PROVINCE = 'province';

/** The e-mail addresses among an alert book's recipients that get reports (see above), distinct. */
export function reportRecipientsOf(book: Pick<AlertBook, 'listRecipients'>): (orgId: string | null) => Promise<string[]> {
  return async (orgId) => {
    const all = await book.listRecipients(orgId);
    return [...new Set(all.filter((r) => r.channel === 'email' && !r.disabled && (r.categories === null || r.categories.includes('compliance'))).map((r) => r.address))].sort();
  };
}

/** A kept labour list (the scheduler's last), with its file. */
export interface KeptLabourList {
  orgId: string;
  day: string;
  madeMs: number;
  workers: number;
}

/** The labour lists the scheduler keeps (one organisation's, or all), without their files. */
export async function keptLabourLists(db: HubSqlExecutor, orgId?: string): Promise<KeptLabourList[]> {
  const rows = await db.all<{ org_id: string; day: string; made_ms: number; workers: number }>(
    sql`SELECT org_id, day, made_ms, workers FROM labour_lists ${orgId === undefined ? sql`` : sql`WHERE org_id = ${orgId}`} ORDER BY org_id`,
  );
  return rows.map((r) => ({ orgId: r.org_id, day: r.day, madeMs: Number(r.made_ms), workers: Number(r.workers) }));
}

/** An organisation's kept labour list with its XLSX file, if the scheduler made one. */
export async function keptLabourList(db: HubSqlExecutor, orgId: string): Promise<(KeptLabourList & { body: Buffer }) | undefined> {
  const r = await db.get<{ org_id: string; day: string; made_ms: number; workers: number; body: Buffer | Uint8Array }>(
    sql`SELECT org_id, day, made_ms, workers, body FROM labour_lists WHERE org_id = ${orgId}`,
  );
  return r && { orgId: r.org_id, day: r.day, madeMs: Number(r.made_ms), workers: Number(r.workers), body: Buffer.from(r.body) };
}

/** What a piece of work leaves to be written when it is marked done (in the same transaction), or 'nothing' when there was nothing to do. */
type WorkResult = { write: (tx: HubSqlExecutor) => Promise<unknown> } | 'nothing' | void;

export class ReportScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  /** How long a claim holds: above the mailer's worst case (a send outliving it would let another process send twice). */
  readonly leaseMs: number;

  /** Only stores its options. */
  constructor(private readonly o: ReportSchedulerOptions) {
    this.leaseMs = o.leaseMs ?? 2 * Math.max(o.mailer.sendDeadlineMs, 60_000);
    // Refused here rather than at 18:00: a time the settings got wrong.
    timeOfDayIn(0, o.summaryTime, o.zone);
    timeOfDayIn(0, o.labourListTime, o.zone);
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** Starts a turn at once (work missed while the hub was down; not awaited: a mail server slow to answer does not hold up the hub's start), then one every `everyMs`. */
  start(): void {
    void this.turn();
    this.timer = setInterval(() => void this.turn(), this.o.everyMs ?? 30_000);
    this.timer.unref();
  }

  /** Stops the timer and waits for a turn under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One turn now (also what the timer runs); a turn already under way finishes first. */
  turn(): Promise<void> {
    const next = this.running.then(async () => {
      try {
        await this.runDue(this.now());
      } catch (err) {
        this.o.log.error({ err: (err as Error).message }, 'report turn failed; will retry');
      }
    });
    this.running = next;
    return next;
  }

  /** Does today's due work not done yet: what it did (counts). */
  async runDue(nowMs: number): Promise<{ labourLists: number; notices: number; summaries: number; failed: number }> {
    const { zone, directory } = this.o;
    const day = dayKeyIn(nowMs, zone);
    const done = { labourLists: 0, notices: 0, summaries: 0, failed: 0 };
    const runs = new Map((await directory.sql.all<RunRow>(sql`SELECT run_key, state, lease_until_ms, attempts FROM report_runs WHERE day = ${day}`)).map((r) => [r.run_key, r]));
    // Work not done and not held by another process (or a failed attempt waiting for its retry).
    const open = (key: string) => {
      const r = runs.get(key);
      return !r || (r.state === 'claimed' && Number(r.lease_until_ms) <= nowMs);
    };
    const orgs = await directory.organisations();
    // The organisations whose list of today is kept (a notice tells of a list that is there, never of one that is not).
    const keptToday = new Set((await directory.sql.all<{ org_id: string }>(sql`SELECT org_id FROM labour_lists WHERE day = ${day}`)).map((r) => r.org_id));

    if (nowMs >= timeOfDayIn(nowMs, this.o.labourListTime, zone)) {
      // A list not replaced for a week (an organisation with no workers left, or removed) goes: it holds personal data.
      await directory.sql.write((tx) => tx.run(sql`DELETE FROM labour_lists WHERE made_ms < ${nowMs - KEPT_LIST_MAX_AGE_MS}`));
      for (const org of orgs) {
        if (org.workers === 0) continue;
        const listKey = `labour-list:${day}:${org.id}`;
        if (open(listKey)) {
          const ok = await this.once(listKey, 'labour-list', day, org.id, null, nowMs, async () => {
            // Undefined: the organisation went between reading the organisations and now; no list, no notice.
            const list = await readLabourList(directory.sql, org.id, nowMs);
            if (!list) return 'nothing';
            const body = await makeLabourListXlsx(list, zone);
            // Kept in the transaction that marks the run done under this claim's token.
            return {
              write: async (tx: HubSqlExecutor) => {
                await tx.run(sql`INSERT INTO labour_lists (org_id, day, made_ms, workers, body) VALUES (${org.id}, ${day}, ${nowMs}, ${list.rows.length}, ${body})
                                 ON CONFLICT (org_id) DO UPDATE SET day = excluded.day, made_ms = excluded.made_ms, workers = excluded.workers, body = excluded.body`);
                keptToday.add(org.id);
              },
            };
          });
          if (ok === true) done.labourLists++;
          else if (ok === false) done.failed++;
        }
        // The notice follows the list: only once today's is kept (by this process or another).
        if (!keptToday.has(org.id) && !(await this.keptOn(org.id, day))) continue;
        for (const address of await this.o.recipients(org.id)) {
          const key = `labour-notice:${day}:${org.id}:${address}`;
          if (!open(key)) continue;
          const ok = await this.once(key, 'labour-notice', day, org.id, address, nowMs, async () => {
            await this.o.mailer.send({ to: address, ...labourListNotice(org.id, org.name, nowMs, zone, this.o.consoleUrl) });
          });
          if (ok === true) done.notices++;
          else if (ok === false) done.failed++;
        }
      }
    }

    if (nowMs >= timeOfDayIn(nowMs, this.o.summaryTime, zone)) {
      for (const org of [...orgs.map((o) => ({ id: o.id as string | null, name: o.name as string | null })), { id: null, name: null }]) {
        const addresses = (await this.o.recipients(org.id)).filter((a) => open(`summary:${day}:${org.id ?? PROVINCE}:${a}`));
        if (!addresses.length) continue;
        // Made once per organisation per turn, whoever it goes to.
        const summary = withoutHealthReasons(await dailySummary(this.o, { day, ...(org.id !== null ? { orgId: org.id } : {}) }, nowMs));
        const mail = summaryEmail(summary, org.name, zone, this.o.consoleUrl);
        for (const address of addresses) {
          const key = `summary:${day}:${org.id ?? PROVINCE}:${address}`;
          const ok = await this.once(key, 'summary', day, org.id, address, nowMs, async () => {
            await this.o.mailer.send({ to: address, ...mail });
          });
          if (ok === true) done.summaries++;
          else if (ok === false) done.failed++;
        }
      }
    }
    if (done.labourLists || done.notices || done.summaries || done.failed) this.o.log.info({ day, ...done }, 'reports sent');
    return done;
  }

  private async keptOn(orgId: string, day: string): Promise<boolean> {
    return (await this.o.directory.sql.get<{ day: string }>(sql`SELECT day FROM labour_lists WHERE org_id = ${orgId}`))?.day === day;
  }

  /**
   * Claims `key` (in one directory transaction, so one process gets it) with a token of its own (the lease end: see above),
   * does `work`, and marks it done under that token (with what the work leaves to write); a failure
   * is recorded under it and left for a later lease. Returns true when done here, false when it
   * failed, undefined when another process holds it, it is done already, or the claim ran out
   * meanwhile and another process took it (then nothing of this attempt is recorded).
   */
  private async once(key: string, kind: RunKind, day: string, orgId: string | null, address: string | null, nowMs: number, work: () => Promise<WorkResult>): Promise<boolean | undefined> {
    const { directory, log } = this.o;
    const leaseMs = this.leaseMs;
    // The claim's token: its lease end. A claim is taken only at or after the previous lease end, so a later claim's end is always greater.
    const token = nowMs + leaseMs;
    const claimed = await directory.sql.write(async (tx) => {
      const r = await tx.get<RunRow>(sql`SELECT run_key, state, lease_until_ms, attempts FROM report_runs WHERE run_key = ${key}`);
      if (!r) {
        await tx.run(
          sql`INSERT INTO report_runs (run_key, kind, day, org_id, address, state, lease_until_ms, attempts) VALUES (${key}, ${kind}, ${day}, ${orgId}, ${address}, 'claimed', ${token}, 0)`,
        );
        return { attempts: 0 };
      }
      if (r.state === 'done' || Number(r.lease_until_ms) > nowMs) return undefined;
      await tx.run(sql`UPDATE report_runs SET lease_until_ms = ${token} WHERE run_key = ${key}`);
      return { attempts: Number(r.attempts) };
    });
    if (!claimed) return undefined;
    const mine = sql`run_key = ${key} AND state = 'claimed' AND lease_until_ms = ${token}`;
    const lost = () => {
      log.warn({ kind, day, org: orgId ?? PROVINCE }, 'report work outlived its claim: another process has taken it; this attempt is not recorded');
      return undefined;
    };
    let result: WorkResult;
    try {
      result = await work();
    } catch (err) {
      const attempts = claimed.attempts + 1;
      // A short reason (an SMTP reply line, an error code), never a message body.
      const why = (err as Error).message.split('\n')[0]!.slice(0, 300);
      const retryMs = Math.min(MAX_RETRY_MS, 60_000 * 2 ** (attempts - 1));
      const recorded = await directory.sql.write((tx) => tx.run(sql`UPDATE report_runs SET attempts = ${attempts}, last_error = ${why}, lease_until_ms = ${nowMs + retryMs} WHERE ${mine}`));
      if (recorded === 0) return lost();
      log.warn({ kind, day, org: orgId ?? PROVINCE, attempts, err: why }, 'report not sent; will retry');
      return false;
    }
    const marked = await directory.sql.write(async (tx) => {
      if ((await tx.run(sql`UPDATE report_runs SET state = 'done', attempts = ${claimed.attempts + 1}, last_error = NULL, done_ms = ${this.now()} WHERE ${mine}`)) === 0) return false;
      if (result && result !== 'nothing') await result.write(tx);
      return true;
    });
    if (!marked) return lost();
    // Nothing to do (an organisation gone): done, but not counted as made.
    return result === 'nothing' ? undefined : true;
  }
}

/** The notice that an organisation's labour list is ready: a console link, never the list. */
export function labourListNotice(orgId: string, orgName: string, madeMs: number, zone: string, consoleUrl: string): { subject: string; text: string } {
  const link = `${consoleUrl.replace(/\/+$/, '')}/#reports`;
  const date = formDate(madeMs, zone);
  const file = labourListFileName(orgId, madeMs, zone);
  return {
    subject: `[SafeGate] Danh sách người lao động ngày ${date} — ${orgName} / Labour list ${date}`,
    text: [
      `Danh sách người lao động (CV 2242) của ${orgName} (${orgId}) ngày ${date} đã sẵn sàng (${file}).`,
      `Tải về trên bảng điều khiển (cần đăng nhập): ${link}`,
      'Danh sách có số CCCD, số điện thoại và kết quả xét nghiệm nên không gửi kèm thư.',
      '',
      '----',
      '',
      `The CV 2242 labour list of ${orgName} (${orgId}) for ${date} is ready (${file}).`,
      `Download it from the console (sign-in required): ${link}`,
      'It holds ID numbers, phone numbers and test results, so it is not attached to this e-mail.',
      '',
    ].join('\n'),
  };
}
