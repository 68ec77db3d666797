import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../base/node/logger.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { AlertBook } from '../../../../sync/hub/notify/alert-book.js';
import { createMailer } from '../../../../sync/hub/notify/mailer.js';
import { parseWorkerList } from '../../../../sync/hub/registry-upload.js';
import { keptLabourLists, reportRecipientsOf, ReportScheduler } from '../../../../sync/hub/reports/scheduler.js';
import { SqliteHubStore } from '../../../../sync/hub/store.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { readableMail, TestSmtpServer } from '../../../helpers/smtp-server.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const CHILD = fileURLToPath(new URL('./scheduler-process.mjs', import.meta.url));
/** HH:MM on 2026-11-26 in the province (UTC+7). */
const at = (hhmm: string) => Date.parse(`2026-11-26T${hhmm}:00+07:00`);
const TIMES = [at('16:05'), at('16:06'), at('18:01'), at('18:02')];

type Counts = { labourLists: number; notices: number; summaries: number; failed: number };

/**
 * Two hub processes on one SQLite directory: this one and a child process (its own connections and
 * write lock, as `hub run` started twice would be). In one process every opener of a file shares its
 * one connection and write queue (hub-sql.ts), so only a second process puts the claims' transactions
 * through SQLite's own locking. Runs the compiled build in the child (`npx tsc -b` first).
 */
describe('report scheduler from two processes on one SQLite directory', () => {
  const dir = tempDir('safegate-report-procs-');
  const smtp = new TestSmtpServer(`${dir.path}/mail`);
  let child: ChildProcessByStdio<Writable, Readable, null> | undefined;
  beforeAll(() => smtp.start(), 20_000);
  afterAll(async () => {
    child?.kill();
    await smtp.stop();
    dir.remove();
  });

  it('makes each list and sends each notice and summary once between them, turn after turn', async () => {
    const directoryPath = `${dir.path}/hub-directory.db`;
    const storePath = `${dir.path}/hub.db`;
    const directory = await HubDirectory.open({ kind: 'sqlite', path: directoryPath });
    const store = new SqliteHubStore(storePath);
    const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, secure: false, timeoutMs: 5_000 }, 'SafeGate <hub@hub.example.vn>');
    try {
      for (const org of ['org-a', 'org-b', 'org-c']) {
        await directory.addOrganisation({ id: org, name: `Công ty ${org}`, kind: 'company' }, at('08:00'));
        await directory.addSite({ id: `site-${org}`, orgId: org });
        await directory.uploadWorkers(org, await parseWorkerList(Buffer.from(`Mã nhân viên,Họ và tên\n${org}-W1,Một\n${org}-W2,Hai\n`), ZONE, at('09:00')), { nowMs: at('09:00') });
      }
      const book = new AlertBook({ sql: directory.sql });
      for (const org of ['org-a', 'org-b', 'org-c']) {
        await book.addRecipient({ orgId: org, siteId: null, channel: 'email', address: `quanly@${org}.vn` });
        await book.addRecipient({ orgId: org, siteId: null, channel: 'email', address: `giamdoc@${org}.vn` });
      }
      await book.addRecipient({ orgId: null, siteId: null, channel: 'email', address: 'soyte@tayninh.gov.vn' });
      const scheduler = new ReportScheduler({
        directory,
        store,
        zone: ZONE,
        silentAfterMs: 15 * 60_000,
        mailer,
        recipients: reportRecipientsOf(book),
        consoleUrl: 'https://hub.example.vn',
        summaryTime: '18:00',
        labourListTime: '16:00',
        log: silentLogger,
        leaseMs: 60_000,
      });

      child = spawn(process.execPath, [CHILD, JSON.stringify({ directoryPath, storePath, smtpPort: smtp.port, zone: ZONE, times: TIMES })], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const next = async () => (await lines.next()).value as string;
      expect(await next()).toBe('ready');
      const total: Counts = { labourLists: 0, notices: 0, summaries: 0, failed: 0 };
      for (const nowMs of TIMES) {
        // Both turns at once: the child's claims and this process's race through SQLite's locks.
        child.stdin.write('go\n');
        const [here, there] = await Promise.all([scheduler.runDue(nowMs), next().then((l) => JSON.parse(l) as Counts)]);
        for (const k of Object.keys(total) as (keyof Counts)[]) total[k] += here[k] + there[k];
      }
      // 3 lists; 2 notices for each of 3 organisations; 2 summaries each and the province's.
      expect(total).toEqual({ labourLists: 3, notices: 6, summaries: 7, failed: 0 });
      expect((await keptLabourLists(directory.sql)).map((l) => [l.orgId, l.workers])).toEqual([
        ['org-a', 2],
        ['org-b', 2],
        ['org-c', 2],
      ]);
      // Each e-mail once: 6 notices, 7 summaries, no address twice for the same one.
      const received = smtp.messages().map((m) => `${m.to.join(',')}:${readableMail(m.raw).includes('Báo cáo ngày') ? 'summary' : 'notice'}`);
      expect(received).toHaveLength(13);
      expect(new Set(received).size).toBe(13);
      expect(received.filter((r) => r.endsWith(':summary'))).toHaveLength(7);
    } finally {
      mailer.close();
      await store.close();
      await directory.close();
    }
  }, 60_000);
});
