import type { KeyObject } from 'node:crypto';
import { issuePass, newPassId } from '../../base/node/pass.js';
import { issuePhonePass } from '../../base/node/phone-pass.js';
import { sql, type RawBuilder } from 'kysely';
import { identifierSchema, PASS_ID_PATTERN } from '../../base/common/ids.js';
import { chunksOf, inList, type HubSql, type HubSqlExecutor } from './hub-sql.js';
import { CARDS_PER_PAGE, drawPassSheet, MAX_CARDS_PER_SHEET } from './pass-sheet.js';

/**
 * The hub's pass registry: every pass the hub signs with its pass key is recorded (pass id, worker,
 * organisation, issued, expires, revoked), in the hub directory's database (directory migration 0008; on
 * PostgreSQL, the baseline of sync/hub/directory-pg-migrations.ts), through the directory's `HubSql`.
 *
 * - Only a worker on an organisation's uploaded list gets a pass, recorded under that organisation.
 * - Revoking a pass puts it on the revocations stream kiosks download (a trigger does it in the same
 *   transaction, whatever revoked it); revoking a worker revokes all their live passes; a worker who
 *   leaves the roster (an upload without them, `hub roster remove`) loses their live passes the same way.
 * - Issuing to a worker who already holds a live pass keeps both: the old one works until it is
 *   revoked or expires (a reprinted sheet does not strand a worker whose old card is still in their
 *   pocket; a lost card is revoked by its pass id).
 *
 * `PassRegistry` is province-wide (the operator's commands, phone links); `registry.of(orgId)` is one
 * organisation's desk, which the console gives a manager: every read and change through it is
 * limited to that organisation, and a pass or worker of another one is "not found", never shown.
 */

export const PASS_KINDS = ['printed', 'phone'] as const;
export type PassKind = (typeof PASS_KINDS)[number];

/** Why a pass was revoked: by its id, with all of its worker's, its worker left the roster, a new phone replaced it, an erasure. */
export const REVOCATION_CAUSES = ['pass', 'worker', 'removed', 'rebound', 'erased'] as const;
export type RevocationCause = (typeof REVOCATION_CAUSES)[number];

export type PassState = 'live' | 'expired' | 'revoked';

/** One pass as the registry holds it (never the QR text: that is given once, at issue, and on sheets). */
export interface PassRecord {
  passId: string;
  workerId: string;
  orgId: string;
  kind: PassKind;
  issuedAtMs: number;
  expiresAtMs: number;
  revokedAtMs: number | null;
  revokedBecause: RevocationCause | null;
  state: PassState;
}

/** A printed pass just signed: its record and the QR text to print (given once; sheets reprint it). */
export interface PrintedIssuedPass extends PassRecord {
  kind: 'printed';
  code: string;
}

/** A phone-bound pass just signed: its record and the signed pass (COSE_Sign1) the phone page keeps and shows with its proofs. */
export interface PhoneIssuedPass extends PassRecord {
  kind: 'phone';
  signedPass: Uint8Array;
}

export type IssuedPass = PrintedIssuedPass | PhoneIssuedPass;

/** What a bulk issue did. */
export interface IssueReport {
  issued: PrintedIssuedPass[];
  /** Of the workers issued to, those who already held a live pass of the same kind (kept; see the module comment). */
  alreadyHeld: number;
  /** Workers who left the organisation's list while a long bulk issue ran (none issued). */
  leftList: number;
}

/**
 * Passes a bulk issue signs and records per transaction: each chunk holds the directory's write lock
 * for a few tens of milliseconds, so uploads, kiosk downloads and other hub processes get their turn
 * between chunks (5,000 passes in one transaction held it for about 3 s on a loaded hub).
 */
export const ISSUE_CHUNK = 100;

/** A pass refusal in plain words (an unknown worker, a pass of another organisation...). */
export class PassError extends Error {
  override name = 'PassError';
}

/** The longest a pass may be valid: the pass key role's delivered lifetime (3 years). */
export const MAX_PASS_DAYS = 3 * 365;
/** A pass's validity when none is given. */
export const DEFAULT_PASS_DAYS = 365;

