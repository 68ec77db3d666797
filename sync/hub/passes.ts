import type { KeyObject } from 'node:crypto';
import { issuePass, newPassId } from '../../base/node/pass.js';
import { issuePhonePass } from '../../base/node/phone-pass.js';
import { openDatabase, type SqliteDatabase } from '../../base/node/sqlite.js';
import { identifierSchema, PASS_ID_PATTERN } from '../../base/common/ids.js';
import { DIRECTORY_MIGRATIONS } from './directory.js';
import { CARDS_PER_PAGE, drawPassSheet, MAX_CARDS_PER_SHEET } from './pass-sheet.js';

/**
 * The hub's pass registry: every pass the hub signs with its pass key is recorded (pass id, worker,
 * organisation, issued, expires, revoked), in the hub directory's database (directory migration 0008).
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
  /** The hub directory's SQLite file (the settings' directory.path). */
  directoryPath: string;
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

interface PassRow {
  pass_id: string;
  worker_id: string;
  org_id: string;
  kind: PassKind;
  issued_ms: number;
  expires_ms: number;
  revoked_ms: number | null;
  revoked_why: RevocationCause | null;
}

const COLUMNS = 'pass_id, worker_id, org_id, kind, issued_ms, expires_ms, revoked_ms, revoked_why';

export class PassRegistry {
  private readonly db: SqliteDatabase;
  private readonly now: () => number;

  constructor(private readonly options: PassRegistryOptions) {
    this.db = openDatabase(options.directoryPath, { migrations: DIRECTORY_MIGRATIONS, busyTimeoutMs: 5_000 });
    this.now = options.now ?? Date.now;
  }

  /**
   * Signs one pass for a worker on an organisation's list and records it: a printed pass (its QR
   * text), or with `kind: 'phone'` and the phone's key, a phone-bound pass (what the phone page keeps).
   */
  issue(request: IssueRequest & { kind: 'printed' }): PrintedIssuedPass;
  issue(request: IssueRequest & { kind: 'phone'; holderKey: KeyObject }): PhoneIssuedPass;
  issue(request: IssueRequest): IssuedPass;
  issue(request: IssueRequest): IssuedPass {
    const workerId = checkId(request.workerId, 'worker id');
    const orgId = (this.db.prepare('SELECT org_id FROM hub_workers WHERE worker_id = ?').get(workerId) as { org_id: string } | undefined)?.org_id;
    if (orgId === undefined) throw new PassError(`worker ${workerId} is on no organisation's uploaded list`);
    return this.db.transaction(() => this.signAndRecord(orgId, workerId, request)).immediate();
  }

  /** One organisation's passes: every read and change through it stays inside that organisation. */
  of(orgId: string): OrganisationPasses {
    const id = checkId(orgId, 'organisation id');
    if (!this.db.prepare('SELECT 1 FROM organisations WHERE org_id = ?').get(id)) throw new PassError(`no organisation ${id}`);
    return new OrganisationPasses(this, id);
  }

