import pg from 'pg';
import type { WireEvent } from '../batch-codec.js';
import type { Alert, Heartbeat } from '../protocol.js';
import {
  alertFromRow,
  EVENT_TIME_SQL,
  hubEventFromRow,
  mergeCheckpointWindows,
  PRESENCE_COLUMNS,
  registrationsFromRows,
  VISITOR_PRESENCE_COLUMNS,
  type VisitorRegistration,
  presenceFromRow,
  reportedFromRows,
  type ReportedPlace,
  type ReportedRow,
  type CheckpointWindow,
  type DeviceStatus,
  type EventCount,
  type EventCursor,
  type EventFilter,
  type HubEvent,
  type HubStore,
  type OrganisationStamp,
  type PresenceEvent,
  type IngestRequest,
  type IngestResult,
  storedHeartbeat,
  busColumnsOf,
  hasBusFields,
  everyoneColumnsOf,
  hasEveryoneFields,
  PASSAGE_SQL,
} from './store.js';
import type { ClockAnchor } from '../batch-codec.js';
import { dateEvent } from './dating.js';
import { pgTrips, type HubTrip, type TripQuery } from './trips.js';

/** Numbered schema steps for PostgreSQL, applied in one transaction each; a newer schema is refused. */
const PG_MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE hub_events (
        device_id text NOT NULL, seq bigint NOT NULL, wall_ms bigint NOT NULL, mono_us bigint NOT NULL,
        boot_id text NOT NULL, clock_synced boolean NOT NULL, checkpoint_id text NOT NULL, zone_id text NOT NULL,
        direction text NOT NULL, credential_kind text NOT NULL, worker_id text, code_hash text,
        decision text NOT NULL, reasons text NOT NULL, source text NOT NULL, policy_version integer NOT NULL,
        received_ms bigint NOT NULL,
        PRIMARY KEY (device_id, seq)
      );
      CREATE INDEX hub_events_worker ON hub_events (worker_id, wall_ms) WHERE worker_id IS NOT NULL;
      CREATE TABLE devices (
        device_id text PRIMARY KEY, contiguous_seq bigint NOT NULL DEFAULT 0, max_seq bigint NOT NULL DEFAULT 0,
        last_seen_ms bigint NOT NULL
      );`,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE hub_alerts (
        device_id text NOT NULL, seq bigint NOT NULL, kind text NOT NULL, at_ms bigint NOT NULL,
        checkpoint_id text NOT NULL, worker_id text NOT NULL, reasons text NOT NULL, received_ms bigint NOT NULL,
        PRIMARY KEY (device_id, seq)
      );
      CREATE TABLE device_heartbeats (device_id text PRIMARY KEY, heartbeat jsonb NOT NULL, received_ms bigint NOT NULL);`,
  },
  {
    version: 3,
    sql: `
      ALTER TABLE hub_events ADD COLUMN clock text NOT NULL DEFAULT 'unverified' CHECK (clock IN ('synced', 'corrected', 'unverified'));
      ALTER TABLE hub_events ADD COLUMN corrected_wall_ms bigint;`,
  },
  {
    version: 4,
    sql: `ALTER TABLE hub_alerts ADD COLUMN note text;`,
  },
  {
    // A batch in one round trip: a hub process handles one batch at a time, so the seven round trips
    // of the transaction this replaces (begin, upsert, lock, insert, read back, update, commit) bounded
    // its ingest more than its CPU did. Same steps, same locking: the upsert locks the device's row, so
    // concurrent ingests of one device by several hub processes still run one after the other.
    version: 5,
    sql: `
      CREATE FUNCTION hub_ingest(p_device text, p_received bigint, p_seq bigint[], p_wall bigint[], p_mono bigint[],
        p_boot text[], p_synced boolean[], p_checkpoint text[], p_zone text[], p_direction text[], p_kind text[],
        p_worker text[], p_code text[], p_decision text[], p_reasons text[], p_source text[], p_policy integer[],
        p_clock text[], p_corrected bigint[], p_max_gaps integer)
      RETURNS TABLE (o_inserted integer, o_contiguous bigint, o_gaps bigint[])
      LANGUAGE plpgsql AS $fn$
      DECLARE
        prev_contiguous bigint;
        prev_max bigint;
        n integer;
        s bigint;
        expected bigint;
        contiguous bigint;
        g bigint[] := '{}';
        ngaps integer := 0;
      BEGIN
        INSERT INTO devices AS d (device_id, last_seen_ms) VALUES (p_device, p_received)
          ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms
          RETURNING d.contiguous_seq, d.max_seq INTO prev_contiguous, prev_max;
        -- At or below the watermark everything was stored already (perhaps since purged by retention).
        INSERT INTO hub_events (device_id, seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction,
            credential_kind, worker_id, code_hash, decision, reasons, source, policy_version, clock, corrected_wall_ms, received_ms)
          SELECT p_device, u.*, p_received FROM unnest(p_seq, p_wall, p_mono, p_boot, p_synced, p_checkpoint, p_zone,
            p_direction, p_kind, p_worker, p_code, p_decision, p_reasons, p_source, p_policy, p_clock, p_corrected)
            AS u (seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction, credential_kind, worker_id,
              code_hash, decision, reasons, source, policy_version, clock, corrected_wall_ms)
          WHERE u.seq > prev_contiguous
          ON CONFLICT (device_id, seq) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        contiguous := prev_contiguous;
        expected := contiguous + 1;
        FOR s IN SELECT e.seq FROM hub_events e WHERE e.device_id = p_device AND e.seq > prev_contiguous ORDER BY e.seq LOOP
          IF s > expected AND ngaps < p_max_gaps THEN
            g := g || ARRAY[expected, s - 1];
            ngaps := ngaps + 1;
          END IF;
          IF ngaps = 0 THEN contiguous := s; END IF;
          expected := s + 1;
        END LOOP;
        UPDATE devices SET contiguous_seq = contiguous, max_seq = greatest(prev_max, expected - 1) WHERE device_id = p_device;
        RETURN QUERY SELECT n, contiguous, g;
      END
      $fn$;`,
  },
  {
    // The same steps, but the device's row is locked only for the watermark, not while the events go
    // in: with several hub processes, one device's batches can arrive at two of them at once, and the
    // second then waited for the first's whole insert. The events are inserted first (the unique key
    // alone keeps them once); then the row lock is taken, and the scan after it, a statement of its
    // own, sees every batch committed before the lock was granted, so the last of two concurrent
    // ingests always counts the other's events in the watermark.
    version: 6,
    sql: `
      CREATE OR REPLACE FUNCTION hub_ingest(p_device text, p_received bigint, p_seq bigint[], p_wall bigint[], p_mono bigint[],
        p_boot text[], p_synced boolean[], p_checkpoint text[], p_zone text[], p_direction text[], p_kind text[],
        p_worker text[], p_code text[], p_decision text[], p_reasons text[], p_source text[], p_policy integer[],
        p_clock text[], p_corrected bigint[], p_max_gaps integer)
      RETURNS TABLE (o_inserted integer, o_contiguous bigint, o_gaps bigint[])
      LANGUAGE plpgsql AS $fn$
      DECLARE
        seen_contiguous bigint;
        prev_contiguous bigint;
        prev_max bigint;
        n integer;
        s bigint;
        expected bigint;
        contiguous bigint;
        g bigint[] := '{}';
        ngaps integer := 0;
      BEGIN
        -- Read without a lock: the watermark only grows, so an older value only lets more through.
        SELECT d.contiguous_seq INTO seen_contiguous FROM devices d WHERE d.device_id = p_device;
        -- At or below the watermark everything was stored already (perhaps since purged by retention).
        INSERT INTO hub_events (device_id, seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction,
            credential_kind, worker_id, code_hash, decision, reasons, source, policy_version, clock, corrected_wall_ms, received_ms)
          SELECT p_device, u.*, p_received FROM unnest(p_seq, p_wall, p_mono, p_boot, p_synced, p_checkpoint, p_zone,
            p_direction, p_kind, p_worker, p_code, p_decision, p_reasons, p_source, p_policy, p_clock, p_corrected)
            AS u (seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction, credential_kind, worker_id,
              code_hash, decision, reasons, source, policy_version, clock, corrected_wall_ms)
          WHERE u.seq > coalesce(seen_contiguous, 0)
          ON CONFLICT (device_id, seq) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        INSERT INTO devices AS d (device_id, last_seen_ms) VALUES (p_device, p_received)
          ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = greatest(d.last_seen_ms, excluded.last_seen_ms)
          RETURNING d.contiguous_seq, d.max_seq INTO prev_contiguous, prev_max;
        contiguous := prev_contiguous;
        expected := contiguous + 1;
        FOR s IN SELECT e.seq FROM hub_events e WHERE e.device_id = p_device AND e.seq > prev_contiguous ORDER BY e.seq LOOP
          IF s > expected AND ngaps < p_max_gaps THEN
            g := g || ARRAY[expected, s - 1];
            ngaps := ngaps + 1;
          END IF;
          IF ngaps = 0 THEN contiguous := s; END IF;
          expected := s + 1;
        END LOOP;
        UPDATE devices SET contiguous_seq = contiguous, max_seq = greatest(prev_max, expected - 1) WHERE device_id = p_device;
        RETURN QUERY SELECT n, contiguous, g;
      END
      $fn$;`,
  },
  {
    // Events by their time as the hub dates it: a day's entries newest first and the retention read a range by index.
    version: 7,
    sql: `CREATE INDEX hub_events_time ON hub_events ((coalesce(corrected_wall_ms, wall_ms)), device_id, seq);`,
  },
  {
    // Group commit: several devices' batches in one statement and one transaction (one round trip and
    // one commit instead of one each), each batch by the steps of hub_ingest (version 6). The batches
    // come as one jsonb document, [{"d": device, "r": received ms, "e": [[seq, wall, mono, boot,
    // synced, checkpoint, zone, direction, kind, worker, code, decision, reasons, source, policy,
    // clock, corrected], ...]}, ...]: the hub writes it with the runtime's native JSON.stringify
    // instead of escaping seventeen text arrays element by element, which took much of its CPU.
    // Batches go in device order (a device's own in the order given), so two groups sharing devices,
    // in two hub processes, take row locks and unique keys in one order and never deadlock.
    version: 8,
    sql: `
      CREATE FUNCTION hub_ingest_many(p_batches jsonb, p_max_gaps integer)
      RETURNS TABLE (o_batch integer, o_inserted integer, o_contiguous bigint, o_gaps bigint[])
      LANGUAGE plpgsql AS $fn$
      DECLARE
        k integer;
        v_batch jsonb;
        v_device text;
        v_received bigint;
        seen_contiguous bigint;
        prev_contiguous bigint;
        prev_max bigint;
        n integer;
        s bigint;
        expected bigint;
        contiguous bigint;
        g bigint[];
        ngaps integer;
      BEGIN
        FOR k, v_batch IN SELECT b.ord, b.value FROM jsonb_array_elements(p_batches) WITH ORDINALITY AS b (value, ord)
            ORDER BY b.value->>'d', b.ord LOOP
          v_device := v_batch->>'d';
          v_received := (v_batch->>'r')::bigint;
          g := '{}';
          ngaps := 0;
          -- Read without a lock: the watermark only grows, so an older value only lets more through.
          SELECT d.contiguous_seq INTO seen_contiguous FROM devices d WHERE d.device_id = v_device;
          -- At or below the watermark everything was stored already (perhaps since purged by retention).
          INSERT INTO hub_events (device_id, seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction,
              credential_kind, worker_id, code_hash, decision, reasons, source, policy_version, clock, corrected_wall_ms, received_ms)
            SELECT v_device, (x->>0)::bigint, (x->>1)::bigint, (x->>2)::bigint, x->>3, (x->>4)::boolean, x->>5, x->>6, x->>7,
                x->>8, x->>9, x->>10, x->>11, x->>12, x->>13, (x->>14)::integer, x->>15, (x->>16)::bigint, v_received
              FROM jsonb_array_elements(v_batch->'e') AS x
              WHERE (x->>0)::bigint > coalesce(seen_contiguous, 0)
            ON CONFLICT (device_id, seq) DO NOTHING;
          GET DIAGNOSTICS n = ROW_COUNT;
          INSERT INTO devices AS d (device_id, last_seen_ms) VALUES (v_device, v_received)
            ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = greatest(d.last_seen_ms, excluded.last_seen_ms)
            RETURNING d.contiguous_seq, d.max_seq INTO prev_contiguous, prev_max;
          contiguous := prev_contiguous;
          expected := contiguous + 1;
          FOR s IN SELECT e.seq FROM hub_events e WHERE e.device_id = v_device AND e.seq > prev_contiguous ORDER BY e.seq LOOP
            IF s > expected AND ngaps < p_max_gaps THEN
              g := g || ARRAY[expected, s - 1];
              ngaps := ngaps + 1;
            END IF;
            IF ngaps = 0 THEN contiguous := s; END IF;
            expected := s + 1;
          END LOOP;
          UPDATE devices SET contiguous_seq = contiguous, max_seq = greatest(prev_max, expected - 1) WHERE device_id = v_device;
          RETURN QUERY SELECT k, n, contiguous, g;
        END LOOP;
      END
      $fn$;`,
  },
  {
    // Each event and alert carries its worker's organisation at receipt (sync/hub/migrations/0006-organisation-stamp.ts).
    version: 9,
    sql: `ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS org_id text; ALTER TABLE hub_alerts ADD COLUMN IF NOT EXISTS org_id text;`,
  },
  {
    // hub_ingest_many (version 8) with two changes. Each event's organisation at receipt comes as an
    // eighteenth element and is stored by the insert itself, as the SQLite store does, instead of an
    // UPDATE of the group's events in a second statement: a group is one statement again, and a copy
    // of an event received later stamps nothing (the first receipt's stamp, or none, stays). And the
    // watermark and the gaps above it come from one set-based query (each event above the watermark
    // beside the one before it, lag()) instead of a PL/pgSQL loop over those events: while a gap is
    // open, every batch of the device scans the events above its watermark, up to a kiosk's whole
    // window when a device's batches are committed out of order by two hub processes.
    version: 10,
    sql: `
      CREATE OR REPLACE FUNCTION hub_ingest_many(p_batches jsonb, p_max_gaps integer)
      RETURNS TABLE (o_batch integer, o_inserted integer, o_contiguous bigint, o_gaps bigint[])
      LANGUAGE plpgsql AS $fn$
      DECLARE
        k integer;
        v_batch jsonb;
        v_device text;
        v_received bigint;
        seen_contiguous bigint;
        prev_contiguous bigint;
        prev_max bigint;
        n integer;
        v_top bigint;
        contiguous bigint;
        g bigint[];
      BEGIN
        FOR k, v_batch IN SELECT b.ord, b.value FROM jsonb_array_elements(p_batches) WITH ORDINALITY AS b (value, ord)
            ORDER BY b.value->>'d', b.ord LOOP
          v_device := v_batch->>'d';
          v_received := (v_batch->>'r')::bigint;
          -- Read without a lock: the watermark only grows, so an older value only lets more through.
          SELECT d.contiguous_seq INTO seen_contiguous FROM devices d WHERE d.device_id = v_device;
          -- At or below the watermark everything was stored already (perhaps since purged by retention).
          INSERT INTO hub_events (device_id, seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction,
              credential_kind, worker_id, code_hash, decision, reasons, source, policy_version, clock, corrected_wall_ms, org_id, received_ms)
            SELECT v_device, (x->>0)::bigint, (x->>1)::bigint, (x->>2)::bigint, x->>3, (x->>4)::boolean, x->>5, x->>6, x->>7,
                x->>8, x->>9, x->>10, x->>11, x->>12, x->>13, (x->>14)::integer, x->>15, (x->>16)::bigint, x->>17, v_received
              FROM jsonb_array_elements(v_batch->'e') AS x
              WHERE (x->>0)::bigint > coalesce(seen_contiguous, 0)
            ON CONFLICT (device_id, seq) DO NOTHING;
          GET DIAGNOSTICS n = ROW_COUNT;
          -- The device's row lock: the query below sees every batch of the device committed before it.
          INSERT INTO devices AS d (device_id, last_seen_ms) VALUES (v_device, v_received)
            ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = greatest(d.last_seen_ms, excluded.last_seen_ms)
            RETURNING d.contiguous_seq, d.max_seq INTO prev_contiguous, prev_max;
          -- Each event above the watermark with the one before it: a step of more than one is a gap.
          -- The watermark moves up to the first gap (or the top when there is none).
          WITH above AS (
            SELECT e.seq, lag(e.seq, 1, prev_contiguous) OVER (ORDER BY e.seq) AS prev_seq
            FROM hub_events e WHERE e.device_id = v_device AND e.seq > prev_contiguous
          ), steps AS (
            SELECT prev_seq, seq, row_number() OVER (ORDER BY seq) AS i FROM above WHERE seq > prev_seq + 1
          )
          SELECT (SELECT max(seq) FROM above),
                 (SELECT min(prev_seq) FROM steps),
                 coalesce((SELECT array_agg(b ORDER BY i, j) FROM steps, LATERAL (VALUES (1, prev_seq + 1), (2, seq - 1)) AS v (j, b)
                           WHERE i <= p_max_gaps), '{}')
            INTO v_top, contiguous, g;
          v_top := coalesce(v_top, prev_contiguous);
          contiguous := coalesce(contiguous, v_top);
          UPDATE devices SET contiguous_seq = contiguous, max_seq = greatest(prev_max, v_top) WHERE device_id = v_device;
          RETURN QUERY SELECT k, n, contiguous, g;
        END LOOP;
      END
      $fn$;`,
  },
  {
    // Tracing's reads of a place within windows of time (sync/hub/migrations/0007-trace-place.ts),
    // the columns it reads included so a window is an index-only range.
    version: 11,
    sql: `CREATE INDEX IF NOT EXISTS hub_events_place ON hub_events (checkpoint_id, (coalesce(corrected_wall_ms, wall_ms)))
            INCLUDE (worker_id, direction, zone_id, clock, device_id) WHERE worker_id IS NOT NULL AND decision = 'allow';`,
  },
  {
    // Shuttle-bus mode (sync/hub/migrations/0008-trips.ts): a bus unit's trip, route, position and
    // clock source, and hub_ingest_many (version 10) storing them. A gate kiosk's events are sent as
    // before (18 elements), so its ingest costs what it did.
    version: 12,
    sql: `
      ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS trip_id text;
      ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS route_id text;
      ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS lat double precision;
      ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS lon double precision;
      ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS position text CHECK (position IN ('fix', 'no-fix'));
      ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS clock_source text CHECK (clock_source IN ('gps'));
      CREATE INDEX IF NOT EXISTS hub_events_trip ON hub_events (device_id, trip_id, seq) WHERE trip_id IS NOT NULL;
      CREATE OR REPLACE FUNCTION hub_ingest_many(p_batches jsonb, p_max_gaps integer)
      RETURNS TABLE (o_batch integer, o_inserted integer, o_contiguous bigint, o_gaps bigint[])
      LANGUAGE plpgsql AS $fn$
      DECLARE
        k integer;
        v_batch jsonb;
        v_device text;
        v_received bigint;
        seen_contiguous bigint;
        prev_contiguous bigint;
        prev_max bigint;
        n integer;
        v_top bigint;
        contiguous bigint;
        g bigint[];
      BEGIN
        FOR k, v_batch IN SELECT b.ord, b.value FROM jsonb_array_elements(p_batches) WITH ORDINALITY AS b (value, ord)
            ORDER BY b.value->>'d', b.ord LOOP
          v_device := v_batch->>'d';
          v_received := (v_batch->>'r')::bigint;
          -- Read without a lock: the watermark only grows, so an older value only lets more through.
          SELECT d.contiguous_seq INTO seen_contiguous FROM devices d WHERE d.device_id = v_device;
          -- At or below the watermark everything was stored already (perhaps since purged by retention).
          -- Elements 18 to 23 (trip, route, lat, lon, position, clock source) only on a bus unit's events: NULL when absent.
          INSERT INTO hub_events (device_id, seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction,
              credential_kind, worker_id, code_hash, decision, reasons, source, policy_version, clock, corrected_wall_ms, org_id, received_ms,
              trip_id, route_id, lat, lon, position, clock_source)
            SELECT v_device, (x->>0)::bigint, (x->>1)::bigint, (x->>2)::bigint, x->>3, (x->>4)::boolean, x->>5, x->>6, x->>7,
                x->>8, x->>9, x->>10, x->>11, x->>12, x->>13, (x->>14)::integer, x->>15, (x->>16)::bigint, x->>17, v_received,
                x->>18, x->>19, (x->>20)::double precision, (x->>21)::double precision, x->>22, x->>23
              FROM jsonb_array_elements(v_batch->'e') AS x
              WHERE (x->>0)::bigint > coalesce(seen_contiguous, 0)
            ON CONFLICT (device_id, seq) DO NOTHING;
          GET DIAGNOSTICS n = ROW_COUNT;
          -- The device's row lock: the query below sees every batch of the device committed before it.
          INSERT INTO devices AS d (device_id, last_seen_ms) VALUES (v_device, v_received)
            ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = greatest(d.last_seen_ms, excluded.last_seen_ms)
            RETURNING d.contiguous_seq, d.max_seq INTO prev_contiguous, prev_max;
          -- Each event above the watermark with the one before it: a step of more than one is a gap.
          -- The watermark moves up to the first gap (or the top when there is none).
          WITH above AS (
            SELECT e.seq, lag(e.seq, 1, prev_contiguous) OVER (ORDER BY e.seq) AS prev_seq
            FROM hub_events e WHERE e.device_id = v_device AND e.seq > prev_contiguous
          ), steps AS (
            SELECT prev_seq, seq, row_number() OVER (ORDER BY seq) AS i FROM above WHERE seq > prev_seq + 1
          )
          SELECT (SELECT max(seq) FROM above),
                 (SELECT min(prev_seq) FROM steps),
                 coalesce((SELECT array_agg(b ORDER BY i, j) FROM steps, LATERAL (VALUES (1, prev_seq + 1), (2, seq - 1)) AS v (j, b)
                           WHERE i <= p_max_gaps), '{}')
            INTO v_top, contiguous, g;
          v_top := coalesce(v_top, prev_contiguous);
          contiguous := coalesce(contiguous, v_top);
          UPDATE devices SET contiguous_seq = contiguous, max_seq = greatest(prev_max, v_top) WHERE device_id = v_device;
          RETURN QUERY SELECT k, n, contiguous, g;
        END LOOP;
      END
      $fn$;`,
  },
  {
    // The gate for everyone (sync/hub/migrations/0009-gate-for-everyone.ts): a declaration's answers,
    // a visitor id and a visitor event's visit details (JSON text), and hub_ingest_many (version 12)
    // storing them. Events without them are sent as before (18 or 24 elements).
    version: 13,
    sql: `
      ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS declaration_bits integer CHECK (declaration_bits BETWEEN 0 AND 2047);
      ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS visitor_id text;
      ALTER TABLE hub_events ADD COLUMN IF NOT EXISTS visit text;
      CREATE INDEX IF NOT EXISTS hub_events_visitor ON hub_events (visitor_id, wall_ms) WHERE visitor_id IS NOT NULL;
      CREATE OR REPLACE FUNCTION hub_ingest_many(p_batches jsonb, p_max_gaps integer)
      RETURNS TABLE (o_batch integer, o_inserted integer, o_contiguous bigint, o_gaps bigint[])
      LANGUAGE plpgsql AS $fn$
      DECLARE
        k integer;
        v_batch jsonb;
        v_device text;
        v_received bigint;
        seen_contiguous bigint;
        prev_contiguous bigint;
        prev_max bigint;
        n integer;
        v_top bigint;
        contiguous bigint;
        g bigint[];
      BEGIN
        FOR k, v_batch IN SELECT b.ord, b.value FROM jsonb_array_elements(p_batches) WITH ORDINALITY AS b (value, ord)
            ORDER BY b.value->>'d', b.ord LOOP
          v_device := v_batch->>'d';
          v_received := (v_batch->>'r')::bigint;
          -- Read without a lock: the watermark only grows, so an older value only lets more through.
          SELECT d.contiguous_seq INTO seen_contiguous FROM devices d WHERE d.device_id = v_device;
          -- At or below the watermark everything was stored already (perhaps since purged by retention).
          -- Elements 18 to 23 (trip, route, lat, lon, position, clock source) only on a bus unit's events,
          -- 24 to 26 (declaration answers, visitor id, visit details as JSON text) only on the gate for everyone's: NULL when absent.
          INSERT INTO hub_events (device_id, seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction,
              credential_kind, worker_id, code_hash, decision, reasons, source, policy_version, clock, corrected_wall_ms, org_id, received_ms,
              trip_id, route_id, lat, lon, position, clock_source, declaration_bits, visitor_id, visit)
            SELECT v_device, (x->>0)::bigint, (x->>1)::bigint, (x->>2)::bigint, x->>3, (x->>4)::boolean, x->>5, x->>6, x->>7,
                x->>8, x->>9, x->>10, x->>11, x->>12, x->>13, (x->>14)::integer, x->>15, (x->>16)::bigint, x->>17, v_received,
                x->>18, x->>19, (x->>20)::double precision, (x->>21)::double precision, x->>22, x->>23,
                (x->>24)::integer, x->>25, x->>26
              FROM jsonb_array_elements(v_batch->'e') AS x
              WHERE (x->>0)::bigint > coalesce(seen_contiguous, 0)
            ON CONFLICT (device_id, seq) DO NOTHING;
          GET DIAGNOSTICS n = ROW_COUNT;
          -- The device's row lock: the query below sees every batch of the device committed before it.
          INSERT INTO devices AS d (device_id, last_seen_ms) VALUES (v_device, v_received)
            ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = greatest(d.last_seen_ms, excluded.last_seen_ms)
            RETURNING d.contiguous_seq, d.max_seq INTO prev_contiguous, prev_max;
          -- Each event above the watermark with the one before it: a step of more than one is a gap.
          -- The watermark moves up to the first gap (or the top when there is none).
          WITH above AS (
            SELECT e.seq, lag(e.seq, 1, prev_contiguous) OVER (ORDER BY e.seq) AS prev_seq
            FROM hub_events e WHERE e.device_id = v_device AND e.seq > prev_contiguous
          ), steps AS (
            SELECT prev_seq, seq, row_number() OVER (ORDER BY seq) AS i FROM above WHERE seq > prev_seq + 1
          )
          SELECT (SELECT max(seq) FROM above),
                 (SELECT min(prev_seq) FROM steps),
                 coalesce((SELECT array_agg(b ORDER BY i, j) FROM steps, LATERAL (VALUES (1, prev_seq + 1), (2, seq - 1)) AS v (j, b)
                           WHERE i <= p_max_gaps), '{}')
            INTO v_top, contiguous, g;
          v_top := coalesce(v_top, prev_contiguous);
          contiguous := coalesce(contiguous, v_top);
          UPDATE devices SET contiguous_seq = contiguous, max_seq = greatest(prev_max, v_top) WHERE device_id = v_device;
          RETURN QUERY SELECT k, n, contiguous, g;
        END LOOP;
      END
      $fn$;`,
  },
  {
    // Visitors in traces (sync/hub/migrations/0010-visitor-place.ts): a visitor's allowed passages by
    // checkpoint and time, the columns tracing reads included.
    version: 14,
    sql: `CREATE INDEX IF NOT EXISTS hub_events_visitor_place ON hub_events (checkpoint_id, (coalesce(corrected_wall_ms, wall_ms)))
            INCLUDE (visitor_id, direction, zone_id, clock, device_id) WHERE visitor_id IS NOT NULL AND decision = 'allow';`,
  },
];