export interface PassRegistryOptions {
  /** The hub directory's database (HubDirectory's `sql`); whoever opened it closes it. */
  sql: HubSql;
  /** The hub's pass key (role `pass`) for printed passes; without it the registry can list and revoke but not issue them. */
  passKey?: KeyObject;
  /** The hub's phone pass key (role `phone-pass`) for phone-bound passes. */
  phonePassKey?: KeyObject;
  /** The issuer written into each pass. */
  issuer?: string;
  /** The clock (tests). */
  now?: () => number;
}

export interface IssueRequest {
  workerId: string;
  expiresAt: Date;
  kind: PassKind;
  /** The phone's public key (P-256, from WebCrypto) a phone-bound pass carries; required for `phone`, refused for `printed`. */
  holderKey?: KeyObject;
}

/** A row of the passes table, as read (the columns of `COLUMNS`). */
export interface PassRow {
  pass_id: string;
  worker_id: string;
  org_id: string;
  kind: PassKind;
  issued_ms: number;
  expires_ms: number;
  revoked_ms: number | null;
  revoked_why: RevocationCause | null;
}

/** A pass signed and not yet recorded (PassRegistry.sign, then .record): its row, and what is given back once. */
export interface SignedPass {
  row: PassRow & { holder_key: Buffer | null; code: string | null };
  code?: string;
  signedPass?: Uint8Array;
}

const COLUMNS = sql.raw('pass_id, worker_id, org_id, kind, issued_ms, expires_ms, revoked_ms, revoked_why');

/** Rows a multi-row INSERT carries (8 parameters each: well under both databases' limits). */
const INSERT_ROWS = 500;

export class PassRegistry {
  /** The directory's database (shared; the registry never closes it). */
  readonly sql: HubSql;
  private readonly now: () => number;

  constructor(private readonly options: PassRegistryOptions) {
    this.sql = options.sql;
    this.now = options.now ?? Date.now;
  }

  /**
   * Signs one pass for a worker on an organisation's list and records it: a printed pass (its QR
   * text), or with `kind: 'phone'` and the phone's key, a phone-bound pass (what the phone page keeps).
   */
  issue(request: IssueRequest & { kind: 'printed' }): Promise<PrintedIssuedPass>;
  issue(request: IssueRequest & { kind: 'phone'; holderKey: KeyObject }): Promise<PhoneIssuedPass>;
  issue(request: IssueRequest): Promise<IssuedPass>;
  async issue(request: IssueRequest): Promise<IssuedPass> {
    const workerId = checkId(request.workerId, 'worker id');
    // The list is read in the transaction that records the pass: a removal in between would otherwise
    // leave a live pass behind (the removal's trigger revokes only the passes that exist by then).
    return this.sql.write(async (tx) => {
      const orgId = (await tx.get<{ org_id: string }>(sql`SELECT org_id FROM hub_workers WHERE worker_id = ${workerId}`))?.org_id;
      if (orgId === undefined) throw new PassError(`worker ${workerId} is on no organisation's uploaded list`);
      return this.signAndRecord(tx, orgId, workerId, request);
    });
  }

  /** One organisation's passes: every read and change through it stays inside that organisation. */
  async of(orgId: string): Promise<OrganisationPasses> {
    const id = checkId(orgId, 'organisation id');
    if (!(await this.sql.get(sql`SELECT 1 AS one FROM organisations WHERE org_id = ${id}`))) throw new PassError(`no organisation ${id}`);
    return new OrganisationPasses(this, id);
  }

  /** A pass by its id (any organisation), or undefined. */
  async pass(passId: string): Promise<PassRecord | undefined> {
    return this.passIn(this.sql, passId);
  }

  /** Passes, newest first, of one organisation and/or one worker (one team's within an organisation). */
  async list(filter: { orgId?: string; workerId?: string; team?: string; limit?: number } = {}): Promise<PassRecord[]> {
    // Only the conditions given, so the worker's or the organisation's index serves the query.
    const where: RawBuilder<unknown>[] = [];
    if (filter.orgId !== undefined) where.push(sql`p.org_id = ${filter.orgId}`);
    if (filter.workerId !== undefined) where.push(sql`p.worker_id = ${filter.workerId}`);
    if (filter.team !== undefined) where.push(sql`p.worker_id IN (SELECT worker_id FROM hub_workers WHERE org_id = p.org_id AND team = ${filter.team})`);
    const rows = await this.sql.all<PassRow>(
      sql`SELECT ${COLUMNS} FROM passes p ${where.length ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql``} ORDER BY p.issued_ms DESC, p.pass_id ${limitOf(filter.limit)}`,
    );
    return rows.map((r) => this.toRecord(r));
  }

