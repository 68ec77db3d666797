import { openDatabase, type Migration, type SqliteDatabase } from '../../base/node/sqlite.js';
import type { AuditEntry, ConsoleAccount, ConsoleRole, ConsoleSession, ConsoleStore, NewAccount, StoredAccount } from './accounts.js';
import { AccountError } from './accounts.js';

/** The console database's numbered migrations; never edit a released one. */
export const consoleMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, sessions, audit trail',
    up(db) {
      db.exec(`
        CREATE TABLE accounts (
          name TEXT PRIMARY KEY,
          role TEXT NOT NULL CHECK (role IN ('operator', 'manager', 'health')),
          org TEXT,
          password_hash TEXT NOT NULL,
          failures INTEGER NOT NULL DEFAULT 0,
          locked_until INTEGER NOT NULL DEFAULT 0,
          created_at TEXT NOT NULL,
          CHECK ((role = 'manager') = (org IS NOT NULL))
        ) STRICT;
        CREATE TABLE sessions (
          token_hash TEXT PRIMARY KEY,
          account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
          expires_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX sessions_expiry ON sessions(expires_at);
        CREATE TABLE audit (
          id INTEGER PRIMARY KEY,
          at TEXT NOT NULL,
          account TEXT NOT NULL,
          action TEXT NOT NULL,
          target TEXT NOT NULL,
          outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
          ip TEXT NOT NULL
        ) STRICT;
      `);
    },
  },
];

interface AccountRow {
  name: string;
  role: ConsoleRole;
  org: string | null;
  password_hash: string;
  failures: number;
  locked_until: number;
  created_at: string;
}

const toAccount = (r: AccountRow): ConsoleAccount => ({ name: r.name, role: r.role, org: r.org ?? undefined, createdAt: r.created_at });

/** The console's store on a SQLite file next to the hub directory (private file, WAL, migrations). */
export class SqliteConsoleStore implements ConsoleStore {
  private readonly db: SqliteDatabase;

  constructor(path: string) {
    this.db = openDatabase(path, { migrations: consoleMigrations, busyTimeoutMs: 2_000 });
    this.db.pragma('foreign_keys = ON');
  }

  async addAccount(a: NewAccount, passwordHash: string, now: number): Promise<void> {
    const exists = this.db.prepare('SELECT 1 FROM accounts WHERE name = ?').get(a.name);
    if (exists) throw new AccountError(`an account "${a.name}" already exists`);
    this.db
      .prepare('INSERT INTO accounts (name, role, org, password_hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(a.name, a.role, a.org ?? null, passwordHash, new Date(now).toISOString());
  }

  async account(name: string): Promise<StoredAccount | undefined> {
    const r = this.db.prepare('SELECT * FROM accounts WHERE name = ?').get(name) as AccountRow | undefined;
    return r && { ...toAccount(r), passwordHash: r.password_hash, failures: r.failures, lockedUntil: r.locked_until };
  }

  async accounts(): Promise<ConsoleAccount[]> {
    return (this.db.prepare('SELECT * FROM accounts ORDER BY name').all() as AccountRow[]).map(toAccount);
  }

  async recordFailure(name: string, failures: number, lockedUntil: number): Promise<void> {
    this.db.prepare('UPDATE accounts SET failures = ?, locked_until = ? WHERE name = ?').run(failures, lockedUntil, name);
  }

  async recordSuccess(name: string): Promise<void> {
    this.db.prepare('UPDATE accounts SET failures = 0, locked_until = 0 WHERE name = ?').run(name);
  }

  async createSession(tokenHash: string, name: string, expiresAt: number): Promise<void> {
    this.db.prepare('INSERT INTO sessions (token_hash, account, expires_at) VALUES (?, ?, ?)').run(tokenHash, name, expiresAt);
  }

  async session(tokenHash: string, now: number): Promise<ConsoleSession | undefined> {
    this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now);
    const r = this.db
      .prepare('SELECT a.*, s.expires_at AS session_expires FROM sessions s JOIN accounts a ON a.name = s.account WHERE s.token_hash = ?')
      .get(tokenHash) as (AccountRow & { session_expires: number }) | undefined;
    return r && { account: toAccount(r), expiresAt: r.session_expires };
  }

  async endSession(tokenHash: string): Promise<void> {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }

  async audit(e: AuditEntry): Promise<void> {
    this.db.prepare('INSERT INTO audit (at, account, action, target, outcome, ip) VALUES (?, ?, ?, ?, ?, ?)').run(e.at, e.account, e.action, e.target, e.outcome, e.ip);
  }

  async auditTrail(limit: number): Promise<AuditEntry[]> {
    const rows = this.db.prepare('SELECT at, account, action, target, outcome, ip FROM audit ORDER BY id DESC LIMIT ?').all(limit) as AuditEntry[];
    return rows.reverse();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
