import { createHash, createPublicKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { identifierSchema } from '../../base/common/ids.js';
import { sql, type RawBuilder } from 'kysely';
import { chunksOf, inList, type HubSql, type HubSqlExecutor } from './hub-sql.js';
import { DEFAULT_PASS_DAYS, limitOf, MAX_PASS_DAYS, PassError, PassRegistry } from './passes.js';

/**
 * Personal phone links (directory migration 0009): how a worker's phone gets its phone-bound pass.
 *
 * - An organisation's manager (or an operator) makes a link per worker; the hub only makes links,
 *   the organisation sends them (SMS, Zalo). A link is single-use and expires (72 hours by default).
 *   Its token is 256 random bits, given once and stored only as its SHA-256.
 * - A new link for a worker retires the old phone's binding at once: their live phone passes are
 *   revoked (kiosks refuse them after their next download) and their unused links are retired, so a
 *   lost or replaced phone stops working when the manager makes the new link.
 * - A link is the organisation's to give only while the worker is on its list: the claim checks it, and
 *   a worker leaving the list (an upload without them, removal, erasure) retires their open links in
 *   the same transaction (triggers of directory migration 0014).
 * - Opened on the phone (console/phone/), the page makes a non-extractable P-256 key and sends its
 *   public half with the token; the hub then issues a phone-bound pass through the pass registry
 *   (sync/hub/passes.ts), signed with the hub's phone-pass key, and hands it back.
 *
 * Nothing here logs: a token is never written anywhere but in the link given to the manager.
 */

export const DEFAULT_LINK_HOURS = 72;
export const MAX_LINK_HOURS = 30 * 24;
/** 32 random bytes in base64url. */
export const LINK_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** The most links one call makes (a large team). */
const MAX_LINKS_PER_CALL = 5_000;
/** Links a multi-row INSERT carries (7 parameters each). */
const INSERT_ROWS = 500;

/** `left`: the worker is no longer on the list of the organisation that made the link (directory migration 0014). */
export type LinkState = 'open' | 'used' | 'expired' | 'retired' | 'left';
/** Why a link cannot be used; each is its own answer on the phone page. */
export type LinkRefusal = 'unknown' | 'used' | 'expired' | 'retired' | 'left';

export class PhoneLinkError extends Error {
  override name = 'PhoneLinkError';
  constructor(
    message: string,
    /** For a link that cannot be used: why (the phone page words it). */
    readonly refusal?: LinkRefusal,
  ) {
    super(message);
  }
}

/** A link just made: the token is here once and nowhere else. */
export interface MadeLink {
  linkId: string;
  workerId: string;
  fullName: string;
  team: string;
  token: string;
  expiresAtMs: number;
}

/** A link as the registry keeps it (never its token). */
export interface LinkRecord {
  linkId: string;
  workerId: string;
  orgId: string;
  madeBy: string;
  madeAtMs: number;
  expiresAtMs: number;
  usedAtMs: number | null;
  retiredAtMs: number | null;
  passId: string | null;
  state: LinkState;
}

/** What an open link shows on the phone before it is used: whose it is. */
export interface LinkPreview {
  fullName: string;
  orgName: string;
  expiresAtMs: number;
}

/** What the phone keeps after using its link. */
export interface PhoneBinding {
  /** The hub-signed COSE_Sign1 carrying the phone's key: the phone shows it inside every code. */
  pass: Uint8Array;
  passId: string;
  workerId: string;
  fullName: string;
  orgName: string;
  expiresAtMs: number;
}

export interface PhoneLinksOptions {
  /** The hub directory's database (HubDirectory's `sql`); whoever opened it closes it. */
  sql: HubSql;
  /** The hub's phone-pass key (role `phone-pass`); without it links are made and listed but not used. */
  phonePassKey?: KeyObject;
  /** The issuer written into each pass (the hub's id). */
  issuer?: string;
  /** How long a phone pass is valid. */
  passDays?: number;
  now?: () => number;
}

interface LinkRow {
  link_id: string;
  worker_id: string;
  org_id: string;
  made_by: string;
  made_ms: number;
  expires_ms: number;
  used_ms: number | null;
  retired_ms: number | null;
  retired_why: 'replaced' | 'left' | null;
  pass_id: string | null;
  /** 1 while the worker is on the list of the organisation that made the link. */
  listed: number;
}

// `listed` as 0/1 in both databases (PostgreSQL's EXISTS is a boolean).
const COLUMNS = sql.raw(
  'link_id, worker_id, org_id, made_by, made_ms, expires_ms, used_ms, retired_ms, retired_why, pass_id, CASE WHEN EXISTS (SELECT 1 FROM hub_workers w WHERE w.worker_id = phone_links.worker_id AND w.org_id = phone_links.org_id) THEN 1 ELSE 0 END AS listed',
);

export function tokenHashOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The address a worker opens: the token rides in the fragment, which browsers never send to a server or in a Referer. */
export function linkUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/phone/#t=${token}`;
}