  /** Revokes one pass (kiosks refuse it after their next download); a pass already revoked is returned as it is. */
  async revokePass(passId: string, because: RevocationCause = 'pass', orgId?: string): Promise<PassRecord> {
    if (!PASS_ID_PATTERN.test(passId)) throw new PassError(`pass id ${JSON.stringify(passId)}: expected 16 lower-case hex digits, as \`hub pass list\` shows`);
    return this.sql.write(async (tx) => {
      const held = await this.passIn(tx, passId);
      if (!held || (orgId !== undefined && held.orgId !== orgId)) throw new PassError(`no pass ${passId}${orgId === undefined ? '' : ` in organisation ${orgId}`}`);
      await tx.run(sql`UPDATE passes SET revoked_ms = ${this.now()}, revoked_why = ${because}, code = NULL WHERE pass_id = ${passId} AND revoked_ms IS NULL`);
      return (await this.passIn(tx, passId))!;
    });
  }

  /**
   * Revokes every live pass of a worker (of one kind when given: a new phone retires the old phone's
   * pass only); returns the passes it revoked. Expired passes are left as they are: kiosks refuse them anyway.
   */
  async revokeWorker(workerId: string, options: { kind?: PassKind; because?: RevocationCause; orgId?: string } = {}): Promise<PassRecord[]> {
    const id = checkId(workerId, 'worker id');
    return this.sql.write(async (tx) => {
      if (
        options.orgId !== undefined &&
        !(await tx.get(sql`SELECT 1 AS one FROM passes WHERE worker_id = ${id} AND org_id = ${options.orgId} UNION SELECT 1 AS one FROM hub_workers WHERE worker_id = ${id} AND org_id = ${options.orgId}`))
      ) {
        throw new PassError(`no worker ${id} in organisation ${options.orgId}`);
      }
      return this.revokeLive(tx, [id], { ...options, because: options.because ?? 'worker' });
    });
  }

  /**
   * Retention (Decree 13): passes that expired before `beforeMs` leave the registry (who held them
   * included), and their revocations leave the revocations stream as tombstones: a kiosk refuses an
   * expired pass by its date anyway. The hub's retention calls this hourly with `retentionDays` ago,
   * so a pass stays traceable for that long after it expires.
   */
  async purgeExpired(beforeMs: number): Promise<{ passes: number; revocations: number }> {
    return this.sql.write(async (tx) => {
      const held = await tx.get<{ rev: number }>(sql`SELECT rev FROM stream_revisions WHERE stream = 'revocations'`);
      const rev = (held?.rev ?? 0) + 1;
      const revocations = await tx.run(
        sql`UPDATE records SET deleted = 1, value = 'null', rev = ${rev} WHERE stream = 'revocations' AND deleted = 0 AND key IN (SELECT pass_id FROM passes WHERE expires_ms < ${beforeMs})`,
      );
      if (revocations) await tx.run(sql`INSERT INTO stream_revisions (stream, rev) VALUES ('revocations', ${rev}) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev`);
      const passes = await tx.run(sql`DELETE FROM passes WHERE expires_ms < ${beforeMs}`);
      return { passes, revocations };
    });
  }

  // ---- for OrganisationPasses and PhoneLinks (same directory) -----------------------------------

  /** @internal The registry's clock. */
  nowMs(): number {
    return this.now();
  }

  /** @internal A pass by its id, read inside the caller's transaction. */
  async passIn(db: HubSqlExecutor, passId: string): Promise<PassRecord | undefined> {
    const row = await db.get<PassRow>(sql`SELECT ${COLUMNS} FROM passes WHERE pass_id = ${passId}`);
    return row && this.toRecord(row);
  }

