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
  /**
   * The WAL file is cut back to this size when it restarts after a checkpoint, so a burst does not
   * keep its disk space (4 MiB by default). A connection whose checkpointer bounds the WAL anyway
   * passes that bound: cutting the file back on every restart costs the next commit milliseconds.
   */
  journalSizeLimitBytes?: number;
  /**
   * SQLite's page cache for this connection, KiB. Without it, better-sqlite3's build default holds
   * (16 MiB a connection), which a process's memory then grows into as the database grows.
   */
  cacheKiB?: number;
}

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
    if (options.cacheKiB !== undefined) db.pragma(`cache_size = -${Math.max(64, Math.trunc(options.cacheKiB))}`);
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
    db.pragma(`journal_size_limit = ${Math.trunc(options.journalSizeLimitBytes ?? JOURNAL_SIZE_LIMIT_BYTES)}`);
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

export interface WalCheckpointerOptions {
  /** Checkpoint once no commit has been noted for this long (people are seconds apart at a gate). */
  idleMs?: number;
  /** Look for idleness this often. */
  everyMs?: number;
  /** Checkpoint even when busy once the WAL file passes this size (bounded disk use under a long rush). */
  maxWalBytes?: number;
  /** A checkpoint slower than this is logged. */
  slowMs?: number;
  now?: () => number;
}

/**
 * Moves WAL checkpoints off the scan path. The gate's connection opens with `wal_autocheckpoint` off
 * (SQLite would otherwise checkpoint inside whichever commit crosses 1,000 pages: a scan taking
 * several milliseconds instead of one); this checkpoints instead when the gate has been idle a
 * moment, and at once (between scans) when the WAL grows past a bound, so the WAL never fills a
 * small disk. `synchronous=FULL` stays: every commit is still durable before the gate moves.
 * `start()`/`stop()`; the constructor only stores its dependencies.
 */
export class WalCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private lastCommitAt = 0;
  private commitsSinceCheck = 0;
  private sizeCheckQueued = false;
  private readonly walFile: string;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly options: WalCheckpointerOptions = {},
    private readonly onSlow: (ms: number, frames: number) => void = () => undefined,
  ) {
    this.walFile = `${db.name}-wal`;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.options.everyMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Called after each commit on the gate's path: cheap, never touches the disk itself. */
  noteCommit(): void {
    this.lastCommitAt = this.now();
    if (++this.commitsSinceCheck >= 64 && !this.sizeCheckQueued) {
      this.sizeCheckQueued = true;
      // After this scan's gate has moved: a bound check, and a checkpoint if the WAL is too big.
      setImmediate(() => {
        this.sizeCheckQueued = false;
        this.commitsSinceCheck = 0;
        if (this.walBytes() > (this.options.maxWalBytes ?? 16 * 1024 * 1024)) this.tryCheckpoint();
      });
    }
  }

  /** A passive checkpoint now (never waits for readers or blocks writers); returns WAL frames copied. */
  checkpoint(): number {
    const started = performance.now();
    const [row] = this.db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    const ms = performance.now() - started;
    if (ms > (this.options.slowMs ?? 50)) this.onSlow(ms, row?.checkpointed ?? 0);
    return row?.checkpointed ?? 0;
  }

  private tick(): void {
    if (!this.db.open) return this.stop();
    // Any writer's frames (the downlink's, the supervisor desk's) are copied too; with nothing to copy
    // a passive checkpoint costs next to nothing.
    if (this.now() - this.lastCommitAt < (this.options.idleMs ?? 250)) return;
    this.tryCheckpoint();
  }

  private tryCheckpoint(): void {
    if (!this.db.open) return;
    try {
      this.checkpoint();
    } catch {
      // A checkpoint that cannot run now (disk full, locked) is tried again on the next tick; the
      // commits themselves are durable in the WAL meanwhile.
    }
  }

  private walBytes(): number {
    try {
      return statSync(this.walFile).size;
    } catch {
      return 0;
    }
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}
