import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { AlertKind } from '../../../base/common/types.js';
import { inList, type HubSql, type HubSqlExecutor } from '../hub-sql.js';

/**
 * The hub's alert book (directory migration 0016): every alert the hub must bring to a person, with
 * who is told and how far each telling got.
 *
 * - `raise` records an alert once per dedup key (a kiosk's: `kiosk:<device>:<seq>`; the hub's own:
 *   `hub:<kind>:<subject>:<period>`) and, in the same transaction, one pending delivery per matching
 *   recipient. Raising the same key again changes nothing, so the hub raises on every receipt of a
 *   kiosk alert (also a duplicate: a crash between storing and raising loses nothing).
 * - Recipients match an alert when their organisation is the alert's or none (province-wide), their
 *   site is the alert's or none, and their category filter (if any) holds the alert's category. An
 *   alert with no organisation (a gate's emergency release, a silent kiosk) reaches province-wide
 *   recipients and those who named its site; an alert with no site (an organisation's list or tests)
 *   reaches every recipient of the organisation, whichever site they named. An alert nobody is to be
 *   told is still recorded, and the console shows it.
 * - A delivery is never dropped: the dispatcher (dispatcher.ts) leases due ones (`dueDeliveries`; a
 *   lease keeps two hub processes from sending the same one at once; each lease has a random token
 *   (migration 0019) and a result applies to the lease it was sent under, so the late result of a
 *   lease that ran out is recorded as an attempt without freeing another's live lease), and records each attempt
 *   (`markSent`, `markFailed`: state 'failed' means the last attempt failed and another is due at
 *   `next_attempt_ms`). Only removing the recipient ends its unsent deliveries ('cancelled').
 * - `change_seq` is bumped on every change of an alert (raised, acknowledged, a delivery's state)
 *   from a counter that only grows (`alert_change_counter`, migration 0019; a purge cannot lower it):
 *   `changesSince(cursor)` gives the console's live push what changed after the cursor it holds.
 *
 * What the book keeps names no worker: a kiosk alert's worker and reasons stay in the event store's
 * hub_alerts row (device, seq), shown only in the console behind its roles.
 */

export const ALERT_CATEGORIES = ['health', 'override', 'gate', 'device', 'compliance'] as const;
export type AlertCategory = (typeof ALERT_CATEGORIES)[number];
export const ALERT_SOURCES = ['kiosk', 'hub'] as const;
export type AlertSource = (typeof ALERT_SOURCES)[number];
export const DELIVERY_CHANNELS = ['email', 'webhook'] as const;
export type DeliveryChannel = (typeof DELIVERY_CHANNELS)[number];
export type DeliveryState = 'pending' | 'sent' | 'failed' | 'cancelled';

/** The hub-side alert kinds (hub-watch.ts). */
export const HUB_ALERT_KINDS = ['kiosk-silent', 'list-stale', 'tests-missing'] as const;
export type HubAlertKind = (typeof HUB_ALERT_KINDS)[number];

/** The category of a kiosk alert's kind. */
export function categoryOfKioskAlert(kind: AlertKind): AlertCategory {
  switch (kind) {
    case 'flagged-entry-attempt':
    case 'quarantined-entry-attempt':
    case 'confirmed-case-entry-attempt':
      return 'health';
    case 'supervisor-override':
      return 'override';
    case 'emergency-open':
    case 'emergency-cleared':
    case 'bus-stale-data':
      return 'gate';
  }
}

/** A kiosk's alert as the book raises it: deduplicated by device and sequence; no worker, no reasons. */
export function kioskRaisedAlert(deviceId: string, alert: { kind: AlertKind; seq: number; atMs: number; checkpointId: string }, orgId: string | null, siteId: string | null): RaisedAlert {
  return {
    dedupKey: `kiosk:${deviceId}:${alert.seq}`,
    source: 'kiosk',
    kind: alert.kind,
    category: categoryOfKioskAlert(alert.kind),
    orgId,
    siteId,
    checkpointId: alert.checkpointId,
    deviceId,
    seq: alert.seq,
    atMs: alert.atMs,
  };
}

