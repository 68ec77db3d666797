import type { Database } from 'better-sqlite3';

/**
 * The gate for everyone (issue 14). Events gain:
 * - `declaration_bits`: a health declaration taken on the kiosk's screen (source 'declaration'),
 *   the answers as a bitmask over DECLARATION_QUESTIONS (base/common/declaration.ts); NULL otherwise;
 * - `visitor_id`: a visitor's pseudonym (base/common/visitor.ts) on their events, which name no
 *   worker and have no code hash;
 * - `visit`: the JSON of a `visitor` event's VisitEventDetails; NULL otherwise.
 * Credential kinds `cccd` and `dcc` join `pass` and `badge`.
 *
 * The last two change CHECK constraints, which SQLite can only do by building the table again. The
 * events' children (alerts, overrides) reference it ON DELETE CASCADE and migrations run with foreign
 * keys on, so dropping the old table would take their rows with it: they are copied aside, dropped,
 * and made again from their own stored definitions (whatever columns later steps gave them) after
 * the events are back under their old sequence numbers. The AUTOINCREMENT counter is carried over
 * so a sequence number is never reused, even when every event was purged.
 */
export function up(db: Database): void {
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

  for (const { name } of children) {
    db.exec(`CREATE TEMP TABLE "aside_${name}" AS SELECT * FROM "${name}"; DROP TABLE "${name}";`);
  }

  db.exec(`
    CREATE TABLE events_0021 (
      seq              INTEGER PRIMARY KEY AUTOINCREMENT,
      wall_ms          INTEGER NOT NULL,
      mono_us          INTEGER NOT NULL,
      boot_id          TEXT    NOT NULL,
      clock_synced     INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
      checkpoint_id    TEXT    NOT NULL,
      zone_id          TEXT    NOT NULL,
      direction        TEXT    NOT NULL CHECK (direction IN ('entry', 'exit')),
      credential_kind  TEXT    NOT NULL CHECK (credential_kind IN ('pass', 'badge', 'cccd', 'dcc', 'unknown')),
      worker_id        TEXT,
      code_hash        TEXT,
      decision         TEXT    NOT NULL CHECK (decision IN ('allow', 'deny')),
      reasons          TEXT    NOT NULL,
      source           TEXT    NOT NULL,
      policy_version   INTEGER NOT NULL,
      synced_at        INTEGER,
      trip_id          TEXT,
      route_id         TEXT,
      lat              REAL,
      lon              REAL,
      position         TEXT    CHECK (position IN ('fix', 'no-fix')),
      clock_source     TEXT    CHECK (clock_source IN ('gps')),
      declaration_bits INTEGER CHECK (declaration_bits BETWEEN 0 AND 2047),
      visitor_id       TEXT,
      visit            TEXT,
      CHECK (worker_id IS NOT NULL OR code_hash IS NOT NULL OR visitor_id IS NOT NULL),
      CHECK ((declaration_bits IS NOT NULL) = (source = 'declaration')),
      CHECK (visit IS NULL OR (source = 'visitor' AND json_valid(visit)))
    ) STRICT;

    INSERT INTO events_0021 (seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction, credential_kind,
      worker_id, code_hash, decision, reasons, source, policy_version, synced_at, trip_id, route_id, lat, lon, position, clock_source)
    SELECT seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction, credential_kind,
      worker_id, code_hash, decision, reasons, source, policy_version, synced_at, trip_id, route_id, lat, lon, position, clock_source
    FROM events ORDER BY seq;

    DROP TABLE events;
    ALTER TABLE events_0021 RENAME TO events;

    CREATE INDEX events_worker_allowed ON events (worker_id, seq) WHERE decision = 'allow';
    CREATE INDEX events_wall ON events (wall_ms);
    CREATE INDEX events_unsynced ON events (seq) WHERE synced_at IS NULL;
    CREATE INDEX events_trace ON events (checkpoint_id, wall_ms, worker_id, decision, direction, source);
    CREATE INDEX events_trip ON events (trip_id, seq) WHERE trip_id IS NOT NULL;
    CREATE INDEX events_visitor ON events (visitor_id, seq) WHERE visitor_id IS NOT NULL;
  `);

  if (sequence !== undefined) {
    const now = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get() as number | undefined;
    if (now === undefined) db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)").run(sequence);
    else if (now < sequence) db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'").run(sequence);
  }

  for (const { name, sql } of children) {
    db.exec(`${sql}; INSERT INTO "${name}" SELECT * FROM temp."aside_${name}"; DROP TABLE temp."aside_${name}";`);
  }
  for (const sql of childIndexes) db.exec(sql);
}