  /**
   * @internal Revokes the live passes of these workers (of one kind, one organisation, when given) in
   * the caller's transaction, oldest first; the revocations trigger publishes each. Returns them as revoked.
   */
  async revokeLive(tx: HubSqlExecutor, workerIds: readonly string[], options: { kind?: PassKind; because: RevocationCause; orgId?: string }): Promise<PassRecord[]> {
    const nowMs = this.now();
    const revoked: PassRecord[] = [];
    for (const ids of chunksOf(workerIds)) {
      const conditions = [sql`worker_id IN ${inList(ids)}`, sql`revoked_ms IS NULL`, sql`expires_ms > ${nowMs}`];
      if (options.kind !== undefined) conditions.push(sql`kind = ${options.kind}`);
      if (options.orgId !== undefined) conditions.push(sql`org_id = ${options.orgId}`);
      const where = sql.join(conditions, sql` AND `);
      const live = await tx.all<PassRow>(sql`SELECT ${COLUMNS} FROM passes WHERE ${where} ORDER BY issued_ms, pass_id`);
      if (live.length === 0) continue;
      await tx.run(sql`UPDATE passes SET revoked_ms = ${nowMs}, revoked_why = ${options.because}, code = NULL WHERE pass_id IN ${inList(live.map((r) => r.pass_id))}`);
      for (const r of live) revoked.push(this.toRecord({ ...r, revoked_ms: nowMs, revoked_why: options.because }));
    }
    return revoked;
  }

  /** @internal Signs and records one pass; the caller holds the transaction and has checked the worker's organisation. */
  async signAndRecord(tx: HubSqlExecutor, orgId: string, workerId: string, request: Omit<IssueRequest, 'workerId'> & { kind: 'printed' }): Promise<PrintedIssuedPass>;
  async signAndRecord(tx: HubSqlExecutor, orgId: string, workerId: string, request: Omit<IssueRequest, 'workerId'>): Promise<IssuedPass>;
  async signAndRecord(tx: HubSqlExecutor, orgId: string, workerId: string, request: Omit<IssueRequest, 'workerId'>): Promise<IssuedPass> {
    return (await this.record(tx, [this.sign(orgId, workerId, request)]))[0]!;
  }

  /**
   * @internal Signs a pass for a worker of an organisation without recording it (`record` does, in
   * the caller's transaction): refuses a bad kind, expiry or key before anything is written.
   */
  sign(orgId: string, workerId: string, request: Omit<IssueRequest, 'workerId'>): SignedPass {
    if (!(PASS_KINDS as readonly string[]).includes(request.kind)) throw new PassError(`pass kind "${String(request.kind)}": expected ${PASS_KINDS.join(' or ')}`);
    const nowMs = this.now();
    const expiresMs = request.expiresAt.getTime();
    if (!Number.isFinite(expiresMs) || expiresMs <= nowMs) throw new PassError('the expiry must be in the future');
    if (expiresMs > nowMs + MAX_PASS_DAYS * 86_400_000) throw new PassError(`a pass is valid for at most ${MAX_PASS_DAYS} days`);
    const passId = newPassId();
    const issuedMs = Math.floor(nowMs / 1000) * 1000;
    const options = { workerId, passId, issuer: this.options.issuer ?? 'safegate-hub', expiresAt: request.expiresAt, issuedAt: new Date(issuedMs) };
    const row = { pass_id: passId, worker_id: workerId, org_id: orgId, issued_ms: issuedMs, expires_ms: Math.floor(expiresMs / 1000) * 1000, revoked_ms: null, revoked_why: null };
    if (request.kind === 'phone') {
      if (!request.holderKey) throw new PassError("a phone pass needs the phone's public key");
      const holderDer = holderKeyDer(request.holderKey);
      const key = this.options.phonePassKey;
      if (!key) throw new PassError('this hub has no phone pass key (phonePassKey in the hub settings; make one with `safegate keys generate --role phone-pass`)');
      const signed = issuePhonePass(key, { ...options, holderKey: request.holderKey });
      return { row: { ...row, kind: 'phone', holder_key: holderDer, code: null }, signedPass: signed.pass };
    }
    if (request.holderKey) throw new PassError('a printed pass carries no phone key');
    const key = this.options.passKey;
    if (!key) throw new PassError('this hub has no pass key (passKey in the hub settings; make one with `safegate keys generate --role pass`)');
    const code = issuePass(key, options);
    return { row: { ...row, kind: 'printed', holder_key: null, code }, code };
  }

  /** @internal Records signed passes in the caller's transaction, a few hundred rows a statement; returns them as issued. */
  async record(tx: HubSqlExecutor, signed: readonly SignedPass[]): Promise<IssuedPass[]> {
    for (const chunk of chunksOf(signed, INSERT_ROWS)) {
      const values = chunk.map(({ row: r }) => sql`(${r.pass_id}, ${r.worker_id}, ${r.org_id}, ${r.kind}, ${r.issued_ms}, ${r.expires_ms}, ${r.holder_key}, ${r.code})`);
      await tx.run(sql`INSERT INTO passes (pass_id, worker_id, org_id, kind, issued_ms, expires_ms, holder_key, code) VALUES ${sql.join(values)}`);
    }
    return signed.map((s): IssuedPass => (s.row.kind === 'phone' ? { ...this.toRecord(s.row), kind: 'phone', signedPass: s.signedPass! } : { ...this.toRecord(s.row), kind: 'printed', code: s.code! }));
  }

