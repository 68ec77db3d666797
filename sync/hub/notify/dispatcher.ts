import { createHmac, randomInt } from 'node:crypto';
import { localTimeIn } from '../../../base/common/time.js';
import type { AlertBook, AlertCategory, BookedAlert, DueDelivery, Recipient } from './alert-book.js';
import type { Mailer } from './mailer.js';

/**
 * Sends the alert book's deliveries (sync/hub/notify/alert-book.ts), in `safegate hub run`: every
 * `pollMs` (and at once when an alert is raised in this process, or an attempt ends) it leases the
 * due ones and sends each: e-mail through the Mailer, or an HTTP POST to the webhook. Attempts run
 * independently, at most `concurrency` (8) at once, and the loop keeps leasing while some are in
 * flight: a receiver that hangs (until its timeout) delays no other recipient's delivery. Accepted (SMTP accepted every
 * recipient; HTTP 2xx): marked sent. Anything else: marked failed with a short reason and retried
 * after `retryFirstMs`, doubled each time up to `retryMaxMs`, with jitter (up to a quarter less),
 * forever: a delivery is never dropped. A delivery's lease is twice the longest attempt (the webhook
 * timeout; the mailer's overall send deadline), so another hub process never sends it at the same
 * time; a process that dies mid-send leaves it to be taken again when the lease ends (a webhook then
 * sees the same Idempotency-Key again, an e-mail the same Message-ID
 * `<alertId.recipientId@safegate-hub>`). Results are marked with the lease's token: a late one
 * never frees another process's live lease.
 *
 * What leaves the hub (Decree 13): the alert id, its category, the site, the time in the province
 * zone and a link to the console; never the worker's name, id or reasons (those stay in the store's
 * hub_alerts row, shown only in the console). A webhook's `kind` is the alert's kind, except for
 * health alerts, whose kind (flagged, quarantined, confirmed case) would tell a person's health
 * status: theirs is "health".
 *
 * Webhook request: POST, `Content-Type: application/json`, body
 * `{"alertId","category","kind","orgId","siteId","atMs","raisedAtMs","consoleUrl","test"?}`, headers
 * `X-SafeGate-Timestamp: <epoch seconds>`, `X-SafeGate-Signature: sha256=<hex HMAC-SHA256 of
 * "<timestamp>.<body>" with the recipient's secret>`, `Idempotency-Key: <alertId>:<recipientId>`
 * (the same on every attempt), `X-SafeGate-Attempt: <n>`.
 */

export interface DispatcherOptions {
  book: AlertBook;
  mailer: Mailer;
  /** The console as recipients reach it (links: `${consoleUrl}/#alerts/<id>`). */
  consoleUrl: string;
  /** The province time zone (times in messages). */
  zone: string;
  pollMs?: number;
  retryFirstMs?: number;
  retryMaxMs?: number;
  webhookTimeoutMs?: number;
  /** Deliveries leased per round. */
  batch?: number;
  /**
   * Attempts in flight at once (default 8): each runs on its own, and new due deliveries are leased
   * while others are in flight, so one slow receiver never holds back another's alert.
   */
  concurrency?: number;
  /**
   * How long a delivery stays leased to this process: by default twice the longest attempt (the
   * webhook timeout, the mailer's send deadline; at least a minute), so no other process takes a
   * delivery while its attempt may still succeed.
   */
  leaseMs?: number;
  now?: () => number;
  /** Problems (never a message's content). */
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
}

const CATEGORY_NAMES: Record<AlertCategory, { vi: string; en: string }> = {
  health: { vi: 'sức khỏe', en: 'health' },
  override: { vi: 'giám sát cho qua', en: 'supervisor override' },
  gate: { vi: 'cổng', en: 'gate' },
  device: { vi: 'thiết bị', en: 'device' },
  compliance: { vi: 'tuân thủ', en: 'compliance' },
};

/** The link to an alert in the console. */
export function alertLink(consoleUrl: string, alertId: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/#alerts/${encodeURIComponent(alertId)}`;
}