export interface RaisedAlert {
  dedupKey: string;
  source: AlertSource;
  kind: string;
  category: AlertCategory;
  orgId: string | null;
  siteId: string | null;
  checkpointId: string | null;
  deviceId: string | null;
  /** A kiosk alert's sequence number on its device (its row in the store's hub_alerts). */
  seq: number | null;
  /** When it happened (the kiosk's time for a kiosk alert), epoch ms. */
  atMs: number;
}

export interface BookedAlert extends RaisedAlert {
  alertId: string;
  raisedAtMs: number;
  acknowledgedBy: string | null;
  acknowledgedAtMs: number | null;
  /** The change counter at the alert's last change. */
  changeSeq: number;
}

export interface Delivery {
  alertId: string;
  recipientId: string;
  channel: DeliveryChannel;
  state: DeliveryState;
  attempts: number;
  createdAtMs: number;
  nextAttemptAtMs: number;
  lastError: string | null;
  lastAttemptAtMs: number | null;
  sentAtMs: number | null;
  /**
   * Not yet accepted after `undeliveredAfter` attempts or time, or cancelled when every delivery of
   * its alert was cancelled and none sent (the list views show it as undelivered).
   */
  undelivered: boolean;
}

/** A delivery the dispatcher holds the lease of, with what it needs to send it. */
export interface DueDelivery {
  alert: BookedAlert;
  recipient: Recipient;
  attempts: number;
  createdAtMs: number;
  leaseUntilMs: number;
  /** This lease's random token: `markSent`/`markFailed` with it apply to this lease only. */
  leaseToken: string;
}

export interface Recipient {
  recipientId: string;
  orgId: string | null;
  siteId: string | null;
  channel: DeliveryChannel;
  /** An e-mail address or an http(s) URL. */
  address: string;
  /** The webhook's HMAC key (never listed: `listRecipients` leaves it out). */
  secret: string | null;
  /** Only these categories, or every one (null). */
  categories: AlertCategory[] | null;
  createdAtMs: number;
  disabled: boolean;
}

export interface NewRecipient {
  orgId: string | null;
  siteId: string | null;
  channel: DeliveryChannel;
  address: string;
  /** A webhook's HMAC key; made here (32 random bytes, base64url) when not given. */
  secret?: string | null;
  categories?: readonly AlertCategory[] | null;
}

export class AlertBookError extends Error {
  override name = 'AlertBookError';
}

export interface AlertBookOptions {
  sql: HubSql;
  /** A delivery not accepted after this many attempts... (default 5) */
  undeliveredAfterAttempts?: number;
  /** ...or this long after the alert (default 10 minutes) counts as undelivered in list views. */
  undeliveredAfterMs?: number;
}

