import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Gatekeeper, Passage } from '../gatekeeper.js';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import type { EventLog } from '../store/event-log.js';
import type { NewGateEvent } from '../../../base/common/types.js';
import type { Roster } from '../store/roster.js';
import { EntryLogReader, type EntryLogQuery, type EntryLogRow, type EntryLogSummary } from './entry-log.js';
import { exportEntryLog, type ExportFormat, type ExportLanguage } from './export.js';
import { PIN_PATTERN, hashPin, verifyPin } from './pin.js';
import { dayKeyIn, startOfDayIn } from '../../../base/common/time.js';

export interface SupervisorRules {
  maxFailedLogins: number;
  lockoutMinutes: number;
  sessionMinutes: number;
}

export type LoginResult =
  | { ok: true; token: string }
  | { ok: false; reason: 'wrong-pin'; attemptsLeft: number }
  | { ok: false; reason: 'locked'; retryAfterS: number }
  | { ok: false; reason: 'no-pin-set' };

export class SupervisorSessionError extends Error {
  override name = 'SupervisorSessionError';
}

export class OverrideError extends Error {
  override name = 'OverrideError';
}

/** Audit actions; the audit trail never holds a PIN, and holds names only in override notes. */
export type AuditAction =
  | 'pin-set'
  | 'login'
  | 'login-failed'
  | 'login-locked-out'
  | 'logout'
  | 'view-log'
  | 'view-inside'
  | 'export'
  | 'override';

const DAY_MS = 86_400_000;

/**
 * The supervisor's desk on the kiosk: PIN login with a persisted lockout, short sessions, the
 * local entry log, overrides and exports. Every login and action goes to the audit trail.
 * The constructor only stores its dependencies and prepares statements.
 */