/** What an e-mail about an alert says: Vietnamese first, then English; no person in it. */
export function alertEmail(alert: BookedAlert, consoleUrl: string, zone: string, test = false): { subject: string; text: string } {
  const c = CATEGORY_NAMES[alert.category];
  const site = alert.siteId ?? (alert.orgId ? `(${alert.orgId})` : '-');
  const when = localTimeIn(alert.atMs, zone);
  const link = alertLink(consoleUrl, alert.alertId);
  const prefix = test ? '[SafeGate][THỬ / TEST]' : '[SafeGate]';
  const subject = `${prefix} Cảnh báo ${c.vi} tại ${site} / ${c.en} alert at ${site} (${alert.alertId})`;
  const text = [
    test ? 'Đây là thư thử nghiệm của SafeGate.' : `SafeGate có một cảnh báo ${c.vi} cần người xử lý.`,
    `Mã cảnh báo: ${alert.alertId}`,
    `Loại: ${c.vi}`,
    `Địa điểm: ${site}`,
    `Thời gian: ${when} (${zone})`,
    `Xem chi tiết và xác nhận trên bảng điều khiển: ${link}`,
    '',
    test ? 'This is a SafeGate test message.' : `SafeGate has a ${c.en} alert that needs someone.`,
    `Alert id: ${alert.alertId}`,
    `Category: ${c.en}`,
    `Site: ${site}`,
    `Time: ${when} (${zone})`,
    `Details and acknowledgement in the console: ${link}`,
    '',
  ].join('\n');
  return { subject, text };
}

/** The JSON a webhook receives about an alert: no person in it. */
export function webhookBody(alert: BookedAlert, consoleUrl: string, test = false): string {
  return JSON.stringify({
    alertId: alert.alertId,
    category: alert.category,
    kind: alert.category === 'health' ? 'health' : alert.kind,
    orgId: alert.orgId,
    siteId: alert.siteId,
    atMs: alert.atMs,
    raisedAtMs: alert.raisedAtMs,
    consoleUrl: alertLink(consoleUrl, alert.alertId),
    ...(test ? { test: true } : {}),
  });
}

/** `sha256=<hex>` over `<timestamp>.<body>`: what a receiver recomputes with the shared secret. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The network error code (ECONNREFUSED, ENOTFOUND...) under a failed fetch, if any. */
function networkCode(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown[] };
  if (typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code)) return e.code;
  for (const inner of e.errors ?? []) {
    const c = networkCode(inner, depth + 1);
    if (c) return c;
  }
  return networkCode(e.cause, depth + 1);
}