const EMAIL_PATTERN = /^[^\s@<>(),;:"[\]]+@[^\s@<>(),;:"[\]]+\.[^\s@<>(),;:"[\]]+$/;

/** A clear refusal for an address that is not an e-mail address or an http(s) URL. */
export function checkAddress(channel: DeliveryChannel, address: string): string {
  const a = address.trim();
  if (channel === 'email') {
    if (a.length > 254 || !EMAIL_PATTERN.test(a)) throw new AlertBookError(`${JSON.stringify(address)} is not an e-mail address`);
    return a;
  }
  let url: URL;
  try {
    url = new URL(a);
  } catch {
    throw new AlertBookError(`${JSON.stringify(address)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new AlertBookError(`a webhook is an http or https URL, not ${url.protocol}`);
  if (url.username || url.password) throw new AlertBookError('a webhook URL carries no user or password (the HMAC secret authenticates the hub)');
  if (a.length > 2_000) throw new AlertBookError('the webhook URL is longer than 2,000 characters');
  return a;
}

type AlertRow = {
  alert_id: string;
  dedup_key: string;
  source: AlertSource;
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
  change_seq: number;
};

type RecipientRow = {
  recipient_id: string;
  org_id: string | null;
  site_id: string | null;
  channel: DeliveryChannel;
  address: string;
  secret: string | null;
  categories: string | null;
  created_ms: number;
  disabled: number;
};

type DeliveryRow = {
  alert_id: string;
  recipient_id: string;
  channel: DeliveryChannel;
  state: DeliveryState;
  attempts: number;
  created_ms: number;
  next_attempt_ms: number;
  last_error: string | null;
  last_attempt_ms: number | null;
  sent_ms: number | null;
};

function alertOf(r: AlertRow): BookedAlert {
  return {
    alertId: r.alert_id,
    dedupKey: r.dedup_key,
    source: r.source,
    kind: r.kind,
    category: r.category,
    orgId: r.org_id,
    siteId: r.site_id,
    checkpointId: r.checkpoint_id,
    deviceId: r.device_id,
    seq: r.seq === null ? null : Number(r.seq),
    atMs: Number(r.at_ms),
    raisedAtMs: Number(r.raised_ms),
    acknowledgedBy: r.acknowledged_by,
    acknowledgedAtMs: r.acknowledged_ms === null ? null : Number(r.acknowledged_ms),
    changeSeq: Number(r.change_seq),
  };
}

function recipientOf(r: RecipientRow, withSecret: boolean): Recipient {
  return {
    recipientId: r.recipient_id,
    orgId: r.org_id,
    siteId: r.site_id,
    channel: r.channel,
    address: r.address,
    secret: withSecret ? r.secret : null,
    categories: r.categories === null ? null : (r.categories.split(',').filter(Boolean) as AlertCategory[]),
    createdAtMs: Number(r.created_ms),
    disabled: Number(r.disabled) === 1,
  };
}

/** Short random ids: `a-` + 10 hex digits for alerts, `r-` + 8 for recipients. */
function newId(prefix: string, bytes: number): string {
  return `${prefix}-${randomBytes(bytes).toString('hex')}`;
}

/** The longest error text kept on a delivery (an SMTP or HTTP status line, never a message body). */
const MAX_ERROR_CHARS = 300;

/**
 * The organisations an alert that names none (a gate's emergency release, a silent kiosk) concerns:
 * the one its site is registered to, and those its checkpoint (or its device's) serves; their
 * organisation-wide recipients are told, as their managers see it in the console
 * (console/server/alert-routes.ts maySee).
 */
function servingOrganisations(a: Pick<RaisedAlert, 'siteId' | 'checkpointId' | 'deviceId'>) {
  return sql`SELECT org_id FROM sites WHERE site_id = ${a.siteId} AND org_id IS NOT NULL
    UNION SELECT org_id FROM checkpoint_orgs WHERE checkpoint_id = ${a.checkpointId}
    UNION SELECT co.org_id FROM checkpoint_orgs co JOIN device_sites d ON d.checkpoint_id = co.checkpoint_id WHERE d.device_id = ${a.deviceId}`;
}

export class AlertBook {
  private readonly sql: HubSql;
  private readonly undeliveredAfterAttempts: number;
  private readonly undeliveredAfterMs: number;
  private readonly raisedListeners = new Set<(alert: BookedAlert) => void>();

  constructor(options: AlertBookOptions) {
    this.sql = options.sql;
    this.undeliveredAfterAttempts = options.undeliveredAfterAttempts ?? 5;
    this.undeliveredAfterMs = options.undeliveredAfterMs ?? 10 * 60_000;
  }

  /** Called after each new alert is committed (the dispatcher wakes on it; the console may push on it). */
  onRaised(listener: (alert: BookedAlert) => void): () => void {
    this.raisedListeners.add(listener);
    return () => this.raisedListeners.delete(listener);
  }

  /**
   * The first of `count` new change numbers, from the one-row counter (migration 0019), bumped in the
   * caller's write transaction: it only grows, so a purge of the newest-changed alert never lets a
   * number be given twice (a console holding it would miss the next alert).
   */
  private async nextChange(tx: HubSqlExecutor, count = 1): Promise<number> {
    const r = await tx.get<{ last: number }>(sql`UPDATE alert_change_counter SET last = last + ${count} WHERE id = 1 RETURNING last`);
    return Number(r!.last) - count + 1;
  }

  /** Records the alert once per dedup key, with a pending delivery per matching recipient. */
  async raise(a: RaisedAlert, nowMs = Date.now()): Promise<{ alertId: string; isNew: boolean }> {
    if (!(ALERT_CATEGORIES as readonly string[]).includes(a.category)) throw new AlertBookError(`unknown alert category ${a.category}`);
    // Already booked (a kiosk's resend, the watch's next minute): answered without the write lock.
    const booked = await this.sql.get<{ alert_id: string }>(sql`SELECT alert_id FROM hub_alert_book WHERE dedup_key = ${a.dedupKey}`);
    if (booked) return { alertId: booked.alert_id, isNew: false };
    const result = await this.sql.write(async (tx) => {
      const existing = await tx.get<{ alert_id: string }>(sql`SELECT alert_id FROM hub_alert_book WHERE dedup_key = ${a.dedupKey}`);
      if (existing) return { alertId: existing.alert_id, isNew: false, row: undefined };
      const alertId = newId('a', 5);
      const change = await this.nextChange(tx);
      const row = await tx.get<AlertRow>(sql`
        INSERT INTO hub_alert_book (alert_id, dedup_key, source, kind, category, org_id, site_id, checkpoint_id, device_id, seq, at_ms, raised_ms, change_seq)
        VALUES (${alertId}, ${a.dedupKey}, ${a.source}, ${a.kind}, ${a.category}, ${a.orgId}, ${a.siteId}, ${a.checkpointId}, ${a.deviceId}, ${a.seq}, ${a.atMs}, ${nowMs}, ${change})
        RETURNING *`);
      await tx.run(sql`
        INSERT INTO alert_deliveries (alert_id, recipient_id, channel, state, attempts, created_ms, next_attempt_ms)
        SELECT CAST(${alertId} AS TEXT), r.recipient_id, r.channel, 'pending', 0, CAST(${nowMs} AS BIGINT), CAST(${nowMs} AS BIGINT)
        FROM alert_recipients r
        WHERE r.removed_ms IS NULL AND r.disabled = 0
          AND ${a.orgId === null ? sql`(r.org_id IS NULL OR r.site_id = ${a.siteId} OR (r.site_id IS NULL AND r.org_id IN (${servingOrganisations(a)})))` : sql`(r.org_id IS NULL OR r.org_id = ${a.orgId})`}
          AND ${a.siteId === null ? sql`(r.site_id IS NULL OR r.org_id = ${a.orgId})` : sql`(r.site_id IS NULL OR r.site_id = ${a.siteId})`}
          AND (r.categories IS NULL OR r.categories LIKE ${`%,${a.category},%`})`);
      return { alertId, isNew: true, row };
    });
    if (result.row) {
      const booked = alertOf(result.row);
      for (const l of this.raisedListeners) l(booked);
    }
    return { alertId: result.alertId, isNew: result.isNew };
  }

  async get(alertId: string): Promise<BookedAlert | undefined> {
    const r = await this.sql.get<AlertRow>(sql`SELECT * FROM hub_alert_book WHERE alert_id = ${alertId}`);
    return r && alertOf(r);
  }

  /** Newest first. `orgId`: that organisation's alerts (a manager's view: their org's and none else). */
  async list(filter: { orgId?: string; sinceMs?: number; limit?: number; unacknowledgedOnly?: boolean } = {}): Promise<BookedAlert[]> {
    const limit = Math.max(1, Math.min(filter.limit ?? 200, 5_000));
    const rows = await this.sql.all<AlertRow>(sql`
      SELECT * FROM hub_alert_book
      WHERE 1 = 1
        ${filter.orgId !== undefined ? sql`AND org_id = ${filter.orgId}` : sql``}
        ${filter.sinceMs !== undefined ? sql`AND raised_ms >= ${filter.sinceMs}` : sql``}
        ${filter.unacknowledgedOnly ? sql`AND acknowledged_ms IS NULL` : sql``}
      ORDER BY raised_ms DESC, alert_id
      LIMIT ${limit}`);
    return rows.map(alertOf);
  }

  /** Acknowledges once: true when this call did it, false when it was already acknowledged. Unknown id: an error. */
  async acknowledge(alertId: string, by: string, nowMs = Date.now()): Promise<boolean> {
    if (!by.trim()) throw new AlertBookError('who acknowledges is required');
    return this.sql.write(async (tx) => {
      const row = await tx.get<{ acknowledged_ms: number | null }>(sql`SELECT acknowledged_ms FROM hub_alert_book WHERE alert_id = ${alertId}`);
      if (!row) throw new AlertBookError(`no alert ${alertId}`);
      if (row.acknowledged_ms !== null) return false;
      const change = await this.nextChange(tx);
      await tx.run(sql`UPDATE hub_alert_book SET acknowledged_by = ${by.slice(0, 200)}, acknowledged_ms = ${nowMs}, change_seq = ${change} WHERE alert_id = ${alertId}`);
      return true;
    });
  }

  /** The deliveries of these alerts (every recipient's, removed ones' included). */
  async deliveries(alertIds: readonly string[], nowMs = Date.now()): Promise<Delivery[]> {
    const out: Delivery[] = [];
    for (let i = 0; i < alertIds.length; i += 1_000) {
      const rows = await this.sql.all<DeliveryRow & { raised_ms: number }>(sql`
        SELECT d.alert_id, d.recipient_id, d.channel, d.state, d.attempts, d.created_ms, d.next_attempt_ms, d.last_error, d.last_attempt_ms, d.sent_ms, a.raised_ms
        FROM alert_deliveries d JOIN hub_alert_book a ON a.alert_id = d.alert_id
        WHERE d.alert_id IN ${inList(alertIds.slice(i, i + 1_000))}
        ORDER BY d.alert_id, d.recipient_id`);
      for (const r of rows) out.push(this.deliveryOf(r, nowMs));
    }
    // An alert whose deliveries were all cancelled (recipients removed) with none sent reached nobody.
    const byAlert = new Map<string, Delivery[]>();
    for (const d of out) byAlert.set(d.alertId, [...(byAlert.get(d.alertId) ?? []), d]);
    for (const ds of byAlert.values()) if (ds.every((d) => d.state === 'cancelled')) for (const d of ds) d.undelivered = true;
    return out;
  }

  private deliveryOf(r: DeliveryRow, nowMs: number): Delivery {
    const attempts = Number(r.attempts);
    const unsent = r.state === 'pending' || r.state === 'failed';
    return {
      alertId: r.alert_id,
      recipientId: r.recipient_id,
      channel: r.channel,
      state: r.state,
      attempts,
      createdAtMs: Number(r.created_ms),
      nextAttemptAtMs: Number(r.next_attempt_ms),
      lastError: r.last_error,
      lastAttemptAtMs: r.last_attempt_ms === null ? null : Number(r.last_attempt_ms),
      sentAtMs: r.sent_ms === null ? null : Number(r.sent_ms),
      undelivered: unsent && (attempts >= this.undeliveredAfterAttempts || nowMs - Number(r.created_ms) >= this.undeliveredAfterMs),
    };
  }

  /**
   * Alerts raised or changed (acknowledged, a delivery's state) after `cursor` (0: from the start),
   * oldest change first, at most `limit`; `cursor` in the answer is the one to ask with next.
   */
  async changesSince(cursor: number, limit = 500): Promise<{ alerts: BookedAlert[]; cursor: number }> {
    const rows = await this.sql.all<AlertRow>(sql`SELECT * FROM hub_alert_book WHERE change_seq > ${cursor} ORDER BY change_seq LIMIT ${Math.max(1, Math.min(limit, 5_000))}`);
    const alerts = rows.map(alertOf);
    return { alerts, cursor: alerts.length ? alerts.at(-1)!.changeSeq : cursor };
  }

  /** The change counter now (a console page opening starts from here). */
  async currentCursor(): Promise<number> {
    const r = await this.sql.get<{ last: number }>(sql`SELECT last FROM alert_change_counter WHERE id = 1`);
    return Number(r?.last ?? 0);
  }

  async addRecipient(r: NewRecipient, nowMs = Date.now()): Promise<Recipient> {
    if (!(DELIVERY_CHANNELS as readonly string[]).includes(r.channel)) throw new AlertBookError(`a channel is email or webhook, not ${r.channel}`);
    const address = checkAddress(r.channel, r.address);
    if (r.siteId !== null && !r.siteId.trim()) throw new AlertBookError('the site id is empty');
    if (r.orgId !== null && !r.orgId.trim()) throw new AlertBookError('the organisation id is empty');
    const categories = r.categories?.length ? [...new Set(r.categories)] : null;
    for (const c of categories ?? []) if (!(ALERT_CATEGORIES as readonly string[]).includes(c)) throw new AlertBookError(`unknown alert category ${c} (one of ${ALERT_CATEGORIES.join(', ')})`);
    let secret: string | null = null;
    if (r.channel === 'webhook') {
      secret = r.secret ?? randomBytes(32).toString('base64url');
      if (secret.length < 16 || secret.length > 200) throw new AlertBookError('a webhook secret is 16 to 200 characters');
    } else if (r.secret) throw new AlertBookError('an e-mail recipient has no secret');
    const recipientId = newId('r', 4);
    await this.sql.write((tx) =>
      tx.run(sql`
        INSERT INTO alert_recipients (recipient_id, org_id, site_id, channel, address, secret, categories, created_ms, disabled)
        VALUES (${recipientId}, ${r.orgId}, ${r.siteId}, ${r.channel}, ${address}, ${secret}, ${categories ? `,${categories.join(',')},` : null}, ${nowMs}, 0)`),
    );
    return { recipientId, orgId: r.orgId, siteId: r.siteId, channel: r.channel, address, secret, categories, createdAtMs: nowMs, disabled: false };
  }

  /** Removes a recipient: its unsent deliveries end as 'cancelled' (kept, with the reason). False if there was none. */
  async removeRecipient(recipientId: string, nowMs = Date.now()): Promise<boolean> {
    return this.sql.write(async (tx) => {
      const n = await tx.run(sql`UPDATE alert_recipients SET removed_ms = ${nowMs} WHERE recipient_id = ${recipientId} AND removed_ms IS NULL`);
      if (!n) return false;
      const touched = await tx.all<{ alert_id: string }>(sql`
        UPDATE alert_deliveries SET state = 'cancelled', last_error = 'recipient removed', lease_until_ms = NULL
        WHERE recipient_id = ${recipientId} AND state IN ('pending', 'failed') RETURNING alert_id`);
      await this.touch(tx, touched.map((t) => t.alert_id));
      return true;
    });
  }

  /**
   * Changes a recipient's address (same channel) and/or category filter (null: every category),
   * keeping its deliveries: unsent ones go to the new address on their next attempt (the dispatcher
   * reads the recipient when it leases). The webhook secret stays. Undefined when there is no such
   * recipient (or it was removed).
   */
  async updateRecipient(recipientId: string, change: { address?: string; categories?: readonly AlertCategory[] | null }): Promise<Recipient | undefined> {
    if (change.address === undefined && change.categories === undefined) throw new AlertBookError('nothing to change: give an address or categories');
    for (const c of change.categories ?? []) if (!(ALERT_CATEGORIES as readonly string[]).includes(c)) throw new AlertBookError(`unknown alert category ${c} (one of ${ALERT_CATEGORIES.join(', ')})`);
    return this.sql.write(async (tx) => {
      const row = await tx.get<RecipientRow>(sql`SELECT * FROM alert_recipients WHERE recipient_id = ${recipientId} AND removed_ms IS NULL`);
      if (!row) return undefined;
      const address = change.address === undefined ? row.address : checkAddress(row.channel, change.address);
      const categories = change.categories === undefined ? row.categories : change.categories?.length ? `,${[...new Set(change.categories)].join(',')},` : null;
      await tx.run(sql`UPDATE alert_recipients SET address = ${address}, categories = ${categories} WHERE recipient_id = ${recipientId}`);
      return recipientOf({ ...row, address, categories }, false);
    });
  }

  /** Holds (true) or resumes (false) a recipient's deliveries; held ones wait, new alerts skip it. */
  async setRecipientDisabled(recipientId: string, disabled: boolean): Promise<boolean> {
    return this.sql.write(async (tx) => (await tx.run(sql`UPDATE alert_recipients SET disabled = ${disabled ? 1 : 0} WHERE recipient_id = ${recipientId} AND removed_ms IS NULL`)) > 0);
  }

  /** Recipients not removed (orgId: that organisation's; null: the province-wide ones), without their secrets. */
  async listRecipients(orgId?: string | null): Promise<Recipient[]> {
    const rows = await this.sql.all<RecipientRow>(sql`
      SELECT * FROM alert_recipients WHERE removed_ms IS NULL
        ${orgId === undefined ? sql`` : orgId === null ? sql`AND org_id IS NULL` : sql`AND org_id = ${orgId}`}
      ORDER BY created_ms, recipient_id`);
    return rows.map((r) => recipientOf(r, false));
  }

  /** One recipient (not removed), with its secret: for sending, not for showing. */
  async recipient(recipientId: string): Promise<Recipient | undefined> {
    const r = await this.sql.get<RecipientRow>(sql`SELECT * FROM alert_recipients WHERE recipient_id = ${recipientId} AND removed_ms IS NULL`);
    return r && recipientOf(r, true);
  }

  private async touch(tx: HubSqlExecutor, alertIds: readonly string[]): Promise<void> {
    const ids = [...new Set(alertIds)];
    if (!ids.length) return;
    // One new change value per alert, in a stable order.
    let change = await this.nextChange(tx, ids.length);
    for (const id of ids.sort()) await tx.run(sql`UPDATE hub_alert_book SET change_seq = ${change++} WHERE alert_id = ${id}`);
  }

  /**
   * Leases up to `limit` deliveries due now (pending or failed, next attempt due, no live lease,
   * recipient not held) for `leaseMs`: no other process takes them until the lease ends or they are
   * marked. Oldest due first.
   */
  async dueDeliveries(nowMs: number, limit: number, leaseMs = 60_000): Promise<DueDelivery[]> {
    // Asked every second by every hub process: the directory's one-writer-at-a-time lock only when something is due.
    // The same conditions as the lease below (held and removed recipients' deliveries wait): an idle
    // hub whose only due deliveries are a held recipient's never takes the lock.
    const any = await this.sql.get(sql`
      SELECT 1 AS due FROM alert_deliveries d JOIN alert_recipients r ON r.recipient_id = d.recipient_id
      WHERE d.state IN ('pending', 'failed') AND d.next_attempt_ms <= ${nowMs}
        AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= ${nowMs})
        AND r.disabled = 0 AND r.removed_ms IS NULL
      LIMIT 1`);
    if (!any) return [];
    return this.sql.write(async (tx) => {
      const rows = await tx.all<{ alert_id: string; recipient_id: string; attempts: number; created_ms: number }>(sql`
        SELECT d.alert_id, d.recipient_id, d.attempts, d.created_ms
        FROM alert_deliveries d JOIN alert_recipients r ON r.recipient_id = d.recipient_id
        WHERE d.state IN ('pending', 'failed') AND d.next_attempt_ms <= ${nowMs}
          AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= ${nowMs})
          AND r.disabled = 0 AND r.removed_ms IS NULL
        ORDER BY d.next_attempt_ms, d.alert_id, d.recipient_id
        LIMIT ${Math.max(1, limit)}`);
      if (!rows.length) return [];
      const leaseUntilMs = nowMs + leaseMs;
      const out: DueDelivery[] = [];
      const alerts = new Map((await tx.all<AlertRow>(sql`SELECT * FROM hub_alert_book WHERE alert_id IN ${inList([...new Set(rows.map((r) => r.alert_id))])}`)).map((a) => [a.alert_id, alertOf(a)]));
      const recipients = new Map(
        (await tx.all<RecipientRow>(sql`SELECT * FROM alert_recipients WHERE recipient_id IN ${inList([...new Set(rows.map((r) => r.recipient_id))])}`)).map((r) => [r.recipient_id, recipientOf(r, true)]),
      );
      for (const r of rows) {
        const leaseToken = randomBytes(8).toString('hex');
        await tx.run(sql`UPDATE alert_deliveries SET lease_until_ms = ${leaseUntilMs}, lease_token = ${leaseToken} WHERE alert_id = ${r.alert_id} AND recipient_id = ${r.recipient_id}`);
        out.push({ alert: alerts.get(r.alert_id)!, recipient: recipients.get(r.recipient_id)!, attempts: Number(r.attempts), createdAtMs: Number(r.created_ms), leaseUntilMs, leaseToken });
      }
      return out;
    });
  }

  /**
   * The receiver accepted it: sent, for good. With the `leaseToken` it was sent under (the
   * dispatcher's way): a send whose lease ran out and was taken by another process is still
   * recorded (the message went), without touching that process's lease; a result for a delivery
   * already sent counts as one more attempt. Without a token (tests, tools): a later result for a
   * delivery already sent changes nothing.
   */
  async markSent(alertId: string, recipientId: string, nowMs = Date.now(), leaseToken?: string): Promise<void> {
    await this.sql.write(async (tx) => {
      const key = sql`alert_id = ${alertId} AND recipient_id = ${recipientId}`;
      const n = await tx.run(sql`
        UPDATE alert_deliveries SET state = 'sent', attempts = attempts + 1, sent_ms = ${nowMs}, last_attempt_ms = ${nowMs},
          ${leaseToken === undefined ? sql`lease_until_ms = NULL, lease_token = NULL` : sql`lease_until_ms = CASE WHEN lease_token = ${leaseToken} THEN NULL ELSE lease_until_ms END`}
        WHERE ${key} AND state IN ('pending', 'failed')`);
      if (n) await this.touch(tx, [alertId]);
      else if (leaseToken !== undefined) await tx.run(sql`UPDATE alert_deliveries SET attempts = attempts + 1, last_attempt_ms = ${nowMs} WHERE ${key}`);
    });
  }

  /**
   * The attempt failed: recorded, the next one due at `nextAttemptMs`. `error` is short and names no
   * person. With the `leaseToken` it was tried under: a late failure of a lease that ran out (another
   * process holds the delivery now, or it was sent) is recorded as an attempt only; it neither clears
   * the live lease nor moves the next attempt, so no third sender takes it meanwhile.
   */
  async markFailed(alertId: string, recipientId: string, error: string, nextAttemptMs: number, nowMs = Date.now(), leaseToken?: string): Promise<void> {
    await this.sql.write(async (tx) => {
      const key = sql`alert_id = ${alertId} AND recipient_id = ${recipientId}`;
      const text = error.slice(0, MAX_ERROR_CHARS);
      const n = await tx.run(sql`
        UPDATE alert_deliveries SET state = 'failed', attempts = attempts + 1, last_error = ${text},
          last_attempt_ms = ${nowMs}, next_attempt_ms = ${nextAttemptMs}, lease_until_ms = NULL, lease_token = NULL
        WHERE ${key} AND state IN ('pending', 'failed') ${leaseToken === undefined ? sql`` : sql`AND lease_token = ${leaseToken}`}`);
      if (n) await this.touch(tx, [alertId]);
      else if (leaseToken !== undefined) {
        const late = await tx.run(sql`
          UPDATE alert_deliveries SET attempts = attempts + 1, last_attempt_ms = ${nowMs},
            last_error = CASE WHEN state IN ('pending', 'failed') THEN CAST(${text} AS TEXT) ELSE last_error END
          WHERE ${key}`);
        if (late) await this.touch(tx, [alertId]);
      }
    });
  }

  /**
   * The retention (sync/hub/retention.ts): alerts raised before `beforeMs` go with their deliveries,
   * except an alert with a delivery still unsent (pending or failed: never dropped); removed
   * recipients with no delivery left go too.
   */
  async purgeBefore(beforeMs: number): Promise<{ alerts: number; deliveries: number; recipients: number }> {
    return this.sql.write(async (tx) => {
      const old = sql`SELECT a.alert_id FROM hub_alert_book a WHERE a.raised_ms < ${beforeMs}
        AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.alert_id AND d.state IN ('pending', 'failed'))`;
      const deliveries = await tx.run(sql`DELETE FROM alert_deliveries WHERE alert_id IN (${old})`);
      const alerts = await tx.run(sql`DELETE FROM hub_alert_book WHERE alert_id IN (${old})`);
      const recipients = await tx.run(
        sql`DELETE FROM alert_recipients WHERE removed_ms IS NOT NULL AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.recipient_id = alert_recipients.recipient_id)`,
      );
      return { alerts, deliveries, recipients };
    });
  }

  /** The soonest next attempt of an unsent delivery, if any (the dispatcher sleeps until then). */
  async nextDueMs(): Promise<number | undefined> {
    const r = await this.sql.get<{ t: number | null }>(sql`SELECT min(next_attempt_ms) AS t FROM alert_deliveries WHERE state IN ('pending', 'failed')`);
    return r?.t === null || r?.t === undefined ? undefined : Number(r.t);
  }
}
