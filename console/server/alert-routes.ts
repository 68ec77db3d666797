import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { DENY_REASONS, type DenyReason } from '../../base/common/reasons.js';
import type { HubSql } from '../../sync/hub/hub-sql.js';
import { inList } from '../../sync/hub/hub-sql.js';
import type { HubDirectory } from '../../sync/hub/directory.js';
import {
  ALERT_CATEGORIES,
  AlertBookError,
  DELIVERY_CHANNELS,
  type AlertBook,
  type AlertCategory,
  type BookedAlert,
  type DeliveryChannel,
  type Delivery,
} from '../../sync/hub/notify/alert-book.js';
import type { HubStore } from '../../sync/hub/store.js';
import type { Logger } from '../../base/node/logger.js';
import type { ConsoleRole, ConsoleStore } from './accounts.js';
import { HEALTH_ALERT_HIDDEN, HEALTH_REASON_HIDDEN } from './operations-routes.js';
import { ALL_ROLES, errorSchema, identifierJson, OPERATOR_OR_MANAGER, orgScope } from './scope.js';

/**
 * Alerts that reach people, the console's side (the book itself: sync/hub/notify/alert-book.ts).
 *
 * - `GET /api/alerts/book` lists the alert book newest first, a page at a time, each alert with its
 *   acknowledgement and its deliveries; a kiosk alert is joined with the event store's hub_alerts row
 *   (worker, name from the hub's worker list, reasons, note). The role rules are those of
 *   `GET /api/alerts` (operations-routes.ts): a manager sees the alerts of their own organisation
 *   and, of the alerts that belong to no organisation (a gate's emergency release, a silent kiosk),
 *   those at checkpoints serving it, at its devices or at its sites; health kinds, sensitive reasons
 *   and supervisors' notes only to health officers and managers. A delivery's address is shown to
 *   operators and to the manager of the recipient's organisation, masked for everyone else.
 * - `GET /api/alerts/live` pushes changes to an open page (Server-Sent Events, session cookie). An
 *   event carries an alert id and whether it was raised or changed, and only for alerts the stream's
 *   account may see; the page then asks `GET /api/alerts/book/:id`, which applies every rule again.
 *   One poller per console reads `AlertBook.changesSince` every second while a stream is open (the
 *   alert may come from another hub process sharing the database) and at once when this process
 *   raises one or an acknowledgement is made here. A stream lives at most STREAM_LIFETIME_MS (the
 *   browser reconnects with the session checked again), at most STREAMS_PER_ACCOUNT per account; each
 *   stream opened is a line of the audit trail; signed out, a stream ends within SESSION_CHECK_MS.
 * - `POST /api/alerts/:id/ack`: operators (province-wide) and the managers who see the alert, once;
 *   health officers only read. The audit trail's line for the call names the alert.
 * - `/api/alert-recipients`: who is told. Operators for any organisation, a site or the province;
 *   a manager for their own organisation and its sites. A webhook's secret is shown once, at creation.
 */

/** Open live streams one account may hold (tabs); one more is refused with 429. */
export const STREAMS_PER_ACCOUNT = 5;
/** A stream ends after this long and the browser reconnects (its session is then checked again). */
export const STREAM_LIFETIME_MS = 10 * 60_000;
const HEARTBEAT_MS = 15_000;
/** How often an open stream's session is checked again (signed out, it ends within this). */
export const SESSION_CHECK_MS = 5_000;
const POLL_MS = 1_000;
const MAX_LISTED = 500;
/** A page's end as the `before` of the next: raised time and alert id. */
const BEFORE_PATTERN = '^\\d{1,16}:[a-z]-[0-9a-f]{1,32}$';
const ALERT_ID_PATTERN = '^[a-z]-[0-9a-f]{1,32}$';

export interface AlertConsoleData {
  book: AlertBook;
  directory: HubDirectory;
  store: HubStore;
}

/** Who a request is: a role and, for a manager, what of the province is theirs. */
interface Viewer {
  role: ConsoleRole;
  /** A manager's organisation (undefined: every organisation). */
  org: string | undefined;
  /** For a manager: checkpoints serving their organisation, the devices at them and its sites. */
  checkpoints: Set<string>;
  devices: Set<string>;
  sites: Set<string>;
}

