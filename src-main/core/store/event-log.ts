import type { Statement } from 'better-sqlite3';
import type { DenyReason } from '../../../base/common/reasons.js';
import type { AlertKind, CredentialKind, Direction, GateEvent, NewGateEvent, ScanSource, VisitEventDetails, WireEvent } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';

export interface PendingAlert {
  kind: AlertKind;
  event: GateEvent;
  /** A supervisor's written reason (overrides only). */
  note: string | null;
}

interface EventRow {
  seq: number;
  wall_ms: number;
  mono_us: number;
  boot_id: string;
  clock_synced: number;
  checkpoint_id: string;
  zone_id: string;
  direction: Direction;
  credential_kind: CredentialKind | 'unknown';
  worker_id: string | null;
  code_hash: string | null;
  decision: 'allow' | 'deny';
  reasons: string;
  source: ScanSource;
  policy_version: number;
  synced_at: number | null;
  trip_id: string | null;
  route_id: string | null;
  lat: number | null;
  lon: number | null;
  position: 'fix' | 'no-fix' | null;
  clock_source: 'gps' | null;
  declaration_bits: number | null;
  visitor_id: string | null;
  visit: string | null;
}

type UnsyncedRow = [
  seq: number, wallMs: number, monoUs: number, bootId: string, clockSynced: number, checkpointId: string, zoneId: string,
  direction: Direction, credentialKind: CredentialKind | 'unknown', workerId: string | null, codeHash: string | null,
  decision: 'allow' | 'deny', reasons: string, source: ScanSource, policyVersion: number,
  tripId: string | null, routeId: string | null, lat: number | null, lon: number | null, position: 'fix' | 'no-fix' | null, clockSource: 'gps' | null,
  declarationBits: number | null, visitorId: string | null, visit: string | null,
];

/** A bus unit's fields of an event (absent when the column is NULL: a gate kiosk's events carry none). */
function busFields(
  tripId: string | null, routeId: string | null, lat: number | null, lon: number | null, position: 'fix' | 'no-fix' | null, clockSource: 'gps' | null,
): Pick<GateEvent, 'tripId' | 'routeId' | 'position' | 'clockSource'> {
  const out: Pick<GateEvent, 'tripId' | 'routeId' | 'position' | 'clockSource'> = {};
  if (tripId !== null) out.tripId = tripId;
  if (routeId !== null) out.routeId = routeId;
  if (position === 'fix' && lat !== null && lon !== null) out.position = { lat, lon };
  else if (position !== null) out.position = null;
  if (clockSource !== null) out.clockSource = clockSource;
  return out;
}

/** The columns an event's bus fields are written to (NULL for each it does not carry). */
function busColumns(e: NewGateEvent): { tripId: string | null; routeId: string | null; lat: number | null; lon: number | null; position: 'fix' | 'no-fix' | null; clockSource: 'gps' | null } {
  const p = e.position;
  return {
    tripId: e.tripId ?? null,
    routeId: e.routeId ?? null,
    lat: p ? p.lat : null,
    lon: p ? p.lon : null,
    position: p === undefined ? null : p === null ? 'no-fix' : 'fix',
    clockSource: e.clockSource ?? null,
  };
}

/** The fields of issue 14 (a declaration's answers, a visitor, a visit): absent when the column is NULL. */
function everyoneFields(declarationBits: number | null, visitorId: string | null, visit: string | null): Pick<GateEvent, 'declaration' | 'visitorId' | 'visit'> {
  const out: Pick<GateEvent, 'declaration' | 'visitorId' | 'visit'> = {};
  if (declarationBits !== null) out.declaration = { answers: declarationBits };
  if (visitorId !== null) out.visitorId = visitorId;
  if (visit !== null) out.visit = JSON.parse(visit) as VisitEventDetails;
  return out;
}

/** The columns of those fields (NULL for each an event does not carry). */
function everyoneColumns(e: NewGateEvent): { declarationBits: number | null; visitorId: string | null; visit: string | null } {
  return {
    declarationBits: e.declaration?.answers ?? null,
    visitorId: e.visitorId ?? null,
    visit: e.visit === undefined ? null : JSON.stringify(e.visit),
  };
}

