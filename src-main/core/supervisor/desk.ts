import { randomBytes } from 'node:crypto';
import type { SelftestResult } from '../../../base/common/selftest.js';
import type { Logger } from 'pino';
import type { Gatekeeper, Passage } from '../gatekeeper.js';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { isRecordOnly, type EventLog } from '../store/event-log.js';
import type { NewGateEvent } from '../../../base/common/types.js';
import type { Roster } from '../store/roster.js';
import { EntryLogReader, type EntryLogQuery, type EntryLogRow, type EntryLogSummary } from './entry-log.js';
import { exportEntryLog, type ExportFormat, type ExportLanguage } from './export.js';
import { SupervisorAccounts, type LockoutRules } from './accounts.js';
import type { Policy } from '../../../base/common/policy/policy.js';
import { OVERRIDE_REASONS, forbiddenOverride, type OverrideReasonCode } from '../../../base/common/policy/override.js';
import type { GateEvent, OverrideRecord } from '../../../base/common/types.js';
import { DENY_REASONS, reasonCategory, type DenyReason } from '../../../base/common/reasons.js';
import { decide } from '../decide.js';
import { DriveError, type RemovableDrive, type RemovableDrives } from '../../../device/usb/removable-drives.js';
import { HubSendError, type HubExportSender, type PendingHubExport } from './send-export.js';
import { dayKeyIn, localTimeIn, startOfDayIn } from '../../../base/common/time.js';
import { WorkerTrace, type TraceCandidate, type TraceResult } from './trace.js';

export interface SupervisorRules extends LockoutRules {
  sessionMinutes: number;
}

export type LoginResult =
  | { ok: true; token: string; supervisor: { id: string; name: string } }
  | { ok: false; reason: 'wrong-pin'; attemptsLeft: number; lockoutS: number }
  | { ok: false; reason: 'locked'; retryAfterS: number; lockedUntilMs: number }
  | { ok: false; reason: 'unknown-supervisor' }
  /** The right PIN, of 4 or 5 digits from before named supervisors: set a new one (6 to 12 digits) first. */
  | { ok: false; reason: 'pin-change-required' }
  | { ok: false; reason: 'no-supervisors' };

export class SupervisorSessionError extends Error {
  override name = 'SupervisorSessionError';
}

/** An override the desk refuses: not a recent named deny, already overridden, or never overridable by the policy. */
export class OverrideError extends Error {
  override name = 'OverrideError';
}

/** An export to a drive that could not be done (no such drive, not writable, full). */
export class ExportError extends Error {
  override name = 'ExportError';
  /** For a failed write to a drive: whether the drive may be pulled out now (the message says so too). */
  readonly safeToRemove: boolean | undefined;
  constructor(message: string, options: { safeToRemove?: boolean } = {}) {
    super(message);
    this.safeToRemove = options.safeToRemove;
  }
}

/** Audit actions; the audit trail never holds a PIN, and holds names only in override notes. */
export type AuditAction =
  | 'pin-set'
  | 'supervisor-added'
  | 'supervisor-removed'
  | 'login'
  | 'login-failed'
  | 'login-locked-out'
  | 'logout'
  | 'view-log'
  | 'view-inside'
  | 'view-trace'
  | 'view-drives'
  | 'export'
  | 'override'
  | 'selftest';

export interface AuditRow {
  atMs: number;
  action: AuditAction;
  /** Who did it (or whose account it concerns); null for rows from before supervisors were named. */
  supervisorId: string | null;
  detail: string;
}

export interface DriveExport {
  fileName: string;
  rows: number;
  drive: RemovableDrive;
  /** Written, synced and unmounted: the drive can be pulled out. */
  safeToRemove: boolean;
}

interface Session {
  supervisorId: string;
  name: string;
  lastMs: number;
  /** The account's session key at sign-in; the session ends once the stored one differs. */
  sessionKey: string;
}

const DAY_MS = 86_400_000;
/** Only a deny this recent can be overridden: the person is still at the gate. */
const OVERRIDE_WINDOW_MS = 3_600_000;

