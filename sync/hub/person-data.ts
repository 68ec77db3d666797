import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { WorkerRecord } from '../../base/common/types.js';
import { identifierSchema } from '../../base/common/ids.js';
import type { HubDirectory } from './directory.js';
import type { HubSqlExecutor } from './hub-sql.js';
import { PassError, type PassRecord, type PassRegistry } from './passes.js';
import type { HubEvent, HubStore } from './store.js';
import { SavedTraces } from './traces.js';
import type { Alert } from '../protocol.js';

/**
 * Decree 13/2023/NĐ-CP requests about one person: access (everything the hub holds about them, as
 * one JSON document) and erasure (removed everywhere on the hub). Each request writes one audit line
 * that names no one: the request's own id, what was done and how many records it touched. The
 * operator writes that id on the person's request form, which is where their name stays.
 *
 * Erasure:
 * - the worker leaves the roster as a tombstone (id and revision only), so every kiosk drops them at
 *   its next download; their hub-only list row (ID number, phone, residence) is deleted;
 * - every live pass is revoked (kiosks refuse it), then the registry's rows about them and their
 *   phone links (an open one stops working) are deleted: only the pass ids stay, on the
 *   revocations stream, which names no one;
 * - their events in the hub store keep device, time, checkpoint, zone, direction and decision but lose
 *   the worker id, code hash and reasons. Tracing needs to know how many people were where and when
 *   (a zone's occupancy at the hour an F0 was there); it cannot use a person it may no longer name.
 *   Their alerts are deleted.
 * - the console's saved traces of them as the case are deleted; from the traces they were a contact
 *   in (or the F1 an F2 met), they are taken out with their "told" mark, the rest kept.
 * - A person under an active health measure (an F0 or F1 case status, or a quarantine not over) is
 *   refused: epidemic response is a legal ground to keep processing without consent (Decree 13,
 *   Article 17), and their contacts are being traced from their record. Erase once the case is closed,
 *   or with `force` where the health authority says tracing is done.
 */

export interface PersonExport {
  format: 'safegate-person-export/1';
  requestId: string;
  exportedAt: string;
  workerId: string;
  /** The organisation's CV 2242 list row, kept at the hub only (null: on no organisation's list). */
  organisationList: Awaited<ReturnType<HubDirectory['hubOnlyWorker']>> | null;
  /** What kiosks hold and decide on (null: not on the roster). */
  roster: WorkerRecord | null;
  passes: (PassRecord & { boundToPhone: boolean })[];
  /** Personal phone links made for them (never the token: the hub keeps only its hash). */
  phoneLinks: PhoneLinkRow[];
  /** Daily health declarations made on their phone: time and flag, and a flagged one's answers while kept (14 days). */
  healthDeclarations: { id: string; madeAtMs: number; receivedAtMs: number; flagged: boolean; answers: unknown }[];
  /** Check-ins and check-outs scanned at checkpoints without a kiosk. */
  visits: { id: string; checkpointId: string; direction: string; atMs: number; timeVerified: boolean }[];
  /** The shuttle routes they ride and the vehicles they drive (as a worker on a list). */
  shuttles: { routesRidden: string[]; vehiclesDriven: string[] };
  /** Passages and refusals kiosks reported, kept `retentionDays` (times in ISO 8601 beside the epoch milliseconds). */
  events: (HubEvent & { at: string })[];
  alerts: (Alert & { deviceId: string })[];
  /** The console's saved traces they are in, as the case or a contact, and whether they were told (sync/hub/traces.ts). */
  traces: Awaited<ReturnType<SavedTraces['ofWorker']>>;
  /** What is not in this document and where it is. */
  elsewhere: string[];
}

/** A phone link as the export shows it. */
export interface PhoneLinkRow {
  linkId: string;
  madeBy: string;
  madeAtMs: number;
  expiresAtMs: number;
  usedAtMs: number | null;
  retiredAtMs: number | null;
  passId: string | null;
}

export interface ErasureReport {
  requestId: string;
  rosterRemoved: boolean;
  listRowDeleted: boolean;
  passesRevoked: number;
  passRecordsDeleted: number;
  phoneLinksDeleted: number;
  /** Their phone's health declarations and checkpoint visits. */
  phoneUploadsDeleted: number;
  /** Their rows as a route's rider or a vehicle's driver. */
  shuttleRowsDeleted: number;
  eventsAnonymised: number;
  alertsDeleted: number;
  /** Saved traces of them as the case (deleted) and those they were a contact in (taken out of). */
  tracesDeleted: number;
  tracesChanged: number;
  /** Their organisation's labour list the reports' schedule kept (sync/hub/reports/): deleted, the next one made without them. */
  keptLabourListsDeleted: number;
}

/** One audit line: never the person's id or name. */
export interface PersonAuditLine {
  at: string;
  requestId: string;
  request: 'access' | 'erasure';
  /** Who asked (an operator's account or the shell user), as the caller names them. */
  by: string;
  counts: Record<string, number | boolean>;
}

