import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * The registry of organisations (companies, agencies, markets), their sites, the checkpoints at each
 * site and the organisations each checkpoint serves, and the workers each organisation uploaded.
 *
 * A site named before organisations existed (`safegate hub device assign`) is kept with no
 * organisation; `safegate hub site add --org` gives it one. `hub_workers` is hub-only storage of what
 * the law asks an employer to keep (CV 2242: ID number, phone, current residence): it is never part of
 * a downlink stream, and a worker's row goes when the worker is removed.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE organisations (
      org_id     TEXT    PRIMARY KEY,
      name       TEXT    NOT NULL,
      kind       TEXT    NOT NULL CHECK (kind IN ('company', 'agency', 'market')),
      created_ms INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE sites (
      site_id    TEXT    PRIMARY KEY,
      org_id     TEXT    REFERENCES organisations (org_id),
      name       TEXT    NOT NULL,
      created_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sites_org ON sites (org_id);
    INSERT INTO sites (site_id, org_id, name, created_ms)
      SELECT site_id, NULL, site_id, min(since_ms) FROM device_sites GROUP BY site_id;

    CREATE TABLE checkpoints (
      checkpoint_id TEXT    PRIMARY KEY,
      site_id       TEXT    NOT NULL REFERENCES sites (site_id),
      name          TEXT    NOT NULL,
      kind          TEXT    NOT NULL CHECK (kind IN ('gate', 'zone', 'team', 'canteen', 'dormitory', 'bus')),
      created_ms    INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX checkpoints_site ON checkpoints (site_id);

    CREATE TABLE checkpoint_orgs (
      checkpoint_id TEXT NOT NULL REFERENCES checkpoints (checkpoint_id),
      org_id        TEXT NOT NULL REFERENCES organisations (org_id),
      PRIMARY KEY (checkpoint_id, org_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX checkpoint_orgs_org ON checkpoint_orgs (org_id);

    ALTER TABLE device_sites ADD COLUMN checkpoint_id TEXT REFERENCES checkpoints (checkpoint_id);

    CREATE TABLE hub_workers (
      worker_id   TEXT    PRIMARY KEY,
      org_id      TEXT    NOT NULL REFERENCES organisations (org_id),
      site_id     TEXT    NOT NULL REFERENCES sites (site_id),
      team        TEXT    NOT NULL,
      full_name   TEXT    NOT NULL,
      birth_year  INTEGER,
      sex         TEXT    CHECK (sex IN ('male', 'female')),
      id_number   TEXT,
      phone       TEXT,
      residence   TEXT,
      uploaded_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX hub_workers_org ON hub_workers (org_id);

    CREATE TABLE org_uploads (
      org_id      TEXT    PRIMARY KEY REFERENCES organisations (org_id),
      uploaded_ms INTEGER NOT NULL,
      workers     INTEGER NOT NULL
    ) STRICT;
  `);
}