/** The PostgreSQL WHERE clause (and its positional parameters) of a filter. */
function pgWhere(f: EventFilter & { before?: EventCursor }): { where: string; params: unknown[] } {
  const clauses = ['true'];
  const params: unknown[] = [];
  const add = (sql: (n: string) => string, ...values: unknown[]) => {
    const refs = values.map((v) => {
      params.push(v);
      return `$${params.length}`;
    });
    clauses.push(sql(refs.join(', ')));
  };
  if (f.deviceId !== undefined) add((n) => `device_id = ${n}`, f.deviceId);
  if (f.deviceIds) add((n) => `device_id = ANY(${n}::text[])`, f.deviceIds);
  if (f.workerIds) add((n) => `worker_id = ANY(${n}::text[])`, f.workerIds);
  if (f.orgId !== undefined) add((n) => `org_id = ${n}`, f.orgId);
  if (f.direction !== undefined) add((n) => `direction = ${n}`, f.direction);
  if (f.passagesOnly) clauses.push(PASSAGE_SQL);
  if (f.sinceMs !== undefined) add((n) => `${EVENT_TIME_SQL} >= ${n}`, f.sinceMs);
  if (f.untilMs !== undefined) add((n) => `${EVENT_TIME_SQL} < ${n}`, f.untilMs);
  if (f.before) add((n) => `(${EVENT_TIME_SQL}, device_id, seq) < (${n})`, f.before.timeMs, f.before.deviceId, f.before.seq);
  return { where: clauses.join(' AND '), params };
}

