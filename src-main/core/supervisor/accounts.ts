import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { LOGIN_PIN_PATTERN, PIN_RULE, PinFormatError, hashPin, verifyPin, PIN_PATTERN } from './pin.js';

import { SUPERVISOR_ID_PATTERN, SUPERVISOR_ID_RULE } from '../../../base/common/ids.js';
export const SUPERVISOR_NAME_MAX = 80;

export interface LockoutRules {
  /** Wrong PINs in a row before a lockout. */
  maxFailedLogins: number;
  /** The first lockout; each further lockout in a row doubles it, up to the cap. */
  lockoutMinutes: number;
  maxLockoutMinutes: number;
}

/** A lockout this long ago no longer counts towards the next one's length. */
const LOCKOUT_MEMORY_MS = 24 * 3_600_000;

export class SupervisorAccountError extends Error {
  override name = 'SupervisorAccountError';
}

/** A supervisor as `safegate supervisor list` shows it: never the hash. */
export interface SupervisorListing {
  id: string;
  name: string;
  createdMs: number;
  lastLoginMs: number | null;
  lockedUntilMs: number | null;
}

export type PinCheck =
  /** `sessionKey`: the account's session key now (see sessionKey()). */
  | { ok: true; id: string; name: string; sessionKey: string }
  | { ok: false; reason: 'unknown-supervisor' }
  /** The right PIN, but one of 4 or 5 digits from before named supervisors: it must be set anew first. */
  | { ok: false; reason: 'pin-change-required' }
  | { ok: false; reason: 'wrong-pin'; attemptsLeft: number; lockoutS: number }
  | { ok: false; reason: 'locked'; retryAfterS: number; lockedUntilMs: number; justLocked: boolean; failed: number };

interface Row {
  id: string;
  name: string;
  hash: string;
  created_ms: number;
  last_login_ms: number | null;
  failed: number;
  lockouts: number;
  locked_until: number | null;
  session_key: string;
  origin: 'local' | 'hub';
}

function newSessionKey(): string {
  return randomBytes(16).toString('hex');
}

/** The length of the next lockout after `lockouts` lockouts in a row: doubling from the first, capped. */
export function lockoutMs(rules: LockoutRules, lockouts: number): number {
  const minutes = Math.min(rules.lockoutMinutes * 2 ** Math.min(lockouts, 30), rules.maxLockoutMinutes);
  return minutes * 60_000;
}

/**
 * The named supervisors in the kiosk's store: their PINs (scrypt hashes keyed with the pepper from
 * the key file, see pin.ts) and their lockouts, kept across restarts. Used by the supervisor desk
 * and by `safegate supervisor add|remove|list`. The constructor only prepares statements.
 */
export class SupervisorAccounts {
  private readonly q: {
    one: Statement;
    all: Statement;
    count: Statement;
    insert: Statement;
    setHash: Statement;
    remove: Statement;
    setLock: Statement;
    loggedIn: Statement;
    audit: Statement;
    sessionKey: Statement;
  };

  constructor(
    private readonly db: SqliteDatabase,
    private readonly pinPepper: Buffer,
  ) {
    this.q = {
      one: db.prepare('SELECT * FROM supervisors WHERE id = ?'),
      all: db.prepare('SELECT id, name, created_ms, last_login_ms, locked_until FROM supervisors ORDER BY name, id'),
      count: db.prepare('SELECT count(*) FROM supervisors').pluck(),
      insert: db.prepare('INSERT INTO supervisors (id, name, hash, created_ms, session_key) VALUES (?, ?, ?, ?, ?)'),
      setHash: db.prepare("UPDATE supervisors SET hash = ?, session_key = ?, failed = 0, lockouts = 0, locked_until = NULL WHERE id = ? AND origin = 'local'"),
      remove: db.prepare("DELETE FROM supervisors WHERE id = ? AND origin = 'local'"),
      setLock: db.prepare('UPDATE supervisors SET failed = ?, lockouts = ?, locked_until = ? WHERE id = ?'),
      loggedIn: db.prepare('UPDATE supervisors SET failed = 0, lockouts = 0, locked_until = NULL, last_login_ms = ? WHERE id = ?'),
      audit: db.prepare('INSERT INTO supervisor_audit (at_ms, action, detail, supervisor_id) VALUES (?, ?, ?, ?)'),
      sessionKey: db.prepare('SELECT session_key FROM supervisors WHERE id = ?').pluck(),
    };
  }

  count(): number {
    return this.q.count.get() as number;
  }

  list(): SupervisorListing[] {
    return (this.q.all.all() as Row[]).map((r) => ({
      id: r.id,
      name: r.name,
      createdMs: r.created_ms,
      lastLoginMs: r.last_login_ms,
      lockedUntilMs: r.locked_until,
    }));
  }

  get(id: string): { id: string; name: string } | null {
    const r = this.q.one.get(id) as Row | undefined;
    return r ? { id: r.id, name: r.name } : null;
  }

  /**
   * The account's session key, or null when there is no such supervisor. A new one is drawn when
   * the supervisor is added and each time their PIN is set, by whichever process does it: a session
   * opened under another key has ended (a PIN changed by `safegate supervisor set-pin`, an account
   * removed and added again under the same id).
   */
  sessionKey(id: string): string | null {
    return (this.q.sessionKey.get(id) as string | undefined) ?? null;
  }