function fromRow(r: EventRow): GateEvent {
  return {
    seq: r.seq,
    wallMs: r.wall_ms,
    monoUs: r.mono_us,
    bootId: r.boot_id,
    clockSynced: r.clock_synced === 1,
    checkpointId: r.checkpoint_id,
    zoneId: r.zone_id,
    direction: r.direction,
    credentialKind: r.credential_kind,
    workerId: r.worker_id,
    codeHash: r.code_hash,
    decision: r.decision,
    reasons: r.reasons === '' ? [] : (r.reasons.split(' ') as DenyReason[]),
    source: r.source,
    policyVersion: r.policy_version,
    syncedAt: r.synced_at,
    ...busFields(r.trip_id, r.route_id, r.lat, r.lon, r.position, r.clock_source),
    ...everyoneFields(r.declaration_bits, r.visitor_id, r.visit),
  };
}

/**
 * Events that record something made beside the gate, not a passage through it (issue 14): a health
 * declaration taken on the screen (allow when clean) and a visitor's registration or a supervisor's
 * decision on it. They never count as anyone's entry or exit: not for anti-passback, the trace, who
 * is inside, or a bus's riders.
 */
export const RECORD_SOURCES = ['declaration', 'visitor'] as const satisfies readonly ScanSource[];

export function isRecordOnly(source: ScanSource): boolean {
  return source === 'declaration' || source === 'visitor';
}

/** SQL: an event of these sources is no passage (the gate's inputs' own events aside too where the query says so). */
const NOT_RECORD = "source NOT IN ('declaration', 'visitor')";

export type PassageScope = { zoneId: string } | { checkpointId: string };

/** How much later than its window an ADMITTED_NOT_PASSED may be logged (timer and commit delays). */
const NOT_PASSED_SLACK_MS = 5_000;

/** The durable event log. Every method is synchronous: when `append` returns, the event is on disk. */
export class EventLog {
  private readonly insert: Statement;
  private readonly lastInZone: Statement;
  private readonly lastAtCheckpoint: Statement;
  private readonly notPassedStmt: Statement;
  private readonly sinceStmt: Statement;
  private readonly betweenStmt: Statement;
  private readonly getStmt: Statement;
  private readonly purgeStmt: Statement;
  private readonly purgeAllStmt: Statement;
  private readonly unsyncedStmt: Statement;
  private readonly markSyncedStmt: Statement;
  private readonly depthStmt: Statement;
  private readonly insertAlert: Statement;
  private readonly unsentAlertsStmt: Statement;
  private readonly markAlertStmt: Statement;
  private readonly passagesOfStmt: Statement;
  private readonly passagesNearStmt: Statement;
  private readonly refusalsNearStmt: Statement;
  private readonly visitorPassagesStmt: Statement;