interface OverrideDbRow {
  denied_seq: number;
  allowed_seq: number;
  at_ms: number;
  supervisor_id: string | null;
  supervisor_name: string | null;
  reason_code: string;
  note: string;
}

function toRecord(r: OverrideDbRow): OverrideRecord {
  return {
    deniedSeq: r.denied_seq,
    allowedSeq: r.allowed_seq,
    atMs: r.at_ms,
    supervisorId: r.supervisor_id,
    supervisorName: r.supervisor_name,
    reasonCode: r.reason_code,
    note: r.note,
  };
}

/**
 * The supervisors' desk on the kiosk: sign-in by named supervisor and PIN with a persisted lockout
 * per supervisor, short sessions, the local entry log, overrides (within the policy's limits) and
 * exports (to the screen or to a removable drive). Every sign-in and action goes to the audit trail
 * with who did it. The constructor only stores its dependencies and prepares statements.
 */
export class SupervisorDesk {
  private readonly sessions = new Map<string, Session>();
  private readonly reader: EntryLogReader;
  private readonly tracer: WorkerTrace;
  readonly accounts: SupervisorAccounts;
  private readonly statements: {
    overrideByDenied: Statement;
    overrideByAllowed: Statement;
    insertOverride: Statement;
    insertAudit: Statement;
  };
  /** One login check at a time, so parallel guesses cannot slip past the lockout counter. */
  private loginQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      db: SqliteDatabase;
      events: EventLog;
      roster: Roster;
      gatekeeper: Gatekeeper;
      rules: SupervisorRules;
      /** The policy in force: it says which refusals may never be overridden at the gate. */
      policy: () => Policy;
      /** A door or turnstile sensor is fitted: "inside now" counts only admits it saw go through. */
      passageSensor?: boolean;
      /** The province time zone: "today", "inside now" and export file names follow its days. */
      zone: string;
      /** From the kiosk's key file (see secrets.ts): PIN hashes are keyed with it. */
      pinPepper: Buffer;
      /** Removable drives to export to; absent, exports come back to the screen only. */
      drives?: RemovableDrives | undefined;
      /** Sends exports to the hub console (settings hub.consoleUrl); absent, exports go to drives and the screen only. */
      hubExports?: HubExportSender | undefined;
      log: Logger;
      now?: () => number;
      /** A registered visitor's name by pseudonym (issue 14: the entry log and inside-now name visitors). */
      visitorName?: (visitorId: string) => string | null;
      /** A registered visitor's name and visit by pseudonym (issue 14: the offline trace lists visitors by it). */
      visitorVisit?: ((visitorId: string) => { name: string; host: string; purpose: string } | null) | undefined;
    },
  ) {
    const { db } = deps;
    this.accounts = new SupervisorAccounts(db, deps.pinPepper);
    const columns = 'denied_seq, allowed_seq, at_ms, supervisor_id, supervisor_name, reason_code, note';
    this.statements = {
      overrideByDenied: db.prepare(`SELECT ${columns} FROM overrides WHERE denied_seq = ?`),
      overrideByAllowed: db.prepare(`SELECT ${columns} FROM overrides WHERE allowed_seq = ?`),
      insertOverride: db.prepare(
        'INSERT INTO overrides (denied_seq, allowed_seq, note, at_ms, supervisor_id, supervisor_name, reason_code) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      insertAudit: db.prepare('INSERT INTO supervisor_audit (at_ms, action, detail, supervisor_id) VALUES (?, ?, ?, ?)'),
    };
    const { overrideByDenied, overrideByAllowed } = this.statements;
    this.reader = new EntryLogReader(deps.events, deps.roster, {
      of: (seq, decision) => {
        const row = (decision === 'deny' ? overrideByDenied : overrideByAllowed).get(seq) as OverrideDbRow | undefined;
        return row ? toRecord(row) : null;
      },
      overridable: (e) => this.refusalToOverride(e) === null,
    }, deps.visitorName);
    this.tracer = new WorkerTrace(deps.events, deps.roster, deps.visitorVisit);
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** The supervisors the PIN pad lists: ids and names only. */
  accountList(): { id: string; name: string }[] {
    return this.accounts.list().map((a) => ({ id: a.id, name: a.name }));
  }

  hasSupervisors(): boolean {
    return this.accounts.count() > 0;
  }

  /** The named supervisor signed in with this token (visitors' approvals name them); each use extends the session. Throws SupervisorSessionError. */
  signedIn(token: string): { supervisorId: string; name: string } {
    const s = this.requireSession(token);
    return { supervisorId: s.supervisorId, name: s.name };
  }

  /** A supervisor's name by id (null: no such account here). */
  supervisorName(id: string): string | null {
    return this.accounts.list().find((a) => a.id === id)?.name ?? null;
  }

  /** Adds a named supervisor (the CLI, the demo and tests); ends no session. */
  addSupervisor(input: { id: string; name: string; pin: string }): Promise<void> {
    return this.accounts.add(input, this.now());
  }

  /** Sets a supervisor's PIN and clears their lockout; their open sessions end. */
  async setSupervisorPin(id: string, pin: string): Promise<void> {
    await this.accounts.setPin(id, pin, this.now());
    for (const [token, s] of this.sessions) if (s.supervisorId === id) this.sessions.delete(token);
  }

  login(supervisorId: string, pin: string): Promise<LoginResult> {
    const attempt = this.loginQueue.then(() => this.checkLogin(supervisorId, pin));
    this.loginQueue = attempt.catch(() => undefined);
    return attempt;
  }

  private async checkLogin(supervisorId: string, pin: string): Promise<LoginResult> {
    if (!this.hasSupervisors()) return { ok: false, reason: 'no-supervisors' };
    const r = await this.accounts.check(supervisorId, pin, this.deps.rules, () => this.now());
    if (r.ok) {
      const token = randomBytes(24).toString('base64url');
      this.sessions.set(token, { supervisorId: r.id, name: r.name, lastMs: this.now(), sessionKey: r.sessionKey });
      this.audit('login', r.id);
      return { ok: true, token, supervisor: { id: r.id, name: r.name } };
    }
    switch (r.reason) {
      case 'unknown-supervisor':
        this.audit('login-failed', null, 'no such supervisor');
        return r;
      case 'pin-change-required':
        this.audit('login-failed', supervisorId, 'a PIN of 4 or 5 digits from before named supervisors: a new PIN must be set');
        return r;
      case 'wrong-pin':
        this.audit('login-failed', supervisorId, `${this.deps.rules.maxFailedLogins - r.attemptsLeft} of ${this.deps.rules.maxFailedLogins}`);
        return r;
      case 'locked':
        if (r.justLocked) {
          this.audit('login-failed', supervisorId, `locked for ${r.retryAfterS} s after ${r.failed} wrong PINs`);
          this.deps.log.warn({ supervisorId, lockedForS: r.retryAfterS }, 'supervisor locked out after wrong PINs');
        } else {
          this.audit('login-locked-out', supervisorId);
        }
        return { ok: false, reason: 'locked', retryAfterS: r.retryAfterS, lockedUntilMs: r.lockedUntilMs };
    }
  }

  logout(token: string): void {
    const s = this.sessions.get(token);
    if (s && this.sessions.delete(token)) this.audit('logout', s.supervisorId);
  }

  /** Throws unless the token is a live session; each use extends it. Returns who is signed in. */
  private requireSession(token: string): Session {
    const session = this.sessions.get(token);
    const now = this.now();
    if (session === undefined || now - session.lastMs > this.deps.rules.sessionMinutes * 60_000) {
      this.sessions.delete(token);
      throw new SupervisorSessionError('not signed in, or the session has ended; enter the PIN again');
    }
    // Removed, given a new PIN, or removed and added again, by this process or another (the CLI): signed out.
    const key = this.accounts.sessionKey(session.supervisorId);
    if (key !== session.sessionKey) {
      this.sessions.delete(token);
      throw new SupervisorSessionError(
        key === null ? 'this supervisor account no longer exists' : "this supervisor's PIN was set again since signing in; enter the PIN again",
      );
    }
    session.lastMs = now;
    return session;
  }

  entryLog(token: string, query: EntryLogQuery, limit: number): { rows: EntryLogRow[]; total: number; summary: EntryLogSummary } {
    const who = this.requireSession(token);
    const all = [...this.reader.rows(query)];
    this.audit('view-log', who.supervisorId, describeQuery(query));
    // Newest first, at most `limit`.
    return { rows: all.slice(-limit).reverse(), total: all.length, summary: this.reader.summary(query.fromMs, query.toMs, query.search) };
  }

  inside(token: string): ReturnType<EntryLogReader['inside']> {
    const who = this.requireSession(token);
    this.audit('view-inside', who.supervisorId);
    const now = this.now();
    // From the start of yesterday (province time): a night shift that came in before midnight is still inside.
    return this.reader.inside(startOfDayIn(now, this.deps.zone) - DAY_MS, now + 60_000, { passedOnly: this.deps.passageSensor === true });
  }

  /**
   * The offline trace (trace.ts): with `workerId`, that worker's; otherwise the workers `search`
   * matches, and the trace when it matches exactly one. Audited with the worker traced.
   */
  async trace(
    token: string,
    query: { search: string; workerId?: string | undefined; fromMs: number; toMs: number; windowMinutes: number },
  ): Promise<{ candidates: TraceCandidate[]; trace: TraceResult | null }> {
    const who = this.requireSession(token);
    const candidates = query.workerId !== undefined ? [] : await this.tracer.candidates(query.search);
    const workerId = query.workerId ?? (candidates.length === 1 ? candidates[0]!.workerId : null);
    if (workerId === null) {
      this.audit('view-trace', who.supervisorId, `search: ${candidates.length} workers matched`);
      return { candidates, trace: null };
    }
    // In turns: the gate keeps answering scans while a long trace runs.
    const trace = await this.tracer.traceInTurns(workerId, query.fromMs, query.toMs, query.windowMinutes);
    // The period, window and counts only, never who was traced (likely a case: health data), as the export's audit hides its search text.
    this.audit('view-trace', who.supervisorId, `${new Date(query.fromMs).toISOString()}..${new Date(query.toMs).toISOString()}, ±${query.windowMinutes} min: ${trace.contacts.length} contacts`);
    return { candidates, trace };
  }

  async exportLog(token: string, query: EntryLogQuery, format: ExportFormat, lang: ExportLanguage): Promise<{ fileName: string; bytes: Uint8Array; rows: number }> {
    const who = this.requireSession(token);
    const file = await this.buildExport(query, format, lang);
    this.audit('export', who.supervisorId, `${format}, ${file.rows} rows, ${describeQuery(query)}, to the screen`);
    return file;
  }

  /** The self-test from the supervisor screen: a signed-in supervisor only, audited with its counts. */
  async selftest(token: string, run: () => Promise<SelftestResult[]>): Promise<SelftestResult[]> {
    const who = this.requireSession(token);
    const results = await run();
    const count = (s: SelftestResult['status']) => results.filter((r) => r.status === s).length;
    this.audit('selftest', who.supervisorId, `${count('pass')} pass, ${count('warn')} warn, ${count('fail')} fail`);
    return results;
  }

  /** Removable drives plugged in now (none when the kiosk has no drive adapter). */
  async drives(token: string): Promise<RemovableDrive[]> {
    const who = this.requireSession(token);
    this.audit('view-drives', who.supervisorId);
    if (!this.deps.drives) return [];
    try {
      return await this.deps.drives.list();
    } catch (err) {
      if (err instanceof DriveError) throw new ExportError(err.message);
      throw err;
    }
  }

  /**
   * Writes the export to a removable drive: written and synced, then the drive is unmounted. When
   * the unmount fails (a file still open there), the file is on the drive but it is not yet safe to
   * remove, and the result says so.
   */
  async exportToDrive(token: string, query: EntryLogQuery, format: ExportFormat, lang: ExportLanguage, driveId: string): Promise<DriveExport> {
    const who = this.requireSession(token);
    const drives = this.deps.drives;
    if (!drives) throw new ExportError('this kiosk cannot write to removable drives');
    const file = await this.buildExport(query, format, lang);
    let written;
    try {
      written = await drives.write(driveId, file.fileName, file.bytes);
    } catch (err) {
      if (!(err instanceof DriveError)) throw err;
      // Not written: the drive is still unmounted, so the supervisor can take it to a computer to look.
      const safeToRemove = err.safeToRemove ?? (await this.ejectAfterFailure(drives, driveId));
      this.audit('export', who.supervisorId, `${format}, ${describeQuery(query)}, to a drive: failed (${err.message})`);
      throw new ExportError(
        `${err.message}. ${safeToRemove ? 'Nothing is left mounted: the drive is safe to remove.' : 'The drive is still mounted: do not remove it yet.'}`,
        { safeToRemove },
      );
    }
    let safeToRemove = true;
    try {
      await drives.eject(driveId);
    } catch (err) {
      safeToRemove = false;
      this.deps.log.warn({ err, driveId }, 'export written to the drive, but the drive could not be unmounted');
    }
    this.audit('export', who.supervisorId, `${format}, ${file.rows} rows, ${describeQuery(query)}, to drive ${written.drive.label} as ${written.fileName}`);
    return { fileName: written.fileName, rows: file.rows, drive: written.drive, safeToRemove };
  }

  /** Whether this kiosk can send exports to the hub (hub.consoleUrl set). */
  canSendToHub(): boolean {
    return this.deps.hubExports !== undefined;
  }

  /**
   * Sends the export to the hub console. It is kept on the kiosk until the hub has stored it: when
   * the hub refuses it or cannot be reached, ExportError says why and it waits in `hubPending`.
   */
  async exportToHub(token: string, query: EntryLogQuery, format: ExportFormat, lang: ExportLanguage): Promise<{ fileName: string; rows: number; exportId: string; status: 'stored' | 'already-stored' }> {
    const who = this.requireSession(token);
    const sender = this.hubSender();
    const file = await this.buildExport(query, format, lang);
    const sent = await this.sendingToHub(who, `${format}, ${file.rows} rows, ${describeQuery(query)}`, () => sender.send({ ...file, format }, { id: who.supervisorId, name: who.name }));
    return { fileName: file.fileName, rows: file.rows, ...sent };
  }

  /** Exports waiting on this kiosk to be sent to the hub (refused or not reached before). */
  hubPending(token: string): PendingHubExport[] {
    this.requireSession(token);
    return this.deps.hubExports?.pending() ?? [];
  }

  /** Sends a waiting export again, under its own id (the hub stores it once). */
  async resendToHub(token: string, exportId: string): Promise<{ exportId: string; status: 'stored' | 'already-stored' }> {
    const who = this.requireSession(token);
    const sender = this.hubSender();
    return this.sendingToHub(who, `export ${exportId} again`, () => sender.resend(exportId));
  }

  private hubSender(): HubExportSender {
    if (!this.deps.hubExports) throw new ExportError('this kiosk cannot send exports to the hub (no hub.consoleUrl in its settings)');
    return this.deps.hubExports;
  }

  private async sendingToHub<T extends { exportId: string; status: string }>(who: Session, what: string, send: () => Promise<T>): Promise<T> {
    try {
      const sent = await send();
      this.audit('export', who.supervisorId, `${what}, to the hub as ${sent.exportId}: ${sent.status}`);
      return sent;
    } catch (err) {
      if (!(err instanceof HubSendError)) throw err;
      this.audit('export', who.supervisorId, `${what}, to the hub as ${err.exportId}: failed (${err.message})`);
      this.deps.log.warn({ exportId: err.exportId, status: err.status }, 'export not taken by the hub; kept to send again');
      throw new ExportError(err.message);
    }
  }

  /** Unmounts a drive a write failed on; true when it is safe to remove. */
  private async ejectAfterFailure(drives: RemovableDrives, driveId: string): Promise<boolean> {
    try {
      await drives.eject(driveId);
      return true;
    } catch (err) {
      this.deps.log.warn({ err, driveId }, 'an export to the drive failed, and the drive could not be unmounted');
      return false;
    }
  }

  private async buildExport(query: EntryLogQuery, format: ExportFormat, lang: ExportLanguage): Promise<{ fileName: string; bytes: Uint8Array; rows: number }> {
    if (query.insideNow) {
      // The roll-call: each person inside now by the passage that put them there, whatever the window asked.
      const now = this.now();
      const rows = this.reader.insideRows(startOfDayIn(now, this.deps.zone) - DAY_MS, now + 60_000, { passedOnly: this.deps.passageSensor === true });
      const bytes = await exportEntryLog(rows, format, lang, this.deps.zone);
      return { fileName: `safegate-inside-${localTimeIn(now, this.deps.zone).replace(/:\d\d$/, '').replace(/[ :]/g, '-')}.${format}`, bytes, rows: rows.length };
    }
    const rows = [...this.reader.rows(query)];
    const bytes = await exportEntryLog(rows, format, lang, this.deps.zone);
    const stamp = dayKeyIn(query.fromMs, this.deps.zone);
    return { fileName: `safegate-log-${stamp}.${format}`, bytes, rows: rows.length };
  }

  /** Why this event cannot be overridden now, or null if it can. */
  private refusalToOverride(denied: GateEvent | undefined, seq?: number): string | null {
    if (!denied || denied.decision !== 'deny') return `event ${seq ?? denied?.seq} is not a denied scan`;
    if (isRecordOnly(denied.source)) return `event ${denied.seq} is a declaration or a visitor record, not a scan: override the refused scan after it`;
    if (!denied.workerId) return 'only a named worker can be let through (the person was not identified)';
    if (this.statements.overrideByDenied.get(denied.seq) !== undefined) return `event ${denied.seq} was already overridden`;
    if (this.now() - denied.wallMs > OVERRIDE_WINDOW_MS) return 'only a deny from the last hour can be overridden; ask the person to scan again';
    const policy = this.deps.policy();
    const forbidden = forbiddenOverride(policy, denied.reasons);
    if (forbidden !== null) return `the policy never lets a supervisor override "${DENY_REASONS[forbidden].en}" at the gate`;
    // The roster may have changed since the scan (a quarantine or a confirmed case recorded since).
    const now = forbiddenOverride(policy, this.healthReasonsNow(denied, policy));
    if (now !== null) return `the policy never lets a supervisor override "${DENY_REASONS[now].en}" at the gate: it applies to this person now`;
    return null;
  }

  /**
   * The health refusals that apply to this person now: their current roster record under the policy
   * in force, decided by the gate's own rules (decide.ts) at this checkpoint in the deny's direction.
   * Decided as for a pass whatever was shown, so a credential rule (a badge refused here) cannot hide
   * the health rules; the question is about the person, not the card.
   */
  private healthReasonsNow(denied: GateEvent, policy: Policy): DenyReason[] {
    const worker = denied.workerId === null ? undefined : this.deps.roster.get(denied.workerId);
    if (!worker) return [];
    const decision = decide({
      reading: { status: 'valid', kind: 'pass', workerId: worker.workerId },
      worker,
      policy,
      checkpoint: { ...this.deps.gatekeeper.checkpoint, direction: denied.direction },
      recent: { sameCodeSecondsAgo: null, lastPassage: null },
      nowMs: this.now(),
    });
    return decision.reasons.filter((r): r is DenyReason => r !== 'SUPERVISOR_OVERRIDE' && reasonCategory(r) === 'health');
  }

  /**
   * Lets a denied, named person through with a reason from the fixed list (and a note): a new allow
   * event (reason SUPERVISOR_OVERRIDE) with a supervisor-override alert for the hub, committed before
   * the gate opens, recording who did it. Refused (OverrideError) for what the policy never allows.
   */
  override(token: string, deniedSeq: number, reasonCode: OverrideReasonCode, note?: string): Passage {
    const who = this.requireSession(token);
    const { db, events, roster, gatekeeper } = this.deps;
    const denied = events.get(deniedSeq);
    const refusal = this.refusalToOverride(denied, deniedSeq);
    if (refusal !== null || !denied) {
      if (denied && refusal?.startsWith('the policy')) this.audit('override', who.supervisorId, `refused for event ${deniedSeq}: never overridable`);
      throw new OverrideError(refusal ?? `event ${deniedSeq} is not a denied scan`);
    }
    if (reasonCode === 'other' && !(note ?? '').trim()) throw new OverrideError("a note is required when the reason is 'other'");
    const trimmed = (note ?? '').trim();
    // The alert's note for the hub: the reason in words, then the note, then who.
    const alertNote = [OVERRIDE_REASONS[reasonCode].en, trimmed, `by ${who.name} (${who.supervisorId})`].filter(Boolean).join(' - ');
    const clock = gatekeeper.now();
    // Where and when of now (the gatekeeper stamps the trip and position of the moment), never the denied scan's.
    const { tripId: _trip, routeId: _route, position: _position, clockSource: _clockSource, ...person } = denied;
    const event: NewGateEvent = {
      ...person,
      ...(clock.source === 'gps' ? { clockSource: 'gps' as const } : {}),
      wallMs: clock.wallMs,
      monoUs: clock.monoUs,
      bootId: clock.bootId,
      clockSynced: clock.synced,
      decision: 'allow',
      reasons: ['SUPERVISOR_OVERRIDE'],
    };
    const insert = this.statements.insertOverride;
    const passage = gatekeeper.admitOverride(event, roster.get(denied.workerId!)?.displayName ?? null, (e) =>
      db.transaction(() => {
        const seq = events.append(e, 'supervisor-override', alertNote);
        insert.run(deniedSeq, seq, trimmed, clock.wallMs, who.supervisorId, who.name, reasonCode);
        return seq;
      })(),
    );
    this.audit('override', who.supervisorId, `event ${deniedSeq} -> ${passage.seq}: ${reasonCode}${trimmed ? `: ${trimmed}` : ''}`);
    return passage;
  }

  /** Audit rows since a time, oldest first (tests, support). */
  auditTrail(sinceMs = 0): AuditRow[] {
    const rows = this.deps.db
      .prepare('SELECT at_ms, action, detail, supervisor_id FROM supervisor_audit WHERE at_ms >= ? ORDER BY id')
      .all(sinceMs) as { at_ms: number; action: AuditAction; detail: string; supervisor_id: string | null }[];
    return rows.map((r) => ({ atMs: r.at_ms, action: r.action, supervisorId: r.supervisor_id, detail: r.detail }));
  }

  /** Retention: exports that waited for the hub since before this time are deleted. */
  purgeHubOutboxBefore(ms: number): number {
    return this.deps.hubExports?.purgeBefore(ms) ?? 0;
  }

  purgeAuditBefore(ms: number): number {
    return this.deps.db.prepare('DELETE FROM supervisor_audit WHERE at_ms < ?').run(ms).changes;
  }

  private audit(action: AuditAction, supervisorId: string | null, detail = ''): void {
    this.statements.insertAudit.run(this.now(), action, detail, supervisorId);
    this.deps.log.info({ action, supervisorId }, 'supervisor');
  }
}

function describeQuery(q: EntryLogQuery): string {
  if (q.insideNow) return 'inside now';
  return `${new Date(q.fromMs).toISOString()}..${new Date(q.toMs).toISOString()}${q.decision && q.decision !== 'all' ? ` ${q.decision}` : ''}${q.search ? ' with search' : ''}`;
}