  /** @internal The QR text of a live printed pass (for sheets). */
  async printedCode(passId: string): Promise<string | undefined> {
    return (await this.sql.get<{ code: string | null }>(sql`SELECT code FROM passes WHERE pass_id = ${passId} AND revoked_ms IS NULL`))?.code ?? undefined;
  }

  private toRecord(r: PassRow): PassRecord {
    const state: PassState = r.revoked_ms !== null ? 'revoked' : r.expires_ms <= this.now() ? 'expired' : 'live';
    return {
      passId: r.pass_id,
      workerId: r.worker_id,
      orgId: r.org_id,
      kind: r.kind,
      issuedAtMs: r.issued_ms,
      expiresAtMs: r.expires_ms,
      revokedAtMs: r.revoked_ms,
      revokedBecause: r.revoked_why,
      state,
    };
  }
}

/** A worker on an organisation's list, as a sheet or the console shows them. */
export interface ListedWorkerName {
  workerId: string;
  fullName: string;
  team: string;
}

/** A worker's printed pass for a sheet. */
export interface SheetEntry extends ListedWorkerName {
  passId: string;
  code: string;
  expiresAtMs: number;
}

/**
 * One organisation's passes (the console's passes page for a manager of that organisation, or for an
 * operator who chose it). The organisation check is here, so a route cannot reach another's passes.
 */
export class OrganisationPasses {
  constructor(
    private readonly registry: PassRegistry,
    readonly orgId: string,
  ) {}

  /**
   * Issues passes to the organisation's workers: all of them, one team's, or the ones named (each must
   * be on this organisation's list; any that is not refuses the whole request, before anything is
   * signed). The passes are signed and recorded ISSUE_CHUNK at a time, each chunk its own transaction
   * (a few statements each, whatever the chunk's size), with the event loop given a turn between
   * chunks; a worker who leaves the list meanwhile is skipped (counted in `leftList`). A bad expiry
   * or a missing key refuses the first chunk, so nothing is issued.
   */
  async issue(request: { team?: string; workerIds?: readonly string[]; expiresAt: Date; kind?: 'printed' }): Promise<IssueReport> {
    const db = this.registry.sql;
    const workers = await this.chooseWorkers(db, request);
    if (workers.length === 0) throw new PassError(request.team !== undefined ? `team ${JSON.stringify(request.team)} of ${this.orgId} has no workers` : `${this.orgId} has no workers on its list`);
    let alreadyHeld = 0;
    let leftList = 0;
    const issued: PrintedIssuedPass[] = [];
    for (let from = 0; from < workers.length; from += ISSUE_CHUNK) {
      // Uploads, kiosk downloads and the console get their turn between chunks.
      if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const ids = workers.slice(from, from + ISSUE_CHUNK).map((w) => w.workerId);
      await db.write(async (tx) => {
        const listed = new Set((await tx.all<{ worker_id: string }>(sql`SELECT worker_id FROM hub_workers WHERE org_id = ${this.orgId} AND worker_id IN ${inList(ids)}`)).map((r) => r.worker_id));
        const holders = new Set(
          (
            await tx.all<{ worker_id: string }>(
              sql`SELECT DISTINCT worker_id FROM passes WHERE worker_id IN ${inList(ids)} AND kind = 'printed' AND revoked_ms IS NULL AND expires_ms > ${this.registry.nowMs()}`,
            )
          ).map((r) => r.worker_id),
        );
        const signed = [];
        for (const id of ids) {
          if (!listed.has(id)) {
            leftList++;
            continue;
          }
          if (holders.has(id)) alreadyHeld++;
          signed.push(this.registry.sign(this.orgId, id, { expiresAt: request.expiresAt, kind: 'printed' }));
        }
        issued.push(...((await this.registry.record(tx, signed)) as PrintedIssuedPass[]));
      });
    }
    return { issued, alreadyHeld, leftList };
  }