  /** A pass by its id (any organisation), or undefined. */
  pass(passId: string): PassRecord | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM passes WHERE pass_id = ?`).get(passId) as PassRow | undefined;
    return row && this.toRecord(row);
  }

  /** Passes, newest first, of one organisation and/or one worker (one team's within an organisation). */
  list(filter: { orgId?: string; workerId?: string; team?: string; limit?: number } = {}): PassRecord[] {
    // Only the conditions given, so the worker's or the organisation's index serves the query.
    const where: string[] = [];
    if (filter.orgId !== undefined) where.push('p.org_id = @org');
    if (filter.workerId !== undefined) where.push('p.worker_id = @worker');
    if (filter.team !== undefined) where.push('p.worker_id IN (SELECT worker_id FROM hub_workers WHERE org_id = p.org_id AND team = @team)');
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM passes p ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY p.issued_ms DESC, p.pass_id LIMIT @limit`)
      .all({ limit: filter.limit ?? -1, ...(filter.orgId !== undefined ? { org: filter.orgId } : {}), ...(filter.workerId !== undefined ? { worker: filter.workerId } : {}), ...(filter.team !== undefined ? { team: filter.team } : {}) }) as PassRow[];
    return rows.map((r) => this.toRecord(r));
  }

  /** Revokes one pass (kiosks refuse it after their next download); a pass already revoked is returned as it is. */
  revokePass(passId: string, because: RevocationCause = 'pass', orgId?: string): PassRecord {
    if (!PASS_ID_PATTERN.test(passId)) throw new PassError(`pass id ${JSON.stringify(passId)}: expected 16 lower-case hex digits, as \`hub pass list\` shows`);
    return this.db
      .transaction(() => {
        const held = this.pass(passId);
        if (!held || (orgId !== undefined && held.orgId !== orgId)) throw new PassError(`no pass ${passId}${orgId === undefined ? '' : ` in organisation ${orgId}`}`);
        this.db.prepare('UPDATE passes SET revoked_ms = ?, revoked_why = ?, code = NULL WHERE pass_id = ? AND revoked_ms IS NULL').run(this.now(), because, passId);
        return this.pass(passId)!;
      })
      .immediate();
  }

  /**
   * Revokes every live pass of a worker (of one kind when given: a new phone retires the old phone's
   * pass only); returns the passes it revoked. Expired passes are left as they are: kiosks refuse them anyway.
   */
  revokeWorker(workerId: string, options: { kind?: PassKind; because?: RevocationCause; orgId?: string } = {}): PassRecord[] {
    const id = checkId(workerId, 'worker id');
    return this.db
      .transaction(() => {
        if (options.orgId !== undefined && !this.db.prepare('SELECT 1 FROM passes WHERE worker_id = ? AND org_id = ? UNION SELECT 1 FROM hub_workers WHERE worker_id = ? AND org_id = ?').get(id, options.orgId, id, options.orgId)) {
          throw new PassError(`no worker ${id} in organisation ${options.orgId}`);
        }
        const nowMs = this.now();
        const live = this.db
          .prepare('SELECT pass_id FROM passes WHERE worker_id = @worker AND revoked_ms IS NULL AND expires_ms > @now AND (@kind IS NULL OR kind = @kind) AND (@org IS NULL OR org_id = @org) ORDER BY issued_ms')
          .all({ worker: id, now: nowMs, kind: options.kind ?? null, org: options.orgId ?? null }) as { pass_id: string }[];
        const revoke = this.db.prepare('UPDATE passes SET revoked_ms = ?, revoked_why = ?, code = NULL WHERE pass_id = ?');
        for (const r of live) revoke.run(nowMs, options.because ?? 'worker', r.pass_id);
        return live.map((r) => this.pass(r.pass_id)!);
      })
      .immediate();
  }

  /**
   * Retention (Decree 13): passes that expired before `beforeMs` leave the registry (who held them
   * included), and their revocations leave the revocations stream as tombstones: a kiosk refuses an
   * expired pass by its date anyway. The hub's retention calls this hourly with `retentionDays` ago,
   * so a pass stays traceable for that long after it expires.
   */
  purgeExpired(beforeMs: number): { passes: number; revocations: number } {
    return this.db
      .transaction(() => {
        const held = this.db.prepare("SELECT rev FROM stream_revisions WHERE stream = 'revocations'").get() as { rev: number } | undefined;
        const rev = (held?.rev ?? 0) + 1;
        const revocations = this.db
          .prepare("UPDATE records SET deleted = 1, value = 'null', rev = ? WHERE stream = 'revocations' AND deleted = 0 AND key IN (SELECT pass_id FROM passes WHERE expires_ms < ?)")
          .run(rev, beforeMs).changes;
        if (revocations) this.db.prepare("INSERT INTO stream_revisions (stream, rev) VALUES ('revocations', ?) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev").run(rev);
        const passes = this.db.prepare('DELETE FROM passes WHERE expires_ms < ?').run(beforeMs).changes;
        return { passes, revocations };
      })
      .immediate();
  }

  close(): void {
    this.db.close();
  }

  // ---- for OrganisationPasses (same module) ----------------------------------------------------

  /** @internal */
  database(): SqliteDatabase {
    return this.db;
  }

  /** @internal The registry's clock. */
  nowMs(): number {
    return this.now();
  }

  /** @internal Signs and records one pass; the caller holds the transaction and has checked the worker's organisation. */
  signAndRecord(orgId: string, workerId: string, request: Omit<IssueRequest, 'workerId'> & { kind: 'printed' }): PrintedIssuedPass;
  signAndRecord(orgId: string, workerId: string, request: Omit<IssueRequest, 'workerId'>): IssuedPass;
  signAndRecord(orgId: string, workerId: string, request: Omit<IssueRequest, 'workerId'>): IssuedPass {
    if (!(PASS_KINDS as readonly string[]).includes(request.kind)) throw new PassError(`pass kind "${String(request.kind)}": expected ${PASS_KINDS.join(' or ')}`);
    const nowMs = this.now();
    const expiresMs = request.expiresAt.getTime();
    if (!Number.isFinite(expiresMs) || expiresMs <= nowMs) throw new PassError('the expiry must be in the future');
    if (expiresMs > nowMs + MAX_PASS_DAYS * 86_400_000) throw new PassError(`a pass is valid for at most ${MAX_PASS_DAYS} days`);
    const passId = newPassId();
    const issuedMs = Math.floor(nowMs / 1000) * 1000;
    const options = { workerId, passId, issuer: this.options.issuer ?? 'safegate-hub', expiresAt: request.expiresAt, issuedAt: new Date(issuedMs) };
    const record = this.db.prepare('INSERT INTO passes (pass_id, worker_id, org_id, kind, issued_ms, expires_ms, holder_key, code) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    if (request.kind === 'phone') {
      if (!request.holderKey) throw new PassError("a phone pass needs the phone's public key");
      const holderDer = holderKeyDer(request.holderKey);
      const key = this.options.phonePassKey;
      if (!key) throw new PassError('this hub has no phone pass key (phonePassKey in the hub settings; make one with `safegate keys generate --role phone-pass`)');
      const signed = issuePhonePass(key, { ...options, holderKey: request.holderKey });
      record.run(passId, workerId, orgId, 'phone', issuedMs, Math.floor(expiresMs / 1000) * 1000, holderDer, null);
      return { ...this.pass(passId)!, kind: 'phone', signedPass: signed.pass };
    }
    if (request.holderKey) throw new PassError('a printed pass carries no phone key');
    const key = this.options.passKey;
    if (!key) throw new PassError('this hub has no pass key (passKey in the hub settings; make one with `safegate keys generate --role pass`)');
    const code = issuePass(key, options);
    record.run(passId, workerId, orgId, 'printed', issuedMs, Math.floor(expiresMs / 1000) * 1000, null, code);
    return { ...this.pass(passId)!, kind: 'printed', code };
  }

  /** @internal The QR text of a live printed pass (for sheets). */
  printedCode(passId: string): string | undefined {
    return (this.db.prepare('SELECT code FROM passes WHERE pass_id = ? AND revoked_ms IS NULL').get(passId) as { code: string | null } | undefined)?.code ?? undefined;
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
   * signed). The passes are signed and recorded ISSUE_CHUNK at a time, each chunk its own transaction;
   * a worker who leaves the list meanwhile is skipped (counted in `leftList`). A bad expiry or a
   * missing key refuses the first chunk, so nothing is issued.
   */
  issue(request: { team?: string; workerIds?: readonly string[]; expiresAt: Date; kind?: 'printed' }): IssueReport {
    const steps = this.issueInChunks(request);
    for (let step = steps.next(); ; step = steps.next()) if (step.done) return step.value;
  }

  /** As issue(), giving the event loop a turn between chunks (the console: a large organisation does not stall the hub). */
  async issueYielding(request: { team?: string; workerIds?: readonly string[]; expiresAt: Date; kind?: 'printed' }): Promise<IssueReport> {
    const steps = this.issueInChunks(request);
    for (let step = steps.next(); ; step = steps.next()) {
      if (step.done) return step.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private *issueInChunks(request: { team?: string; workerIds?: readonly string[]; expiresAt: Date }): Generator<void, IssueReport> {
    const db = this.registry.database();
    const workers = this.chooseWorkers(request);
    if (workers.length === 0) throw new PassError(request.team !== undefined ? `team ${JSON.stringify(request.team)} of ${this.orgId} has no workers` : `${this.orgId} has no workers on its list`);
    const listed = db.prepare('SELECT 1 FROM hub_workers WHERE worker_id = ? AND org_id = ?');
    const holds = db.prepare("SELECT 1 FROM passes WHERE worker_id = ? AND kind = 'printed' AND revoked_ms IS NULL AND expires_ms > ?");
    let alreadyHeld = 0;
    let leftList = 0;
    const issued: PrintedIssuedPass[] = [];
    for (let from = 0; from < workers.length; from += ISSUE_CHUNK) {
      if (from > 0) yield;
      db.transaction(() => {
        for (const w of workers.slice(from, from + ISSUE_CHUNK)) {
          if (!listed.get(w.workerId, this.orgId)) {
            leftList++;
            continue;
          }
          if (holds.get(w.workerId, this.registry.nowMs())) alreadyHeld++;
          issued.push(this.registry.signAndRecord(this.orgId, w.workerId, { expiresAt: request.expiresAt, kind: 'printed' }));
        }
      }).immediate();
    }
    return { issued, alreadyHeld, leftList };
  }

  /** This organisation's passes, newest first (one worker's, or one team's, when given). */
  list(filter: { workerId?: string; team?: string; limit?: number } = {}): PassRecord[] {
    return this.registry.list({ ...filter, orgId: this.orgId });
  }

  /** Revokes one of this organisation's passes; a pass of another organisation is "not found". */
  revokePass(passId: string): PassRecord {
    return this.registry.revokePass(passId, 'pass', this.orgId);
  }

  /** Revokes every live pass of one of this organisation's workers. */
  revokeWorker(workerId: string): PassRecord[] {
    return this.registry.revokeWorker(workerId, { orgId: this.orgId });
  }

  /**
   * The name and team of each of these workers on the organisation's list, in one query: what a list
   * of passes shows beside the worker id (never their ID number, phone or residence).
   */
  workerNames(workerIds: readonly string[]): Map<string, { fullName: string; team: string }> {
    const rows = this.registry
      .database()
      .prepare('SELECT worker_id AS workerId, full_name AS fullName, team FROM hub_workers WHERE org_id = ? AND worker_id IN (SELECT value FROM json_each(?))')
      .all(this.orgId, JSON.stringify([...new Set(workerIds)])) as { workerId: string; fullName: string; team: string }[];
    return new Map(rows.map((r) => [r.workerId, { fullName: r.fullName, team: r.team }]));
  }

  /** The organisation's teams (from its uploaded list), by name. */
  teams(): string[] {
    return (this.registry.database().prepare('SELECT DISTINCT team FROM hub_workers WHERE org_id = ? ORDER BY team').all(this.orgId) as { team: string }[]).map((r) => r.team);
  }

  /**
   * What a team's sheet prints: each worker of the team (by name) with their newest live printed
   * pass; a worker without one is issued one now (valid until `expiresAt`), so a sheet always covers
   * the whole team. A team of more than MAX_CARDS_PER_SHEET workers is printed in parts (1, 2, ...:
   * the team by name, MAX_CARDS_PER_SHEET each); asking such a team's sheet without a part is refused
   * with how many parts it takes.
   */
  sheetEntries(team: string, expiresAt: Date, part?: number): { entries: SheetEntry[]; issued: number; part: number; parts: number } {
    const db = this.registry.database();
    return db
      .transaction(() => {
        const all = this.chooseWorkers({ team });
        if (all.length === 0) throw new PassError(`team ${JSON.stringify(team)} of ${this.orgId} has no workers`);
        const parts = Math.ceil(all.length / MAX_CARDS_PER_SHEET);
        if (part === undefined && parts > 1) {
          throw new PassError(`team ${JSON.stringify(team)} has ${all.length} workers and a sheet holds at most ${MAX_CARDS_PER_SHEET}: print it in ${parts} parts (part 1 to ${parts}), or split the team`);
        }
        const chosen = part ?? 1;
        if (!Number.isInteger(chosen) || chosen < 1 || chosen > parts) throw new PassError(`team ${JSON.stringify(team)} is printed in ${parts} part${parts === 1 ? '' : 's'}: part ${chosen} does not exist`);
        const workers = all.slice((chosen - 1) * MAX_CARDS_PER_SHEET, chosen * MAX_CARDS_PER_SHEET);
        const newest = db.prepare(
          "SELECT pass_id, code, expires_ms FROM passes WHERE worker_id = ? AND org_id = ? AND kind = 'printed' AND revoked_ms IS NULL AND code IS NOT NULL AND expires_ms > ? ORDER BY issued_ms DESC, pass_id LIMIT 1",
        );
        let issued = 0;
        const entries = workers.map((w): SheetEntry => {
          const held = newest.get(w.workerId, this.orgId, this.registry.nowMs()) as { pass_id: string; code: string; expires_ms: number } | undefined;
          if (held) return { ...w, passId: held.pass_id, code: held.code, expiresAtMs: held.expires_ms };
          issued++;
          const p = this.registry.signAndRecord(this.orgId, w.workerId, { expiresAt, kind: 'printed' });
          return { ...w, passId: p.passId, code: p.code, expiresAtMs: p.expiresAtMs };
        });
        return { entries, issued, part: chosen, parts };
      })
      .immediate();
  }

  /** The organisation's name, as its sheets print it. */
  name(): string {
    return (this.registry.database().prepare('SELECT name FROM organisations WHERE org_id = ?').get(this.orgId) as { name: string }).name;
  }

  /**
   * A team's A4 sheet of printed passes (PDF bytes, sync/hub/pass-sheet.ts), workers without a live
   * printed pass issued one (valid until `expiresAt`); drawn in a worker thread, off the hub's event
   * loop. The console's "print" button calls this. A team larger than MAX_CARDS_PER_SHEET names its `part`.
   */
  async sheet(team: string, options: { expiresAt: Date; zone: string; part?: number }): Promise<{ pdf: Uint8Array; passes: number; pages: number; issued: number; part: number; parts: number }> {
    const { entries, issued, part, parts } = this.sheetEntries(team, options.expiresAt, options.part);
    const title = parts > 1 ? `${this.name()} — ${team} (${part}/${parts})` : `${this.name()} — ${team}`;
    const pdf = await drawPassSheet(entries, { title, zone: options.zone, nowMs: this.registry.nowMs() });
    return { pdf, passes: entries.length, pages: Math.ceil(entries.length / CARDS_PER_PAGE), issued, part, parts };
  }

  private chooseWorkers(request: { team?: string; workerIds?: readonly string[] }): ListedWorkerName[] {
    const db = this.registry.database();
    if (request.workerIds !== undefined && request.team !== undefined) throw new PassError('name a team or workers, not both');
    if (request.workerIds !== undefined) {
      const ids = [...new Set(request.workerIds.map((w) => checkId(w, 'worker id')))];
      if (ids.length === 0) throw new PassError('name at least one worker');
      const get = db.prepare('SELECT worker_id AS workerId, full_name AS fullName, team FROM hub_workers WHERE worker_id = ? AND org_id = ?');
      const found: ListedWorkerName[] = [];
      const missing: string[] = [];
      for (const id of ids) {
        const w = get.get(id, this.orgId) as ListedWorkerName | undefined;
        if (w) found.push(w);
        else missing.push(id);
      }
      if (missing.length) throw new PassError(`not on ${this.orgId}'s list: ${missing.join(', ')}`);
      return found;
    }
    return db
      .prepare('SELECT worker_id AS workerId, full_name AS fullName, team FROM hub_workers WHERE org_id = @org AND (@team IS NULL OR team = @team) ORDER BY team, full_name, worker_id')
      .all({ org: this.orgId, team: request.team ?? null }) as ListedWorkerName[];
  }
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