async function viewerOf(req: FastifyRequest, directory: HubDirectory): Promise<Viewer> {
  const org = orgScope(req);
  const viewer: Viewer = { role: req.account!.role, org, checkpoints: new Set(), devices: new Set(), sites: new Set() };
  if (org === undefined) return viewer;
  for (const c of await directory.checkpoints()) {
    if (!c.orgIds.includes(org)) continue;
    viewer.checkpoints.add(c.id);
    for (const d of c.devices) viewer.devices.add(d);
  }
  for (const s of await directory.registeredSites()) if (s.orgId === org) viewer.sites.add(s.id);
  return viewer;
}

/** Whether the viewer may see this alert at all. */
export function maySee(v: Viewer, a: Pick<BookedAlert, 'orgId' | 'siteId' | 'checkpointId' | 'deviceId'>): boolean {
  if (v.org === undefined) return true;
  if (a.orgId !== null) return a.orgId === v.org;
  return (a.checkpointId !== null && v.checkpoints.has(a.checkpointId)) || (a.deviceId !== null && v.devices.has(a.deviceId)) || (a.siteId !== null && v.sites.has(a.siteId));
}

/** The same rule as `maySee`, as a WHERE condition on hub_alert_book (the manager's query is scoped where it is made). */
function visibleWhere(v: Viewer) {
  if (v.org === undefined) return sql`1 = 1`;
  return sql`(org_id = ${v.org} OR (org_id IS NULL AND (checkpoint_id IN ${inList([...v.checkpoints])} OR device_id IN ${inList([...v.devices])} OR site_id IN ${inList([...v.sites])})))`;
}

type BookRow = {
  alert_id: string;
  source: string;
  kind: string;
  category: AlertCategory;
  org_id: string | null;
  site_id: string | null;
  checkpoint_id: string | null;
  device_id: string | null;
  seq: number | null;
  at_ms: number;
  raised_ms: number;
  acknowledged_by: string | null;
  acknowledged_ms: number | null;
};

/** The alert book's rows this viewer may see, newest first. */
async function visibleAlerts(db: HubSql, v: Viewer, q: { before?: { raisedMs: number; alertId: string }; limit: number; unacknowledgedOnly: boolean; alertId?: string }): Promise<BookRow[]> {
  const rows = await db.all<BookRow>(sql`
    SELECT alert_id, source, kind, category, org_id, site_id, checkpoint_id, device_id, seq, at_ms, raised_ms, acknowledged_by, acknowledged_ms
    FROM hub_alert_book
    WHERE ${visibleWhere(v)}
      ${q.alertId !== undefined ? sql`AND alert_id = ${q.alertId}` : sql``}
      ${q.unacknowledgedOnly ? sql`AND acknowledged_ms IS NULL` : sql``}
      ${q.before ? sql`AND (raised_ms < ${q.before.raisedMs} OR (raised_ms = ${q.before.raisedMs} AND alert_id > ${q.before.alertId}))` : sql``}
    ORDER BY raised_ms DESC, alert_id
    LIMIT ${q.limit}`);
  return rows.map((r) => ({ ...r, seq: r.seq === null ? null : Number(r.seq), at_ms: Number(r.at_ms), raised_ms: Number(r.raised_ms), acknowledged_ms: r.acknowledged_ms === null ? null : Number(r.acknowledged_ms) }));
}

/** `m***@example.com`; a webhook's scheme and host only. */
export function maskAddress(channel: DeliveryChannel, address: string): string {
  if (channel === 'email') {
    const at = address.lastIndexOf('@');
    return at > 0 ? `${address[0]}***${address.slice(at)}` : '***';
  }
  try {
    const u = new URL(address);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '***';
  }
}

const mayReadHealth = (role: ConsoleRole) => role === 'health' || role === 'manager';

