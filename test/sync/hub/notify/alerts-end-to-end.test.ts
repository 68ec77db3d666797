import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIME_ZONE, timeOfDayIn } from '../../../../base/common/time.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { AlertBook, type Delivery } from '../../../../sync/hub/notify/alert-book.js';
import { PROTOCOL_VERSION, topics } from '../../../../sync/protocol.js';
import { hubDirectoryAt, safegateProcess, type RunningProcess } from '../../../helpers/cli.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { tempDir, waitFor } from '../../../helpers/fixtures.js';
import { listedWorker } from '../../../helpers/listed-worker.js';
import { TestBroker, TestCertificates } from '../../../helpers/mosquitto.js';
import { readableMail, TestSmtpServer } from '../../../helpers/smtp-server.js';
import { TestWebhookReceiver } from '../../../helpers/webhook-receiver.js';

const DEVICE = 'kiosk-01';
const WORKER = 'W-Q1';

/**
 * The chain end to end, every part a real process or server: a kiosk's alert (an MQTT client with
 * the kiosk's certificate, publishing what a kiosk publishes) reaches the real hub (`safegate hub
 * run`) through the real Mosquitto, is booked, and reaches a real SMTP server and a webhook receiver
 * through the mail server being down, the receiver refusing and then gone, and the hub itself stopped
 * and started again on the same database. Each recipient gets it exactly once, every failed attempt
 * is on record, and nothing sent out names the worker or the reason.
 */
