import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Shuttles: vehicles (plate, the organisations they carry for, their drivers: a worker on a list or
 * a named driver), routes (the organisations they serve, the vehicle that runs them), the workers who
 * ride each route, and the routes a bus checkpoint (a kiosk on the bus) is linked to: its kiosks
 * receive those routes' riders as their roster.
 *
 * Hub supervisors travel on the `supervisors` stream (records scoped by site: a kiosk receives its
 * site's). `device_stream_scopes` holds, per device and stream, the revision at which what the device
 * receives last changed (it moved to another site): a cursor below it gets a fresh snapshot.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE vehicles (
      vehicle_id TEXT    PRIMARY KEY,
      plate      TEXT    NOT NULL UNIQUE,
      created_ms INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE vehicle_orgs (
      vehicle_id TEXT NOT NULL REFERENCES vehicles (vehicle_id),
      org_id     TEXT NOT NULL REFERENCES organisations (org_id),
      PRIMARY KEY (vehicle_id, org_id)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE vehicle_drivers (
      vehicle_id TEXT NOT NULL REFERENCES vehicles (vehicle_id),
      driver     TEXT NOT NULL,
      worker_id  TEXT,
      name       TEXT,
      PRIMARY KEY (vehicle_id, driver),
      CHECK ((worker_id IS NULL) <> (name IS NULL))
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE routes (
      route_id   TEXT    PRIMARY KEY,
      name       TEXT    NOT NULL,
      vehicle_id TEXT    REFERENCES vehicles (vehicle_id),
      created_ms INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE route_orgs (
      route_id TEXT NOT NULL REFERENCES routes (route_id),
      org_id   TEXT NOT NULL REFERENCES organisations (org_id),
      PRIMARY KEY (route_id, org_id)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE route_riders (
      route_id  TEXT NOT NULL REFERENCES routes (route_id),
      worker_id TEXT NOT NULL,
      PRIMARY KEY (route_id, worker_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX route_riders_worker ON route_riders (worker_id);

    CREATE TABLE checkpoint_routes (
      checkpoint_id TEXT NOT NULL REFERENCES checkpoints (checkpoint_id),
      route_id      TEXT NOT NULL REFERENCES routes (route_id),
      PRIMARY KEY (checkpoint_id, route_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX checkpoint_routes_route ON checkpoint_routes (route_id);

    CREATE TABLE device_stream_scopes (
      device_id TEXT    NOT NULL,
      stream    TEXT    NOT NULL,
      rev       INTEGER NOT NULL,
      PRIMARY KEY (device_id, stream)
    ) STRICT, WITHOUT ROWID;
  `);
}
