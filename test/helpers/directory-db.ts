import { randomUUID } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import type { HubSqlTarget } from '../../sync/hub/hub-sql.js';
import { tempDir } from './fixtures.js';
import pg from 'pg';
import { TestPostgres } from './postgres.js';

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Where a test keeps the hub directory: every directory test runs on both, a SQLite file and a real
 * PostgreSQL server (the run's, from test/global-setup.ts; without it one started for the test file
 * on first use and stopped after it), each test in a fresh database of its own.
 */
export interface DirectoryBackend {
  name: 'SQLite' | 'PostgreSQL';
  /** A fresh, empty database. */
  target(): Promise<HubSqlTarget>;
}

let server: Promise<TestPostgres> | undefined;
const dirs: { remove(): void }[] = [];

afterAll(async () => {
  const s = server;
  server = undefined;
  if (s) await (await s).stop();
  for (const d of dirs.splice(0)) d.remove();
});

/** The run's server (test/global-setup.ts), else one for this file. */
function postgres(): Promise<Pick<TestPostgres, 'createDatabase'>> {
  const shared = inject('postgresUrl');
  if (shared) return Promise.resolve({ createDatabase: (name: string) => createDatabase(shared, name) });
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
    return { kind: 'postgres', url: await s.createDatabase(`directory_${randomUUID().replaceAll('-', '')}`) };
  },
};

/** Both backends, for `describe.each(directoryBackends)('... on $name', ...)`. */
export const directoryBackends: readonly DirectoryBackend[] = [sqliteBackend, postgresBackend];