  constructor(private readonly db: SqliteDatabase) {
    this.insert = db.prepare(`
      INSERT INTO events (wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction,
        credential_kind, worker_id, code_hash, decision, reasons, source, policy_version,
        trip_id, route_id, lat, lon, position, clock_source, declaration_bits, visitor_id, visit)
      VALUES (@wallMs, @monoUs, @bootId, @clockSynced, @checkpointId, @zoneId, @direction,
        @credentialKind, @workerId, @codeHash, @decision, @reasons, @source, @policyVersion,
        @tripId, @routeId, @lat, @lon, @position, @clockSource, @declarationBits, @visitorId, @visit)`);
    this.lastInZone = db.prepare(`
      SELECT seq, direction, wall_ms, source FROM events
      WHERE worker_id = ? AND decision = 'allow' AND zone_id = ? AND seq < ? AND ${NOT_RECORD} ORDER BY seq DESC LIMIT 1`);
    this.lastAtCheckpoint = db.prepare(`
      SELECT seq, direction, wall_ms, source FROM events
      WHERE worker_id = ? AND decision = 'allow' AND checkpoint_id = ? AND seq < ? AND ${NOT_RECORD} ORDER BY seq DESC LIMIT 1`);
    this.notPassedStmt = db.prepare(`
      SELECT 1 FROM events
      WHERE wall_ms >= ? AND wall_ms <= ? AND seq > ? AND worker_id = ? AND reasons = 'ADMITTED_NOT_PASSED' LIMIT 1`);
    this.sinceStmt = db.prepare('SELECT * FROM events WHERE wall_ms >= ? ORDER BY seq');
    this.betweenStmt = db.prepare('SELECT * FROM events WHERE wall_ms >= ? AND wall_ms < ? ORDER BY seq');
    this.getStmt = db.prepare('SELECT * FROM events WHERE seq = ?');
    this.purgeStmt = db.prepare('DELETE FROM events WHERE wall_ms < ? AND synced_at IS NOT NULL');
    this.purgeAllStmt = db.prepare('DELETE FROM events WHERE wall_ms < ?');
    // Raw rows of the columns a batch carries: the uplink reads 500 at a time while draining a backlog.
    this.unsyncedStmt = db
      .prepare(
        `SELECT seq, wall_ms, mono_us, boot_id, clock_synced, checkpoint_id, zone_id, direction, credential_kind, worker_id, code_hash,
           decision, reasons, source, policy_version, trip_id, route_id, lat, lon, position, clock_source, declaration_bits, visitor_id, visit
         FROM events WHERE synced_at IS NULL AND seq > ? ORDER BY seq LIMIT ?`,
      )
      .raw();
    this.markSyncedStmt = db.prepare('UPDATE events SET synced_at = ? WHERE synced_at IS NULL AND seq BETWEEN ? AND ?');
    this.insertAlert = db.prepare('INSERT INTO alerts (seq, kind, note) VALUES (?, ?, ?)');
    this.unsentAlertsStmt = db.prepare(
      'SELECT e.*, a.kind AS alert_kind, a.note AS alert_note FROM alerts a JOIN events e ON e.seq = a.seq WHERE a.sent_at IS NULL ORDER BY a.seq LIMIT ?',
    );
    this.markAlertStmt = db.prepare('UPDATE alerts SET sent_at = ? WHERE seq = ?');
    // The trace (supervisor/trace.ts): a worker's allowed scans by the (worker_id, seq) index, then
    // the scans around each by the wall-time index; only the columns it needs, as raw rows.
    this.passagesOfStmt = db
      .prepare(
        `SELECT seq, wall_ms, direction, checkpoint_id FROM events
         WHERE worker_id = ? AND decision = 'allow' AND source <> 'input' AND ${NOT_RECORD} AND wall_ms >= ? AND wall_ms < ? ORDER BY seq`,
      )
      .raw();
    this.passagesNearStmt = db
      .prepare(
        `SELECT wall_ms, worker_id FROM events INDEXED BY events_trace
         WHERE checkpoint_id = ? AND wall_ms >= ? AND wall_ms <= ? AND decision = 'allow' AND source <> 'input' AND ${NOT_RECORD} AND worker_id IS NOT NULL ORDER BY wall_ms`,
      )
      .raw();
    this.refusalsNearStmt = db
      .prepare(
        `SELECT wall_ms, worker_id FROM events INDEXED BY events_trace
         WHERE checkpoint_id = ? AND wall_ms >= ? AND wall_ms <= ? AND decision = 'deny' AND source <> 'input' AND ${NOT_RECORD} ORDER BY wall_ms`,
      )
      .raw();
    this.visitorPassagesStmt = db
      .prepare(
        `SELECT wall_ms, visitor_id, checkpoint_id FROM events INDEXED BY events_visitor
         WHERE visitor_id IS NOT NULL AND decision = 'allow' AND source <> 'input' AND ${NOT_RECORD} AND wall_ms >= ? AND wall_ms <= ? ORDER BY wall_ms`,
      )
      .raw();
    this.depthStmt = db.prepare(
      'SELECT count(*) AS n, (SELECT wall_ms FROM events WHERE synced_at IS NULL ORDER BY seq LIMIT 1) AS oldest FROM events WHERE synced_at IS NULL',
    );
  }

  // ---- the outbox: events leave the device only when the hub has acknowledged them ----------

