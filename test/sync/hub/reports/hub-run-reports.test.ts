import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { AlertBook } from '../../../../sync/hub/notify/alert-book.js';
import { keptLabourLists } from '../../../../sync/hub/reports/scheduler.js';
import { safegateProcess } from '../../../helpers/cli.js';
import { tempDir, waitFor } from '../../../helpers/fixtures.js';
import { listedWorker } from '../../../helpers/listed-worker.js';
import { TestBroker, TestCertificates } from '../../../helpers/mosquitto.js';
import { readableMail, TestSmtpServer } from '../../../helpers/smtp-server.js';

/**
 * `safegate hub run` runs the reports' schedule: with both times already past today (00:00), the hub
 * makes each organisation's labour list and sends the list notice and the day's summaries through
 * the alerts' mailer to a real SMTP server as soon as it starts (the work of a day it was down for).
 * The schedule itself (once a day across processes, retries) is tested in scheduler.test.ts.
 */
describe('hub run sends the reports on its schedule (hub, Mosquitto and SMTP as real processes)', () => {
  const dir = tempDir('safegate-report-run-');
  const smtp = new TestSmtpServer(join(dir.path, 'mail'));
  let broker: TestBroker;
  let config: string;
  const directoryPath = join(dir.path, 'hub-directory.db');

  beforeAll(async () => {
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    await smtp.start();
    const directory = await HubDirectory.open({ kind: 'sqlite', path: directoryPath });
    try {
      await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' });
      await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
      await directory.uploadWorkers('may-a', [listedWorker('W-1', Date.now(), 'xuong-1')], { nowMs: Date.now() });
      const book = new AlertBook({ sql: directory.sql });
      await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' });
      await book.addRecipient({ orgId: null, siteId: null, channel: 'email', address: 'soyte@tinh.gov.vn' });
    } finally {
      await directory.close();
    }
    config = join(dir.path, 'hub.yaml');
    writeFileSync(
      config,
      stringify({
        id: 'hub.1',
        broker: { url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, 'hub.1.crt'), key: join(certs.dir, 'hub.1.key') },
        store: { path: join(dir.path, 'hub.db') },
        directory: { path: directoryPath },
        console: { enabled: false },
        alerts: { smtp: { url: smtp.url, timeoutSeconds: 5 }, consoleUrl: 'https://console.tinh.gov.vn' },
        reports: { summaryTime: '00:00', labourListTime: '00:00' },
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await smtp.stop();
    await broker?.stop();
    dir.remove();
  });

  it('makes the labour list and e-mails the notice and both summaries once the hub is up', async () => {
    const hub = safegateProcess(['hub', 'run', '--config', config], undefined, { env: { DATABASE_URL: '' } });
    try {
      await waitFor(() => (hub.logs.some((l) => l.msg === 'reports sent') ? true : undefined), 'the first reports turn', 30_000);
      // The reports' e-mails (the hub's own alerts, if any came due, link to #alerts instead).
      const mails = smtp.messages().map((m) => ({ to: m.to[0], text: readableMail(m.raw) })).filter((m) => m.text.includes('https://console.tinh.gov.vn/#reports'));
      expect(mails.map((m) => m.to).sort()).toEqual(['quanly@may-a.vn', 'quanly@may-a.vn', 'soyte@tinh.gov.vn']);
      expect(mails.filter((m) => m.text.includes('Báo cáo ngày')).map((m) => m.to).sort()).toEqual(['quanly@may-a.vn', 'soyte@tinh.gov.vn']);
      expect(hub.logs.find((l) => l.msg === 'reports sent')).toMatchObject({ labourLists: 1, notices: 1, summaries: 2, failed: 0 });
    } finally {
      const exited = new Promise<void>((resolve) => hub.child.once('exit', () => resolve()));
      hub.child.kill('SIGTERM');
      await exited;
    }
    const directory = await HubDirectory.open({ kind: 'sqlite', path: directoryPath });
    try {
      expect((await keptLabourLists(directory.sql)).map((l) => [l.orgId, l.workers])).toEqual([['may-a', 1]]);
    } finally {
      await directory.close();
    }
  }, 90_000);
});