const MAX_GAP_RANGES = 100;

// bigint columns come back as strings by default; sequence numbers and times fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** The hub store on PostgreSQL (DATABASE_URL), for provinces that outgrow one SQLite file. */
export class PgHubStore implements HubStore {
  private constructor(private readonly pool: pg.Pool) {}

  /** `poolSize`: connections, as many as the hub handles devices at once (HubOptions.concurrency). */
  static async open(connectionString: string, poolSize = 8): Promise<PgHubStore> {
    const pool = new pg.Pool({ connectionString, max: poolSize });
    const client = await pool.connect();
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
      const { rows } = await client.query<{ version: number }>('SELECT max(version) AS version FROM schema_version');
      const current = rows[0]?.version ?? 0;
      const latest = PG_MIGRATIONS.at(-1)!.version;
      if (current > latest) throw new Error(`the hub database has schema ${current}; this SafeGate knows up to ${latest}`);
      for (const m of PG_MIGRATIONS) {
        if (m.version <= current) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_version (version) VALUES ($1)', [m.version]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
    } catch (err) {
      client.release();
      await pool.end();
      throw err;
    }
    client.release();
    return new PgHubStore(pool);
  }

  async ingest(deviceId: string, events: readonly WireEvent[], receivedMs: number, anchor?: ClockAnchor | null): Promise<IngestResult> {
    return (await this.ingestMany([{ deviceId, events, receivedMs, anchor }]))[0]!;
  }

