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
  /** SQLite page cache, KiB (default KIOSK_CACHE_KIB). */
  cacheKiB?: number;
}

/**
 * The kiosk's page cache per connection: 2 MiB (SQLite's own default). Its hot reads are index
 * lookups (a worker, their last passage, the outbox's head) that the OS page cache serves anyway;
 * better-sqlite3's build default (16 MiB) made a bus unit's memory grow by that much over a week
 * offline as its database grew (bench:bus-week: +27 MB, flat only after 56,000 events).
 */
export const KIOSK_CACHE_KIB = 2_048;

/** Opens the kiosk's database (events, roster, downloaded data, supervisor desk) with its migrations. */
export function openStore(path: string, options: OpenStoreOptions = {}): SqliteDatabase {
  return openDatabase(path, { cacheKiB: KIOSK_CACHE_KIB, ...options, migrations: options.migrations ?? MIGRATIONS });
}
