import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { tempDir } from './helpers/fixtures.js';
import { TestPostgres } from './helpers/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server for the whole run (test/helpers/directory-db.ts makes a database per test on it). */
    postgresUrl: string;
  }
}

/**
 * Tests that start the `safegate` command run the compiled build: make sure it is current. One
 * PostgreSQL server serves every test file that needs one and no server of its own.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b'], { stdio: 'inherit' });
  const dir = tempDir('safegate-pg-run-');
  const server = new TestPostgres(dir.path);
  await server.start();
  project.provide('postgresUrl', server.url());
  return async () => {
    await server.stop();
    dir.remove();
  };
}
