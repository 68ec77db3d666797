import { Kysely, PostgresDialect, SqliteDialect, sql, type RawBuilder } from 'kysely';
import { resolve } from 'node:path';
import pg from 'pg';
import { openDatabase, type Migration } from '../../base/node/sqlite.js';

/**
 * One SQL database for what the hub keeps beside its events (the directory: registry, rosters,
 * passes, phone links, declarations, visits, exports): a SQLite file by default, PostgreSQL when
 * DATABASE_URL is set, so several hub processes on several machines share it. The code above this
 * writes each statement once, in the SQL both speak, as a Kysely `sql` template (parameters become
 * `?` or `$n` per dialect); the few places the dialects differ use the helpers below.
 *
 * Rules for statements written against it (both dialects must run them unchanged):
 * - flags are integers 0/1, never booleans (SQLite binds no booleans);
 * - `INSERT ... ON CONFLICT ... DO NOTHING|DO UPDATE` and `RETURNING`, never `INSERT OR IGNORE`;
 * - lists with `inList(values)`, never an array parameter (a long text list on a hot path: `isAnyOf`);
 *   no temporary tables; no JSON functions;
 * - the larger of two values with `greatest(dialect, a, b)`;
 * - 64-bit integers come back as numbers (PostgreSQL's bigint is parsed; every figure the hub keeps,
 *   milliseconds and revisions included, is far below 2^53).
 */
export type HubSqlDialect = 'sqlite' | 'postgres';

/** Runs statements; inside `write` it is bound to the transaction. */
export interface HubSqlExecutor {
  readonly dialect: HubSqlDialect;
  /** Every row of a query. */
  all<R>(query: RawBuilder<R>): Promise<R[]>;
  /** The first row of a query, if any. */
  get<R>(query: RawBuilder<R>): Promise<R | undefined>;
  /** A statement that changes rows: how many it changed (inserted, updated or deleted). */
  run(query: RawBuilder<unknown>): Promise<number>;
  /**
   * A transaction that writes: one at a time across every process sharing the database (SQLite:
   * BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so a stream's next revision is
   * always read and written by one writer. Called inside a write, it runs in the same transaction.
   */
  write<T>(fn: (tx: HubSqlExecutor) => Promise<T>): Promise<T>;
}

export interface HubSql extends HubSqlExecutor {
  close(): Promise<void>;
}

/** A PostgreSQL schema step (the SQLite steps are `Migration`s of base/node/sqlite.ts). */
export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export type HubSqlTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export interface HubSqlSchema {
  /** A name for messages and the lock that serialises writers and migrators ('directory'). */
  name: string;
  sqlite: readonly Migration[];
  /** Applied in order, one transaction each, in the PostgreSQL schema of the same name. */
  postgres: readonly PgMigration[];
}

/** Inside a write, an advisory lock key of this database (one writer at a time, every process). */
function lockKey(name: string) {
  return sql`hashtext(${`safegate-${name}`})`;
}

/** `(v1, v2, ...)` for `x IN ...`; `(NULL)` when empty, which matches nothing. */
export function inList(values: readonly unknown[]): RawBuilder<unknown> {
  return values.length ? sql`(${sql.join(values)})` : sql`(NULL)`;
}

/** Splits a long list for `inList` (SQLite binds at most 32,766 parameters in one statement). */
export function* chunksOf<T>(values: readonly T[], size = 5_000): Generator<T[]> {
  for (let i = 0; i < values.length; i += size) yield values.slice(i, i + size);
}

/**
 * `column` is one of `values` (text), with the whole list as ONE parameter: a PostgreSQL text array,
 * a JSON array SQLite's json_each reads. For hot paths with long lists (a group commit's workers),
 * where `IN ${inList(...)}` would make thousands of parameters to bind, send and plan each time.
 */