/**
 * A phone's public key as the page sends it (WebCrypto's JWK export): only an EC P-256 public key
 * with x and y is taken; anything else is refused with the reason.
 */
export function phoneKeyFromJwk(jwk: unknown): KeyObject {
  if (typeof jwk !== 'object' || jwk === null) throw new PhoneLinkError('the phone key is not a JWK object');
  const { kty, crv, x, y, d } = jwk as Record<string, unknown>;
  if (d !== undefined) throw new PhoneLinkError('the phone sent a private key: only the public key may leave the phone');
  if (kty !== 'EC' || crv !== 'P-256' || typeof x !== 'string' || typeof y !== 'string') throw new PhoneLinkError('the phone key must be an EC P-256 public key');
  if (!/^[A-Za-z0-9_-]{43}$/.test(x) || !/^[A-Za-z0-9_-]{43}$/.test(y)) throw new PhoneLinkError('the phone key coordinates are not 32 bytes in base64url');
  try {
    return createPublicKey({ key: { kty, crv, x, y } as JsonWebKey, format: 'jwk' });
  } catch {
    throw new PhoneLinkError('the phone key is not a point on P-256');
  }
}

/**
 * The hub's phone links. Each method checks its input and refuses with a PhoneLinkError in plain
 * words; a manager's calls pass their organisation, and a worker or link of another is "not found".
 */
export class PhoneLinks {
  private readonly db: HubSql;
  private readonly passes: PassRegistry;
  private readonly now: () => number;

  constructor(private readonly options: PhoneLinksOptions) {
    this.now = options.now ?? Date.now;
    // The directory's one database, shared with the pass registry, so a link's claim and its pass are one transaction.
    this.db = options.sql;
    this.passes = new PassRegistry({
      sql: options.sql,
      ...(options.phonePassKey ? { phonePassKey: options.phonePassKey } : {}),
      ...(options.issuer ? { issuer: options.issuer } : {}),
      now: this.now,
    });
  }

  /** Whether links can be used here (the hub has a phone-pass key). */
  get canBind(): boolean {
    return this.options.phonePassKey !== undefined;
  }