  async ingestMany(batches: readonly IngestRequest[]): Promise<IngestResult[]> {
    if (batches.length === 0) return [];
    // One jsonb document (see migrations 8 and 10): the whole group is one statement (one round trip,
    // one commit, atomic; the organisation stamps included), and JSON.stringify is native where pg's
    // array escaping is not.
    const doc = JSON.stringify(
      batches.map((b) => ({
        d: b.deviceId,
        r: b.receivedMs,
        e: b.events.map((e) => {
          const d = dateEvent(e, b.anchor);
          const org = e.workerId !== null ? b.orgOf?.get(e.workerId) : undefined;
          const row = [e.seq, e.wallMs, e.monoUs, e.bootId, e.clockSynced, e.checkpointId, e.zoneId, e.direction, e.credentialKind, e.workerId,
            e.codeHash, e.decision, e.reasons.join(' '), e.source, e.policyVersion, d.clock, d.correctedWallMs, org ?? null];
          const everyone = hasEveryoneFields(e);
          if (!hasBusFields(e) && !everyone) return row;
          const bus = busColumnsOf(e);
          const withBus = [...row, bus.tripId, bus.routeId, bus.lat, bus.lon, bus.position, bus.clockSource];
          if (!everyone) return withBus;
          const v = everyoneColumnsOf(e);
          return [...withBus, v.declarationBits, v.visitorId, v.visit];
        }),
      })),
    );
    const { rows } = await this.pool.query<{ o_batch: number; o_inserted: number; o_contiguous: number; o_gaps: number[] }>(
      'SELECT * FROM hub_ingest_many($1::jsonb, $2)',
      [doc, MAX_GAP_RANGES],
    );
    const out = new Array<IngestResult>(batches.length);
    for (const r of rows) {
      const gaps: [number, number][] = [];
      // bigint[] arrives as text.
      for (let g = 0; g + 1 < r.o_gaps.length; g += 2) gaps.push([Number(r.o_gaps[g]), Number(r.o_gaps[g + 1])]);
      const inserted = r.o_inserted;
      out[r.o_batch - 1] = { inserted, duplicates: batches[r.o_batch - 1]!.events.length - inserted, contiguousSeq: Number(r.o_contiguous), gaps };
    }
    return out;
  }

