import type { Database } from 'better-sqlite3';

/**
 * A declaration event's answer bits are erased after 14 days (Decree 13, issue 14 declaration review 2;
 * base/common/declaration.ts DECLARATION_ANSWERS_KEPT_DAYS) while the event itself stays for the store's
 * retention: `declaration_bits` may now be NULL on a declaration event (never set on another one).
 *
 * A CHECK constraint changes only by building the table again, as in 0021: the events' children
 * (alerts, overrides: ON DELETE CASCADE) are copied aside and made again from their own stored
 * definitions, the events are copied under their sequence numbers, the indexes made again from their
 * stored definitions, and the AUTOINCREMENT counter carried over. The table is rebuilt from its own
 * stored definition with only that constraint changed, so columns later steps add are kept.
 */
const OLD_CHECK = "CHECK ((declaration_bits IS NOT NULL) = (source = 'declaration'))";
const NEW_CHECK = "CHECK (declaration_bits IS NULL OR source = 'declaration')";

export function up(db: Database): void {
  const definition = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").pluck().get() as string;
  if (!definition.includes(OLD_CHECK)) throw new Error('0024: the events table is not as migration 0021 left it');
  const rebuilt = definition.replace(OLD_CHECK, NEW_CHECK).replace(/^CREATE TABLE\s+("events"|events)/, 'CREATE TABLE events_0024');
  const indexes = db.prepare("SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY type, name").pluck().all() as string[];
  const children = db
    .prepare(
      `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT IN ('events', 'sqlite_sequence')
         AND sql LIKE '%REFERENCES events%' ORDER BY name`,
    )
    .all() as { name: string; sql: string }[];
  const childIndexes = db
    .prepare(
      `SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
         AND tbl_name IN (SELECT value FROM json_each(?)) ORDER BY name`,
    )
    .pluck()
    .all(JSON.stringify(children.map((c) => c.name))) as string[];
  const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get() as number | undefined;

  for (const { name } of children) db.exec(`CREATE TEMP TABLE "aside_${name}" AS SELECT * FROM "${name}"; DROP TABLE "${name}";`);
  db.exec(`${rebuilt}; INSERT INTO events_0024 SELECT * FROM events ORDER BY seq; DROP TABLE events; ALTER TABLE events_0024 RENAME TO events;`);
  for (const sql of indexes) db.exec(sql);

  if (sequence !== undefined) {
    const now = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get() as number | undefined;
    if (now === undefined) db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)").run(sequence);
    else if (now < sequence) db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'").run(sequence);
  }
  for (const { name, sql } of children) db.exec(`${sql}; INSERT INTO "${name}" SELECT * FROM temp."aside_${name}"; DROP TABLE temp."aside_${name}";`);
  for (const sql of childIndexes) db.exec(sql);
}