export class Dispatcher {
  private readonly o: Required<Omit<DispatcherOptions, 'log' | 'leaseMs'>> & Pick<DispatcherOptions, 'log'>;
  /** How long a delivery is leased for an attempt. */
  readonly leaseMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private unsubscribe: (() => void) | undefined;
  /** Attempts under way (each marks its own result). */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: DispatcherOptions) {
    this.o = {
      pollMs: 1_000,
      retryFirstMs: 5_000,
      retryMaxMs: 600_000,
      webhookTimeoutMs: 10_000,
      batch: 20,
      concurrency: 8,
      now: Date.now,
      ...options,
    };
    this.leaseMs = options.leaseMs ?? 2 * Math.max(this.o.webhookTimeoutMs, this.o.mailer.sendDeadlineMs, 60_000);
  }

  /** The wait before the attempt after `failures` failed ones: doubling, capped, up to a quarter less at random. */
  backoffMs(failures: number): number {
    const base = Math.min(this.o.retryMaxMs, this.o.retryFirstMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
    return Math.max(1, Math.round(base - (base / 4) * (randomInt(1_000) / 1_000)));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.o.book.onRaised(() => this.wake());
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await Promise.all(this.inFlight);
  }

  /** Runs a round now (or right after the one running). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.loop().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule(0);
        } else this.schedule(this.o.pollMs);
      });
    }, ms);
    this.timer.unref?.();
  }

  private async loop(): Promise<void> {
    try {
      // Leases while there is room and work (a backlog after an outage goes out at once); attempts
      // run on their own, and each one ending wakes the loop for what is due next.
      while (!this.stopped) {
        const room = Math.min(this.o.batch, this.o.concurrency - this.inFlight.size);
        if (room <= 0) break;
        if ((await this.launchDue(room)).length < room) break;
      }
    } catch (err) {
      this.o.log?.warn({ err: (err as Error).message }, 'alert dispatch round failed; retrying');
    }
  }

  /** Leases up to `limit` due deliveries and starts an attempt for each; the attempts. */
  private async launchDue(limit: number): Promise<Promise<void>[]> {
    const due = await this.o.book.dueDeliveries(this.o.now(), limit, this.leaseMs);
    return due.map((d) => {
      const attempt: Promise<void> = this.attempt(d)
        .catch((err: unknown) => this.o.log?.warn({ err: (err as Error).message, alertId: d.alert.alertId, recipientId: d.recipient.recipientId }, 'alert delivery not recorded; the lease runs out and it is tried again'))
        .finally(() => {
          this.inFlight.delete(attempt);
          this.wake();
        });
      this.inFlight.add(attempt);
      return attempt;
    });
  }

  /** One round (tests, tools): leases what is due (within the room left) and waits for those attempts; how many it attempted. */
  async runOnce(): Promise<number> {
    const room = Math.min(this.o.batch, this.o.concurrency - this.inFlight.size);
    if (room <= 0) return 0;
    const attempts = await this.launchDue(room);
    await Promise.all(attempts);
    return attempts.length;
  }

  private async attempt(d: DueDelivery): Promise<void> {
    const { alert, recipient } = d;
    let error: string | undefined;
    try {
      if (recipient.channel === 'email') await this.sendEmail(alert, recipient);
      else await this.sendWebhook(alert, recipient, d.attempts + 1);
    } catch (err) {
      error = ((err as Error).message || String(err)).slice(0, 300);
    }
    const now = this.o.now();
    if (error === undefined) {
      await this.o.book.markSent(alert.alertId, recipient.recipientId, now, d.leaseToken);
      this.o.log?.info?.({ alertId: alert.alertId, recipientId: recipient.recipientId, channel: recipient.channel, attempts: d.attempts + 1 }, 'alert delivered');
    } else {
      await this.o.book.markFailed(alert.alertId, recipient.recipientId, error, now + this.backoffMs(d.attempts + 1), now, d.leaseToken);
      this.o.log?.warn({ alertId: alert.alertId, recipientId: recipient.recipientId, channel: recipient.channel, attempts: d.attempts + 1, error }, 'alert delivery failed; will retry');
    }
  }

  private async sendEmail(alert: BookedAlert, recipient: Recipient, test = false): Promise<void> {
    const { subject, text } = alertEmail(alert, this.o.consoleUrl, this.o.zone, test);
    // The same Message-ID on every attempt: a mail system drops a second copy (a send whose answer was lost).
    await this.o.mailer.send({ to: recipient.address, subject, text, headers: { 'X-SafeGate-Alert': alert.alertId }, ...(test ? {} : { messageId: `<${alert.alertId}.${recipient.recipientId}@safegate-hub>` }) });
  }

  private async sendWebhook(alert: BookedAlert, recipient: Recipient, attempt: number, test = false): Promise<void> {
    const body = webhookBody(alert, this.o.consoleUrl, test);
    const timestamp = String(Math.floor(this.o.now() / 1_000));
    let res: Response;
    try {
      res = await fetch(recipient.address, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'SafeGate-hub',
          'x-safegate-timestamp': timestamp,
          'x-safegate-signature': webhookSignature(recipient.secret ?? '', timestamp, body),
          'idempotency-key': `${alert.alertId}:${recipient.recipientId}${test ? ':test' : ''}`,
          'x-safegate-attempt': String(attempt),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.o.webhookTimeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new Error(`no answer within ${this.o.webhookTimeoutMs} ms`, { cause: err });
      throw new Error(networkCode(err) ?? [e.message, (e.cause as Error | undefined)?.message].filter(Boolean).join(': '), { cause: err });
    }
    // The answer's body is not kept (it is the receiver's, and could say anything).
    await res.body?.cancel().catch(() => undefined);
    if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
  }

  /** Sends a test message to one recipient now (not recorded as a delivery); throws with the reason if not accepted. */
  async sendTest(recipient: Recipient): Promise<void> {
    const now = this.o.now();
    const alert: BookedAlert = {
      alertId: 'a-test000000',
      dedupKey: 'test',
      source: 'hub',
      kind: 'test',
      category: 'device',
      orgId: recipient.orgId,
      siteId: recipient.siteId,
      checkpointId: null,
      deviceId: null,
      seq: null,
      atMs: now,
      raisedAtMs: now,
      acknowledgedBy: null,
      acknowledgedAtMs: null,
      changeSeq: 0,
    };
    if (recipient.channel === 'email') await this.sendEmail(alert, recipient, true);
    else await this.sendWebhook(alert, recipient, 1, true);
  }
}
