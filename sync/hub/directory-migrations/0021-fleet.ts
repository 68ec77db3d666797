import type { SqliteDatabase } from '../../../base/node/sqlite.js';

/**
 * Fleet enrolment (`safegate hub enrol create`, the enrolment server): one-time enrolment tokens
 * (only their SHA-256 is kept), each for a device id the hub assigned and the settings the device
 * gets (site, checkpoint, GPIO profile); the devices enrolled, with their current certificate, the
 * signed enrolment settings document and the time they were revoked; and every certificate serial
 * issued to a device, so the CRL lists all of a revoked device's certificates.
 */
export function up(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE fleet_enrolment_tokens (
      token_hash           TEXT    PRIMARY KEY,
      device_id            TEXT    NOT NULL UNIQUE,
      site_id              TEXT    NOT NULL,
      checkpoint_id        TEXT    NOT NULL,
      checkpoint_name      TEXT    NOT NULL,
      checkpoint_kind      TEXT    NOT NULL,
      checkpoint_zone      TEXT,
      checkpoint_direction TEXT    NOT NULL CHECK (checkpoint_direction IN ('entry', 'exit', 'both')),
      gpio_profile         TEXT,
      created_ms           INTEGER NOT NULL,
      expires_ms           INTEGER NOT NULL,
      used_ms              INTEGER
    ) STRICT;

    CREATE TABLE fleet_devices (
      device_id          TEXT    PRIMARY KEY,
      enrolled_ms        INTEGER NOT NULL,
      cert_serial        TEXT    NOT NULL,
      cert_not_after_ms  INTEGER NOT NULL,
      cert_fingerprint   TEXT    NOT NULL,
      settings_document  BLOB    NOT NULL,
      revoked_ms         INTEGER
    ) STRICT;

    CREATE TABLE fleet_certificates (
      serial_hex    TEXT    PRIMARY KEY,
      device_id     TEXT    NOT NULL,
      issued_ms     INTEGER NOT NULL,
      not_after_ms  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX fleet_certificates_device ON fleet_certificates (device_id);
  `);
}