  /** As issue() (which now gives the event loop a turn between chunks itself); kept for the console's callers. */
  issueYielding(request: { team?: string; workerIds?: readonly string[]; expiresAt: Date; kind?: 'printed' }): Promise<IssueReport> {
    return this.issue(request);
  }

  /** This organisation's passes, newest first (one worker's, or one team's, when given). */
  list(filter: { workerId?: string; team?: string; limit?: number } = {}): Promise<PassRecord[]> {
    return this.registry.list({ ...filter, orgId: this.orgId });
  }

  /** Revokes one of this organisation's passes; a pass of another organisation is "not found". */
  revokePass(passId: string): Promise<PassRecord> {
    return this.registry.revokePass(passId, 'pass', this.orgId);
  }

  /** Revokes every live pass of one of this organisation's workers. */
  revokeWorker(workerId: string): Promise<PassRecord[]> {
    return this.registry.revokeWorker(workerId, { orgId: this.orgId });
  }

  /**
   * The name and team of each of these workers on the organisation's list, in one query (a few for a
   * very long list): what a list of passes shows beside the worker id (never their ID number, phone or residence).
   */
  async workerNames(workerIds: readonly string[]): Promise<Map<string, { fullName: string; team: string }>> {
    const names = new Map<string, { fullName: string; team: string }>();
    for (const ids of chunksOf([...new Set(workerIds)])) {
      const rows = await this.registry.sql.all<ListedWorkerName>(
        sql`SELECT worker_id AS "workerId", full_name AS "fullName", team FROM hub_workers WHERE org_id = ${this.orgId} AND worker_id IN ${inList(ids)}`,
      );
      for (const r of rows) names.set(r.workerId, { fullName: r.fullName, team: r.team });
    }
    return names;
  }

  /** The organisation's teams (from its uploaded list), by name. */
  async teams(): Promise<string[]> {
    return (await this.registry.sql.all<{ team: string }>(sql`SELECT DISTINCT team FROM hub_workers WHERE org_id = ${this.orgId} ORDER BY team`)).map((r) => r.team);
  }

  /**
   * What a team's sheet prints: each worker of the team (by name) with their newest live printed
   * pass; a worker without one is issued one now (valid until `expiresAt`), so a sheet always covers
   * the whole team. A team of more than MAX_CARDS_PER_SHEET workers is printed in parts (1, 2, ...:
   * the team by name, MAX_CARDS_PER_SHEET each); asking such a team's sheet without a part is refused
   * with how many parts it takes.
   */
  async sheetEntries(team: string, expiresAt: Date, part?: number): Promise<{ entries: SheetEntry[]; issued: number; part: number; parts: number }> {
    return this.registry.sql.write(async (tx) => {
      const all = await this.chooseWorkers(tx, { team });
      if (all.length === 0) throw new PassError(`team ${JSON.stringify(team)} of ${this.orgId} has no workers`);
      const parts = Math.ceil(all.length / MAX_CARDS_PER_SHEET);
      if (part === undefined && parts > 1) {
        throw new PassError(`team ${JSON.stringify(team)} has ${all.length} workers and a sheet holds at most ${MAX_CARDS_PER_SHEET}: print it in ${parts} parts (part 1 to ${parts}), or split the team`);
      }
      const chosen = part ?? 1;
      if (!Number.isInteger(chosen) || chosen < 1 || chosen > parts) throw new PassError(`team ${JSON.stringify(team)} is printed in ${parts} part${parts === 1 ? '' : 's'}: part ${chosen} does not exist`);
      const workers = all.slice((chosen - 1) * MAX_CARDS_PER_SHEET, chosen * MAX_CARDS_PER_SHEET);
      // Each worker's newest live printed pass: the first row per worker, newest first.
      const newest = new Map<string, { pass_id: string; code: string; expires_ms: number }>();
      const held = await tx.all<{ worker_id: string; pass_id: string; code: string; expires_ms: number }>(
        sql`SELECT worker_id, pass_id, code, expires_ms FROM passes
            WHERE worker_id IN ${inList(workers.map((w) => w.workerId))} AND org_id = ${this.orgId} AND kind = 'printed' AND revoked_ms IS NULL AND code IS NOT NULL AND expires_ms > ${this.registry.nowMs()}
            ORDER BY issued_ms DESC, pass_id`,
      );
      for (const h of held) if (!newest.has(h.worker_id)) newest.set(h.worker_id, h);
      const missing = workers.filter((w) => !newest.has(w.workerId));
      const signed = missing.map((w) => this.registry.sign(this.orgId, w.workerId, { expiresAt, kind: 'printed' }));
      for (const p of (await this.registry.record(tx, signed)) as PrintedIssuedPass[]) newest.set(p.workerId, { pass_id: p.passId, code: p.code, expires_ms: p.expiresAtMs });
      const entries = workers.map((w): SheetEntry => {
        const p = newest.get(w.workerId)!;
        return { ...w, passId: p.pass_id, code: p.code, expiresAtMs: p.expires_ms };
      });
      return { entries, issued: missing.length, part: chosen, parts };
    });
  }

