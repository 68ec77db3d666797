import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DIRECTORY_MIGRATIONS } from '../../../sync/hub/directory.js';
import { DIRECTORY_PG_MIGRATIONS } from '../../../sync/hub/directory-pg-migrations.js';
import { openHubSql, type HubSql } from '../../../sync/hub/hub-sql.js';
import { postgresBackend, sqliteBackend } from '../../helpers/directory-db.js';

const schema = { name: 'directory', sqlite: DIRECTORY_MIGRATIONS, postgres: DIRECTORY_PG_MIGRATIONS };

/** Every table with its columns (name, nullable), and the triggers' tables and events, as the database reports them. */
async function shapeOf(db: HubSql): Promise<{ columns: string[]; triggers: string[] }> {
  if (db.dialect === 'sqlite') {
    const tables = await db.all<{ name: string }>(sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`);
    const columns: string[] = [];
    for (const t of tables) {
      for (const c of await db.all<{ name: string; notnull: number; pk: number }>(sql`SELECT name, "notnull", pk FROM pragma_table_info(${t.name})`)) {
        columns.push(`${t.name}.${c.name} ${c.notnull || c.pk ? 'not null' : 'null'}`);
      }
    }
    const triggers = await db.all<{ tbl_name: string; sql: string }>(sql`SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'`);
    return { columns: columns.sort(), triggers: triggers.map((t) => `${t.tbl_name} ${/AFTER (UPDATE OF \w+|DELETE|INSERT)/.exec(t.sql)![1]}`).sort() };
  }
  const cols = await db.all<{ table_name: string; column_name: string; is_nullable: string }>(
    sql`SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'directory' AND table_name <> 'schema_version'`,
  );
  const triggers = await db.all<{ table: string; event: string; column: string | null }>(
    sql`SELECT t.event_object_table AS table, t.event_manipulation AS event, c.event_object_column AS column
        FROM information_schema.triggers t LEFT JOIN information_schema.triggered_update_columns c
          ON c.trigger_schema = t.trigger_schema AND c.trigger_name = t.trigger_name
        WHERE t.trigger_schema = 'directory'`,
  );
  return {
    columns: cols.map((c) => `${c.table_name}.${c.column_name} ${c.is_nullable === 'YES' ? 'null' : 'not null'}`).sort(),
    triggers: triggers.map((t) => `${t.table} ${t.event === 'UPDATE' ? `UPDATE OF ${t.column}` : t.event}`).sort(),
  };
}

describe('the hub directory schema', () => {
  it('is the same on PostgreSQL as on SQLite: tables, columns, nullability, and what the triggers watch', async () => {
    const lite = await openHubSql(await sqliteBackend.target(), schema);
    const pg = await openHubSql(await postgresBackend.target(), schema);
    try {
      const [a, b] = [await shapeOf(lite), await shapeOf(pg)];
      expect(b.columns).toEqual(a.columns);
      // SQLite's two roster-removal triggers are one PostgreSQL trigger doing both.
      expect([...new Set(b.triggers)]).toEqual([...new Set(a.triggers)]);
    } finally {
      await lite.close();
      await pg.close();
    }
  });
});
