import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { greatest, inList, isAnyOf, openHubSql, type HubSqlSchema } from '../../../sync/hub/hub-sql.js';
import { directoryBackends, postgresBackend } from '../../helpers/directory-db.js';

const schema: HubSqlSchema = {
  name: 'sqltest',
  sqlite: [{ version: 1, name: 'things', up: (db) => db.exec('CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL, flag INTEGER NOT NULL DEFAULT 0) STRICT') }],
  postgres: [{ version: 1, name: 'things', sql: 'CREATE TABLE things (id text PRIMARY KEY, n bigint NOT NULL, flag integer NOT NULL DEFAULT 0)' }],
};

describe.each(directoryBackends)('hub SQL on $name', (backend) => {
  it('runs the same statements: parameters, counts, big numbers, lists, greatest, upserts with RETURNING', async () => {
    const db = await openHubSql(await backend.target(), schema);
    try {
      expect(await db.run(sql`INSERT INTO things (id, n) VALUES (${'a'}, ${1_700_000_000_000}), (${'b'}, ${2})`)).toBe(2);
      const a = await db.get<{ n: number }>(sql`SELECT n FROM things WHERE id = ${'a'}`);
      expect(a).toEqual({ n: 1_700_000_000_000 });
      expect(await db.all<{ id: string }>(sql`SELECT id FROM things WHERE id IN ${inList(['a', 'x'])} ORDER BY id`)).toEqual([{ id: 'a' }]);
      expect(await db.all(sql`SELECT id FROM things WHERE id IN ${inList([])}`)).toEqual([]);
      // A long list as one parameter, quotes and non-ASCII text included.
      const many = [...Array.from({ length: 40_000 }, (_, i) => `x${i}`), 'b', "o'\"q\u00e9"];
      expect(await db.all<{ id: string }>(sql`SELECT id FROM things WHERE ${isAnyOf(db.dialect, sql.ref('id'), many)} ORDER BY id`)).toEqual([{ id: 'b' }]);
      expect(await db.all(sql`SELECT id FROM things WHERE ${isAnyOf(db.dialect, sql.ref('id'), [])}`)).toEqual([]);
      const up = await db.all<{ n: number }>(
        sql`INSERT INTO things (id, n) VALUES (${'b'}, ${1}) ON CONFLICT (id) DO UPDATE SET n = ${greatest(db.dialect, sql.ref('things.n'), sql.ref('excluded.n'))} RETURNING n`,
      );
      expect(up).toEqual([{ n: 2 }]);
      expect(await db.get<{ c: number }>(sql`SELECT count(*) AS c FROM things`)).toEqual({ c: 2 });
      expect(await db.get(sql`SELECT n FROM things WHERE id = ${'none'}`)).toBeUndefined();
    } finally {
      await db.close();
    }
  });

  it('writes in a transaction that rolls back whole on an error, and nests', async () => {
    const db = await openHubSql(await backend.target(), schema);
    try {
      await expect(
        db.write(async (tx) => {
          await tx.run(sql`INSERT INTO things (id, n) VALUES (${'a'}, ${1})`);
          await tx.write((inner) => inner.run(sql`INSERT INTO things (id, n) VALUES (${'b'}, ${1})`));
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(await db.get<{ c: number }>(sql`SELECT count(*) AS c FROM things`)).toEqual({ c: 0 });
      // A statement that fails inside rolls back too, and the database stays usable.
      await expect(db.write((tx) => tx.run(sql`INSERT INTO things (id, n) VALUES (${'a'}, ${null})`))).rejects.toThrow();
      expect(await db.write((tx) => tx.run(sql`INSERT INTO things (id, n) VALUES (${'a'}, ${1})`))).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('lets one writer at a time read and bump a counter, across two handles on the same database', async () => {
    const target = await backend.target();
    // Two openers (in one process, a SQLite file's share its connection; PostgreSQL: two pools).
    const [a, b] = [await openHubSql(target, schema), await openHubSql(target, schema)];
    try {
      await a.run(sql`INSERT INTO things (id, n) VALUES (${'rev'}, ${0})`);
      const bump = (db: typeof a) =>
        db.write(async (tx) => {
          const { n } = (await tx.get<{ n: number }>(sql`SELECT n FROM things WHERE id = ${'rev'}`))!;
          await new Promise((r) => setTimeout(r, 2));
          await tx.run(sql`UPDATE things SET n = ${n + 1} WHERE id = ${'rev'}`);
        });
      await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 ? a : b)));
      expect(await a.get<{ n: number }>(sql`SELECT n FROM things WHERE id = ${'rev'}`)).toEqual({ n: 20 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses a database whose schema is newer than this code knows', async () => {
    const target = await backend.target();
    const newer: HubSqlSchema = {
      ...schema,
      sqlite: [...schema.sqlite, { version: 2, name: 'more', up: (db) => db.exec('CREATE TABLE more (x TEXT) STRICT') }],
      postgres: [...schema.postgres, { version: 2, name: 'more', sql: 'CREATE TABLE more (x text)' }],
    };
    await (await openHubSql(target, newer)).close();
    await expect(openHubSql(target, schema)).rejects.toThrow(/newer|knows up to 1/);
  });
});

describe('hub SQL on a PostgreSQL that cannot be reached', () => {
  it('says which server it tried, without the password', async () => {
    const err = await openHubSql({ kind: 'postgres', url: 'postgres://hub:s3cret@127.0.0.1:1/province' }, schema).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/cannot reach the PostgreSQL server in DATABASE_URL \(127\.0\.0\.1:1\/province\)/);
    expect((err as Error).message).not.toContain('s3cret');
  });
});

describe('hub SQL on PostgreSQL, writers queued behind a long write', () => {
  it('leave the pool free for reads: a read answers while the first write still holds the lock', async () => {
    const db = await openHubSql(await postgresBackend.target(), schema, { poolSize: 2 });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const first = db.write(async (tx) => {
        await tx.run(sql`INSERT INTO things (id, n) VALUES (${'long'}, ${1})`);
        await held;
      });
      const queued = [2, 3, 4].map((n) => db.write((tx) => tx.run(sql`INSERT INTO things (id, n) VALUES (${`w${n}`}, ${n})`)));
      await new Promise((r) => setTimeout(r, 200));
      const read = db.get<{ c: number }>(sql`SELECT count(*) AS c FROM things`);
      const answer = await Promise.race([read, new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 5_000))]);
      expect(answer).toEqual({ c: 0 });
      release();
      await first;
      await Promise.all(queued);
      expect(await db.get<{ c: number }>(sql`SELECT count(*) AS c FROM things`)).toEqual({ c: 4 });
    } finally {
      await db.close();
    }
  });
});