  /**
   * Makes a link for each named worker (or each worker of a team) on the organisation's list, and
   * retires each one's earlier phone binding: their live phone passes are revoked, their unused links
   * retired. All or nothing, in one transaction: an unknown worker refuses the whole call.
   */
  async make(request: { orgId: string; workerIds?: readonly string[]; team?: string; madeBy: string; hours?: number }): Promise<MadeLink[]> {
    const orgId = checkId(request.orgId, 'organisation id');
    const madeBy = request.madeBy.trim();
    if (madeBy.length === 0 || madeBy.length > 128) throw new PhoneLinkError('who makes the links must be named (1 to 128 characters)');
    const hours = request.hours ?? DEFAULT_LINK_HOURS;
    if (!Number.isInteger(hours) || hours < 1 || hours > MAX_LINK_HOURS) throw new PhoneLinkError(`a link is valid for 1 to ${MAX_LINK_HOURS} hours`);
    if ((request.workerIds === undefined) === (request.team === undefined)) throw new PhoneLinkError('name the workers or a team, not both and not neither');
    return this.db.write(async (tx) => {
      if (!(await tx.get(sql`SELECT 1 AS one FROM organisations WHERE org_id = ${orgId}`))) throw new PhoneLinkError(`no organisation ${orgId}`);
      type Listed = { worker_id: string; full_name: string; team: string };
      let workers: Listed[];
      const ids = request.workerIds === undefined ? undefined : [...new Set(request.workerIds.map((id) => checkId(id, 'worker id')))];
      if (ids?.length === 0) throw new PhoneLinkError('name at least one worker');
      if (ids === undefined) {
        workers = await tx.all<Listed>(sql`SELECT worker_id, full_name, team FROM hub_workers WHERE org_id = ${orgId} AND team = ${request.team!} ORDER BY full_name, worker_id`);
        if (workers.length === 0) throw new PhoneLinkError(`organisation ${orgId} has no team ${JSON.stringify(request.team)} on its list`);
      } else {
        const byId = new Map<string, Listed>();
        for (const chunk of chunksOf(ids)) {
          for (const r of await tx.all<Listed>(sql`SELECT worker_id, full_name, team FROM hub_workers WHERE org_id = ${orgId} AND worker_id IN ${inList(chunk)}`)) byId.set(r.worker_id, r);
        }
        workers = ids.map((id) => {
          const row = byId.get(id);
          if (!row) throw new PhoneLinkError(`worker ${id} is not on organisation ${orgId}'s list`);
          return row;
        });
      }
      if (workers.length > MAX_LINKS_PER_CALL) throw new PhoneLinkError(`at most ${MAX_LINKS_PER_CALL} links at a time`);
      const workerIds = workers.map((w) => w.worker_id);
      // The old phones first: from here on they are refused, whether or not the new link is ever opened.
      await this.passes.revokeLive(tx, workerIds, { kind: 'phone', because: 'rebound', orgId });
      const nowMs = this.now();
      const expiresAtMs = nowMs + hours * 3_600_000;
      for (const chunk of chunksOf(workerIds)) {
        await tx.run(sql`UPDATE phone_links SET retired_ms = ${nowMs}, retired_why = 'replaced' WHERE worker_id IN ${inList(chunk)} AND used_ms IS NULL AND retired_ms IS NULL`);
      }
      const made = workers.map((w) => ({ linkId: randomBytes(8).toString('hex'), workerId: w.worker_id, fullName: w.full_name, team: w.team, token: randomBytes(32).toString('base64url'), expiresAtMs }));
      for (const chunk of chunksOf(made, INSERT_ROWS)) {
        const values = chunk.map((l) => sql`(${l.linkId}, ${tokenHashOf(l.token)}, ${l.workerId}, ${orgId}, ${madeBy}, ${nowMs}, ${expiresAtMs})`);
        await tx.run(sql`INSERT INTO phone_links (link_id, token_hash, worker_id, org_id, made_by, made_ms, expires_ms) VALUES ${sql.join(values)}`);
      }
      return made;
    });
  }

  /** Links, newest first, of one organisation and/or one worker (never their tokens). */
  async list(filter: { orgId?: string; workerId?: string; limit?: number } = {}): Promise<LinkRecord[]> {
    const where: RawBuilder<unknown>[] = [];
    if (filter.orgId !== undefined) where.push(sql`org_id = ${filter.orgId}`);
    if (filter.workerId !== undefined) where.push(sql`worker_id = ${filter.workerId}`);
    const rows = await this.db.all<LinkRow>(
      sql`SELECT ${COLUMNS} FROM phone_links ${where.length ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql``} ORDER BY made_ms DESC, link_id ${limitOf(filter.limit)}`,
    );
    return rows.map((r) => this.toRecord(r));
  }

  /** Whose an open link is, for the phone page to show before it is used; refuses a link that cannot be used. */
  async preview(token: string): Promise<LinkPreview> {
    const row = await this.openRow(token);
    return { ...(await this.names(this.db, row.worker_id, row.org_id)), expiresAtMs: row.expires_ms };
  }

