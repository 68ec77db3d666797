import { openDatabase, type SqliteDatabase } from '../../../base/node/sqlite.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Migration } from '../../../base/node/sqlite.js';

export type { SqliteDatabase };

export interface OpenStoreOptions {
  readonly?: boolean;
  /** How long a write waits for another writer's lock before failing (the gate then fails safe). */
  busyTimeoutMs?: number;
  /** For tests of the migration machinery; the kiosk's own numbered migrations by default. */
  migrations?: readonly Migration[];
  /** See OpenDatabaseOptions: 0 on the gate's connection, whose commits must not checkpoint. */
  walAutocheckpoint?: number;
  journalSizeLimitBytes?: number;
}

/** Opens the kiosk's database (events, roster, downloaded data, supervisor desk) with its migrations. */
export function openStore(path: string, options: OpenStoreOptions = {}): SqliteDatabase {
  return openDatabase(path, { ...options, migrations: options.migrations ?? MIGRATIONS });
}
