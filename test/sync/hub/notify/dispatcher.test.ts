import { createHmac } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { AlertBook, kioskRaisedAlert } from '../../../../sync/hub/notify/alert-book.js';
import { Dispatcher, webhookSignature } from '../../../../sync/hub/notify/dispatcher.js';
import { createMailer, MailNotConfiguredError, type Mailer } from '../../../../sync/hub/notify/mailer.js';
import { DENY_REASONS } from '../../../../base/common/reasons.js';
import { SqliteHubStore } from '../../../../sync/hub/store.js';
import { PROTOCOL_VERSION, type Alert } from '../../../../sync/protocol.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { listedWorker } from '../../../helpers/listed-worker.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { readableMail, TestSmtpServer } from '../../../helpers/smtp-server.js';
import { TestWebhookReceiver } from '../../../helpers/webhook-receiver.js';

const NOW = Date.parse('2026-11-27T03:00:00Z'); // 10:00 in Ho Chi Minh City
const ZONE = 'Asia/Ho_Chi_Minh';

describe('sending e-mail through a real SMTP server', () => {
  const dir = tempDir('safegate-smtp-');
  const smtp = new TestSmtpServer(join(dir.path, 'mail'));
  let mailer: Mailer;
  beforeAll(async () => {
    await smtp.start();
    mailer = createMailer({ host: '127.0.0.1', port: smtp.port, secure: false, user: 'hub', password: 'pw', timeoutMs: 5_000 }, 'SafeGate <safegate@tinh.gov.vn>');
  });
  afterAll(async () => {
    mailer.close();
    await smtp.stop();
    dir.remove();
  });

  it('the server has the message with its attachment once send resolves; with the server down send throws a short reason, and works again when it is back', async () => {
    await mailer.send({ to: 'quanly@may-a.vn', subject: 'Báo cáo ngày / Daily report', text: 'Xin chào', attachments: [{ filename: 'bao-cao.csv', content: 'a,b\n1,2\n' }] });
    const [m] = smtp.messages();
    expect(m).toMatchObject({ from: 'safegate@tinh.gov.vn', to: ['quanly@may-a.vn'] });
    expect(m!.raw).toContain('bao-cao.csv');
    await smtp.stop();
    await expect(mailer.send({ to: 'quanly@may-a.vn', subject: 's', text: 't' })).rejects.toThrow(/ECONNREFUSED/);
    await smtp.start();
    await mailer.send({ to: 'quanly@may-a.vn', subject: 's2', text: 't2' });
    expect(smtp.messages()).toHaveLength(2);
    await expect(createMailer(undefined, 'x <x@y.vn>').send({ to: 'a@b.vn', subject: 's', text: 't' })).rejects.toThrow(MailNotConfiguredError);
  });

  it('keeps a fixed Message-ID when given one; a server that greets and then never answers fails the send at the overall deadline', async () => {
    await mailer.send({ to: 'quanly@may-a.vn', subject: 's3', text: 't3', messageId: '<a-0123456789.r-01234567@safegate-hub>' });
    expect(smtp.messages().at(-1)!.raw).toMatch(/^Message-ID: <a-0123456789\.r-01234567@safegate-hub>\r?$/im);
    // Greets, then reads and never answers (a socket timeout of 30 s would not end it soon).
    const sockets = new Set<Socket>();
    const mute = createServer((socket) => {
      sockets.add(socket);
      socket.write('220 mute ESMTP\r\n');
      socket.on('data', () => undefined);
    });
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    const slow = createMailer({ host: '127.0.0.1', port: (mute.address() as AddressInfo).port, secure: false, timeoutMs: 30_000, deadlineMs: 500 }, 'SafeGate <safegate@tinh.gov.vn>');
    try {
      expect(slow.sendDeadlineMs).toBe(500);
      await expect(slow.send({ to: 'a@b.vn', subject: 's', text: 't' })).rejects.toThrow('no answer from the mail server within 500 ms');
    } finally {
      slow.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => mute.close(r));
    }
  });
});

