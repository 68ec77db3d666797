import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { brokerSettingsSchema, type BrokerSettings } from '../../base/common/broker-settings.js';
import { SettingsError } from '../../base/common/settings-error.js';
import { problemsOf } from '../../base/common/validation.js';
import { timeZoneSchema } from '../../base/common/time.js';
import { hubIdSchema } from '../../base/common/ids.js';
import type { HubSqlTarget } from './hub-sql.js';

/**
 * The reference hub's settings file (YAML or JSON). Every object is a `z.strictObject`: a misspelled
 * key is an error, never a silent default (test/sync/hub/settings.test.ts checks every object).
 */
export const hubSettingsSchema = z
  .strictObject({
    id: hubIdSchema
      .default('hub.1')
      .describe('this hub process\'s identity: its certificate\'s CN and its MQTT client id, unique per process (hub.1, hub.2, ...)'),
    broker: brokerSettingsSchema.describe('the broker kiosks publish to; the hub\'s certificate CN is its id (hub.1, ...), listed in the broker\'s ACL'),
    sharedSubscription: z
      .boolean()
      .default(true)
      .describe('share the load between hub processes with $share subscriptions (off for brokers without them, e.g. the embedded aedes)'),
    directory: z
      .strictObject({ path: z.string().default('hub-directory.db').describe('SQLite file of the hub directory (registry, what the hub publishes to kiosks, passes, phone uploads); when DATABASE_URL is set, PostgreSQL is used instead') })
      .prefault({}),
    signingKey: z
      .string()
      .optional()
      .describe('the hub\'s private signing key (PEM, from `safegate keys generate`); kiosks trust its public half. Without it the hub only ingests.'),
    passKey: z
      .string()
      .optional()
      .describe('the hub\'s private pass key (PEM, from `safegate keys generate --role pass`) that signs the passes `safegate hub pass issue` and the console issue; kiosks hold its public half in keys/pass/'),
    phonePassKey: z
      .string()
      .optional()
      .describe('the hub\'s private phone pass key (PEM, from `safegate keys generate --role phone-pass`) that signs phone-bound passes; kiosks hold its public half in keys/phone-pass/'),
    checkpointCodeKey: z
      .string()
      .optional()
      .describe('the hub\'s private checkpoint code key (PEM, from `safegate keys generate --role checkpoint-code`) that signs the QR codes posted where there is no kiosk (`safegate hub checkpoint code`); only the hub checks them, kiosks never hold it'),
    store: z
      .strictObject({ path: z.string().default('hub.db').describe('SQLite file for ingested events; when DATABASE_URL is set, PostgreSQL is used instead') })
      .prefault({}),
    retentionDays: z
      .number()
      .int()
      .min(1)
      .max(3_650)
      .default(28)
      .describe('events, alerts and heartbeats older than this are purged from the hub store'),
    siteStream: z
      .strictObject({
        beatMs: z
          .number()
          .int()
          .min(100)
          .max(60_000)
          .default(5_000)
          .describe("how often every device of a site hears from the hub when there is no news (kiosks' hub.siteStream.freshMs must be longer)"),
        maxAgeHours: z
          .number()
          .positive()
          .max(24 * 7)
          .default(24)
          .describe("passages older than this (in a late batch) are not relayed; at least the policy's antiPassbackResetHours"),
      })
      .prefault({})
      .describe("the live site stream: allowed passages relayed at once to the other devices of the sender's site (`safegate hub device assign`)"),
    console: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe('serve the console from this hub process; with several hub processes on one machine, one serves it and the others set false'),
        host: z.string().min(1).default('127.0.0.1').describe('address the web console listens on (loopback by default; put a TLS reverse proxy in front to reach it from elsewhere)'),
        port: z.number().int().min(1).max(65_535).default(8480).describe('TCP port of the web console'),
        database: z.string().default('hub-console.db').describe('SQLite file of console accounts, sessions and the audit trail'),
        trustProxy: z
          .boolean()
          .default(false)
          .describe("behind a TLS reverse proxy: believe its X-Forwarded-Proto/For, so session cookies are marked Secure on HTTPS and the audit trail names the client's address"),
        lockoutSeconds: z.number().int().min(1).max(3_600).default(30).describe('first sign-in lockout after 5 wrong passwords in a row; each further wrong one doubles it'),
      })
      .prefault({})
      .describe('the web console `safegate hub run` serves'),
    alerts: z
      .strictObject({
        smtp: z
          .strictObject({
            url: z
              .string()
              .superRefine((v, ctx) => {
                const problem = smtpUrlProblem(v);
                if (problem) ctx.addIssue({ code: 'custom', message: problem });
              })
              .optional()
              .describe('the mail server as smtp://host:port (STARTTLS when offered) or smtps://host:port (TLS from the start); instead of host/port/secure'),
            host: z.string().min(1).optional().describe('the mail server host (when url is not given)'),
            port: z.number().int().min(1).max(65_535).default(587).describe('the mail server port (with host)'),
            secure: z.boolean().default(false).describe('TLS from the start (port 465); false: STARTTLS when the server offers it'),
            user: z.string().min(1).optional().describe('the SMTP user name, if the server wants one'),
            passwordFile: z.string().min(1).optional().describe("a file holding the SMTP user's password (relative to this settings file)"),
            timeoutSeconds: z.number().int().min(1).max(300).default(30).describe('give up on an unanswering mail server after this long (the delivery is retried)'),
            insecureAuth: z
              .boolean()
              .default(false)
              .describe('send the user and password without TLS: only to a mail server on this machine (127.0.0.1, ::1, localhost); otherwise a user requires TLS (smtps, or STARTTLS the server must offer)'),
          })
          .superRefine((smtp, ctx) => {
            if (!smtp.url && !smtp.host) ctx.addIssue({ code: 'custom', message: 'give the mail server as url (smtp://host:port) or host', path: ['url'] });
            if (smtp.insecureAuth && !smtp.secure && smtp.user) {
              const host = smtp.url ? smtpUrlHost(smtp.url) : smtp.host;
              if (host !== undefined && !LOOPBACK_HOSTS.has(host.toLowerCase()))
                ctx.addIssue({ code: 'custom', message: `insecureAuth sends the password in the clear: only to a mail server on this machine (127.0.0.1, ::1, localhost), not ${host}`, path: ['insecureAuth'] });
            }
          })
          .optional()
          .describe('where e-mail leaves the hub (alerts and reports); without it, e-mail deliveries wait, recorded as failed, until it is set'),
        from: z.string().min(3).default('SafeGate <safegate@localhost>').describe("the From of every e-mail the hub sends"),
        consoleUrl: z
          .string()
          .superRefine((v, ctx) => {
            const problem = consoleUrlProblem(v);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .default('http://127.0.0.1:8480').describe('the console address as recipients reach it: e-mails and webhooks link to <consoleUrl>/#alerts/<id>'),
        silentKioskMinutes: z.number().int().min(1).max(24 * 60).default(15).describe('a kiosk assigned to a site and not heard from for this long raises a device alert (once per silence)'),
        webhookTimeoutSeconds: z.number().int().min(1).max(120).default(10).describe('a webhook not answering within this long is a failed attempt (retried)'),
        retryFirstSeconds: z.number().min(0.01).max(3_600).default(5).describe('the wait after a failed delivery attempt; doubled after each further failure (with jitter)'),
        retryMaxSeconds: z.number().min(0.01).max(86_400).default(600).describe('the longest wait between two attempts: a delivery is retried until accepted, never dropped'),
        undeliveredAfterAttempts: z.number().int().min(1).max(1_000).default(5).describe('a delivery not accepted after this many attempts shows as undelivered'),
        undeliveredAfterMinutes: z.number().min(1).max(10_080).default(10).describe('...or this long after the alert'),
      })
      .prefault({})
      .describe('alerts that reach people: e-mail (SMTP) and webhooks to the recipients `safegate hub alerts recipients add` names, and the hub\'s own alerts (silent kiosks, stale lists, missing tests)'),
    time: z.strictObject({ zone: timeZoneSchema }).prefault({}).describe('the province time zone (day boundaries, plain dates in files and commands)'),
    reports: z
      .strictObject({
        summaryTime: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM, e.g. 18:00')
          .default('18:00')
          .describe("when (province time) each organisation's daily summary is e-mailed to its recipients, and the province's to the province-wide ones"),
        labourListTime: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM, e.g. 16:00')
          .default('16:00')
          .describe("when (province time) each organisation's CV 2242 labour list is made and kept for the console (after the 15:00 test deadline); its recipients get a link, never the list"),
        schedule: z
          .boolean()
          .default(true)
          .describe('run the schedule in this hub process (several may: each report goes once a day whichever sends it)'),
      })
      .prefault({})
      .describe('reports: the daily summary and the labour list on a schedule, to the e-mail recipients of `safegate hub alerts recipients add`'),
    trace: z
      .strictObject({
        canteenWindowMinutes: z.number().int().min(1).max(240).default(30).describe('a canteen scan is a sitting of this length: two workers whose canteen scans are less than this apart are contacts'),
        resetHours: z
          .number()
          .positive()
          .max(24 * 7)
          .optional()
          .describe("an entry with no exit ends this long after it; by default the published policy's antiPassbackResetHours (16 when none is published)"),
      })
      .prefault({})
      .describe('narrow tracing (`safegate hub trace`, the console Trace page)'),
    fleet: z
      .strictObject({
        silentAfterMinutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60)
          .default(10)
          .describe('`safegate hub devices` marks a device silent when its last heartbeat is older than this (and when it never sent one)'),
        revokedRefreshSeconds: z
          .number()
          .min(0.2)
          .max(300)
          .default(5)
          .describe('how often each hub process re-reads the revoked devices from the directory: messages from them are dropped, and they are cut off at the broker'),
      })
      .prefault({})
      .describe('the fleet of kiosks: the devices list, revocation (`safegate hub devices revoke`)'),
    pki: z
      .strictObject({
        dir: z
          .string()
          .min(1)
          .default('pki')
          .describe('folder of the hub CA (relative to this settings file): ca.crt, ca.key, the broker\'s server certificate, the hub processes\' certificates, crl.pem (`safegate hub pki init` makes it)'),
        deviceCertDays: z
          .number()
          .int()
          .min(1)
          .max(3_650)
          .default(365)
          .describe('a device certificate issued at enrolment or renewal is valid this many days, plus a random 0 to 7 (so a week\'s enrolments do not expire in the same hour)'),
      })
      .prefault({})
      .describe('the hub CA that signs the broker\'s, the hub processes\' and every enrolled device\'s certificate'),
    enrol: z
      .strictObject({
        enabled: z.boolean().default(false).describe('serve the enrolment endpoint (EST over HTTPS) from this hub process'),
        host: z.string().min(1).default('0.0.0.0').describe('address the enrolment endpoint listens on (kiosks reach it over the network)'),
        port: z.number().int().min(1).max(65_535).default(8443).describe('TCP port of the enrolment endpoint'),
        publicUrl: z
          .string()
          .superRefine((v, ctx) => {
            const problem = enrolUrlProblem(v, 'https:', 'https://host[:port]');
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional()
          .describe('the enrolment endpoint as kiosks reach it, https://host[:port]: it goes into every enrolment code (its host must be one of `hub pki init --host`)'),
        brokerUrl: z
          .string()
          .superRefine((v, ctx) => {
            const problem = enrolUrlProblem(v, 'mqtts:', 'mqtts://host[:port]');
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional()
          .describe('the broker as enrolled kiosks reach it, mqtts://host[:port] (sent in the enrolment answer)'),
        tokenHours: z.number().positive().max(90 * 24).default(24).describe('an enrolment code made without --expires is valid this many hours'),
        rateLimitPerMinute: z.number().int().min(1).max(10_000).default(30).describe('requests one address may make to the enrolment endpoint per minute (more are refused, RATE_LIMITED)'),
        gpioProfiles: z
          .record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a profile name: letters, digits, dot, underscore and dash'), z.record(z.string(), z.unknown()))
          .default({})
          .describe('named GPIO profiles (`hub enrol create --gpio-profile NAME`): each a partial kiosk `gate` settings object (relay, lights, inputs...) the enrolled kiosk gets; checked against the kiosk settings when a code is made'),
      })
      .superRefine((e, ctx) => {
        if (!e.enabled) return;
        if (!e.publicUrl) ctx.addIssue({ code: 'custom', message: 'the enrolment endpoint needs publicUrl (https://host:port, what goes in the codes)', path: ['publicUrl'] });
        if (!e.brokerUrl) ctx.addIssue({ code: 'custom', message: 'the enrolment endpoint needs brokerUrl (mqtts://host:port, where enrolled kiosks connect)', path: ['brokerUrl'] });
      })
      .prefault({})
      .describe('fleet enrolment: one-time enrolment codes (`safegate hub enrol create`) and the endpoint kiosks enrol at'),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).prefault({}),
  });
export type HubSettings = z.infer<typeof hubSettingsSchema>;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

/** The host of an SMTP URL (undefined if it does not parse). */
function smtpUrlHost(v: string): string | undefined {
  try {
    return new URL(v).hostname;
  } catch {
    return undefined;
  }
}

/** A URL as it may be repeated back: its password (if any) replaced by ***. */
function withoutPassword(v: string): string {
  try {
    const u = new URL(v);
    if (!u.password) return v;
    u.password = '***';
    return u.toString();
  } catch {
    return v.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** The settings as a refusal may repeat them: a password written into alerts.smtp.url masked. */
function withoutSecrets(raw: unknown): unknown {
  const url = (raw as { alerts?: { smtp?: { url?: unknown } } } | null)?.alerts?.smtp?.url;
  if (typeof url !== 'string') return raw;
  const r = raw as { alerts: { smtp: object } };
  return { ...r, alerts: { ...r.alerts, smtp: { ...r.alerts.smtp, url: withoutPassword(url) } } };
}

/** Why alerts.smtp.url is not smtp(s)://host[:port] (never repeating a password it may hold), or undefined. */
export function smtpUrlProblem(v: string): string | undefined {
  const shape = 'smtp://host:port (STARTTLS) or smtps://host:port (TLS)';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `not a URL: ${shape}`;
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') return `${JSON.stringify(u.protocol)} is not smtp: or smtps: (${shape})`;
  if (u.username || u.password) return 'no user or password in the URL: put the user in alerts.smtp.user and the password in the file alerts.smtp.passwordFile names';
  if (!u.hostname) return `no host: ${shape}`;
  if (u.port !== '' && (Number(u.port) < 1 || Number(u.port) > 65_535)) return 'the port is 1 to 65535';
  if ((u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) return `nothing after the host and port: ${shape}`;
  return undefined;
}

/** Why an enrolment address (publicUrl, brokerUrl) is not `<protocol>//host[:port]` alone, or undefined. */
export function enrolUrlProblem(v: string, protocol: 'https:' | 'mqtts:', shape: string): string | undefined {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `not a URL: ${shape}`;
  }
  if (u.protocol !== protocol) return `${JSON.stringify(u.protocol)} is not ${protocol} (${shape})`;
  if (u.username || u.password) return `no user or password in the address (${shape})`;
  if (!u.hostname) return `no host: ${shape}`;
  if ((u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) return `nothing after the host and port: ${shape}`;
  return undefined;
}

/** Why alerts.consoleUrl is not an http(s) address without user or password, or undefined. */
export function consoleUrlProblem(v: string): string | undefined {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'not a URL: the console address as recipients reach it, e.g. https://console.example.vn';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return `the console address is http(s), not ${u.protocol}`;
  if (u.username || u.password) return 'no user or password in the console address (it goes into every e-mail and webhook)';
  return undefined;
}

export interface LoadedHubSettings {
  settings: HubSettings;
  broker: BrokerSettings;
  storePath: string;
  directoryPath: string;
  consoleDatabasePath: string;
  signingKeyPath: string | undefined;
  passKeyPath: string | undefined;
  phonePassKeyPath: string | undefined;
  checkpointCodeKeyPath: string | undefined;
  /** pki.dir resolved against the settings file. */
  pkiDir: string;
  /** alerts.smtp.passwordFile resolved against the settings file. */
  smtpPasswordPath: string | undefined;
}

export function loadHubSettings(file: string): LoadedHubSettings {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new SettingsError(abs, [{ path: '', message: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})` }]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new SettingsError(abs, [{ path: '', message: `not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const r = hubSettingsSchema.safeParse(raw);
  if (!r.success) throw new SettingsError(abs, problemsOf(r.error, { schema: hubSettingsSchema, input: withoutSecrets(raw) }));
  const base = dirname(abs);
  const at = (f: string | undefined) => (f ? resolve(base, f) : undefined);
  const b = r.data.broker;
  return {
    settings: r.data,
    broker: { ...b, ca: at(b.ca), cert: at(b.cert), key: at(b.key) },
    storePath: resolve(base, r.data.store.path),
    directoryPath: resolve(base, r.data.directory.path),
    consoleDatabasePath: resolve(base, r.data.console.database),
    signingKeyPath: at(r.data.signingKey),
    passKeyPath: at(r.data.passKey),
    phonePassKeyPath: at(r.data.phonePassKey),
    checkpointCodeKeyPath: at(r.data.checkpointCodeKey),
    pkiDir: resolve(base, r.data.pki.dir),
    smtpPasswordPath: at(r.data.alerts.smtp?.passwordFile),
  };
}

/**
 * Where the hub directory is: PostgreSQL when DATABASE_URL is set (the database the hub store uses,
 * in a schema of its own, shared by every hub process and command), else the SQLite file of
 * `directory.path`.
 */
export function directoryTarget(loaded: Pick<LoadedHubSettings, 'directoryPath'>, env: NodeJS.ProcessEnv = process.env): HubSqlTarget {
  const url = env.DATABASE_URL;
  return url ? { kind: 'postgres', url } : { kind: 'sqlite', path: loaded.directoryPath };
}