  async *events(filter: EventFilter = {}): AsyncIterable<HubEvent> {
    const { where, params } = pgWhere(filter);
    const { rows } = await this.pool.query<Record<string, unknown>>(`SELECT * FROM hub_events WHERE ${where} ORDER BY device_id, seq`, params);
    for (const r of rows) yield hubEventFromRow(r);
  }

  async latestEvents(filter: EventFilter & { limit: number; before?: EventCursor }): Promise<HubEvent[]> {
    const { where, params } = pgWhere(filter);
    const { rows } = await this.pool.query<Record<string, unknown>>(
      `SELECT * FROM hub_events WHERE ${where} ORDER BY ${EVENT_TIME_SQL} DESC, device_id DESC, seq DESC LIMIT $${params.length + 1}`,
      [...params, filter.limit],
    );
    return rows.map(hubEventFromRow);
  }

  async eventCounts(filter: EventFilter): Promise<EventCount[]> {
    const { where, params } = pgWhere(filter);
    const { rows } = await this.pool.query<{ decision: string; reasons: string; n: number }>(
      `SELECT decision, reasons, count(*)::int AS n FROM hub_events WHERE ${where} GROUP BY decision, reasons`,
      params,
    );
    return rows.map((r) => ({ decision: r.decision, reasons: r.reasons ? r.reasons.split(' ') : [], count: r.n }));
  }