/** The alerts as a page shows them: masked by the viewer's role, with worker, deliveries and acknowledgement. */
async function present(data: AlertConsoleData, v: Viewer, rows: BookRow[], nowMs: number) {
  const ids = rows.map((r) => r.alert_id);
  const deliveries = ids.length ? await data.book.deliveries(ids, nowMs) : [];
  const recipientIds = [...new Set(deliveries.map((d) => d.recipientId))];
  const recipients = new Map(
    recipientIds.length
      ? (await data.directory.sql.all<{ recipient_id: string; org_id: string | null; address: string }>(sql`SELECT recipient_id, org_id, address FROM alert_recipients WHERE recipient_id IN ${inList(recipientIds)}`)).map((r) => [r.recipient_id, r])
      : [],
  );
  // A kiosk alert's worker and reasons stay in the event store (device, seq); the book names no one.
  const kioskRows = rows.filter((r) => r.source === 'kiosk' && r.device_id !== null && r.seq !== null);
  const stored = new Map<string, { workerId?: string; reasons: string[]; note?: string }>();
  if (kioskRows.length) {
    for (const a of await data.store.alerts(kioskRows.map((r) => ({ deviceId: r.device_id!, seq: r.seq! })))) stored.set(`${a.deviceId}:${a.seq}`, a);
  }
  const workerIds = [...new Set([...stored.values()].map((s) => s.workerId).filter((w): w is string => w !== undefined))];
  const names = new Map(
    workerIds.length
      ? (await data.directory.sql.all<{ worker_id: string; full_name: string }>(sql`SELECT worker_id, full_name FROM hub_workers WHERE worker_id IN ${inList(workerIds)}`)).map((w) => [w.worker_id, w.full_name])
      : [],
  );
  const byAlert = new Map<string, Delivery[]>();
  for (const d of deliveries) byAlert.set(d.alertId, [...(byAlert.get(d.alertId) ?? []), d]);
  const health = mayReadHealth(v.role);
  return rows.map((r) => {
    const s = r.device_id !== null && r.seq !== null ? stored.get(`${r.device_id}:${r.seq}`) : undefined;
    return {
      alertId: r.alert_id,
      source: r.source,
      kind: r.category === 'health' && !health ? HEALTH_ALERT_HIDDEN : r.kind,
      category: r.category,
      orgId: r.org_id,
      siteId: r.site_id,
      checkpointId: r.checkpoint_id,
      deviceId: r.device_id,
      atMs: r.at_ms,
      raisedAtMs: r.raised_ms,
      acknowledgedBy: r.acknowledged_by,
      acknowledgedAtMs: r.acknowledged_ms,
      workerId: s?.workerId ?? null,
      workerName: s?.workerId ? (names.get(s.workerId) ?? null) : null,
      reasons: [...new Set((s?.reasons ?? []).map((x) => (health || !DENY_REASONS[x as DenyReason]?.sensitive ? x : HEALTH_REASON_HIDDEN)))],
      // A supervisor's free text may name a health matter: only those who may read health see it.
      note: health ? (s?.note ?? null) : null,
      deliveries: (byAlert.get(r.alert_id) ?? []).map((d) => {
        const rec = recipients.get(d.recipientId);
        const full = v.role === 'operator' || (v.org !== undefined && rec?.org_id === v.org);
        return {
          recipientId: d.recipientId,
          channel: d.channel,
          address: rec ? (full ? rec.address : maskAddress(d.channel, rec.address)) : '—',
          state: d.state,
          attempts: d.attempts,
          lastError: d.lastError,
          lastAttemptAtMs: d.lastAttemptAtMs,
          nextAttemptAtMs: d.state === 'pending' || d.state === 'failed' ? d.nextAttemptAtMs : null,
          sentAtMs: d.sentAtMs,
          undelivered: d.undelivered,
        };
      }),
    };
  });
}

interface LiveStream {
  account: string;
  viewer: Viewer;
  raw: ServerResponse;
  /** Whether the session the stream was opened with still holds (signed out or expired: the stream ends). */
  stillSignedIn(): Promise<boolean>;
  end(): void;
}

/**
 * The console's one reader of the book's changes: polls `changesSince` every second while a stream
 * is open, at once when woken, and hands each change to the streams whose account may see it.
 */
