import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type { HubSettings } from '../settings.js';

/**
 * E-mail out of the hub (alert deliveries, the reports' scheduled mail) through nodemailer over the
 * SMTP server of the hub settings' `alerts.smtp`: `smtp://host:port` (STARTTLS when offered;
 * required when there is a user, so a password never crosses in the clear, unless `insecureAuth`
 * for a server on this machine) or `smtps://host:port`, or host/port/secure, with a user and a
 * password read from a file. Each send has an overall deadline (`deadlineMs`). A
 * connection per message (nothing held open between alerts); `send` resolves once the server has accepted the message for every
 * recipient, and throws (a MailError with a short message: the server's reply line, never the body)
 * otherwise, so a caller that must not lose a message retries it.
 *
 * What goes into a message is the caller's business, but the alert dispatcher never puts a worker's
 * name, id or reason in one (Decree 13): e-mail leaves the hub's protection.
 */

export interface MailAttachment {
  filename: string;
  content: Buffer | string;
  contentType?: string;
}

export interface MailMessage {
  to: string | readonly string[];
  subject: string;
  text: string;
  html?: string;
  attachments?: readonly MailAttachment[];
  /** Extra headers (e.g. an idempotency key a receiving system may use). */
  headers?: Record<string, string>;
  /**
   * A fixed Message-ID (`<local@domain>`) for a message that may be sent again (an alert delivery
   * retried after a lost answer): mail systems drop the duplicate. Otherwise nodemailer makes one.
   */
  messageId?: string;
}

export interface SmtpOptions {
  host: string;
  port: number;
  /** TLS from the start (smtps); otherwise STARTTLS when offered. */
  secure: boolean;
  user?: string;
  password?: string;
  /** Connection, greeting and socket timeouts. */
  timeoutMs?: number;
  /**
   * The longest a whole send may take (a server that answers, slowly, forever resets the socket
   * timeout): the send then fails. Default three times `timeoutMs`.
   */
  deadlineMs?: number;
  /** Accept a server certificate no authority vouches for (tests against a local server only). */
  allowUnverifiedTls?: boolean;
  /** Refuse to go on (and so to send the password) unless the connection is TLS (STARTTLS on a plain port). */
  requireTls?: boolean;
}

export class MailError extends Error {
  override name = 'MailError';
}

/** Not configured: e-mail cannot leave until `alerts.smtp` is set. */
export class MailNotConfiguredError extends MailError {
  override name = 'MailNotConfiguredError';
}

export interface Mailer {
  readonly configured: boolean;
  /** The longest one `send` takes before it fails (the dispatcher sizes its delivery leases by it). */
  readonly sendDeadlineMs: number;
  send(message: MailMessage): Promise<{ messageId: string }>;
  close(): void;
}

/** The SMTP options of the hub settings (`alerts.smtp`), or undefined when e-mail is not set up. */
export function smtpOptionsOf(settings: Pick<HubSettings, 'alerts'>, passwordPath: string | undefined): SmtpOptions | undefined {
  const s = settings.alerts.smtp;
  if (!s) return undefined;
  let host = s.host;
  let port = s.port;
  let secure = s.secure;
  if (s.url) {
    const u = new URL(s.url);
    host = u.hostname;
    secure = u.protocol === 'smtps:';
    port = u.port ? Number(u.port) : secure ? 465 : 587;
  }
  if (!host) throw new MailError('alerts.smtp needs url or host');
  let password: string | undefined;
  if (passwordPath) {
    try {
      password = readFileSync(passwordPath, 'utf8').trim();
    } catch (err) {
      throw new MailError(`cannot read alerts.smtp.passwordFile (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
  }
  // A password never crosses the network in the clear: STARTTLS is required whenever there is a user,
  // unless the settings opt in for a mail server on this machine (alerts.smtp.insecureAuth, checked there).
  const requireTls = !!s.user && !secure && !s.insecureAuth;
  return { host, port, secure, user: s.user, password, timeoutMs: s.timeoutSeconds * 1_000, requireTls };
}

/** A short, person-free description of a send failure (the SMTP reply or the network error code). */
function failureText(err: unknown): string {
  const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
  if (e.responseCode) return `SMTP ${e.responseCode}${e.response ? `: ${e.response.split('\n')[0]!.slice(0, 200)}` : ''}`;
  if (e.code) return `${e.code}${e.message ? `: ${e.message.split('\n')[0]!.slice(0, 200)}` : ''}`;
  return (e.message ?? String(err)).split('\n')[0]!.slice(0, 200);
}

class SmtpMailer implements Mailer {
  readonly configured = true;
  readonly sendDeadlineMs: number;
  private readonly transport: Transporter;

  constructor(
    options: SmtpOptions,
    private readonly from: string,
  ) {
    const timeout = options.timeoutMs ?? 30_000;
    this.sendDeadlineMs = options.deadlineMs ?? 3 * timeout;
    this.transport = nodemailer.createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure,
      requireTLS: options.requireTls ?? false,
      auth: options.user ? { user: options.user, pass: options.password ?? '' } : undefined,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      tls: options.allowUnverifiedTls ? { rejectUnauthorized: false } : undefined,
      // Nothing about the messages in the hub's log.
      logger: false,
      debug: false,
    });
  }

  async send(message: MailMessage): Promise<{ messageId: string }> {
    const to = typeof message.to === 'string' ? [message.to] : [...message.to];
    if (!to.length) throw new MailError('an e-mail needs at least one recipient');
    let timer: NodeJS.Timeout | undefined;
    try {
      const sending = this.transport.sendMail({
        from: this.from,
        to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        attachments: message.attachments?.map((a) => ({ ...a })),
        headers: message.headers,
        ...(message.messageId ? { messageId: message.messageId } : {}),
      }) as Promise<{ messageId: string; rejected?: unknown[] }>;
      // An overall deadline: the socket timeout alone lets a server that dribbles answers hold a send forever.
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new MailError(`no answer from the mail server within ${this.sendDeadlineMs} ms`)), this.sendDeadlineMs);
      });
      sending.catch(() => undefined);
      const info = await Promise.race([sending, deadline]);
      if (info.rejected?.length) throw new MailError(`the mail server refused ${info.rejected.length} of ${to.length} recipients`);
      return { messageId: info.messageId };
    } catch (err) {
      if (err instanceof MailError) throw err;
      throw new MailError(failureText(err), { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.transport.close();
  }
}

class NoMailer implements Mailer {
  readonly configured = false;
  readonly sendDeadlineMs = 0;
  send(): Promise<{ messageId: string }> {
    return Promise.reject(new MailNotConfiguredError('e-mail is not set up (alerts.smtp in the hub settings)'));
  }
  close(): void {}
}

/** A mailer over these SMTP options; without options one whose every send fails (and is retried by its caller). */
export function createMailer(options: SmtpOptions | undefined, from: string): Mailer {
  return options ? new SmtpMailer(options, from) : new NoMailer();
}