  /** The organisation's name, as its sheets print it. */
  async name(): Promise<string> {
    return (await this.registry.sql.get<{ name: string }>(sql`SELECT name FROM organisations WHERE org_id = ${this.orgId}`))!.name;
  }

  /**
   * A team's A4 sheet of printed passes (PDF bytes, sync/hub/pass-sheet.ts), workers without a live
   * printed pass issued one (valid until `expiresAt`); drawn in a worker thread, off the hub's event
   * loop. The console's "print" button calls this. A team larger than MAX_CARDS_PER_SHEET names its `part`.
   */
  async sheet(team: string, options: { expiresAt: Date; zone: string; part?: number }): Promise<{ pdf: Uint8Array; passes: number; pages: number; issued: number; part: number; parts: number }> {
    const { entries, issued, part, parts } = await this.sheetEntries(team, options.expiresAt, options.part);
    const name = await this.name();
    const title = parts > 1 ? `${name} — ${team} (${part}/${parts})` : `${name} — ${team}`;
    const pdf = await drawPassSheet(entries, { title, zone: options.zone, nowMs: this.registry.nowMs() });
    return { pdf, passes: entries.length, pages: Math.ceil(entries.length / CARDS_PER_PAGE), issued, part, parts };
  }

  private async chooseWorkers(db: HubSqlExecutor, request: { team?: string; workerIds?: readonly string[] }): Promise<ListedWorkerName[]> {
    if (request.workerIds !== undefined && request.team !== undefined) throw new PassError('name a team or workers, not both');
    if (request.workerIds !== undefined) {
      const ids = [...new Set(request.workerIds.map((w) => checkId(w, 'worker id')))];
      if (ids.length === 0) throw new PassError('name at least one worker');
      const byId = new Map<string, ListedWorkerName>();
      for (const chunk of chunksOf(ids)) {
        const rows = await db.all<ListedWorkerName>(sql`SELECT worker_id AS "workerId", full_name AS "fullName", team FROM hub_workers WHERE org_id = ${this.orgId} AND worker_id IN ${inList(chunk)}`);
        for (const r of rows) byId.set(r.workerId, r);
      }
      const missing = ids.filter((id) => !byId.has(id));
      if (missing.length) throw new PassError(`not on ${this.orgId}'s list: ${missing.join(', ')}`);
      // In the order named.
      return ids.map((id) => byId.get(id)!);
    }
    return db.all<ListedWorkerName>(
      sql`SELECT worker_id AS "workerId", full_name AS "fullName", team FROM hub_workers WHERE org_id = ${this.orgId} ${request.team !== undefined ? sql`AND team = ${request.team}` : sql``} ORDER BY team, full_name, worker_id`,
    );
  }
}

/** `LIMIT n` when a limit is given (SQLite's LIMIT -1 and PostgreSQL's LIMIT ALL differ; no clause means no limit in both). */
export function limitOf(limit: number | undefined): RawBuilder<unknown> {
  return limit === undefined || limit < 0 ? sql`` : sql`LIMIT ${Math.floor(limit)}`;
}

function checkId(value: string, what: string): string {
  const r = identifierSchema.safeParse(value);
  if (!r.success) throw new PassError(`${what} ${JSON.stringify(value)}: ${r.error.issues[0]?.message ?? 'not an identifier'}`);
  return r.data;
}

/** The phone's key as the registry keeps it (SPKI DER); only a P-256 public key is taken. */
function holderKeyDer(key: KeyObject): Buffer {
  if (key.type !== 'public') throw new PassError("the phone key must be a public key");
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new PassError('the phone key must be a P-256 (ECDSA) key');
  return key.export({ type: 'spki', format: 'der' });
}