describe.each(directoryBackends)('alerts reach people through outages on $name (hub, Mosquitto, SMTP and webhook as real processes)', (backend) => {
  const dir = tempDir('safegate-alert-e2e-');
  const smtp = new TestSmtpServer(join(dir.path, 'mail'));
  const hooks = new TestWebhookReceiver();
  let certs: TestCertificates;
  let broker: TestBroker;
  let directory: HubDirectory;
  let book: AlertBook;
  let env: NodeJS.ProcessEnv;
  let hubConfig: string;
  const hubs: ChildProcess[] = [];

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    certs.issue(DEVICE);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    await smtp.start();
    await hooks.start();
    const target = await backend.target();
    const at = hubDirectoryAt(target);
    env = at.env;
    directory = await HubDirectory.open(target);
    book = new AlertBook({ sql: directory.sql });
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' });
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.assignSite('xuong-1', [DEVICE]);
    // The list came in before today's 15:00 test deadline (province time), so the hub's own watch
    // raises no `tests-missing` alert to the same recipient: at 15:00-24:00 a list uploaded "now"
    // would be late, and the mail count below would depend on the time of day the test runs.
    const uploadedMs = Math.min(Date.now(), timeOfDayIn(Date.now(), '14:00', DEFAULT_TIME_ZONE));
    await directory.uploadWorkers('may-a', [listedWorker(WORKER, uploadedMs, 'xuong-1')], { nowMs: uploadedMs });
    const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) });
    hubConfig = join(dir.path, 'hub.yaml');
    writeFileSync(
      hubConfig,
      stringify({
        id: 'hub.1',
        broker: tls('hub.1'),
        store: { path: join(dir.path, 'hub.db') },
        directory: { path: at.path },
        console: { enabled: false },
        alerts: { smtp: { url: smtp.url, timeoutSeconds: 3 }, from: 'SafeGate <safegate@tinh.gov.vn>', consoleUrl: 'https://console.tinh.gov.vn', retryFirstSeconds: 0.2, retryMaxSeconds: 1, webhookTimeoutSeconds: 2 },
        log: { level: 'info' },
      }),
    );
  }, 60_000);

  afterAll(async () => {
    for (const h of hubs.splice(0)) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    await directory?.close();
    await smtp.stop();
    await hooks.stop();
    await broker?.stop();
    dir.remove();
  });

  async function startHub(): Promise<RunningProcess> {
    const hub = safegateProcess(['hub', 'run', '--config', hubConfig], undefined, { env });
    hubs.push(hub.child);
    await waitFor(() => (hub.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'hub online', 20_000);
    return hub;
  }

  async function stopHub(hub: RunningProcess): Promise<void> {
    if (hub.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => hub.child.once('exit', () => resolve()));
    hub.child.kill('SIGTERM');
    await exited;
  }

  /** Publishes a kiosk alert as the kiosk does and waits for the hub's acknowledgement. */
  async function raiseFromKiosk(seq: number, atMs: number): Promise<void> {
    const client = await mqtt.connectAsync(broker.url, { ...certs.credentials(DEVICE), clientId: DEVICE, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5_000 });
    client.on('error', () => {});
    try {
      const acked = new Promise<void>((resolve) =>
        client.on('message', (_topic, payload) => {
          const ack = JSON.parse(payload.toString()) as { kind: string; seq: number };
          if (ack.kind === 'alert' && ack.seq === seq) resolve();
        }),
      );
      await client.subscribeAsync(topics.acks(DEVICE), { qos: 1 });
      const alert = { v: PROTOCOL_VERSION, kind: 'quarantined-entry-attempt', seq, atMs, checkpointId: 'cong-1', workerId: WORKER, reasons: ['QUARANTINE'] };
      await client.publishAsync(topics.alerts(DEVICE), JSON.stringify(alert), { qos: 1 });
      await Promise.race([acked, new Promise((_r, reject) => setTimeout(() => reject(new Error('no acknowledgement from the hub in 15 s')), 15_000))]);
    } finally {
      await client.endAsync();
    }
  }

  async function kioskDeliveries(): Promise<Delivery[]> {
    const alerts = (await book.list()).filter((a) => a.source === 'kiosk');
    return book.deliveries(alerts.map((a) => a.alertId));
  }

  async function waitForDeliveries(what: string, ok: (ds: Delivery[]) => boolean, timeoutMs = 20_000): Promise<Delivery[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ds = await kioskDeliveries();
      if (ok(ds)) return ds;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(ds)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('a kiosk alert reaches the e-mail recipient and the webhook exactly once each, through the mail server down, the receiver refusing and gone, and the hub restarted', async () => {
    const mail = await book.addRecipient({ orgId: 'may-a', siteId: null, channel: 'email', address: 'quanly@may-a.vn' });
    const hook = await book.addRecipient({ orgId: null, siteId: null, channel: 'webhook', address: hooks.url });
    hooks.secrets.add(hook.secret!);

    // Everything downstream of the hub is down or refusing.
    await smtp.stop();
    hooks.status = 500;
    const atMs = Date.now() - 5_000;
    const first = await startHub();
    await raiseFromKiosk(1, atMs);
    const [booked] = (await book.list()).filter((a) => a.source === 'kiosk');
    expect(booked).toMatchObject({ kind: 'quarantined-entry-attempt', category: 'health', orgId: 'may-a', siteId: 'xuong-1', deviceId: DEVICE, seq: 1, dedupKey: `kiosk:${DEVICE}:1` });
    await waitForDeliveries('two failed attempts each', (ds) => ds.length === 2 && ds.every((d) => d.state === 'failed' && d.attempts >= 2));
    // The receiver goes away altogether: connection refused.
    await hooks.stop();
    const before = (await kioskDeliveries()).find((d) => d.channel === 'webhook')!.attempts;
    await waitForDeliveries('a refused connection recorded', (ds) => ds.some((d) => d.channel === 'webhook' && d.attempts > before && /ECONNREFUSED/.test(d.lastError ?? '')));

    // The hub stops; while it is down the receivers come back.
    await stopHub(first);
    const failedAttempts = await kioskDeliveries();
    await smtp.start();
    hooks.status = 200;
    await hooks.start();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(smtp.messages()).toEqual([]);
    expect(hooks.acceptedKeys()).toEqual([]);

    // The hub comes back on the same database; the kiosk sends the alert again (it never drops one unacknowledged).
    const second = await startHub();
    await raiseFromKiosk(1, atMs);
    const done = await waitForDeliveries('both sent', (ds) => ds.length === 2 && ds.every((d) => d.state === 'sent'));
    // A while longer: nothing is sent twice.
    await new Promise((r) => setTimeout(r, 1_500));
    await stopHub(second);

    expect((await book.list()).filter((a) => a.source === 'kiosk')).toHaveLength(1);
    for (const d of done) {
      const earlier = failedAttempts.find((f) => f.recipientId === d.recipientId)!;
      expect(d.attempts).toBe(earlier.attempts + 1);
      expect(d.lastError).toBe(earlier.lastError); // the last failure stays on record beside the success
    }
    expect(done.find((d) => d.recipientId === mail.recipientId)!.attempts).toBeGreaterThanOrEqual(3);

    const mails = smtp.messages();
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual(['quanly@may-a.vn']);
    const text = readableMail(mails[0]!.raw);
    expect(text).toContain(`Alert id: ${booked!.alertId}`);
    expect(text).toContain('Site: xuong-1');
    expect(text).toContain(`https://console.tinh.gov.vn/#alerts/${booked!.alertId}`);
    expect(text).not.toMatch(/W-Q1|QUARANTINE|quarantin|Công nhân/i);

    const accepted = hooks.requests.filter((r) => r.status === 200);
    expect(accepted).toHaveLength(1);
    expect(hooks.acceptedKeys()).toEqual([`${booked!.alertId}:${hook.recipientId}`]);
    expect(new Set(hooks.requests.map((r) => r.idempotencyKey))).toEqual(new Set([`${booked!.alertId}:${hook.recipientId}`]));
    expect(hooks.requests.every((r) => r.signatureValid)).toBe(true);
    expect(accepted[0]!.json).toMatchObject({ alertId: booked!.alertId, category: 'health', kind: 'health', orgId: 'may-a', siteId: 'xuong-1' });
    expect(hooks.requests.map((r) => r.body).join('\n')).not.toMatch(/W-Q1|QUARANTINE|quarantin/i);
  }, 120_000);
});