  async deviceStatus(deviceIds: readonly string[]): Promise<Map<string, DeviceStatus>> {
    const { rows } = await this.pool.query<{ id: string; seen: number | null; heard: number | null; heartbeat: Heartbeat | null }>(
      `SELECT d.id, v.last_seen_ms AS seen, h.received_ms AS heard, h.heartbeat
       FROM unnest($1::text[]) AS d(id) LEFT JOIN devices v ON v.device_id = d.id LEFT JOIN device_heartbeats h ON h.device_id = d.id`,
      [deviceIds],
    );
    return new Map(rows.map((r) => [r.id, { lastSeenMs: Math.max(r.seen ?? 0, r.heard ?? 0) || null, heartbeat: r.heartbeat ? storedHeartbeat(r.heartbeat) : null }]));
  }

  async stampOrganisations(stamps: readonly OrganisationStamp[]): Promise<void> {
    if (stamps.length === 0) return;
    await this.pool.query(
      `UPDATE hub_events e SET org_id = s.org FROM unnest($1::text[], $2::bigint[], $3::text[]) AS s (dev, seq, org)
       WHERE e.device_id = s.dev AND e.seq = s.seq AND e.org_id IS NULL`,
      [stamps.map((x) => x.deviceId), stamps.map((x) => x.seq), stamps.map((x) => x.orgId)],
    );
  }

