import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteConsoleStore } from '../../console/server/sqlite-store.js';
import { tempDir } from '../helpers/fixtures.js';
import { consoleStoreContract } from './console-store.contract.js';

consoleStoreContract('SQLite file', async () => {
  const dir = tempDir('safegate-console-store-');
  return { store: new SqliteConsoleStore(join(dir.path, 'console.db')), dispose: () => dir.remove() };
});

describe('SQLite console store', () => {
  it('refuses, in the schema itself, a manager without an organisation and an organisation on another role', async () => {
    const dir = tempDir('safegate-console-store-');
    const path = join(dir.path, 'console.db');
    await new SqliteConsoleStore(path).close();
    const db = new Database(path);
    const insert = db.prepare("INSERT INTO accounts (name, role, org, password_hash, created_at) VALUES (?, ?, ?, 'h', 'now')");
    expect(() => insert.run('m', 'manager', null)).toThrow(/CHECK constraint/);
    expect(() => insert.run('o', 'operator', 'ORG-A')).toThrow(/CHECK constraint/);
    expect(() => insert.run('x', 'admin', null)).toThrow(/CHECK constraint/);
    db.close();
    dir.remove();
  });

  it('refuses a console database written by a newer SafeGate', () => {
    const dir = tempDir('safegate-console-store-');
    const path = join(dir.path, 'console.db');
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => new SqliteConsoleStore(path)).toThrow(/newer SafeGate/);
    dir.remove();
  });
});