  /**
   * Uses a link once: binds a phone pass to the phone's public key (a JWK as WebCrypto exports it).
   * The link is claimed and its pass issued in one transaction: the claim is one statement that
   * also requires the worker to be on the list of the organisation that made the link (so two phones
   * opening it at once cannot both get a pass, and a worker who has left that list gets none), and the
   * pass is recorded under that organisation. If the pass cannot be issued, nothing is kept and the
   * link stays usable.
   */
  async redeem(token: string, phoneJwk: unknown): Promise<PhoneBinding> {
    const holderKey = phoneKeyFromJwk(phoneJwk);
    if (!this.canBind) throw new PhoneLinkError('this hub has no phone-pass key (phone.passKey in its settings): phone passes cannot be issued');
    const row = await this.openRow(token);
    try {
      return await this.db.write(async (tx): Promise<PhoneBinding> => {
        const nowMs = this.now();
        const claimed = await tx.run(
          sql`UPDATE phone_links SET used_ms = ${nowMs} WHERE link_id = ${row.link_id} AND used_ms IS NULL AND retired_ms IS NULL AND expires_ms > ${nowMs}
                AND EXISTS (SELECT 1 FROM hub_workers w WHERE w.worker_id = phone_links.worker_id AND w.org_id = phone_links.org_id)`,
        );
        if (claimed !== 1) throw this.refusalOf((await tx.get<LinkRow>(sql`SELECT ${COLUMNS} FROM phone_links WHERE link_id = ${row.link_id}`))!);
        const passDays = Math.min(this.options.passDays ?? DEFAULT_PASS_DAYS, MAX_PASS_DAYS);
        const issued = await this.passes.signAndRecord(tx, row.org_id, row.worker_id, { expiresAt: new Date(nowMs + passDays * 86_400_000), kind: 'phone', holderKey });
        if (issued.kind !== 'phone') throw new PhoneLinkError('this link could not be used: try again');
        await tx.run(sql`UPDATE phone_links SET pass_id = ${issued.passId} WHERE link_id = ${row.link_id}`);
        return {
          pass: issued.signedPass,
          passId: issued.passId,
          workerId: row.worker_id,
          ...(await this.names(tx, row.worker_id, row.org_id)),
          expiresAtMs: issued.expiresAtMs,
        };
      });
    } catch (err) {
      if (err instanceof PassError) throw new PhoneLinkError(err.message);
      throw err;
    }
  }

  private async openRow(token: string): Promise<LinkRow> {
    if (typeof token !== 'string' || !LINK_TOKEN_PATTERN.test(token)) throw new PhoneLinkError('this link is not valid', 'unknown');
    const row = await this.db.get<LinkRow>(sql`SELECT ${COLUMNS} FROM phone_links WHERE token_hash = ${tokenHashOf(token)}`);
    if (!row) throw new PhoneLinkError('this link is not valid', 'unknown');
    const state = this.stateOf(row);
    if (state !== 'open') throw this.refusalOf(row);
    return row;
  }

  private refusalOf(row: LinkRow): PhoneLinkError {
    const state = this.stateOf(row);
    const words: Record<Exclude<LinkState, 'open'>, string> = {
      used: 'this link has already been used: ask your organisation for a new one',
      expired: 'this link has expired: ask your organisation for a new one',
      retired: 'a newer link was made for you: use that one',
      left: "you are no longer on the list of the organisation that made this link: it cannot be used",
    };
    return state === 'open' ? new PhoneLinkError('this link could not be used: try again') : new PhoneLinkError(words[state], state);
  }

  private async names(db: HubSqlExecutor, workerId: string, orgId: string): Promise<{ fullName: string; orgName: string }> {
    const w = await db.get<{ full_name: string }>(sql`SELECT full_name FROM hub_workers WHERE worker_id = ${workerId}`);
    const o = await db.get<{ name: string }>(sql`SELECT name FROM organisations WHERE org_id = ${orgId}`);
    return { fullName: w?.full_name ?? workerId, orgName: o?.name ?? orgId };
  }

  private stateOf(r: LinkRow): LinkState {
    if (r.used_ms !== null) return 'used';
    if (r.retired_why === 'left' || (r.retired_ms === null && !r.listed)) return 'left';
    if (r.retired_ms !== null) return 'retired';
    return r.expires_ms <= this.now() ? 'expired' : 'open';
  }

  private toRecord(r: LinkRow): LinkRecord {
    return {
      linkId: r.link_id,
      workerId: r.worker_id,
      orgId: r.org_id,
      madeBy: r.made_by,
      madeAtMs: r.made_ms,
      expiresAtMs: r.expires_ms,
      usedAtMs: r.used_ms,
      retiredAtMs: r.retired_ms,
      passId: r.pass_id,
      state: this.stateOf(r),
    };
  }
}

function checkId(value: string, what: string): string {
  const r = identifierSchema.safeParse(value);
  if (!r.success) throw new PhoneLinkError(`${what} ${JSON.stringify(value)}: ${r.error.issues[0]?.message ?? 'not an identifier'}`);
  return r.data;
}