  async recordAlert(deviceId: string, a: Alert, receivedMs: number, orgId?: string): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO hub_alerts (device_id, seq, kind, at_ms, checkpoint_id, worker_id, reasons, received_ms, note, org_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
      [deviceId, a.seq, a.kind, a.atMs, a.checkpointId, a.workerId ?? '', a.reasons.join(' '), receivedMs, a.note ?? null, orgId ?? null],
    );
    return r.rowCount === 1;
  }

  async alerts(keys?: readonly { deviceId: string; seq: number }[]): Promise<(Alert & { deviceId: string; orgId?: string })[]> {
    if (keys === undefined) return (await this.pool.query<Record<string, unknown>>('SELECT * FROM hub_alerts ORDER BY received_ms, device_id, seq')).rows.map(alertFromRow);
    // Each key by the primary key (device_id, seq), the whole list as two array parameters.
    const { rows } = await this.pool.query<Record<string, unknown>>(
      'SELECT a.* FROM hub_alerts a JOIN unnest($1::text[], $2::bigint[]) AS k(device_id, seq) ON a.device_id = k.device_id AND a.seq = k.seq ORDER BY a.received_ms, a.device_id, a.seq',
      [keys.map((k) => k.deviceId), keys.map((k) => k.seq)],
    );
    return rows.map(alertFromRow);
  }

  async recordHeartbeat(deviceId: string, hb: Heartbeat, receivedMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO device_heartbeats (device_id, heartbeat, received_ms) VALUES ($1, $2, $3)
       ON CONFLICT (device_id) DO UPDATE SET heartbeat = excluded.heartbeat, received_ms = excluded.received_ms`,
      [deviceId, JSON.stringify(hb), receivedMs],
    );
  }

  async heardDevices(): Promise<string[]> {
    const { rows } = await this.pool.query<{ device_id: string }>('SELECT device_id FROM devices UNION SELECT device_id FROM device_heartbeats ORDER BY 1');
    return rows.map((r) => r.device_id);
  }

  async lastSeen(deviceIds: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ device_id: string; seen: string }>(
      `SELECT d.id AS device_id, greatest(coalesce(v.last_seen_ms, 0), coalesce(h.received_ms, 0)) AS seen
       FROM unnest($1::text[]) AS d(id)
       LEFT JOIN devices v ON v.device_id = d.id LEFT JOIN device_heartbeats h ON h.device_id = d.id`,
      [deviceIds],
    );
    // bigint arrives as text.
    return new Map(rows.filter((r) => Number(r.seen) > 0).map((r) => [r.device_id, Number(r.seen)]));
  }

  async lastHeartbeat(deviceId: string): Promise<Heartbeat | undefined> {
    const { rows } = await this.pool.query<{ heartbeat: Heartbeat }>('SELECT heartbeat FROM device_heartbeats WHERE device_id = $1', [deviceId]);
    return rows[0] ? storedHeartbeat(rows[0].heartbeat) : undefined;
  }

  async purgeBefore(beforeMs: number): Promise<{ events: number; alerts: number; heartbeats: number }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const events = await client.query('DELETE FROM hub_events WHERE coalesce(corrected_wall_ms, wall_ms) < $1 AND received_ms < $1', [beforeMs]);
      const alerts = await client.query('DELETE FROM hub_alerts WHERE at_ms < $1 AND received_ms < $1', [beforeMs]);
      const heartbeats = await client.query('DELETE FROM device_heartbeats WHERE received_ms < $1', [beforeMs]);
      await client.query('COMMIT');
      return { events: events.rowCount ?? 0, alerts: alerts.rowCount ?? 0, heartbeats: heartbeats.rowCount ?? 0 };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async clearDeclarationBitsBefore(beforeMs: number): Promise<number> {
    const r = await this.pool.query('UPDATE hub_events SET declaration_bits = NULL WHERE declaration_bits IS NOT NULL AND coalesce(corrected_wall_ms, wall_ms) < $1', [beforeMs]);
    return r.rowCount ?? 0;
  }

  async personData(workerId: string): Promise<{ events: HubEvent[]; alerts: (Alert & { deviceId: string })[] }> {
    const events = await this.pool.query<Record<string, unknown>>('SELECT * FROM hub_events WHERE worker_id = $1 ORDER BY wall_ms, device_id, seq', [workerId]);
    const alerts = await this.pool.query<Record<string, unknown>>('SELECT * FROM hub_alerts WHERE worker_id = $1 ORDER BY at_ms, device_id, seq', [workerId]);
    return { events: events.rows.map(hubEventFromRow), alerts: alerts.rows.map(alertFromRow) };
  }

  async anonymiseWorker(workerId: string): Promise<{ events: number; alerts: number }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const events = await client.query("UPDATE hub_events SET worker_id = NULL, code_hash = NULL, reasons = '', declaration_bits = NULL WHERE worker_id = $1", [workerId]);
      const alerts = await client.query('DELETE FROM hub_alerts WHERE worker_id = $1', [workerId]);
      await client.query('COMMIT');
      return { events: events.rowCount ?? 0, alerts: alerts.rowCount ?? 0 };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async workerPresence(workerIds: readonly string[], sinceMs: number, untilMs: number): Promise<PresenceEvent[]> {
    if (workerIds.length === 0 || untilMs <= sinceMs) return [];
    const { rows } = await this.pool.query<unknown[]>({
      text: `SELECT ${PRESENCE_COLUMNS} FROM hub_events
             WHERE worker_id = ANY($1::text[]) AND decision = 'allow' AND ${PASSAGE_SQL} AND ${EVENT_TIME_SQL} >= $2 AND ${EVENT_TIME_SQL} < $3`,
      values: [[...new Set(workerIds)], sinceMs, untilMs],
      rowMode: 'array',
    });
    return rows.map(presenceFromRow);
  }

  async checkpointPresence(windows: readonly CheckpointWindow[]): Promise<PresenceEvent[]> {
    const merged = mergeCheckpointWindows(windows);
    if (merged.length === 0) return [];
    // The windows as a table of three arrays: one query, one range of the place index per window.
    const { rows } = await this.pool.query<unknown[]>({
      text: `SELECT e.device_id, e.checkpoint_id, e.zone_id, e.worker_id, e.direction, coalesce(e.corrected_wall_ms, e.wall_ms) AS t, e.clock, e.trip_id
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS w (checkpoint_id, since_ms, until_ms)
             JOIN hub_events e ON e.checkpoint_id = w.checkpoint_id
               AND coalesce(e.corrected_wall_ms, e.wall_ms) >= w.since_ms AND coalesce(e.corrected_wall_ms, e.wall_ms) < w.until_ms
             WHERE e.worker_id IS NOT NULL AND e.decision = 'allow' AND e.${PASSAGE_SQL}`,
      values: [merged.map((w) => w.checkpointId), merged.map((w) => w.sinceMs), merged.map((w) => w.untilMs)],
      rowMode: 'array',
    });
    return rows.map(presenceFromRow);
  }

  async visitorPresence(visitorIds: readonly string[], sinceMs: number, untilMs: number): Promise<PresenceEvent[]> {
    if (visitorIds.length === 0 || untilMs <= sinceMs) return [];
    const { rows } = await this.pool.query<unknown[]>({
      text: `SELECT ${VISITOR_PRESENCE_COLUMNS} FROM hub_events
             WHERE visitor_id = ANY($1::text[]) AND decision = 'allow' AND ${PASSAGE_SQL} AND ${EVENT_TIME_SQL} >= $2 AND ${EVENT_TIME_SQL} < $3`,
      values: [[...new Set(visitorIds)], sinceMs, untilMs],
      rowMode: 'array',
    });
    return rows.map(presenceFromRow);
  }

  async visitorCheckpointPresence(windows: readonly CheckpointWindow[]): Promise<PresenceEvent[]> {
    const merged = mergeCheckpointWindows(windows);
    if (merged.length === 0) return [];
    const { rows } = await this.pool.query<unknown[]>({
      text: `SELECT e.device_id, e.checkpoint_id, e.zone_id, e.visitor_id, e.direction, coalesce(e.corrected_wall_ms, e.wall_ms) AS t, e.clock, e.trip_id
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS w (checkpoint_id, since_ms, until_ms)
             JOIN hub_events e ON e.checkpoint_id = w.checkpoint_id
               AND coalesce(e.corrected_wall_ms, e.wall_ms) >= w.since_ms AND coalesce(e.corrected_wall_ms, e.wall_ms) < w.until_ms
             WHERE e.visitor_id IS NOT NULL AND e.decision = 'allow' AND e.${PASSAGE_SQL}`,
      values: [merged.map((w) => w.checkpointId), merged.map((w) => w.sinceMs), merged.map((w) => w.untilMs)],
      rowMode: 'array',
    });
    return rows.map(presenceFromRow);
  }

  async visitorRegistrations(visitorIds: readonly string[]): Promise<VisitorRegistration[]> {
    if (visitorIds.length === 0) return [];
    const { rows } = await this.pool.query<{ visitor_id: string; t: string; visit: string | null }>(
      `SELECT visitor_id, ${EVENT_TIME_SQL} AS t, visit FROM hub_events WHERE visitor_id = ANY($1::text[]) AND source = 'visitor' AND visit IS NOT NULL`,
      [[...new Set(visitorIds)]],
    );
    return registrationsFromRows(rows);
  }

  async reportedPlaces(deviceIds: readonly string[]): Promise<Map<string, ReportedPlace[]>> {
    if (deviceIds.length === 0) return new Map();
    const { rows } = await this.pool.query<ReportedRow>(
      // Each end of the device's primary-key range (an OR of both in one join would scan the table).
      `SELECT d.id AS device_id, x.checkpoint_id, x.zone_id FROM unnest($1::text[]) AS d (id)
       CROSS JOIN LATERAL (
         (SELECT checkpoint_id, zone_id FROM hub_events WHERE device_id = d.id ORDER BY seq LIMIT 1)
         UNION ALL
         (SELECT checkpoint_id, zone_id FROM hub_events WHERE device_id = d.id ORDER BY seq DESC LIMIT 1)
       ) AS x`,
      [[...new Set(deviceIds)]],
    );
    return reportedFromRows(rows);
  }

  async trips(q: TripQuery): Promise<HubTrip[]> {
    return pgTrips(this.pool, q);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