export class SupervisorDesk {
  private readonly sessions = new Map<string, number>();
  private readonly reader: EntryLogReader;
  private readonly statements: {
    pinHash: Statement;
    lockout: Statement;
    setLockout: Statement;
    overriddenBy: Statement;
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
      /** The province time zone: "today", "inside now" and export file names follow its days. */
      zone: string;
      /** From the kiosk's key file (see secrets.ts): PIN hashes are keyed with it. */
      pinPepper: Buffer;
      log: Logger;
      now?: () => number;
    },
  ) {
    const { db } = deps;
    this.statements = {
      pinHash: db.prepare('SELECT hash FROM supervisor_pin WHERE id = 1').pluck(),
      lockout: db.prepare('SELECT failed, locked_until FROM supervisor_lockout WHERE id = 1'),
      setLockout: db.prepare('UPDATE supervisor_lockout SET failed = ?, locked_until = ? WHERE id = 1'),
      overriddenBy: db.prepare('SELECT allowed_seq FROM overrides WHERE denied_seq = ?').pluck(),
      insertOverride: db.prepare('INSERT INTO overrides (denied_seq, allowed_seq, note, at_ms) VALUES (?, ?, ?, ?)'),
      insertAudit: db.prepare('INSERT INTO supervisor_audit (at_ms, action, detail) VALUES (?, ?, ?)'),
    };
    const overriddenBy = this.statements.overriddenBy;
    this.reader = new EntryLogReader(deps.events, deps.roster, (seq) => (overriddenBy.get(seq) as number | undefined) ?? null);
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  hasPin(): boolean {
    return this.statements.pinHash.get() !== undefined;
  }

  async setPin(pin: string): Promise<void> {
    await storeSupervisorPin(this.deps.db, pin, this.now(), this.deps.pinPepper);
    this.sessions.clear();
  }

  login(pin: string): Promise<LoginResult> {
    const attempt = this.loginQueue.then(() => this.checkLogin(pin));
    this.loginQueue = attempt.catch(() => undefined);
    return attempt;
  }

  private async checkLogin(pin: string): Promise<LoginResult> {
    const { rules } = this.deps;
    const { pinHash, lockout, setLockout } = this.statements;
    const hash = pinHash.get() as string | undefined;
    if (hash === undefined) return { ok: false, reason: 'no-pin-set' };
    const lock = lockout.get() as { failed: number; locked_until: number | null };
    const now = this.now();
    if (lock.locked_until !== null && lock.locked_until > now) {
      this.audit('login-locked-out');
      return { ok: false, reason: 'locked', retryAfterS: Math.ceil((lock.locked_until - now) / 1000) };
    }
    // A malformed PIN is simply wrong: it counts like any other failure.
    const good = PIN_PATTERN.test(pin) && (await verifyPin(pin, hash, this.deps.pinPepper));
    if (good) {
      setLockout.run(0, null);
      const token = randomBytes(24).toString('base64url');
      this.sessions.set(token, this.now());
      this.audit('login');
      return { ok: true, token };
    }
    const failed = (lock.locked_until !== null ? 0 : lock.failed) + 1;
    if (failed >= rules.maxFailedLogins) {
      const until = this.now() + rules.lockoutMinutes * 60_000;
      setLockout.run(0, until);
      this.audit('login-failed', `locked for ${rules.lockoutMinutes} min after ${failed} wrong PINs`);
      this.deps.log.warn({ failed }, 'supervisor screen locked after wrong PINs');
      return { ok: false, reason: 'locked', retryAfterS: rules.lockoutMinutes * 60 };
    }
    setLockout.run(failed, null);
    this.audit('login-failed', `${failed} of ${rules.maxFailedLogins}`);
    return { ok: false, reason: 'wrong-pin', attemptsLeft: rules.maxFailedLogins - failed };
  }

  logout(token: string): void {
    if (this.sessions.delete(token)) this.audit('logout');
  }

  /** Throws unless the token is a live session; each use extends it. */
  private requireSession(token: string): void {
    const last = this.sessions.get(token);
    const now = this.now();
    if (last === undefined || now - last > this.deps.rules.sessionMinutes * 60_000) {
      this.sessions.delete(token);
      throw new SupervisorSessionError('not signed in, or the session has ended; enter the PIN again');
    }
    this.sessions.set(token, now);
  }

  entryLog(token: string, query: EntryLogQuery, limit: number): { rows: EntryLogRow[]; total: number; summary: EntryLogSummary } {
    this.requireSession(token);
    const all = [...this.reader.rows(query)];
    this.audit('view-log', describeQuery(query));
    // Newest first, at most `limit`.
    return { rows: all.slice(-limit).reverse(), total: all.length, summary: this.reader.summary(query.fromMs, query.toMs) };
  }

  inside(token: string): ReturnType<EntryLogReader['inside']> {
    this.requireSession(token);
    this.audit('view-inside');
    const now = this.now();
    // From the start of yesterday (province time): a night shift that came in before midnight is still inside.
    return this.reader.inside(startOfDayIn(now, this.deps.zone) - DAY_MS, now + 60_000);
  }

  async exportLog(token: string, query: EntryLogQuery, format: ExportFormat, lang: ExportLanguage): Promise<{ fileName: string; bytes: Uint8Array; rows: number }> {
    this.requireSession(token);
    const rows = [...this.reader.rows(query)];
    const bytes = await exportEntryLog(rows, format, lang, this.deps.zone);
    const stamp = dayKeyIn(query.fromMs, this.deps.zone);
    this.audit('export', `${format}, ${rows.length} rows, ${describeQuery(query)}`);
    return { fileName: `safegate-log-${stamp}.${format}`, bytes, rows: rows.length };
  }

  /**
   * Lets a denied, named person through with a written reason: a new allow event (reason
   * SUPERVISOR_OVERRIDE) with a supervisor-override alert for the hub, committed before the gate opens.
   */
  override(token: string, deniedSeq: number, note: string): Passage {
    this.requireSession(token);
    const { db, events, roster, gatekeeper } = this.deps;
    const denied = events.get(deniedSeq);
    if (!denied || denied.decision !== 'deny') throw new OverrideError(`event ${deniedSeq} is not a denied scan`);
    if (!denied.workerId) throw new OverrideError('only a named worker can be let through (the person was not identified)');
    if (this.statements.overriddenBy.get(deniedSeq) !== undefined) throw new OverrideError(`event ${deniedSeq} was already overridden`);
    if (this.now() - denied.wallMs > 3_600_000) throw new OverrideError('only a deny from the last hour can be overridden; ask the person to scan again');
    const clock = gatekeeper.now();
    const event: NewGateEvent = {
      ...denied,
      wallMs: clock.wallMs,
      monoUs: clock.monoUs,
      bootId: clock.bootId,
      clockSynced: clock.synced,
      decision: 'allow',
      reasons: ['SUPERVISOR_OVERRIDE'],
    };
    const trimmed = note.trim();
    const insert = this.statements.insertOverride;
    const passage = gatekeeper.admitOverride(event, roster.get(denied.workerId)?.displayName ?? null, (e) =>
      db.transaction(() => {
        const seq = events.append(e, 'supervisor-override', trimmed);
        insert.run(deniedSeq, seq, trimmed, clock.wallMs);
        return seq;
      })(),
    );
    this.audit('override', `event ${deniedSeq} -> ${passage.seq}: ${trimmed}`);
    return passage;
  }

  /** Audit rows since a time, newest last (tests, support). */
  auditTrail(sinceMs = 0): { atMs: number; action: AuditAction; detail: string }[] {
    return (this.deps.db.prepare('SELECT at_ms, action, detail FROM supervisor_audit WHERE at_ms >= ? ORDER BY id').all(sinceMs) as { at_ms: number; action: AuditAction; detail: string }[]).map(
      (r) => ({ atMs: r.at_ms, action: r.action, detail: r.detail }),
    );
  }

  purgeAuditBefore(ms: number): number {
    return this.deps.db.prepare('DELETE FROM supervisor_audit WHERE at_ms < ?').run(ms).changes;
  }

  private audit(action: AuditAction, detail = ''): void {
    this.statements.insertAudit.run(this.now(), action, detail);
    this.deps.log.info({ action }, 'supervisor');
  }
}

/** Sets the PIN (as its scrypt hash), clears any lockout and records it in the audit trail. */
export async function storeSupervisorPin(db: SqliteDatabase, pin: string, nowMs: number, pinPepper: Buffer): Promise<void> {
  const hash = await hashPin(pin, pinPepper);
  db.transaction(() => {
    db.prepare('INSERT INTO supervisor_pin (id, hash, set_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, set_at = excluded.set_at').run(hash, nowMs);
    db.prepare('UPDATE supervisor_lockout SET failed = 0, locked_until = NULL WHERE id = 1').run();
    db.prepare("INSERT INTO supervisor_audit (at_ms, action, detail) VALUES (?, 'pin-set', '')").run(nowMs);
  })();
}

function describeQuery(q: EntryLogQuery): string {
  return `${new Date(q.fromMs).toISOString()}..${new Date(q.toMs).toISOString()}${q.decision && q.decision !== 'all' ? ` ${q.decision}` : ''}${q.search ? ' with search' : ''}`;
}
