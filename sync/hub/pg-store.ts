import pg from 'pg';
import type { WireEvent } from '../batch-codec.js';
import type { Alert, Heartbeat } from '../protocol.js';
import { alertFromRow, hubEventFromRow, type HubEvent, type HubStore, type IngestResult } from './store.js';
import type { ClockAnchor } from '../batch-codec.js';
import { dateEvent } from './dating.js';

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
];

const MAX_GAP_RANGES = 100;

// bigint columns come back as strings by default; sequence numbers and times fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** The hub store on PostgreSQL (DATABASE_URL), for provinces that outgrow one SQLite file. */
export class PgHubStore implements HubStore {
  private constructor(private readonly pool: pg.Pool) {}

  static async open(connectionString: string): Promise<PgHubStore> {
    const pool = new pg.Pool({ connectionString, max: 4 });
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
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Serialise concurrent ingests of one device (several hub processes) on its devices row.
      await client.query(
        `INSERT INTO devices (device_id, last_seen_ms) VALUES ($1, $2) ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms`,
        [deviceId, receivedMs],
      );
      const prev = (await client.query<{ contiguous_seq: number; max_seq: number }>('SELECT contiguous_seq, max_seq FROM devices WHERE device_id = $1 FOR UPDATE', [deviceId])).rows[0]!;
      // At or below the watermark everything was stored already (perhaps since purged by retention).
      const fresh = events.filter((e) => e.seq > prev.contiguous_seq);
      let inserted = 0;
      if (fresh.length) {
        // One statement per batch: columns as arrays, unnested server-side.
        const col = <T>(f: (e: WireEvent) => T) => fresh.map(f);
        const dated = fresh.map((e) => dateEvent(e, anchor));
        const res = await client.query(
          `INSERT INTO hub_events (device_id, seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction,
             credential_kind, worker_id, code_hash, decision, reasons, source, policy_version, clock, corrected_wall_ms, received_ms)
           SELECT $1, * , $16 FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::boolean[], $7::text[],
             $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $17::integer[],
             $18::text[], $19::bigint[])
           ON CONFLICT (device_id, seq) DO NOTHING`,
          [
            deviceId,
            col((e) => e.seq),
            col((e) => e.wallMs),
            col((e) => e.monoUs),
            col((e) => e.bootId),
            col((e) => e.clockSynced),
            col((e) => e.checkpointId),
            col((e) => e.zoneId),
            col((e) => e.direction),
            col((e) => e.credentialKind),
            col((e) => e.workerId),
            col((e) => e.codeHash),
            col((e) => e.decision),
            col((e) => e.reasons.join(' ')),
            col((e) => e.source),
            receivedMs,
            col((e) => e.policyVersion),
            dated.map((d) => d.clock),
            dated.map((d) => d.correctedWallMs),
          ],
        );
        inserted = res.rowCount ?? 0;
      }
      const { rows } = await client.query<{ seq: number }>('SELECT seq FROM hub_events WHERE device_id = $1 AND seq > $2 ORDER BY seq', [deviceId, prev.contiguous_seq]);
      let contiguous = prev.contiguous_seq;
      let expected = contiguous + 1;
      const gaps: [number, number][] = [];
      for (const { seq } of rows) {
        if (seq > expected && gaps.length < MAX_GAP_RANGES) gaps.push([expected, seq - 1]);
        if (gaps.length === 0) contiguous = seq;
        expected = seq + 1;
      }
      await client.query('UPDATE devices SET contiguous_seq = $2, max_seq = $3 WHERE device_id = $1', [deviceId, contiguous, Math.max(prev.max_seq, expected - 1)]);
      await client.query('COMMIT');
      return { inserted, duplicates: events.length - inserted, contiguousSeq: contiguous, gaps };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async *events(filter: { deviceId?: string; sinceMs?: number } = {}): AsyncIterable<HubEvent> {
    const { rows } = await this.pool.query<Record<string, unknown>>(
      'SELECT * FROM hub_events WHERE ($1::text IS NULL OR device_id = $1) AND wall_ms >= $2 ORDER BY device_id, seq',
      [filter.deviceId ?? null, filter.sinceMs ?? 0],
    );
    for (const r of rows) yield hubEventFromRow(r);
  }

  async recordAlert(deviceId: string, a: Alert, receivedMs: number): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO hub_alerts (device_id, seq, kind, at_ms, checkpoint_id, worker_id, reasons, received_ms, note)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
      [deviceId, a.seq, a.kind, a.atMs, a.checkpointId, a.workerId ?? '', a.reasons.join(' '), receivedMs, a.note ?? null],
    );
    return r.rowCount === 1;
  }

  async alerts(): Promise<(Alert & { deviceId: string })[]> {
    const { rows } = await this.pool.query<Record<string, unknown>>('SELECT * FROM hub_alerts ORDER BY received_ms, device_id, seq');
    return rows.map(alertFromRow);
  }

  async recordHeartbeat(deviceId: string, hb: Heartbeat, receivedMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO device_heartbeats (device_id, heartbeat, received_ms) VALUES ($1, $2, $3)
       ON CONFLICT (device_id) DO UPDATE SET heartbeat = excluded.heartbeat, received_ms = excluded.received_ms`,
      [deviceId, JSON.stringify(hb), receivedMs],
    );
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
    return rows[0]?.heartbeat;
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

  async close(): Promise<void> {
    await this.pool.end();
  }
}
