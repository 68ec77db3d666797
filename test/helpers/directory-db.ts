import { afterAll } from 'vitest';
import type { HubSqlTarget } from '../../sync/hub/hub-sql.js';
import { tempDir } from './fixtures.js';
import { TestPostgres } from './postgres.js';

/**
 * Where a test keeps the hub directory: every directory test runs on both, a SQLite file and a real
 * PostgreSQL server (started once per test file, on first use, stopped after the file), each test
 * in a fresh database of its own.
 */
export interface DirectoryBackend {
  name: 'SQLite' | 'PostgreSQL';
  /** A fresh, empty database. */
  target(): Promise<HubSqlTarget>;
}

let server: Promise<TestPostgres> | undefined;
let databases = 0;
const dirs: { remove(): void }[] = [];

afterAll(async () => {
  const s = server;
  server = undefined;
  if (s) await (await s).stop();
  for (const d of dirs.splice(0)) d.remove();
});

function postgres(): Promise<TestPostgres> {
  server ??= (async () => {
    const dir = tempDir('safegate-dirpg-');
    dirs.push(dir);
    const s = new TestPostgres(dir.path);
    await s.start();
    return s;
  })();
  return server;
}

export const sqliteBackend: DirectoryBackend = {
  name: 'SQLite',
  async target() {
    const dir = tempDir('safegate-dir-');
    dirs.push(dir);
    return { kind: 'sqlite', path: `${dir.path}/hub-directory.db` };
  },
};

export const postgresBackend: DirectoryBackend = {
  name: 'PostgreSQL',
  async target() {
    const s = await postgres();
    return { kind: 'postgres', url: await s.createDatabase(`directory_${process.pid}_${++databases}`) };
  },
};

/** Both backends, for `describe.each(directoryBackends)('... on $name', ...)`. */
export const directoryBackends: readonly DirectoryBackend[] = [sqliteBackend, postgresBackend];