export interface PersonDataSources {
  directory: HubDirectory;
  passes: PassRegistry;
  store: HubStore;
  /** Writes one audit line (the console's audit trail, or the CLI's log file). */
  audit: (line: PersonAuditLine) => void;
  now?: () => number;
}

/** What a request refuses (an unknown person, an active health measure), in plain words. */
export class PersonDataError extends Error {
  override name = 'PersonDataError';
}

const ELSEWHERE = [
  "Kiosks keep the events they recorded in their own log until the hub has them and for retentionDays after (default 28); the supervisor's exports from a kiosk are deleted after a day.",
  "The console's audit trail records which accounts opened this person's pages, by request, not their data.",
  'The organisation that uploaded the list keeps its own copy of the CV 2242 form.',
];

function checkWorkerId(workerId: string): string {
  const r = identifierSchema.safeParse(workerId);
  if (!r.success) throw new PersonDataError(`worker id ${JSON.stringify(workerId)}: ${r.error.issues[0]?.message ?? 'not an identifier'}`);
  return r.data;
}

/** The roster record kiosks hold for a worker (undefined: not on the roster, or a tombstone). */
async function rosterRecord(db: HubSqlExecutor, workerId: string): Promise<WorkerRecord | undefined> {
  const row = await db.get<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'roster' AND key = ${workerId} AND deleted = 0`);
  return row ? (JSON.parse(row.value) as WorkerRecord) : undefined;
}

/** The routes a worker rides and the vehicles they drive (ids, by id). */
async function shuttlesOf(db: HubSqlExecutor, workerId: string): Promise<PersonExport['shuttles']> {
  const routes = await db.all<{ route_id: string }>(sql`SELECT route_id FROM route_riders WHERE worker_id = ${workerId}`);
  const vehicles = await db.all<{ vehicle_id: string }>(sql`SELECT vehicle_id FROM vehicle_drivers WHERE worker_id = ${workerId}`);
  // Sorted here, not by the database's collation, so both backends list them alike.
  return { routesRidden: routes.map((r) => r.route_id).sort(), vehiclesDriven: vehicles.map((r) => r.vehicle_id).sort() };
}

/** Access: everything the hub holds about one worker, as one JSON document. */
export async function exportPerson(sources: PersonDataSources, workerIdText: string, by: string): Promise<PersonExport> {
  const workerId = checkWorkerId(workerIdText);
  const nowMs = (sources.now ?? Date.now)();
  const db = sources.directory.sql;
  const organisationList = (await sources.directory.hubOnlyWorker(workerId)) ?? null;
  const roster = (await rosterRecord(db, workerId)) ?? null;
  const holderKeys = new Set((await db.all<{ pass_id: string }>(sql`SELECT pass_id FROM passes WHERE worker_id = ${workerId} AND holder_key IS NOT NULL`)).map((r) => r.pass_id));
  const passes = (await sources.passes.list({ workerId })).map((p) => ({ ...p, boundToPhone: holderKeys.has(p.passId) }));
  const phoneLinks = (
    await db.all<{ link_id: string; made_by: string; made_ms: number; expires_ms: number; used_ms: number | null; retired_ms: number | null; pass_id: string | null }>(
      sql`SELECT link_id, made_by, made_ms, expires_ms, used_ms, retired_ms, pass_id FROM phone_links WHERE worker_id = ${workerId} ORDER BY made_ms, link_id`,
    )
  ).map((r): PhoneLinkRow => ({ linkId: r.link_id, madeBy: r.made_by, madeAtMs: r.made_ms, expiresAtMs: r.expires_ms, usedAtMs: r.used_ms, retiredAtMs: r.retired_ms, passId: r.pass_id }));
  const healthDeclarations = (
    await db.all<{ decl_id: string; made_ms: number; received_ms: number; flagged: number; answers: string | null }>(
      sql`SELECT decl_id, made_ms, received_ms, flagged, answers FROM declarations WHERE worker_id = ${workerId} ORDER BY made_ms, decl_id`,
    )
  ).map((r) => ({ id: r.decl_id, madeAtMs: r.made_ms, receivedAtMs: r.received_ms, flagged: r.flagged === 1, answers: r.answers === null ? null : (JSON.parse(r.answers) as unknown) }));
  const visits = (
    await db.all<{ visit_id: string; checkpoint_id: string; direction: string; at_ms: number; time_verified: number }>(
      sql`SELECT visit_id, checkpoint_id, direction, at_ms, time_verified FROM visits WHERE worker_id = ${workerId} ORDER BY at_ms, visit_id`,
    )
  ).map((r) => ({ id: r.visit_id, checkpointId: r.checkpoint_id, direction: r.direction, atMs: r.at_ms, timeVerified: r.time_verified === 1 }));
  const shuttles = await shuttlesOf(db, workerId);
  const shuttleRows = shuttles.routesRidden.length + shuttles.vehiclesDriven.length;
  const held = await sources.store.personData(workerId);
  const traces = await new SavedTraces({ sql: db }).ofWorker(workerId);
  if (!organisationList && !roster && passes.length === 0 && phoneLinks.length === 0 && shuttleRows === 0 && held.events.length === 0 && held.alerts.length === 0 && traces.length === 0) {
    throw new PersonDataError(`the hub holds nothing about worker ${workerId}`);
  }
  const requestId = randomUUID();
  sources.audit({
    at: new Date(nowMs).toISOString(),
    requestId,
    request: 'access',
    by,
    counts: { listRow: organisationList !== null, roster: roster !== null, passes: passes.length, phoneLinks: phoneLinks.length, shuttles: shuttleRows, events: held.events.length, alerts: held.alerts.length, traces: traces.length },
  });
  return {
    format: 'safegate-person-export/1',
    requestId,
    exportedAt: new Date(nowMs).toISOString(),
    workerId,
    organisationList,
    roster,
    passes,
    phoneLinks,
    healthDeclarations,
    visits,
    shuttles,
    events: held.events.map((e) => ({ ...e, at: new Date(e.correctedWallMs ?? e.wallMs).toISOString() })),
    alerts: held.alerts,
    traces,
    elsewhere: ELSEWHERE,
  };
}

/** Erasure: removes one worker everywhere on the hub (see the module comment for what stays, and why). */
export async function erasePerson(sources: PersonDataSources, workerIdText: string, by: string, options: { force?: boolean } = {}): Promise<ErasureReport> {
  const workerId = checkWorkerId(workerIdText);
  const nowMs = (sources.now ?? Date.now)();
  const db = sources.directory.sql;
  const roster = await rosterRecord(db, workerId);
  if (roster && !options.force) {
    const measure =
      roster.caseStatus !== 'none' ? `case status ${roster.caseStatus}` : roster.quarantineUntil !== null && roster.quarantineUntil > nowMs ? 'a quarantine not yet over' : undefined;
    if (measure) throw new PersonDataError(`worker ${workerId} is under an active health measure (${measure}): their contacts are traced from their record; erase once the case is closed, or force it when the health authority says tracing is done`);
  }
  const listed = await sources.directory.hubOnlyWorker(workerId);
  const listRowDeleted = listed !== undefined;
  // Revoked first, as erased (the roster removal would revoke them too, as "removed").
  let passesRevoked = 0;
  try {
    passesRevoked = (await sources.passes.revokeWorker(workerId, { because: 'erased' })).length;
  } catch (err) {
    if (!(err instanceof PassError)) throw err;
  }
  // Counted before the roster removal, which takes them off their routes (and sends the routes' bus kiosks a fresh roster).
  const shuttles = await shuttlesOf(db, workerId);
  const rosterRemoved = (await sources.directory.removeWorkers([workerId])).removed > 0;
  const { passRecordsDeleted, phoneLinksDeleted, phoneUploadsDeleted } = await db.write(async (tx) => {
    await tx.run(sql`DELETE FROM route_riders WHERE worker_id = ${workerId}`);
    await tx.run(sql`DELETE FROM vehicle_drivers WHERE worker_id = ${workerId}`);
    return {
      passRecordsDeleted: await tx.run(sql`DELETE FROM passes WHERE worker_id = ${workerId}`),
      // An open link goes too: its token no longer finds anyone.
      phoneLinksDeleted: await tx.run(sql`DELETE FROM phone_links WHERE worker_id = ${workerId}`),
      phoneUploadsDeleted: (await tx.run(sql`DELETE FROM declarations WHERE worker_id = ${workerId}`)) + (await tx.run(sql`DELETE FROM visits WHERE worker_id = ${workerId}`)),
    };
  });
  const shuttleRowsDeleted = shuttles.routesRidden.length + shuttles.vehiclesDriven.length;
  const held = await sources.store.anonymiseWorker(workerId);
  const { tracesDeleted, tracesChanged } = await new SavedTraces({ sql: db }).eraseWorker(workerId);
  const keptLabourListsDeleted = listed ? await db.write((tx) => tx.run(sql`DELETE FROM labour_lists WHERE org_id = ${listed.orgId}`)) : 0;
  if (!rosterRemoved && !listRowDeleted && passRecordsDeleted === 0 && phoneLinksDeleted === 0 && shuttleRowsDeleted === 0 && held.events === 0 && held.alerts === 0 && tracesDeleted + tracesChanged === 0) {
    throw new PersonDataError(`the hub holds nothing about worker ${workerId}`);
  }
  const report: ErasureReport = {
    requestId: randomUUID(),
    rosterRemoved,
    listRowDeleted,
    passesRevoked,
    passRecordsDeleted,
    phoneLinksDeleted,
    phoneUploadsDeleted,
    shuttleRowsDeleted,
    eventsAnonymised: held.events,
    alertsDeleted: held.alerts,
    tracesDeleted,
    tracesChanged,
    keptLabourListsDeleted,
  };
  const { requestId, ...counts } = report;
  sources.audit({ at: new Date(nowMs).toISOString(), requestId, request: 'erasure', by, counts });
  return report;
}
