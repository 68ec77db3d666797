import type { ConsoleStore } from './accounts.js';
import { SqliteConsoleStore } from './sqlite-store.js';

/**
 * The console's accounts, sessions and audit trail: in PostgreSQL when the hub's data is there
 * (DATABASE_URL), otherwise in the SQLite file the settings name (console.database). The PostgreSQL
 * client is loaded only when it is used.
 */
export async function openConsoleStore(o: { databasePath: string; databaseUrl?: string | undefined }): Promise<ConsoleStore> {
  if (!o.databaseUrl) return new SqliteConsoleStore(o.databasePath);
  const { PgConsoleStore } = await import('./pg-store.js');
  return PgConsoleStore.open(o.databaseUrl);
}