class AlertChanges {
  private cursor: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private sessions: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private again = false;
  private readonly streams = new Set<LiveStream>();
  /** Alerts this console has pushed as raised (a later change of one is 'changed'). */
  private readonly seen = new Set<string>();
  private startedMs = 0;

  constructor(
    private readonly book: AlertBook,
    private readonly now: () => number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /**
   * Reads where the book stands before a stream is answered, so whatever the page loads once it hears
   * "connected" plus what the stream tells afterwards misses nothing.
   */
  async ready(): Promise<void> {
    if (this.timer) return;
    this.starting ??= (async () => {
      const cursor = await this.book.currentCursor();
      if (this.timer) return;
      this.cursor = cursor;
      this.startedMs = this.now();
      this.timer = setInterval(() => this.wake(), POLL_MS);
      this.heartbeat = setInterval(() => {
        for (const x of this.streams) x.raw.write(': keep-alive\n\n');
      }, HEARTBEAT_MS);
      this.sessions = setInterval(() => {
        for (const x of this.streams) void x.stillSignedIn().then((yes) => yes || x.end(), this.onError);
      }, SESSION_CHECK_MS);
    })().finally(() => (this.starting = undefined));
    await this.starting;
  }

  open(s: LiveStream): void {
    this.streams.add(s);
  }

  close(s: LiveStream): void {
    this.streams.delete(s);
    if (this.streams.size === 0) this.stop();
  }

  countOf(account: string): number {
    let n = 0;
    for (const s of this.streams) if (s.account === account) n++;
    return n;
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    clearInterval(this.sessions);
    this.sessions = undefined;
    this.timer = undefined;
    this.heartbeat = undefined;
    this.cursor = undefined;
  }

  endAll(): void {
    for (const s of [...this.streams]) s.end();
    this.stop();
  }

  /** Reads the changes now (one read at a time; a wake during a read reads once more after it). */
  wake(): void {
    if (!this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.poll()
      .catch(this.onError)
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async poll(): Promise<void> {
    if (this.cursor === undefined) return;
    for (;;) {
      const { alerts, cursor } = await this.book.changesSince(this.cursor);
      this.cursor = cursor;
      for (const a of alerts) {
        const raised = !this.seen.has(a.alertId) && a.acknowledgedAtMs === null && a.raisedAtMs >= this.startedMs - 5_000;
        if (this.seen.size > 10_000) this.seen.clear();
        this.seen.add(a.alertId);
        const line = `event: alert\ndata: ${JSON.stringify({ alertId: a.alertId, change: raised ? 'raised' : 'changed' })}\n\n`;
        for (const s of this.streams) if (maySee(s.viewer, a)) s.raw.write(line);
      }
      if (alerts.length < 500) return;
    }
  }
}

const recipientJson = {
  type: 'object',
  properties: {
    recipientId: { type: 'string' },
    orgId: { type: ['string', 'null'] },
    siteId: { type: ['string', 'null'] },
    channel: { type: 'string' },
    address: { type: 'string' },
    categories: { type: ['array', 'null'], items: { type: 'string' } },
    createdAtMs: { type: 'integer' },
    disabled: { type: 'boolean' },
    secret: { type: 'string' },
  },
  additionalProperties: false,
} as const;

export function registerAlertRoutes(
  app: FastifyInstance,
  data: AlertConsoleData,
  accounts: ConsoleStore,
  log: Logger,
  now: () => number,
  /** Whether a request's session cookie still names a live session. */
  signedIn: (req: FastifyRequest) => Promise<boolean>,
): void {
  const { book, directory } = data;
  const changes = new AlertChanges(book, now, (err) => log.error({ err: (err as Error).message }, 'alert changes not read'));
  const unsubscribe = book.onRaised(() => changes.wake());
  app.addHook('preClose', (done) => {
    unsubscribe();
    changes.endAll();
    done();
  });

  app.get(
    '/api/alerts/book',
    {
      config: { access: ALL_ROLES },
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_LISTED }, before: { type: 'string', pattern: BEFORE_PATTERN }, unacknowledged: { type: 'boolean' } },
          additionalProperties: false,
        },
        response: { '4xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Querystring: { limit?: number; before?: string; unacknowledged?: boolean } }>) => {
      const v = await viewerOf(req, directory);
      const limit = req.query.limit ?? 100;
      const before = req.query.before ? { raisedMs: Number(req.query.before.split(':')[0]), alertId: req.query.before.split(':')[1]! } : undefined;
      const rows = await visibleAlerts(directory.sql, v, { limit: limit + 1, unacknowledgedOnly: req.query.unacknowledged === true, ...(before ? { before } : {}) });
      const listed = rows.slice(0, limit);
      const last = listed.at(-1);
      return { alerts: await present(data, v, listed, now()), next: rows.length > limit && last ? `${last.raised_ms}:${last.alert_id}` : null };
    },
  );

  app.get('/api/alerts/summary', { config: { access: ALL_ROLES } }, async (req) => {
    const v = await viewerOf(req, directory);
    const r = await directory.sql.get<{ n: number }>(sql`SELECT count(*) AS n FROM hub_alert_book WHERE ${visibleWhere(v)} AND acknowledged_ms IS NULL`);
    return { unacknowledged: Number(r?.n ?? 0) };
  });

  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ALERT_ID_PATTERN } }, additionalProperties: false } as const;

  app.get(
    '/api/alerts/book/:id',
    { config: { access: ALL_ROLES }, schema: { params: idParams, response: { '4xx': errorSchema } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const v = await viewerOf(req, directory);
      const rows = await visibleAlerts(directory.sql, v, { limit: 1, unacknowledgedOnly: false, alertId: req.params.id });
      // Another organisation's alert is as absent as one that never was.
      if (!rows.length) return reply.code(404).send({ error: `no alert ${req.params.id}` });
      return (await present(data, v, rows, now()))[0];
    },
  );

  app.post(
    '/api/alerts/:id/ack',
    { config: { access: OPERATOR_OR_MANAGER, rateLimit: { max: 120, timeWindow: 60_000 } }, schema: { params: idParams, response: { '4xx': errorSchema } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const v = await viewerOf(req, directory);
      const rows = await visibleAlerts(directory.sql, v, { limit: 1, unacknowledgedOnly: false, alertId: req.params.id });
      if (!rows.length) return reply.code(404).send({ error: `no alert ${req.params.id}` });
      const acknowledged = await book.acknowledge(req.params.id, req.account!.name, now());
      changes.wake();
      const after = await book.get(req.params.id);
      return { alertId: req.params.id, acknowledged, acknowledgedBy: after?.acknowledgedBy ?? null, acknowledgedAtMs: after?.acknowledgedAtMs ?? null };
    },
  );

  app.get(
    '/api/alerts/live',
    { config: { access: ALL_ROLES, rateLimit: { max: 60, timeWindow: 60_000 } }, schema: { response: { '4xx': errorSchema } } },
    async (req, reply: FastifyReply) => {
      const account = req.account!.name;
      if (changes.countOf(account) >= STREAMS_PER_ACCOUNT) return reply.code(429).send({ error: `at most ${STREAMS_PER_ACCOUNT} live alert pages per account: close one` });
      const viewer = await viewerOf(req, directory);
      await changes.ready();
      if (req.raw.destroyed) return reply;
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        'X-Accel-Buffering': 'no',
        Connection: 'keep-alive',
      });
      // The browser waits 3 s before reconnecting; the page reloads its list on every (re)connection.
      raw.write('retry: 3000\n: open\n\n');
      // The stream is answered outside Fastify's reply (hijacked), so the audit hook never sees it: its line is written here.
      void accounts
        .audit({ at: new Date(now()).toISOString(), account, action: 'GET /api/alerts/live', target: '/api/alerts/live', outcome: 'ok', ip: req.ip })
        .catch((err: unknown) => log.error({ err: (err as Error).message }, 'audit entry not written'));
      let ended = false;
      const stream: LiveStream = {
        account,
        viewer,
        raw,
        stillSignedIn: () => signedIn(req),
        end: () => {
          if (ended) return;
          ended = true;
          clearTimeout(lifetime);
          changes.close(stream);
          raw.end();
        },
      };
      const lifetime = setTimeout(() => stream.end(), STREAM_LIFETIME_MS);
      changes.open(stream);
      req.raw.on('close', () => stream.end());
      raw.on('error', () => stream.end());
    },
  );

  // Who is told.
  app.get(
    '/api/alert-recipients',
    { config: { access: OPERATOR_OR_MANAGER }, schema: { response: { 200: { type: 'array', items: recipientJson }, '4xx': errorSchema } } },
    async (req) => {
      const scope = orgScope(req);
      return (await book.listRecipients(scope)).map(({ secret: _secret, ...r }) => r);
    },
  );

  app.post(
    '/api/alert-recipients',
    {
      config: { access: OPERATOR_OR_MANAGER, rateLimit: { max: 60, timeWindow: 60_000 } },
      schema: {
        body: {
          type: 'object',
          required: ['channel', 'address'],
          properties: {
            orgId: { anyOf: [identifierJson, { type: 'null' }] },
            siteId: { anyOf: [identifierJson, { type: 'null' }] },
            channel: { type: 'string', enum: DELIVERY_CHANNELS },
            address: { type: 'string', minLength: 3, maxLength: 2_000 },
            categories: { type: 'array', items: { type: 'string', enum: ALERT_CATEGORIES }, maxItems: ALERT_CATEGORIES.length, uniqueItems: true },
            secret: { type: 'string', minLength: 16, maxLength: 200 },
          },
          additionalProperties: false,
        },
        response: { 201: recipientJson, '4xx': errorSchema },
      },
    },
    async (
      req: FastifyRequest<{ Body: { orgId?: string | null; siteId?: string | null; channel: DeliveryChannel; address: string; categories?: AlertCategory[]; secret?: string } }>,
      reply,
    ) => {
      const scope = orgScope(req);
      const b = req.body;
      let orgId = b.orgId ?? null;
      const siteId = b.siteId ?? null;
      if (scope !== undefined) {
        // A manager names who is told for their own organisation only (province-wide ones are the operator's).
        if (orgId !== null && orgId !== scope) return reply.code(403).send({ error: 'this organisation is not yours' });
        orgId = scope;
      } else if (orgId !== null && !(await directory.hasOrganisation(orgId))) {
        return reply.code(400).send({ error: `no organisation ${orgId} in the hub's registry` });
      }
      if (siteId !== null) {
        const site = (await directory.registeredSites()).find((s) => s.id === siteId);
        if (!site) return reply.code(400).send({ error: `no site ${siteId} in the hub's registry` });
        if (orgId !== null && site.orgId !== orgId) return reply.code(scope !== undefined ? 403 : 400).send({ error: `site ${siteId} is not organisation ${orgId}'s` });
      }
      if (b.channel === 'email' && b.secret !== undefined) return reply.code(400).send({ error: 'an e-mail recipient has no secret' });
      try {
        const r = await book.addRecipient({ orgId, siteId, channel: b.channel, address: b.address, ...(b.secret ? { secret: b.secret } : {}), ...(b.categories?.length ? { categories: b.categories } : {}) }, now());
        // The webhook's secret is in this answer and nowhere else afterwards: the receiver checks signatures with it.
        return await reply.code(201).header('Cache-Control', 'no-store').send({ ...r, secret: r.secret ?? undefined });
      } catch (err) {
        if (err instanceof AlertBookError) return reply.code(400).send({ error: err.message });
        throw err;
      }
    },
  );

  app.delete(
    '/api/alert-recipients/:id',
    {
      config: { access: OPERATOR_OR_MANAGER },
      schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ALERT_ID_PATTERN } }, additionalProperties: false }, response: { '4xx': errorSchema } },
    },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const scope = orgScope(req);
      const r = await book.recipient(req.params.id);
      // Another organisation's recipient is as absent as one that never was.
      if (!r || (scope !== undefined && r.orgId !== scope)) return reply.code(404).send({ error: `no recipient ${req.params.id}` });
      await book.removeRecipient(r.recipientId, now());
      changes.wake();
      return { recipientId: r.recipientId, removed: true };
    },
  );
}
