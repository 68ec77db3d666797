import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { stringify } from 'yaml';
import { safegate, safegateProcess } from '../helpers/cli.js';
import { freePort, TestBroker, TestCertificates } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/fixtures.js';
import { PgConsoleStore } from '../../console/server/pg-store.js';
import { tempDir } from '../helpers/fixtures.js';
import { TestPostgres } from '../helpers/postgres.js';
import { consoleStoreContract } from './console-store.contract.js';

const dir = tempDir('safegate-console-pg-');
const server = new TestPostgres(dir.path);
let databases = 0;

beforeAll(async () => {
  await server.start();
}, 60_000);
afterAll(async () => {
  await server.stop();
  dir.remove();
});

consoleStoreContract('PostgreSQL', async () => {
  const url = await server.createDatabase(`console_${++databases}`);
  return { store: await PgConsoleStore.open(url), dispose: () => undefined };
});

describe('PostgreSQL console store', () => {
  it('migrates once when two hub processes open it at the same time, and refuses a database from a newer SafeGate', async () => {
    const url = await server.createDatabase('console_twice');
    const [a, b] = await Promise.all([PgConsoleStore.open(url), PgConsoleStore.open(url)]);
    await a.close();
    await b.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect((await client.query('SELECT version FROM console_schema_version')).rows).toEqual([{ version: 1 }]);
      await client.query('INSERT INTO console_schema_version (version) VALUES (99)');
    } finally {
      await client.end();
    }
    await expect(PgConsoleStore.open(url)).rejects.toThrow(/newer SafeGate/);
  });
});

describe('a hub on PostgreSQL keeps its console there', () => {
  it('hub user add and hub run use DATABASE_URL for accounts, sessions and the audit trail (no console or directory SQLite file)', async () => {
    const url = await server.createDatabase('console_hub');
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    const broker = new TestBroker(dir.path, certs);
    await broker.start();
    const config = join(dir.path, 'hub.yaml');
    const tls = { ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, 'hub.1.crt'), key: join(certs.dir, 'hub.1.key') };
    writeFileSync(config, stringify({ id: 'hub.1', broker: { ...tls, url: broker.url }, console: { port: await freePort() }, log: { level: 'info' } }));
    const env = { DATABASE_URL: url };
    let hub: ReturnType<typeof safegateProcess> | undefined;
    try {
      const password = 'a password for postgres';
      expect(safegate(['hub', 'user', 'add', '--config', config, '--name', 'op', '--role', 'operator'], { input: `${password}\n`, env }).stderr).toBe('');
      expect(safegate(['hub', 'user', 'list', '--config', config], { env }).stdout).toMatch(/^op\toperator\t-\t/m);
      hub = safegateProcess(['hub', 'run', '--config', config], undefined, { env });
      const base = String((await waitFor(() => hub!.logs.find((l) => l.msg === 'console listening'), 'console listening', 15_000)).url);
      const csrf = await fetch(`${base}/api/csrf`);
      const token = ((await csrf.json()) as { token: string }).token;
      const login = await fetch(`${base}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': token, cookie: csrf.headers.getSetCookie()[0]!.split(';')[0]! },
        body: JSON.stringify({ name: 'op', password }),
      });
      expect(login.status).toBe(200);
      expect(existsSync(join(dir.path, 'hub-console.db'))).toBe(false);
      expect(existsSync(join(dir.path, 'hub-directory.db'))).toBe(false);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        expect((await client.query("SELECT account, action, outcome FROM console_audit WHERE action = 'login'")).rows).toEqual([{ account: 'op', action: 'login', outcome: 'ok' }]);
        expect((await client.query('SELECT count(*)::int AS n FROM console_sessions')).rows).toEqual([{ n: 1 }]);
      } finally {
        await client.end();
      }
    } finally {
      hub?.child.kill('SIGTERM');
      if (hub && hub.child.exitCode === null) await new Promise((r) => hub!.child.once('exit', r));
      await broker.stop();
    }
  }, 60_000);
});
