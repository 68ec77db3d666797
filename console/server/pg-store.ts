import pg from 'pg';
import type { AuditEntry, ConsoleAccount, ConsoleRole, ConsoleSession, ConsoleStore, NewAccount, StoredAccount } from './accounts.js';
import { AccountError } from './accounts.js';

/**
 * The console database's numbered migrations on PostgreSQL (the same schema as the SQLite store's,
 * console/server/sqlite-store.ts), in the hub's database beside the hub store's tables: the console's
 * tables and its version table carry a `console_` prefix. Never edit a released one.
 */
export const PG_CONSOLE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'accounts, sessions, audit trail',
    sql: `
      CREATE TABLE console_accounts (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('operator', 'manager', 'health')),
        org TEXT,
        password_hash TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until BIGINT NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        CHECK ((role = 'manager') = (org IS NOT NULL))
      );
      CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES console_accounts(name) ON DELETE CASCADE,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);
      CREATE TABLE console_audit (
        id BIGSERIAL PRIMARY KEY,
        at TEXT NOT NULL,
        account TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
        ip TEXT NOT NULL
      );`,
  },
];

interface AccountRow {
  name: string;
  role: ConsoleRole;
  org: string | null;
  password_hash: string;
  failures: number;
  locked_until: string | number;
  created_at: string;
}

const toAccount = (r: AccountRow): ConsoleAccount => ({ name: r.name, role: r.role, org: r.org ?? undefined, createdAt: r.created_at });

/** The console's store on PostgreSQL (DATABASE_URL), so a hub whose data is in PostgreSQL keeps its console there too. */
export class PgConsoleStore implements ConsoleStore {
  private constructor(private readonly pool: pg.Pool) {}

  static async open(connectionString: string): Promise<PgConsoleStore> {
    const pool = new pg.Pool({ connectionString, max: 4 });
    const client = await pool.connect();
    try {
      // One migrator at a time, whichever hub process or command starts first.
      await client.query('SELECT pg_advisory_lock(hashtext($1))', ['safegate-console-migrations']);
      await client.query('CREATE TABLE IF NOT EXISTS console_schema_version (version integer NOT NULL)');
      const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM console_schema_version');
      const current = rows[0]?.version ?? 0;
      const latest = PG_CONSOLE_MIGRATIONS.at(-1)!.version;
      if (current > latest) throw new Error(`the console database has schema ${current}, from a newer SafeGate; this one knows up to ${latest}`);
      for (const m of PG_CONSOLE_MIGRATIONS) {
        if (m.version <= current) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO console_schema_version (version) VALUES ($1)', [m.version]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['safegate-console-migrations']);
    } catch (err) {
      client.release();
      await pool.end();
      throw err;
    }
    client.release();
    return new PgConsoleStore(pool);
  }

  async addAccount(a: NewAccount, passwordHash: string, now: number): Promise<void> {
    const r = await this.pool.query(
      'INSERT INTO console_accounts (name, role, org, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING',
      [a.name, a.role, a.org ?? null, passwordHash, new Date(now).toISOString()],
    );
    if (r.rowCount === 0) throw new AccountError(`an account "${a.name}" already exists`);
  }

  async account(name: string): Promise<StoredAccount | undefined> {
    const { rows } = await this.pool.query<AccountRow>('SELECT * FROM console_accounts WHERE name = $1', [name]);
    const r = rows[0];
    return r && { ...toAccount(r), passwordHash: r.password_hash, failures: r.failures, lockedUntil: Number(r.locked_until) };
  }

  async accounts(): Promise<ConsoleAccount[]> {
    const { rows } = await this.pool.query<AccountRow>('SELECT * FROM console_accounts ORDER BY name');
    return rows.map(toAccount);
  }

  async recordFailure(name: string, failures: number, lockedUntil: number): Promise<void> {
    await this.pool.query('UPDATE console_accounts SET failures = $1, locked_until = $2 WHERE name = $3', [failures, lockedUntil, name]);
  }

  async recordSuccess(name: string): Promise<void> {
    await this.pool.query('UPDATE console_accounts SET failures = 0, locked_until = 0 WHERE name = $1', [name]);
  }

  async createSession(tokenHash: string, name: string, expiresAt: number): Promise<void> {
    await this.pool.query('INSERT INTO console_sessions (token_hash, account, expires_at) VALUES ($1, $2, $3)', [tokenHash, name, expiresAt]);
  }

  async session(tokenHash: string, now: number): Promise<ConsoleSession | undefined> {
    await this.pool.query('DELETE FROM console_sessions WHERE expires_at <= $1', [now]);
    const { rows } = await this.pool.query<AccountRow & { session_expires: string | number }>(
      'SELECT a.*, s.expires_at AS session_expires FROM console_sessions s JOIN console_accounts a ON a.name = s.account WHERE s.token_hash = $1',
      [tokenHash],
    );
    const r = rows[0];
    return r && { account: toAccount(r), expiresAt: Number(r.session_expires) };
  }

  async endSession(tokenHash: string): Promise<void> {
    await this.pool.query('DELETE FROM console_sessions WHERE token_hash = $1', [tokenHash]);
  }

  async audit(e: AuditEntry): Promise<void> {
    await this.pool.query('INSERT INTO console_audit (at, account, action, target, outcome, ip) VALUES ($1, $2, $3, $4, $5, $6)', [e.at, e.account, e.action, e.target, e.outcome, e.ip]);
  }

  async auditTrail(limit: number): Promise<AuditEntry[]> {
    const { rows } = await this.pool.query<AuditEntry>('SELECT at, account, action, target, outcome, ip FROM console_audit ORDER BY id DESC LIMIT $1', [limit]);
    return rows.reverse();
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