  /** The oldest events the hub has not acknowledged (after `afterSeq`), in sequence order. */
  unsynced(limit: number, afterSeq = 0): WireEvent[] {
    const rows = this.unsyncedStmt.all(afterSeq, limit) as UnsyncedRow[];
    const out: WireEvent[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [
        seq, wallMs, monoUs, bootId, synced, checkpointId, zoneId, direction, credentialKind, workerId, codeHash, decision, reasons, source, policyVersion,
        tripId, routeId, lat, lon, position, clockSource, declarationBits, visitorId, visit,
      ] = rows[i]!;
      const event: WireEvent = {
        seq, wallMs, monoUs, bootId, clockSynced: synced === 1, checkpointId, zoneId, direction, credentialKind, workerId, codeHash, decision,
        reasons: reasons === '' ? [] : (reasons.split(' ') as DenyReason[]), source, policyVersion,
      };
      // A gate kiosk's rows have none of these: its events stay as they were (the codec's format 2).
      if (tripId !== null || position !== null || clockSource !== null || routeId !== null) {
        Object.assign(event, busFields(tripId, routeId, lat, lon, position, clockSource));
      }
      if (declarationBits !== null || visitorId !== null || visit !== null) Object.assign(event, everyoneFields(declarationBits, visitorId, visit));
      out[i] = event;
    }
    return out;
  }

  /** Records the hub's acknowledgement of the events firstSeq..lastSeq (inclusive). */
  markSynced(firstSeq: number, lastSeq: number, atMs: number): number {
    return this.markSyncedStmt.run(atMs, firstSeq, lastSeq).changes;
  }

  outboxDepth(): { count: number; oldestWallMs: number | null } {
    const r = this.depthStmt.get() as { n: number; oldest: number | null };
    return { count: r.n, oldestWallMs: r.oldest };
  }

  /**
   * Commits one event durably (with its alert, if any, in the same transaction) and returns its
   * sequence number. Throws the SQLite error on failure.
   */
  append(event: NewGateEvent, alert?: AlertKind, note?: string): number {
    // The table lets a declaration lose its answers after 14 days (migration 0024), never be made without them.
    if (event.source === 'declaration' && event.declaration === undefined) throw new RangeError('a declaration event carries its answers');
    const write = (): number => {
      const seq = Number(
        this.insert.run({
          wallMs: event.wallMs,
          monoUs: event.monoUs,
          bootId: event.bootId,
          clockSynced: event.clockSynced ? 1 : 0,
          checkpointId: event.checkpointId,
          zoneId: event.zoneId,
          direction: event.direction,
          credentialKind: event.credentialKind,
          workerId: event.workerId,
          codeHash: event.codeHash,
          decision: event.decision,
          reasons: event.reasons.join(' '),
          source: event.source,
          policyVersion: event.policyVersion,
          ...busColumns(event),
          ...everyoneColumns(event),
        }).lastInsertRowid,
      );
      if (alert) this.insertAlert.run(seq, alert, note ?? null);
      return seq;
    };
    return alert ? this.db.transaction(write)() : write();
  }

  /** Commits several events (with their alerts) in one transaction: all of them, or none. */
  appendMany(items: readonly { event: NewGateEvent; alert: AlertKind | undefined }[]): number[] {
    return this.db.transaction(() => items.map(({ event, alert }) => this.append(event, alert)))();
  }

  unsentAlerts(limit: number): PendingAlert[] {
    return (this.unsentAlertsStmt.all(limit) as (EventRow & { alert_kind: AlertKind; alert_note: string | null })[]).map((r) => ({
      kind: r.alert_kind,
      event: fromRow(r),
      note: r.alert_note,
    }));
  }

  markAlertSent(seq: number, atMs: number): void {
    this.markAlertStmt.run(atMs, seq);
  }

