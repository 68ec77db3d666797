import type { PgMigration } from './hub-sql.js';

/** Milliseconds since the epoch now, as SQLite's CAST(unixepoch('subsec') * 1000 AS INTEGER). */
const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;

/**
 * The hub directory's numbered schema steps on PostgreSQL (schema `directory`; DATABASE_URL). Step 1
 * is the whole schema the SQLite steps 0001–0015 (sync/hub/directory-migrations/) build, in
 * PostgreSQL's types (bigint for times and revisions, integer 0/1 flags, bytea), with SQLite's
 * triggers as PL/pgSQL trigger functions. From here on a change is a new step in both lists, never
 * an edit of a released one.
 */
export const DIRECTORY_PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'baseline',
    sql: `
      CREATE TABLE stream_revisions (stream text PRIMARY KEY, rev bigint NOT NULL);
      CREATE TABLE records (
        stream  text    NOT NULL,
        key     text    NOT NULL,
        value   text    NOT NULL,
        deleted integer NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
        rev     bigint  NOT NULL,
        scope   text    NOT NULL DEFAULT '',
        PRIMARY KEY (stream, key)
      );
      CREATE INDEX records_rev ON records (stream, rev);
      CREATE INDEX records_scope ON records (stream, scope, rev);

      CREATE TABLE organisations (
        org_id     text   PRIMARY KEY,
        name       text   NOT NULL,
        kind       text   NOT NULL CHECK (kind IN ('company', 'agency', 'market')),
        created_ms bigint NOT NULL
      );
      CREATE TABLE sites (
        site_id    text   PRIMARY KEY,
        org_id     text   REFERENCES organisations (org_id),
        name       text   NOT NULL,
        created_ms bigint NOT NULL
      );
      CREATE INDEX sites_org ON sites (org_id);
      CREATE TABLE checkpoints (
        checkpoint_id text   PRIMARY KEY,
        site_id       text   NOT NULL REFERENCES sites (site_id),
        name          text   NOT NULL,
        kind          text   NOT NULL CHECK (kind IN ('gate', 'zone', 'team', 'canteen', 'dormitory', 'bus')),
        created_ms    bigint NOT NULL
      );
      CREATE INDEX checkpoints_site ON checkpoints (site_id);
      CREATE TABLE checkpoint_orgs (
        checkpoint_id text NOT NULL REFERENCES checkpoints (checkpoint_id),
        org_id        text NOT NULL REFERENCES organisations (org_id),
        PRIMARY KEY (checkpoint_id, org_id)
      );
      CREATE INDEX checkpoint_orgs_org ON checkpoint_orgs (org_id);
      CREATE TABLE device_sites (
        device_id     text   PRIMARY KEY,
        site_id       text   NOT NULL,
        since_ms      bigint NOT NULL,
        checkpoint_id text   REFERENCES checkpoints (checkpoint_id)
      );
      CREATE INDEX device_sites_site ON device_sites (site_id);

      CREATE TABLE hub_workers (
        worker_id   text    PRIMARY KEY,
        org_id      text    NOT NULL REFERENCES organisations (org_id),
        site_id     text    NOT NULL REFERENCES sites (site_id),
        team        text    NOT NULL,
        full_name   text    NOT NULL,
        birth_year  integer,
        sex         text    CHECK (sex IN ('male', 'female')),
        id_number   text,
        phone       text,
        residence   text,
        uploaded_ms bigint  NOT NULL
      );
      CREATE INDEX hub_workers_org ON hub_workers (org_id);
      CREATE TABLE org_uploads (
        org_id      text   PRIMARY KEY REFERENCES organisations (org_id),
        uploaded_ms bigint NOT NULL,
        workers     bigint NOT NULL
      );
      CREATE TABLE org_list_uploads (
        org_id      text   NOT NULL REFERENCES organisations (org_id),
        uploaded_ms bigint NOT NULL,
        workers     bigint NOT NULL
      );
      CREATE INDEX org_list_uploads_org ON org_list_uploads (org_id, uploaded_ms);
      CREATE TABLE roster_departures (
        worker_id text   NOT NULL,
        scope     text   NOT NULL,
        rev       bigint NOT NULL,
        PRIMARY KEY (worker_id, scope)
      );
      CREATE INDEX roster_departures_scope ON roster_departures (scope, rev);
      CREATE TABLE device_scopes (device_id text PRIMARY KEY, rev bigint NOT NULL);
      CREATE TABLE device_stream_scopes (
        device_id text   NOT NULL,
        stream    text   NOT NULL,
        rev       bigint NOT NULL,
        PRIMARY KEY (device_id, stream)
      );

      CREATE TABLE passes (
        pass_id     text   PRIMARY KEY CHECK (length(pass_id) = 16),
        worker_id   text   NOT NULL,
        org_id      text   NOT NULL REFERENCES organisations (org_id),
        kind        text   NOT NULL CHECK (kind IN ('printed', 'phone')),
        issued_ms   bigint NOT NULL,
        expires_ms  bigint NOT NULL CHECK (expires_ms > issued_ms),
        revoked_ms  bigint,
        revoked_why text   CHECK (revoked_why IN ('pass', 'worker', 'removed', 'rebound', 'erased')),
        holder_key  bytea,
        code        text,
        CHECK ((kind = 'phone') = (holder_key IS NOT NULL)),
        CHECK ((revoked_ms IS NULL) = (revoked_why IS NULL))
      );
      CREATE INDEX passes_worker ON passes (worker_id, issued_ms);
      CREATE INDEX passes_org ON passes (org_id, issued_ms);

      CREATE TABLE phone_links (
        link_id     text   PRIMARY KEY CHECK (length(link_id) = 16),
        token_hash  bytea  NOT NULL UNIQUE CHECK (length(token_hash) = 32),
        worker_id   text   NOT NULL,
        org_id      text   NOT NULL REFERENCES organisations (org_id),
        made_by     text   NOT NULL,
        made_ms     bigint NOT NULL,
        expires_ms  bigint NOT NULL CHECK (expires_ms > made_ms),
        used_ms     bigint,
        retired_ms  bigint,
        pass_id     text,
        retired_why text   CHECK (retired_why IN ('replaced', 'left'))
      );
      CREATE INDEX phone_links_worker ON phone_links (worker_id, made_ms);
      CREATE INDEX phone_links_org ON phone_links (org_id, made_ms);

      CREATE TABLE vehicles (vehicle_id text PRIMARY KEY, plate text NOT NULL UNIQUE, created_ms bigint NOT NULL);
      CREATE TABLE vehicle_orgs (
        vehicle_id text NOT NULL REFERENCES vehicles (vehicle_id),
        org_id     text NOT NULL REFERENCES organisations (org_id),
        PRIMARY KEY (vehicle_id, org_id)
      );
      CREATE TABLE vehicle_drivers (
        vehicle_id text NOT NULL REFERENCES vehicles (vehicle_id),
        driver     text NOT NULL,
        worker_id  text,
        name       text,
        PRIMARY KEY (vehicle_id, driver),
        CHECK ((worker_id IS NULL) <> (name IS NULL))
      );
      CREATE TABLE routes (
        route_id   text   PRIMARY KEY,
        name       text   NOT NULL,
        vehicle_id text   REFERENCES vehicles (vehicle_id),
        created_ms bigint NOT NULL
      );
      CREATE TABLE route_orgs (
        route_id text NOT NULL REFERENCES routes (route_id),
        org_id   text NOT NULL REFERENCES organisations (org_id),
        PRIMARY KEY (route_id, org_id)
      );
      CREATE TABLE route_riders (
        route_id  text NOT NULL REFERENCES routes (route_id),
        worker_id text NOT NULL,
        PRIMARY KEY (route_id, worker_id)
      );
      CREATE INDEX route_riders_worker ON route_riders (worker_id);
      CREATE TABLE checkpoint_routes (
        checkpoint_id text NOT NULL REFERENCES checkpoints (checkpoint_id),
        route_id      text NOT NULL REFERENCES routes (route_id),
        PRIMARY KEY (checkpoint_id, route_id)
      );
      CREATE INDEX checkpoint_routes_route ON checkpoint_routes (route_id);

      CREATE TABLE declarations (
        decl_id     text    PRIMARY KEY CHECK (length(decl_id) = 22),
        worker_id   text    NOT NULL,
        pass_id     text    NOT NULL,
        made_ms     bigint  NOT NULL,
        received_ms bigint  NOT NULL,
        flagged     integer NOT NULL CHECK (flagged IN (0, 1)),
        answers     text
      );
      CREATE INDEX declarations_worker ON declarations (worker_id, made_ms);
      CREATE INDEX declarations_received ON declarations (received_ms);

      CREATE TABLE kiosk_exports (
        export_id       text   PRIMARY KEY CHECK (length(export_id) BETWEEN 16 AND 64),
        device_id       text   NOT NULL,
        site_id         text,
        checkpoint_id   text,
        supervisor_id   text   NOT NULL,
        supervisor_name text   NOT NULL,
        file_name       text   NOT NULL,
        format          text   NOT NULL CHECK (format IN ('csv', 'xlsx')),
        rows            bigint NOT NULL CHECK (rows >= 0),
        made_ms         bigint NOT NULL,
        received_ms     bigint NOT NULL,
        size            bigint NOT NULL,
        sha256          bytea  NOT NULL CHECK (length(sha256) = 32),
        body            bytea  NOT NULL
      );
      CREATE INDEX kiosk_exports_received ON kiosk_exports (received_ms);
      CREATE TABLE kiosk_export_orgs (
        export_id text NOT NULL REFERENCES kiosk_exports (export_id) ON DELETE CASCADE,
        org_id    text NOT NULL,
        PRIMARY KEY (org_id, export_id)
      );

      CREATE TABLE visits (
        visit_id      text    PRIMARY KEY CHECK (length(visit_id) = 22),
        worker_id     text    NOT NULL,
        pass_id       text    NOT NULL,
        checkpoint_id text    NOT NULL,
        site_id       text    NOT NULL,
        direction     text    NOT NULL CHECK (direction IN ('in', 'out')),
        at_ms         bigint  NOT NULL,
        received_ms   bigint  NOT NULL,
        time_verified integer NOT NULL CHECK (time_verified IN (0, 1)),
        code_kind     text    NOT NULL CHECK (code_kind IN ('static', 'rotating'))
      );
      CREATE INDEX visits_worker ON visits (worker_id, at_ms);
      CREATE INDEX visits_checkpoint ON visits (checkpoint_id, at_ms);

      -- A revoked pass goes out on the revocations stream at the next revision (SQLite: passes_revoked_are_published).
      -- The value is the JSON text JSON.stringify writes ({"passId":"…","revokedAtMs":…}), as SQLite's json_object does.
      CREATE FUNCTION passes_revoked_are_published() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE v_rev bigint;
      BEGIN
        INSERT INTO stream_revisions AS s (stream, rev) VALUES ('revocations', 1)
          ON CONFLICT (stream) DO UPDATE SET rev = s.rev + 1
          RETURNING s.rev INTO v_rev;
        INSERT INTO records (stream, key, value, deleted, rev)
          VALUES ('revocations', NEW.pass_id, '{"passId":' || to_json(NEW.pass_id)::text || ',"revokedAtMs":' || NEW.revoked_ms || '}', 0, v_rev)
          ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value, deleted = 0, rev = excluded.rev;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER passes_revoked_are_published AFTER UPDATE OF revoked_ms ON passes
        FOR EACH ROW WHEN (OLD.revoked_ms IS NULL AND NEW.revoked_ms IS NOT NULL)
        EXECUTE FUNCTION passes_revoked_are_published();

      -- A worker taken off the roster loses every live pass and every unused phone link
      -- (SQLite: removed_workers_lose_their_passes, removed_workers_lose_their_links).
      CREATE FUNCTION removed_workers_lose_passes_and_links() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        UPDATE passes SET revoked_ms = ${NOW_MS}, revoked_why = 'removed', code = NULL
          WHERE worker_id = NEW.key AND revoked_ms IS NULL AND expires_ms > ${NOW_MS};
        UPDATE phone_links SET retired_ms = ${NOW_MS}, retired_why = 'left'
          WHERE worker_id = NEW.key AND used_ms IS NULL AND retired_ms IS NULL;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER removed_workers_lose_passes_and_links AFTER UPDATE OF deleted ON records
        FOR EACH ROW WHEN (NEW.stream = 'roster' AND OLD.deleted = 0 AND NEW.deleted = 1)
        EXECUTE FUNCTION removed_workers_lose_passes_and_links();

      -- A worker who leaves an organisation's list, or moves to another organisation, loses that
      -- organisation's unused phone links (SQLite: workers_leaving_a_list_lose_their_links, workers_moving_lose_their_links).
      CREATE FUNCTION workers_leaving_lose_their_links() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        UPDATE phone_links SET retired_ms = ${NOW_MS}, retired_why = 'left'
          WHERE worker_id = OLD.worker_id AND org_id = OLD.org_id AND used_ms IS NULL AND retired_ms IS NULL;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER workers_leaving_a_list_lose_their_links AFTER DELETE ON hub_workers
        FOR EACH ROW EXECUTE FUNCTION workers_leaving_lose_their_links();
      CREATE TRIGGER workers_moving_lose_their_links AFTER UPDATE OF org_id ON hub_workers
        FOR EACH ROW WHEN (NEW.org_id IS DISTINCT FROM OLD.org_id)
        EXECUTE FUNCTION workers_leaving_lose_their_links();
    `,
  },
  {
    version: 2,
    name: 'alerts',
    sql: `
      CREATE TABLE alert_recipients (
        recipient_id text    PRIMARY KEY,
        org_id       text,
        site_id      text,
        channel      text    NOT NULL CHECK (channel IN ('email', 'webhook')),
        address      text    NOT NULL,
        secret       text,
        categories   text,
        created_ms   bigint  NOT NULL,
        disabled     integer NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        removed_ms   bigint
      );
      CREATE INDEX alert_recipients_org ON alert_recipients (org_id);

      CREATE TABLE hub_alert_book (
        alert_id        text    PRIMARY KEY,
        dedup_key       text    NOT NULL UNIQUE,
        source          text    NOT NULL CHECK (source IN ('kiosk', 'hub')),
        kind            text    NOT NULL,
        category        text    NOT NULL CHECK (category IN ('health', 'override', 'gate', 'device', 'compliance')),
        org_id          text,
        site_id         text,
        checkpoint_id   text,
        device_id       text,
        seq             bigint,
        at_ms           bigint  NOT NULL,
        raised_ms       bigint  NOT NULL,
        acknowledged_by text,
        acknowledged_ms bigint,
        change_seq      bigint  NOT NULL
      );
      CREATE INDEX hub_alert_book_raised ON hub_alert_book (raised_ms);
      CREATE INDEX hub_alert_book_org ON hub_alert_book (org_id, raised_ms);
      CREATE INDEX hub_alert_book_change ON hub_alert_book (change_seq);

      CREATE TABLE alert_deliveries (
        alert_id        text    NOT NULL REFERENCES hub_alert_book (alert_id),
        recipient_id    text    NOT NULL REFERENCES alert_recipients (recipient_id),
        channel         text    NOT NULL CHECK (channel IN ('email', 'webhook')),
        state           text    NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
        attempts        integer NOT NULL DEFAULT 0,
        created_ms      bigint  NOT NULL,
        next_attempt_ms bigint  NOT NULL,
        lease_until_ms  bigint,
        last_error      text,
        last_attempt_ms bigint,
        sent_ms         bigint,
        PRIMARY KEY (alert_id, recipient_id)
      );
      CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_ms);
      CREATE INDEX alert_deliveries_recipient ON alert_deliveries (recipient_id);
    `,
  },
  {
    version: 3,
    name: 'trace-console',
    sql: `
      CREATE TABLE saved_traces (
        trace_id       text    PRIMARY KEY,
        case_worker_id text    NOT NULL,
        case_org_id    text,
        scope_org_id   text,
        from_ms        bigint  NOT NULL,
        to_ms          bigint  NOT NULL CHECK (to_ms > from_ms),
        second_degree  integer NOT NULL CHECK (second_degree IN (0, 1)),
        options        text    NOT NULL,
        started_by     text    NOT NULL,
        started_ms     bigint  NOT NULL,
        contacts       integer NOT NULL CHECK (contacts >= 0),
        result         text    NOT NULL
      );
      CREATE INDEX saved_traces_started ON saved_traces (started_ms);
      CREATE INDEX saved_traces_scope ON saved_traces (scope_org_id, started_ms);
      CREATE INDEX saved_traces_case_org ON saved_traces (case_org_id, started_ms);

      CREATE TABLE trace_notified (
        trace_id    text    NOT NULL REFERENCES saved_traces (trace_id) ON DELETE CASCADE,
        worker_id   text    NOT NULL,
        notified_by text    NOT NULL,
        notified_ms bigint  NOT NULL,
        PRIMARY KEY (trace_id, worker_id)
      );
    `,
  },
  {
    version: 4,
    name: 'reports',
    sql: `
      CREATE TABLE report_runs (
        run_key        text    PRIMARY KEY,
        kind           text    NOT NULL CHECK (kind IN ('summary', 'labour-list', 'labour-notice')),
        day            text    NOT NULL,
        org_id         text,
        address        text,
        state          text    NOT NULL CHECK (state IN ('claimed', 'done')),
        lease_until_ms bigint  NOT NULL,
        attempts       integer NOT NULL CHECK (attempts >= 0),
        last_error     text,
        done_ms        bigint
      );
      CREATE INDEX report_runs_day ON report_runs (day);

      CREATE TABLE labour_lists (
        org_id  text    PRIMARY KEY,
        day     text    NOT NULL,
        made_ms bigint  NOT NULL,
        workers integer NOT NULL CHECK (workers >= 0),
        body    bytea   NOT NULL
      );
    `,
  },
  {
    // SQLite 0019-alert-counter-leases: a change counter a purge cannot lower, a token per delivery lease.
    version: 5,
    name: 'alert-counter-leases',
    sql: `
      CREATE TABLE alert_change_counter (
        id   integer PRIMARY KEY CHECK (id = 1),
        last bigint  NOT NULL
      );
      INSERT INTO alert_change_counter (id, last) SELECT 1, coalesce(max(change_seq), 0) FROM hub_alert_book;

      ALTER TABLE alert_deliveries ADD COLUMN lease_token text;
    `,
  },
  {
    // SQLite 0020-device-placements: where each device was placed, over time (tracing reads the one in effect).
    version: 6,
    name: 'device-placements',
    sql: `
      CREATE TABLE device_placements (
        device_id     text   NOT NULL,
        since_ms      bigint NOT NULL,
        checkpoint_id text,
        PRIMARY KEY (device_id, since_ms)
      );
      INSERT INTO device_placements (device_id, since_ms, checkpoint_id)
        SELECT device_id, since_ms, checkpoint_id FROM device_sites WHERE checkpoint_id IS NOT NULL;
    `,
  },
  {
    // SQLite 0021-fleet: enrolment tokens (hashes only), enrolled devices and every certificate serial issued.
    version: 7,
    name: 'fleet',
    sql: `
      CREATE TABLE fleet_enrolment_tokens (
        token_hash           text    PRIMARY KEY,
        device_id            text    NOT NULL UNIQUE,
        site_id              text    NOT NULL,
        checkpoint_id        text    NOT NULL,
        checkpoint_name      text    NOT NULL,
        checkpoint_kind      text    NOT NULL,
        checkpoint_zone      text,
        checkpoint_direction text    NOT NULL CHECK (checkpoint_direction IN ('entry', 'exit', 'both')),
        gpio_profile         text,
        created_ms           bigint  NOT NULL,
        expires_ms           bigint  NOT NULL,
        used_ms              bigint
      );

      CREATE TABLE fleet_devices (
        device_id          text    PRIMARY KEY,
        enrolled_ms        bigint  NOT NULL,
        cert_serial        text    NOT NULL,
        cert_not_after_ms  bigint  NOT NULL,
        cert_fingerprint   text    NOT NULL,
        settings_document  bytea   NOT NULL,
        revoked_ms         bigint
      );

      CREATE TABLE fleet_certificates (
        serial_hex    text    PRIMARY KEY,
        device_id     text    NOT NULL,
        issued_ms     bigint  NOT NULL,
        not_after_ms  bigint  NOT NULL
      );
      CREATE INDEX fleet_certificates_device ON fleet_certificates (device_id);
    `,
  },
  {
    // SQLite 0022-device-settings: each device's remote settings versions (signed as sent) and what it reported.
    version: 8,
    name: 'device-settings',
    sql: `
      CREATE TABLE device_settings_versions (
        device_id text   NOT NULL,
        version   bigint NOT NULL CHECK (version >= 2),
        overlay   text   NOT NULL,
        issued_ms bigint NOT NULL,
        issued_by text   NOT NULL,
        signed    bytea  NOT NULL,
        PRIMARY KEY (device_id, version)
      );
      CREATE TABLE device_settings_reports (
        device_id        text   PRIMARY KEY,
        applied_version  bigint NOT NULL,
        refused_version  bigint,
        refused_problems text,
        since_ms         bigint NOT NULL
      );
    `,
  },
  {
    // SQLite 0023-revocations: revoked devices (enrolled or not) and the hub processes' broker cut-off confirmation.
    version: 9,
    name: 'revocations',
    sql: `
      CREATE TABLE fleet_revocations (
        device_id  text   PRIMARY KEY,
        revoked_ms bigint NOT NULL,
        cutoff_ms  bigint
      );
      INSERT INTO fleet_revocations (device_id, revoked_ms, cutoff_ms)
        SELECT device_id, revoked_ms, NULL FROM fleet_devices WHERE revoked_ms IS NOT NULL;
    `,
  },
  {
    // SQLite 0024-enrol-retry: the device's current certificate whole, for an enrolment retried with the same key.
    version: 10,
    name: 'enrol-retry',
    sql: `ALTER TABLE fleet_devices ADD COLUMN cert_pem text;`,
  },
  {
    // SQLite 0025-declaration-clearances: a health officer's clearance of a flagged declaration (who, when, which, why).
    version: 11,
    name: 'declaration-clearances',
    sql: `
      CREATE TABLE declaration_clearances (
        worker_id   text   NOT NULL,
        cleared_ms  bigint NOT NULL,
        cleared_by  text   NOT NULL,
        declared_ms bigint NOT NULL,
        reason      text   NOT NULL
      );
      CREATE INDEX declaration_clearances_worker ON declaration_clearances (worker_id, cleared_ms);
      CREATE INDEX declaration_clearances_time ON declaration_clearances (cleared_ms);
    `,
  },
];