  /** Adds a supervisor; refuses a malformed id or name, a PIN under 6 digits and an id already taken. */
  async add(input: { id: string; name: string; pin: string }, nowMs: number): Promise<void> {
    const id = input.id;
    const name = input.name.trim();
    if (!SUPERVISOR_ID_PATTERN.test(id)) throw new SupervisorAccountError(`${JSON.stringify(id.slice(0, 40))}: ${SUPERVISOR_ID_RULE}`);
    // Ids beginning with hub- are the hub's (safegate hub supervisor add): a local one would shadow a hub account.
    if (id.startsWith('hub-')) throw new SupervisorAccountError(`"${id}": ids beginning with hub- are given by the hub to its supervisors`);
    if (name.length === 0 || name.length > SUPERVISOR_NAME_MAX || /\p{Cc}/u.test(name)) {
      throw new SupervisorAccountError(`a supervisor's name is 1 to ${SUPERVISOR_NAME_MAX} characters, without control characters`);
    }
    if (!PIN_PATTERN.test(input.pin)) throw new PinFormatError(PIN_RULE);
    if (this.q.one.get(id) !== undefined) throw new SupervisorAccountError(`a supervisor with id "${id}" already exists`);
    const hash = await hashPin(input.pin, this.pinPepper);
    this.db.transaction(() => {
      // Checked again inside the transaction: the hash took a while.
      if (this.q.one.get(id) !== undefined) throw new SupervisorAccountError(`a supervisor with id "${id}" already exists`);
      this.q.insert.run(id, name, hash, nowMs, newSessionKey());
      this.q.audit.run(nowMs, 'supervisor-added', name, id);
    })();
  }

  /** Sets a supervisor's PIN (6 to 12 digits) and clears their lockout. */
  async setPin(id: string, pin: string, nowMs: number): Promise<void> {
    if (!PIN_PATTERN.test(pin)) throw new PinFormatError(PIN_RULE);
    if (this.q.one.get(id) === undefined) throw new SupervisorAccountError(`no supervisor with id "${id}"`);
    this.refuseHubAccount(id);
    const hash = await hashPin(pin, this.pinPepper);
    this.db.transaction(() => {
      if (this.q.setHash.run(hash, newSessionKey(), id).changes === 0) throw new SupervisorAccountError(`no supervisor with id "${id}"`);
      this.q.audit.run(nowMs, 'pin-set', '', id);
    })();
  }

  /** A supervisor made at the hub is changed and removed at the hub only (they would come back, or differ from the site's other kiosks). */
  private refuseHubAccount(id: string): void {
    if ((this.q.one.get(id) as Row | undefined)?.origin === 'hub') throw new SupervisorAccountError(`supervisor "${id}" is a hub account of this kiosk's site: change or remove them at the hub (safegate hub supervisor)`);
  }

  remove(id: string, nowMs: number): void {
    this.refuseHubAccount(id);
    this.db.transaction(() => {
      if (this.q.remove.run(id).changes === 0) throw new SupervisorAccountError(`no supervisor with id "${id}"`);
      this.q.audit.run(nowMs, 'supervisor-removed', '', id);
    })();
  }

  /**
   * Checks a PIN against a supervisor's, with their lockout: `maxFailedLogins` wrong PINs in a row lock
   * the account, for `lockoutMinutes` the first time and twice as long each further time in a row (up
   * to `maxLockoutMinutes`); a good PIN clears it all. Callers run one check at a time.
   */
  async check(id: string, pin: string, rules: LockoutRules, now: () => number): Promise<PinCheck> {
    const row = this.q.one.get(id) as Row | undefined;
    if (!row) return { ok: false, reason: 'unknown-supervisor' };
    const t0 = now();
    if (row.locked_until !== null && row.locked_until > t0) {
      return { ok: false, reason: 'locked', retryAfterS: Math.ceil((row.locked_until - t0) / 1000), lockedUntilMs: row.locked_until, justLocked: false, failed: row.failed };
    }
    // A malformed PIN is simply wrong: it counts like any other failure.
    const good = LOGIN_PIN_PATTERN.test(pin) && (await verifyPin(pin, row.hash, this.pinPepper));
    const t = now();
    if (good) {
      // The right PIN of 4 or 5 digits (the single kiosk PIN an upgrade kept) no longer signs in: it
      // is neither a failure nor a sign-in. Someone at the kiosk sets a new one (safegate supervisor set-pin).
      if (!PIN_PATTERN.test(pin)) return { ok: false, reason: 'pin-change-required' };
      this.q.loggedIn.run(t, id);
      return { ok: true, id: row.id, name: row.name, sessionKey: row.session_key };
    }
    // A lockout long past is forgiven: the next one starts from the first length again.
    const lockouts = row.locked_until !== null && t - row.locked_until > LOCKOUT_MEMORY_MS ? 0 : row.lockouts;
    const failed = row.failed + 1;
    if (failed >= rules.maxFailedLogins) {
      const until = t + lockoutMs(rules, lockouts);
      this.q.setLock.run(0, lockouts + 1, until, id);
      return { ok: false, reason: 'locked', retryAfterS: Math.ceil((until - t) / 1000), lockedUntilMs: until, justLocked: true, failed };
    }
    this.q.setLock.run(failed, lockouts, row.locked_until, id);
    return { ok: false, reason: 'wrong-pin', attemptsLeft: rules.maxFailedLogins - failed, lockoutS: lockoutMs(rules, lockouts) / 1000 };
  }
}