  lastPassage(workerId: string, scope: PassageScope, passageWindowMs?: number): { direction: Direction; atMs: number } | null {
    // With a passage sensor, an admit the sensor logged as ADMITTED_NOT_PASSED (within the window
    // after it) never happened as far as inside/outside goes: the passage before it counts.
    let before = Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < 8; i++) {
      const row = ('zoneId' in scope ? this.lastInZone.get(workerId, scope.zoneId, before) : this.lastAtCheckpoint.get(workerId, scope.checkpointId, before)) as
        | { seq: number; direction: Direction; wall_ms: number; source: string }
        | undefined;
      if (!row) return null;
      const voided =
        passageWindowMs !== undefined &&
        row.source !== 'input' &&
        this.notPassedStmt.get(row.wall_ms, row.wall_ms + passageWindowMs + NOT_PASSED_SLACK_MS, row.seq, workerId) !== undefined;
      if (!voided) return { direction: row.direction, atMs: row.wall_ms };
      before = row.seq;
    }
    return null;
  }

  *since(wallMs: number): Generator<GateEvent> {
    for (const row of this.sinceStmt.iterate(wallMs)) yield fromRow(row as EventRow);
  }

  /** Events with wall time in [fromMs, toMs), in sequence order. */
  *between(fromMs: number, toMs: number): Generator<GateEvent> {
    for (const row of this.betweenStmt.iterate(fromMs, toMs)) yield fromRow(row as EventRow);
  }

  /** A worker's allowed scans (not the gate inputs' events) with wall time in [fromMs, toMs), in sequence order. */
  passagesOf(workerId: string, fromMs: number, toMs: number): { seq: number; wallMs: number; direction: Direction; checkpointId: string }[] {
    const rows = this.passagesOfStmt.all(workerId, fromMs, toMs) as [number, number, Direction, string][];
    return rows.map(([seq, wallMs, direction, checkpointId]) => ({ seq, wallMs, direction, checkpointId }));
  }

  /**
   * Allowed scans of named people at a checkpoint (not the gate inputs' events) with wall time in
   * [fromMs, toMs], by time, as raw rows [wallMs, workerId]. A trace reads about 100,000 of these on
   * a busy gate's month: each column more would cost it about a fifth more.
   */
  passagesNear(checkpointId: string, fromMs: number, toMs: number): [number, string][] {
    return this.passagesNearStmt.all(checkpointId, fromMs, toMs) as [number, string][];
  }

  /**
   * Visitors' allowed scans (issue 14; not their registrations or declarations) at any checkpoint with
   * wall time in [fromMs, toMs], by time: [wallMs, visitorId, checkpointId]. Read by the visitor index
   * (a kiosk's visitors are a few a day, so all of a period's are fewer than one busy gate's hour).
   */
  visitorPassages(fromMs: number, toMs: number): [number, string, string][] {
    return this.visitorPassagesStmt.all(fromMs, toMs) as [number, string, string][];
  }

  /** Refused scans at a checkpoint, likewise: [wallMs, workerId or null when nobody was identified]. No reasons. */
  refusalsNear(checkpointId: string, fromMs: number, toMs: number): [number, string | null][] {
    return this.refusalsNearStmt.all(checkpointId, fromMs, toMs) as [number, string | null][];
  }

  get(seq: number): GateEvent | undefined {
    const row = this.getStmt.get(seq) as EventRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /**
   * Removes events older than the cutoff that the hub already holds; events the hub does not have yet
   * are kept, unless `unsyncedToo` (a kiosk without a hub, whose events will never sync).
   */
  purgeBefore(wallMs: number, options: { unsyncedToo?: boolean } = {}): number {
    return (options.unsyncedToo ? this.purgeAllStmt : this.purgeStmt).run(wallMs).changes;
  }

  /**
   * Erases the answer bits of declarations made before `wallMs` (Decree 13: kept 14 days,
   * DECLARATION_ANSWERS_KEPT_DAYS), keeping the events. Only of events the hub has, unless
   * `unsyncedToo` (a kiosk without a hub): the wire carries a declaration's answers with it, so an
   * unsent one keeps them until it is sent. Returns how many were erased.
   */
  clearDeclarationBitsBefore(wallMs: number, options: { unsyncedToo?: boolean } = {}): number {
    const synced = options.unsyncedToo ? '' : ' AND synced_at IS NOT NULL';
    return this.db.prepare(`UPDATE events SET declaration_bits = NULL WHERE source = 'declaration' AND declaration_bits IS NOT NULL AND wall_ms < ?${synced}`).run(wallMs).changes;
  }
}