export function isAnyOf(dialect: HubSqlDialect, column: RawBuilder<unknown>, values: readonly string[]): RawBuilder<unknown> {
  return dialect === 'sqlite' ? sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))` : sql`${column} = ANY(${values}::text[])`;
}

/** The larger of two values (SQLite's two-argument max, PostgreSQL's greatest). */
export function greatest(dialect: HubSqlDialect, a: RawBuilder<unknown>, b: RawBuilder<unknown>): RawBuilder<unknown> {
  return dialect === 'sqlite' ? sql`max(${a}, ${b})` : sql`greatest(${a}, ${b})`;
}

type Db = Kysely<unknown>;

class Executor implements HubSqlExecutor {
  constructor(
    readonly dialect: HubSqlDialect,
    protected readonly db: Db,
    private readonly writeIn: (<T>(fn: (tx: HubSqlExecutor) => Promise<T>) => Promise<T>) | undefined,
  ) {}

  async all<R>(query: RawBuilder<R>): Promise<R[]> {
    return (await query.execute(this.db)).rows;
  }

  async get<R>(query: RawBuilder<R>): Promise<R | undefined> {
    return (await query.execute(this.db)).rows[0];
  }

  async run(query: RawBuilder<unknown>): Promise<number> {
    const r = await query.execute(this.db);
    return Number(r.numAffectedRows ?? 0n);
  }

  write<T>(fn: (tx: HubSqlExecutor) => Promise<T>): Promise<T> {
    // Already in a transaction: the same one (as better-sqlite3's nested transactions did).
    if (!this.writeIn) return fn(this);
    return this.writeIn(fn);
  }
}

class Database extends Executor implements HubSql {
  constructor(
    dialect: HubSqlDialect,
    db: Db,
    writeIn: <T>(fn: (tx: HubSqlExecutor) => Promise<T>) => Promise<T>,
    private readonly release: () => Promise<void> = () => db.destroy(),
  ) {
    super(dialect, db, writeIn);
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }
}

/**
 * SQLite files open in this process, one connection each: a transaction here is held across awaits,
 * so a second connection of the same process waiting for its lock would block the event loop the
 * first needs to finish (a deadlock until the busy timeout). Every opener of a file shares its one
 * connection instead; other processes (a command while `hub run` runs) wait their turn as usual.
 */
const sqliteFiles = new Map<string, { db: Db; writeIn: <T>(fn: (tx: HubSqlExecutor) => Promise<T>) => Promise<T>; users: number }>();

function openSqlite(path: string, schema: HubSqlSchema, busyTimeoutMs: number): HubSql {
  let shared = sqliteFiles.get(path);
  if (!shared) {
    const file = openDatabase(path, { migrations: schema.sqlite, busyTimeoutMs });
    const db: Db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: file }) });
    const writeIn = <T>(fn: (tx: HubSqlExecutor) => Promise<T>): Promise<T> =>
      // The connection is held for the whole transaction (Kysely's SQLite driver has one, behind a mutex).
      db.connection().execute(async (conn) => {
        await sql`BEGIN IMMEDIATE`.execute(conn);
        try {
          const result = await fn(new Executor('sqlite', conn, undefined));
          await sql`COMMIT`.execute(conn);
          return result;
        } catch (err) {
          if (file.inTransaction) await sql`ROLLBACK`.execute(conn);
          throw err;
        }
      });
    shared = { db, writeIn, users: 0 };
    sqliteFiles.set(path, shared);
  }
  shared.users++;
  const entry = shared;
  return new Database('sqlite', entry.db, entry.writeIn, async () => {
    if (--entry.users > 0) return;
    sqliteFiles.delete(path);
    await entry.db.destroy();
  });
}

/** bigint (int8) and count(*) as numbers: see the rules above. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * Opens (and migrates) the database. SQLite: the file made private, WAL, synchronous=FULL,
 * secure_delete (base/node/sqlite.ts). PostgreSQL: a pool whose connections work in the schema
 * named after `schema.name`, migrated by one process at a time.
 */
export async function openHubSql(target: HubSqlTarget, schema: HubSqlSchema, options: { poolSize?: number; busyTimeoutMs?: number } = {}): Promise<HubSql> {
  if (target.kind === 'sqlite') return openSqlite(resolve(target.path), schema, options.busyTimeoutMs ?? 5_000);
  const pgSchema = schema.name.replace(/[^a-z_]/g, '_');
  await migratePostgres(target.url, pgSchema, schema.postgres);
  const pool = new pg.Pool({ connectionString: target.url, max: options.poolSize ?? 4, types: pgTypes, options: `-c search_path=${pgSchema}` });
  // An idle connection the server dropped must not end the process: the next query reports the failure.
  pool.on('error', () => undefined);
  const db: Db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  // This process's writers queue here, each holding no connection until its turn: waiting for the
  // lock inside a transaction would hold one of the pool's few connections per waiting writer, and a
  // long upload with a few writers queued behind it would leave none for reads (downloads, lookups).
  let queue: Promise<unknown> = Promise.resolve();
  const writeIn = <T>(fn: (tx: HubSqlExecutor) => Promise<T>): Promise<T> => {
    const turn = queue.then(() =>
      db
        .transaction()
        // The lock is what orders writers: each must see what the one before committed (READ
        // COMMITTED takes a snapshot per statement), whatever the database's default isolation.
        .setIsolationLevel('read committed')
        .execute(async (trx) => {
          await sql`SELECT pg_advisory_xact_lock(${lockKey(pgSchema)})`.execute(trx);
          return fn(new Executor('postgres', trx, undefined));
        }),
    );
    queue = turn.catch(() => undefined);
    return turn;
  };
  return new Database('postgres', db, writeIn);
}

/** host:port/database of a connection string, without its user or password. */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'local socket'}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'not a URL';
  }
}

async function migratePostgres(url: string, pgSchema: string, migrations: readonly PgMigration[]): Promise<void> {
  const client = new pg.Client({ connectionString: url, types: pgTypes });
  try {
    await client.connect();
  } catch (err) {
    // The operator's next step is the address in DATABASE_URL (never printed whole: it may hold a password).
    throw new Error(`cannot reach the PostgreSQL server in DATABASE_URL (${where(url)}): ${(err as Error).message}`, { cause: err });
  }
  try {
    // One migrator at a time, whichever hub process or command starts first.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`safegate-${pgSchema}-migrations`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${pgSchema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${pgSchema}.schema_version (version integer NOT NULL, applied_ms bigint NOT NULL)`);
    const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${pgSchema}.schema_version`);
    const current = rows[0]?.version ?? 0;
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) throw new Error(`the ${pgSchema} schema in PostgreSQL is at ${current}; this SafeGate knows up to ${latest}; refusing to use it`);
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL search_path = ${pgSchema}`);
        await client.query(m.sql);
        await client.query(`INSERT INTO ${pgSchema}.schema_version (version, applied_ms) VALUES ($1, $2)`, [m.version, Date.now()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`${pgSchema} migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    await client.end();
  }
}
