import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS, type Migration } from './migrations/index.js';

export type SqliteDatabase = Database.Database;

export class StoreVersionError extends Error {
  override name = 'StoreVersionError';
}

export interface OpenStoreOptions {
  readonly?: boolean;
  /** How long a write waits for another writer's lock before failing (the gate then fails safe). */
  busyTimeoutMs?: number;
  migrations?: readonly Migration[];
}

/**
 * Opens the device database: WAL, synchronous=FULL (a commit survives power loss before the gate
 * moves), migrations applied in one transaction each. A database written by a newer SafeGate is
 * refused rather than guessed at.
 */
export function openStore(path: string, options: OpenStoreOptions = {}): SqliteDatabase {
  const migrations = options.migrations ?? MIGRATIONS;
  if (!options.readonly && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 250))}`);
    const latest = migrations.at(-1)?.version ?? 0;
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > latest) {
      throw new StoreVersionError(
        `${path} was written by a newer SafeGate (schema ${current}, this one knows up to ${latest}); refusing to open it`,
      );
    }
    if (options.readonly) {
      if (current < latest) throw new StoreVersionError(`${path} needs migrating (schema ${current} < ${latest}); start the kiosk once`);
      return db;
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
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

/** True for SQLite errors that mean "cannot write right now" rather than a programming error. */
export function isStorageFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    /^SQLITE_(FULL|BUSY|LOCKED|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/.test(code)
  );
}