describe.each(directoryBackends)('the alert dispatcher on $name', (backend) => {
  const dir = tempDir('safegate-dispatch-');
  const smtp = new TestSmtpServer(join(dir.path, `mail-${backend.name}`));
  const hooks = new TestWebhookReceiver();
  let directory: HubDirectory;
  let book: AlertBook;
  let mailer: Mailer;
  let now = NOW;

  beforeAll(async () => {
    await smtp.start();
    await hooks.start();
  });
  afterAll(async () => {
    await smtp.stop();
    await hooks.stop();
    dir.remove();
  });
  beforeEach(async () => {
    now = NOW;
    directory = await HubDirectory.open(await backend.target());
    book = new AlertBook({ sql: directory.sql, undeliveredAfterAttempts: 2 });
    mailer = createMailer({ host: '127.0.0.1', port: smtp.port, secure: false, timeoutMs: 3_000 }, 'SafeGate <safegate@tinh.gov.vn>');
  });
  afterEach(async () => {
    mailer.close();
    await directory.close();
  });

  it('e-mail and webhook carry the alert id, site, category and link, never the worker; failures are retried with backoff until accepted, each attempt recorded, each delivery accepted once', async () => {
    const mail = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' }, NOW);
    const hook = await book.addRecipient({ orgId: null, siteId: null, channel: 'webhook', address: hooks.url }, NOW);
    hooks.secrets.add(hook.secret!);
    const dispatcher = new Dispatcher({ book, mailer, consoleUrl: 'https://console.tinh.gov.vn/', zone: ZONE, retryFirstMs: 1_000, retryMaxMs: 4_000, webhookTimeoutMs: 2_000, now: () => now });
    // As the hub has it: the worker on the organisation's list, the store's row with the worker and the reason.
    const worker = listedWorker('W-F0-77', NOW, 'xuong-1');
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' });
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.uploadWorkers('may-a', [worker], { nowMs: NOW });
    const kiosk: Alert = { v: PROTOCOL_VERSION, kind: 'confirmed-case-entry-attempt', seq: 7, atMs: NOW - 60_000, checkpointId: 'cong-1', workerId: worker.workerId, reasons: ['CASE_F0'] };
    const store = new SqliteHubStore(join(dir.path, `hub-${backend.name}.db`));
    try {
      expect(await store.recordAlert('gate-1', kiosk, NOW, 'may-a')).toBe(true);
    } finally {
      await store.close();
    }
    const { alertId } = await book.raise(kioskRaisedAlert('gate-1', kiosk, 'may-a', 'xuong-1'), NOW);
    const mailsBefore = smtp.messages().length;
    const hooksBefore = hooks.requests.length;

    // Both receivers down or refusing.
    await smtp.stop();
    hooks.status = 500;
    expect(await dispatcher.runOnce()).toBe(2);
    let ds = await book.deliveries([alertId], now);
    expect(ds.map((d) => [d.channel, d.state, d.attempts])).toEqual(expect.arrayContaining([['email', 'failed', 1], ['webhook', 'failed', 1]]));
    expect(ds.find((d) => d.channel === 'webhook')!.lastError).toBe('HTTP 500');
    expect(ds.find((d) => d.channel === 'email')!.lastError).toMatch(/ECONNREFUSED/);
    // Backoff: 1 s less up to a quarter; nothing is due before 750 ms.
    for (const d of ds) expect(d.nextAttemptAtMs - now).toBeGreaterThanOrEqual(750);
    now += 500;
    expect(await dispatcher.runOnce()).toBe(0);
    now += 1_000;
    expect(await dispatcher.runOnce()).toBe(2);
    ds = await book.deliveries([alertId], now);
    expect(ds.every((d) => d.state === 'failed' && d.attempts === 2 && d.undelivered)).toBe(true);
    // The second wait doubles (2 s, at least 1.5 s).
    for (const d of ds) expect(d.nextAttemptAtMs - now).toBeGreaterThanOrEqual(1_500);

    // Back: accepted, once each.
    await smtp.start();
    hooks.status = 200;
    now += 5_000;
    expect(await dispatcher.runOnce()).toBe(2);
    now += 60_000;
    expect(await dispatcher.runOnce()).toBe(0);
    ds = await book.deliveries([alertId], now);
    expect(ds.map((d) => [d.recipientId, d.state, d.attempts, d.undelivered])).toEqual(
      expect.arrayContaining([
        [mail.recipientId, 'sent', 3, false],
        [hook.recipientId, 'sent', 3, false],
      ]),
    );

    const mails = smtp.messages().slice(mailsBefore);
    expect(mails).toHaveLength(1);
    const raw = mails[0]!.raw;
    expect(mails[0]!.to).toEqual(['quanly@may-a.vn']);
    const decoded = readableMail(raw);
    expect(decoded).toContain(alertId);
    expect(decoded).toContain('xuong-1');
    expect(decoded).toContain('sức khỏe');
    expect(decoded).toContain('health');
    expect(decoded).toContain(`https://console.tinh.gov.vn/#alerts/${alertId}`);
    expect(decoded).toContain('2026-11-27 09:59:00'); // the province's time
    expect(decoded).not.toMatch(/confirmed|CASE_F0|quarantin|flagged|W-F0/i);
    // Nothing of the worker or the reason the store and the directory hold.
    const personal = [worker.workerId, worker.fullName, worker.idNumber!, worker.phone!, worker.residence!, 'CASE_F0', DENY_REASONS.CASE_F0.vi, DENY_REASONS.CASE_F0.en];
    for (const text of personal) expect(decoded, text).not.toContain(text);

    const sent = hooks.requests.slice(hooksBefore);
    expect(sent.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(sent.map((r) => r.idempotencyKey))).toEqual(new Set([`${alertId}:${hook.recipientId}`]));
    expect(sent.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(sent.every((r) => r.signatureValid)).toBe(true);
    expect(sent[2]!.json).toEqual({ alertId, category: 'health', kind: 'health', orgId: 'may-a', siteId: 'xuong-1', atMs: NOW - 60_000, raisedAtMs: NOW, consoleUrl: `https://console.tinh.gov.vn/#alerts/${alertId}` });
    expect(sent[2]!.body).not.toMatch(/confirmed|CASE|W-F0/i);
    for (const r of sent) for (const text of personal) expect(r.body, text).not.toContain(text);
    // Each signature is the HMAC-SHA256 of "<timestamp>.<body>" with the recipient's secret, recomputed here.
    for (const r of sent) {
      expect(r.signature).toBe(`sha256=${createHmac('sha256', hook.secret!).update(`${r.timestamp}.${r.body}`).digest('hex')}`);
      expect(r.signature).toBe(webhookSignature(hook.secret!, r.timestamp, r.body));
      expect(r.signature).not.toBe(webhookSignature(`${hook.secret!}x`, r.timestamp, r.body));
      expect(Math.abs(Number(r.timestamp) - Math.floor(now / 1_000))).toBeLessThan(3_600);
    }
  });

  it('two hub processes racing over one delivery whose attempt outlives its lease: the late failure does not free the live lease, so no third sender takes it', async () => {
    const hook = await book.addRecipient({ orgId: null, siteId: null, channel: 'webhook', address: hooks.url }, NOW);
    hooks.secrets.add(hook.secret!);
    const options = { mailer, consoleUrl: 'http://127.0.0.1:8480', zone: ZONE, retryFirstMs: 1, retryMaxMs: 1, webhookTimeoutMs: 10_000, leaseMs: 1_000 };
    const a = new Dispatcher({ ...options, book });
    const b = new Dispatcher({ ...options, book: new AlertBook({ sql: directory.sql }) });
    expect(new Dispatcher({ ...options, leaseMs: undefined, book }).leaseMs).toBe(120_000); // sized from the longest attempt
    const { alertId } = await book.raise(kioskRaisedAlert('gate-1', { kind: 'emergency-open', seq: 2, atMs: NOW, checkpointId: 'cong-1' }, null, 'xuong-1'), Date.now());
    const before = hooks.requests.length;
    hooks.status = 500;
    hooks.delayMs = 1_500;
    try {
      const first = a.runOnce(); // answered (500) after 1.5 s, its lease ends after 1 s
      await new Promise((r) => setTimeout(r, 1_200));
      const second = b.runOnce(); // takes the delivery whose lease ran out
      expect(await first).toBe(1);
      // A's late failure is recorded; B still holds the lease (until 1 s after it took it): nothing for A.
      expect(await a.runOnce()).toBe(0);
      expect((await book.deliveries([alertId]))[0]).toMatchObject({ attempts: 1, lastError: 'HTTP 500' });
      expect(await second).toBe(1);
    } finally {
      hooks.delayMs = 0;
      hooks.status = 200;
    }
    expect(hooks.requests.slice(before).map((r) => r.attempt)).toEqual([1, 1]);
    expect((await book.deliveries([alertId]))[0]).toMatchObject({ state: 'failed', attempts: 2 });
    await new Promise((r) => setTimeout(r, 5));
    expect(await a.runOnce()).toBe(1);
    expect((await book.deliveries([alertId]))[0]).toMatchObject({ state: 'sent', attempts: 3 });
  });

  it("a webhook that hangs does not hold back another recipient's delivery of a new alert: attempts run on their own", async () => {
    const fast = new TestWebhookReceiver();
    await fast.start();
    const hanging = await book.addRecipient({ orgId: null, siteId: null, channel: 'webhook', address: hooks.url }, NOW);
    const quick = await book.addRecipient({ orgId: null, siteId: null, channel: 'webhook', address: fast.url }, NOW);
    hooks.secrets.add(hanging.secret!);
    fast.secrets.add(quick.secret!);
    const dispatcher = new Dispatcher({ book, mailer, consoleUrl: 'http://127.0.0.1:8480', zone: ZONE, pollMs: 100, webhookTimeoutMs: 10_000 });
    hooks.delayMs = 4_000;
    const until = async (what: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 200 && !(await what()); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await what()).toBe(true);
    };
    try {
      dispatcher.start();
      const first = await book.raise(kioskRaisedAlert('gate-1', { kind: 'emergency-open', seq: 4, atMs: NOW, checkpointId: 'cong-1' }, null, 'xuong-1'));
      await until(() => fast.acceptedKeys().includes(`${first.alertId}:${quick.recipientId}`));
      await until(() => hooks.requests.some((r) => r.idempotencyKey === `${first.alertId}:${hanging.recipientId}`));
      const second = await book.raise(kioskRaisedAlert('gate-1', { kind: 'emergency-cleared', seq: 5, atMs: NOW, checkpointId: 'cong-1' }, null, 'xuong-1'));
      await until(() => fast.acceptedKeys().includes(`${second.alertId}:${quick.recipientId}`));
      // ...while the hanging receiver still has not answered the first alert (no attempt of it recorded yet).
      const slowFirst = (await book.deliveries([first.alertId])).find((d) => d.recipientId === hanging.recipientId)!;
      expect(slowFirst).toMatchObject({ state: 'pending', attempts: 0 });
    } finally {
      await dispatcher.stop();
      hooks.delayMs = 0;
      await fast.stop();
    }
    // Once it answered, both of its deliveries were accepted too.
    const slow = (await book.deliveries((await book.list()).map((a) => a.alertId))).filter((d) => d.recipientId === hanging.recipientId);
    expect(slow.map((d) => d.state)).toEqual(['sent', 'sent']);
  });

  it('an alert e-mail has the same Message-ID on every attempt: <alertId.recipientId@safegate-hub>', async () => {
    const mail = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' }, NOW);
    const dispatcher = new Dispatcher({ book, mailer, consoleUrl: 'http://127.0.0.1:8480', zone: ZONE, now: () => now });
    const { alertId } = await book.raise(kioskRaisedAlert('gate-1', { kind: 'emergency-open', seq: 3, atMs: NOW, checkpointId: 'cong-1' }, 'may-a', 'xuong-1'), NOW);
    expect(await dispatcher.runOnce()).toBe(1);
    expect(smtp.messages().at(-1)!.raw).toMatch(new RegExp(`^Message-ID: <${alertId}\\.${mail.recipientId}@safegate-hub>\\r?$`, 'im'));
  });

  it('a webhook that does not answer in time is a failed attempt; a test message goes to one recipient now, unrecorded', async () => {
    const slow = await book.addRecipient({ orgId: null, siteId: null, channel: 'webhook', address: hooks.url }, NOW);
    hooks.secrets.add(slow.secret!);
    const gone = new TestWebhookReceiver();
    await gone.start();
    await gone.stop(); // a port nobody listens on
    const closed = await book.addRecipient({ orgId: null, siteId: null, channel: 'webhook', address: gone.url }, NOW);
    const dispatcher = new Dispatcher({ book, mailer, consoleUrl: 'http://127.0.0.1:8480', zone: ZONE, retryFirstMs: 1_000, webhookTimeoutMs: 500, now: () => now });
    const { alertId } = await book.raise(kioskRaisedAlert('gate-1', { kind: 'emergency-open', seq: 1, atMs: NOW, checkpointId: 'cong-1' }, null, 'xuong-1'), NOW);
    hooks.delayMs = 2_000;
    try {
      await dispatcher.runOnce();
    } finally {
      hooks.delayMs = 0;
    }
    const ds = await book.deliveries([alertId], now);
    expect(ds.find((d) => d.recipientId === slow.recipientId)).toMatchObject({ state: 'failed', attempts: 1, lastError: 'no answer within 500 ms' });
    expect(ds.find((d) => d.recipientId === closed.recipientId)).toMatchObject({ state: 'failed', attempts: 1, lastError: 'ECONNREFUSED' });
    // A gate alert's webhook names its kind (no person in it).
    expect(hooks.requests.at(-1)!.json).toMatchObject({ alertId, category: 'gate', kind: 'emergency-open', orgId: null, siteId: 'xuong-1' });

    const mail = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'thu@may-a.vn' }, NOW);
    const before = smtp.messages().length;
    await dispatcher.sendTest((await book.recipient(mail.recipientId))!);
    const [m] = smtp.messages().slice(before);
    expect(readableMail(m!.raw)).toContain('This is a SafeGate test message.');
    expect(readableMail(m!.raw)).toContain('Đây là thư thử nghiệm của SafeGate.');
  });
});
