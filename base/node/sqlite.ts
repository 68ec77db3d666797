import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export type SqliteDatabase = Database.Database;

/** One numbered schema step; its number is the database's `user_version` once applied. */
export interface Migration {
  version: number;
  name: string;
  up(db: SqliteDatabase): void;
}

export class StoreVersionError extends Error {
  override name = 'StoreVersionError';
}

export interface OpenDatabaseOptions {
  /** In order; never edit a released one. */
  migrations: readonly Migration[];
  readonly?: boolean;
  /** How long a write waits for another writer's lock before failing. */
  busyTimeoutMs?: number;
  /**
   * WAL pages after which SQLite checkpoints inside a commit (its default is 1000). 0 turns that off
   * for a connection whose commits must stay fast; a WalCheckpointer then checkpoints off that path.
   */
  walAutocheckpoint?: number;
}

/** The WAL file is cut back to this size after a checkpoint, so a burst does not keep its disk space. */
const JOURNAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * Opens a SQLite database that holds personal data: WAL, synchronous=FULL (a commit survives power
 * loss), `secure_delete` (deleted rows are overwritten, not left in free pages), the folder created
 * 0700 and the file 0600 (SQLite gives its -wal and -shm files the database file's permissions),
 * migrations applied in one transaction each. A database written by a newer version is refused
 * rather than guessed at.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions): SqliteDatabase {
  const { migrations } = options;
  const readonly = options.readonly ?? false;
  if (!readonly && path !== ':memory:') makePrivate(path);
  const db = new Database(path, { readonly, fileMustExist: readonly });
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 250))}`);
    const latest = migrations.at(-1)?.version ?? 0;
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > latest) {
      throw new StoreVersionError(
        `${path} was written by a newer SafeGate (schema ${current}, this one knows up to ${latest}); refusing to open it`,
      );
    }
    if (readonly) {
      if (current < latest) throw new StoreVersionError(`${path} needs migrating (schema ${current} < ${latest}); start the kiosk once`);
      return db;
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('secure_delete = ON');
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    if (options.walAutocheckpoint !== undefined) db.pragma(`wal_autocheckpoint = ${Math.max(0, Math.trunc(options.walAutocheckpoint))}`);
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.transaction(() => {
        m.up(db);
        db.pragma(`user_version = ${m.version}`);
      }).immediate();
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Creates the folder (0700) and the database file (0600) before SQLite does, and tightens the
 * permissions of files we already own; a folder that exists is left as it is (it may be shared,
 * e.g. the settings folder), only the database's own files are made private.
 */
function makePrivate(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const st = statSync(file);
      if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) chmodSync(file, st.mode & 0o700);
    } catch {
      // Not there (yet): SQLite creates it with the database file's permissions.
    }
  }
}

/** True for SQLite errors that mean "cannot write right now" rather than a programming error. */
export function isStorageFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    /^SQLITE_(FULL|BUSY|LOCKED|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/.test(code)
  );
}

/** True when the storage fault is a full disk (SQLite's SQLITE_FULL, or ENOSPC from the OS). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || (typeof code === 'string' && code.startsWith('SQLITE_IOERR') && /disk|space|full/i.test(String((err as Error).message)));
}
