import { randomUUID } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import { guardCell, spreadsheetCsv } from '../../base/common/cell-guard.js';
import { dayKeyIn, localTimeIn } from '../../base/common/time.js';
import { chunksOf, inList, type HubSql, type HubSqlExecutor } from './hub-sql.js';
import type { TraceContact, TraceOptions, TraceResult } from './trace.js';

/** A saved trace's id (a UUID the hub makes). */
export const TRACE_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A contact marked as told: by whom (a console account) and when. */
export interface NotifiedMark {
  workerId: string;
  by: string;
  atMs: number;
}

/** A saved trace without its result (for the list of earlier traces). */
export interface SavedTraceSummary {
  traceId: string;
  caseWorkerId: string;
  /** The organisation whose list held the case when the trace was started (its managers see it). */
  caseOrgId: string | null;
  /** A manager's trace: confined to this organisation's contacts. Null: a health officer's (every organisation). */
  scopeOrgId: string | null;
  fromMs: number;
  toMs: number;
  secondDegree: boolean;
  options: TraceOptions;
  startedBy: string;
  startedMs: number;
  /** The contacts the Tracer found (F1 and F2): every one for a health officer; a manager's list (`list(orgId)`) counts their organisation's only. */
  contacts: number;
  /** Contacts marked as told (of those counted in `contacts`). */
  notified: number;
}

export interface SavedTrace extends SavedTraceSummary {
  result: TraceResult;
  notifiedMarks: NotifiedMark[];
}

/** What one viewer may see of a saved trace: every contact (a health officer), or their organisation's only. */
export interface TraceView extends Omit<SavedTrace, 'result' | 'notifiedMarks'> {
  result: TraceResult;
  /** Contacts of other organisations (or of none) left out of `result.contacts` for this viewer: the health officer has them. */
  contactsElsewhere: number;
  notifiedMarks: NotifiedMark[];
}

interface TraceRow {
  trace_id: string;
  case_worker_id: string;
  case_org_id: string | null;
  scope_org_id: string | null;
  from_ms: number;
  to_ms: number;
  second_degree: number;
  options: string;
  started_by: string;
  started_ms: number;
  contacts: number;
  notified: number;
}

/** Every column but the result (a trusted constant), with the count of marks. */
const SUMMARY = sql.raw(
  't.trace_id, t.case_worker_id, t.case_org_id, t.scope_org_id, t.from_ms, t.to_ms, t.second_degree, t.options, t.started_by, t.started_ms, t.contacts, (SELECT count(*) FROM trace_notified n WHERE n.trace_id = t.trace_id) AS notified',
);

const toSummary = (r: TraceRow): SavedTraceSummary => ({
  traceId: r.trace_id,
  caseWorkerId: r.case_worker_id,
  caseOrgId: r.case_org_id,
  scopeOrgId: r.scope_org_id,
  fromMs: Number(r.from_ms),
  toMs: Number(r.to_ms),
  secondDegree: r.second_degree === 1,
  options: JSON.parse(r.options) as TraceOptions,
  startedBy: r.started_by,
  startedMs: Number(r.started_ms),
  contacts: Number(r.contacts),
  notified: Number(r.notified),
});

/** A saved trace an organisation's manager may open: one their organisation started, or one of their own worker. */
const visibleTo = (orgId: string | undefined): RawBuilder<unknown> => (orgId === undefined ? sql`1 = 1` : sql`(t.scope_org_id = ${orgId} OR t.case_org_id = ${orgId})`);

/**
 * Traces started from the console and the contacts marked as told (directory migration 0017 /
 * PostgreSQL step 3). A trace is kept as the Tracer returned it, every contact in it; what a viewer
 * sees is decided here (`view`), not by each caller: a health officer every contact, a manager the
 * contacts their organisation's list held when the trace ran, with a count of the others. The
 * constructor only stores its dependencies.
 */
export class SavedTraces {
  private readonly db: HubSql;
  private readonly now: () => number;

  constructor(options: { sql: HubSql; now?: () => number }) {
    this.db = options.sql;
    this.now = options.now ?? Date.now;
  }

  /** Keeps a trace's result; `scopeOrgId` is the organisation of the manager who started it (none: a health officer). */
  async save(t: { result: TraceResult; secondDegree: boolean; startedBy: string; scopeOrgId: string | null; caseOrgId: string | null }): Promise<SavedTrace> {
    const traceId = randomUUID();
    const r = t.result;
    await this.db.run(
      sql`INSERT INTO saved_traces (trace_id, case_worker_id, case_org_id, scope_org_id, from_ms, to_ms, second_degree, options, started_by, started_ms, contacts, result)
          VALUES (${traceId}, ${r.caseWorkerId}, ${t.caseOrgId}, ${t.scopeOrgId}, ${r.fromMs}, ${r.toMs}, ${t.secondDegree ? 1 : 0}, ${JSON.stringify(r.options)}, ${t.startedBy}, ${this.now()}, ${r.contacts.length}, ${JSON.stringify(r)})`,
    );
    return (await this.get(traceId))!;
  }

  /**
   * Earlier traces, newest first; `orgId` (a manager's) confines them to those their organisation
   * may open, and their counts to what that manager sees on opening one (`viewOf`): their
   * organisation's contacts and the marks of those, never the totals across organisations.
   */
  async list(orgId?: string, limit = 200): Promise<SavedTraceSummary[]> {
    if (orgId === undefined) {
      const rows = await this.db.all<TraceRow>(sql`SELECT ${SUMMARY} FROM saved_traces t ORDER BY t.started_ms DESC, t.trace_id LIMIT ${limit}`);
      return rows.map(toSummary);
    }
    const rows = await this.db.all<TraceRow & { result: string }>(
      sql`SELECT ${SUMMARY}, t.result FROM saved_traces t WHERE ${visibleTo(orgId)} ORDER BY t.started_ms DESC, t.trace_id LIMIT ${limit}`,
    );
    const marked = new Map<string, Set<string>>();
    for (const ids of chunksOf(rows.map((r) => r.trace_id))) {
      for (const m of await this.db.all<{ trace_id: string; worker_id: string }>(sql`SELECT trace_id, worker_id FROM trace_notified WHERE trace_id IN ${inList(ids)}`)) {
        let set = marked.get(m.trace_id);
        if (!set) marked.set(m.trace_id, (set = new Set()));
        set.add(m.worker_id);
      }
    }
    return rows.map((r) => {
      const theirs = (JSON.parse(r.result) as TraceResult).contacts.filter((c) => c.orgId === orgId).map((c) => c.workerId);
      const marks = marked.get(r.trace_id);
      return { ...toSummary(r), contacts: theirs.length, notified: marks ? theirs.filter((w) => marks.has(w)).length : 0 };
    });
  }

  /** A trace whole (every contact), if `orgId` (a manager's) may open it. */
  async get(traceId: string, orgId?: string): Promise<SavedTrace | undefined> {
    return this.read(this.db, traceId, orgId);
  }

  /** Whether such a trace exists at all (to tell "not yours" from "none" in the audit trail). */
  async exists(traceId: string): Promise<boolean> {
    return (await this.db.get(sql`SELECT 1 AS one FROM saved_traces WHERE trace_id = ${traceId}`)) !== undefined;
  }

  /** What a viewer sees of a trace: every contact (`orgId` undefined), or those of the manager's organisation only. */
  async view(traceId: string, orgId?: string): Promise<TraceView | undefined> {
    const t = await this.get(traceId, orgId);
    return t && viewOf(t, orgId);
  }

  /**
   * Marks a contact of the trace as told. The first mark stays (a second is answered with it); a
   * worker who is not a contact the viewer may see is refused (undefined).
   */
  async markNotified(traceId: string, workerId: string, by: string, orgId?: string): Promise<NotifiedMark | undefined> {
    return this.db.write(async (tx) => {
      const t = await this.read(tx, traceId, orgId);
      if (!t || !viewOf(t, orgId).result.contacts.some((c) => c.workerId === workerId)) return undefined;
      await tx.run(sql`INSERT INTO trace_notified (trace_id, worker_id, notified_by, notified_ms) VALUES (${traceId}, ${workerId}, ${by}, ${this.now()}) ON CONFLICT (trace_id, worker_id) DO NOTHING`);
      const row = await tx.get<{ notified_by: string; notified_ms: number }>(sql`SELECT notified_by, notified_ms FROM trace_notified WHERE trace_id = ${traceId} AND worker_id = ${workerId}`);
      return { workerId, by: row!.notified_by, atMs: Number(row!.notified_ms) };
    });
  }

  /** Decree 13 access: the traces a worker is in, as the case or as a contact (with the mark, if told). */
  async ofWorker(workerId: string): Promise<{ traceId: string; as: 'case' | 'contact'; startedMs: number; startedBy: string; fromMs: number; toMs: number; notified: NotifiedMark | null }[]> {
    const found = [];
    for (const t of await this.holding(this.db, workerId)) {
      const mark = t.notifiedMarks.find((m) => m.workerId === workerId) ?? null;
      found.push({ traceId: t.traceId, as: t.caseWorkerId === workerId ? ('case' as const) : ('contact' as const), startedMs: t.startedMs, startedBy: t.startedBy, fromMs: t.fromMs, toMs: t.toMs, notified: mark });
    }
    return found;
  }

  /**
   * Decree 13 erasure: the traces of this worker as the case are deleted; from the others they are
   * taken out (as a contact, as the F1 an F2 met, and their mark), the rest of the trace kept.
   */
  async eraseWorker(workerId: string): Promise<{ tracesDeleted: number; tracesChanged: number }> {
    return this.db.write(async (tx) => {
      let tracesDeleted = 0;
      let tracesChanged = 0;
      for (const t of await this.holding(tx, workerId)) {
        await tx.run(sql`DELETE FROM trace_notified WHERE trace_id = ${t.traceId} AND (worker_id = ${workerId} OR ${t.caseWorkerId === workerId ? 1 : 0} = 1)`);
        if (t.caseWorkerId === workerId) {
          tracesDeleted += await tx.run(sql`DELETE FROM saved_traces WHERE trace_id = ${t.traceId}`);
          continue;
        }
        const contacts = t.result.contacts
          .filter((c) => c.workerId !== workerId)
          .map((c) => ({ ...c, exposures: c.exposures.map(({ viaWorkerId, ...e }) => (viaWorkerId === undefined || viaWorkerId === workerId ? e : { ...e, viaWorkerId })) }));
        const result: TraceResult = { ...t.result, contacts };
        tracesChanged += await tx.run(sql`UPDATE saved_traces SET result = ${JSON.stringify(result)}, contacts = ${contacts.length} WHERE trace_id = ${t.traceId}`);
      }
      return { tracesDeleted, tracesChanged };
    });
  }

  /** The traces naming a worker anywhere (narrowed by text in the database, then read whole). */
  private async holding(db: HubSqlExecutor, workerId: string): Promise<SavedTrace[]> {
    const ids = await db.all<{ trace_id: string }>(
      sql`SELECT trace_id FROM saved_traces WHERE case_worker_id = ${workerId} OR result LIKE ${`%"workerId":"${workerId}"%`} OR result LIKE ${`%"viaWorkerId":"${workerId}"%`} ORDER BY started_ms, trace_id`,
    );
    const traces = [];
    for (const { trace_id } of ids) {
      const t = await this.read(db, trace_id, undefined);
      if (t && (t.caseWorkerId === workerId || t.result.contacts.some((c) => c.workerId === workerId || c.exposures.some((e) => e.viaWorkerId === workerId)))) traces.push(t);
    }
    return traces;
  }

  /** Retention: traces started before this time are deleted with their marks. */
  async purgeBefore(ms: number): Promise<{ traces: number }> {
    return this.db.write(async (tx) => {
      await tx.run(sql`DELETE FROM trace_notified WHERE trace_id IN (SELECT trace_id FROM saved_traces WHERE started_ms < ${ms})`);
      return { traces: await tx.run(sql`DELETE FROM saved_traces WHERE started_ms < ${ms}`) };
    });
  }

  private async read(db: HubSqlExecutor, traceId: string, orgId: string | undefined): Promise<SavedTrace | undefined> {
    const row = await db.get<TraceRow & { result: string }>(sql`SELECT ${SUMMARY}, t.result FROM saved_traces t WHERE t.trace_id = ${traceId} AND ${visibleTo(orgId)}`);
    if (!row) return undefined;
    const marks = await db.all<{ worker_id: string; notified_by: string; notified_ms: number }>(
      sql`SELECT worker_id, notified_by, notified_ms FROM trace_notified WHERE trace_id = ${traceId} ORDER BY notified_ms, worker_id`,
    );
    return {
      ...toSummary(row),
      result: JSON.parse(row.result) as TraceResult,
      notifiedMarks: marks.map((m) => ({ workerId: m.worker_id, by: m.notified_by, atMs: Number(m.notified_ms) })),
    };
  }
}

/**
 * A trace as a viewer may see it: a manager (`orgId`) the contacts of their organisation only (as
 * the trace found them: the organisation whose list held the worker then; for a visitor, the
 * organisation of the site where they met the source), with the count of the others, the marks of
 * those contacts only, and the visitors on their organisation's sites only.
 */
export function viewOf(t: SavedTrace, orgId: string | undefined): TraceView {
  const mine = (c: TraceContact) => orgId === undefined || c.orgId === orgId;
  const kept = t.result.contacts.filter(mine);
  const shown = new Set(kept.map((c) => c.workerId));
  // An F2 contact's F1 of another organisation is not named to a manager either.
  const contacts = orgId === undefined ? kept : kept.map((c) => ({ ...c, exposures: c.exposures.map(({ viaWorkerId, ...e }) => (viaWorkerId === undefined || shown.has(viaWorkerId) || viaWorkerId === t.caseWorkerId ? { ...e, ...(viaWorkerId === undefined ? {} : { viaWorkerId }) } : e)) }));
  return {
    ...t,
    // Visitors on site: a manager sees those at their organisation's sites only.
    result: { ...t.result, contacts, ...(t.result.visitorsOnSite && orgId !== undefined ? { visitorsOnSite: t.result.visitorsOnSite.filter((v) => v.orgId === orgId) } : {}) },
    contactsElsewhere: t.result.contacts.length - contacts.length,
    notifiedMarks: t.notifiedMarks.filter((m) => shown.has(m.workerId)),
    notified: t.notifiedMarks.filter((m) => shown.has(m.workerId)).length,
  };
}

/** A contact's (or the case's) name and team from the organisations' lists (hub_workers), for those who may see them. */
export interface TracedWorker {
  workerId: string;
  fullName: string;
  team: string;
  orgId: string;
}

/** Names and teams of these workers as their organisations' lists hold them now (absent: on no list). */
export async function tracedWorkers(db: HubSqlExecutor, workerIds: readonly string[]): Promise<Map<string, TracedWorker>> {
  const found = new Map<string, TracedWorker>();
  for (const ids of chunksOf([...new Set(workerIds)])) {
    const rows = await db.all<{ worker_id: string; full_name: string; team: string; org_id: string }>(sql`SELECT worker_id, full_name, team, org_id FROM hub_workers WHERE worker_id IN ${inList(ids)}`);
    for (const r of rows) found.set(r.worker_id, { workerId: r.worker_id, fullName: r.full_name, team: r.team, orgId: r.org_id });
  }
  return found;
}

export type TraceExportLanguage = 'vi' | 'en';

const EXPORT_HEADERS: Record<TraceExportLanguage, string[]> = {
  vi: ['Hạng', 'Mức', 'Mã người lao động', 'Họ tên', 'Tổ', 'Tổ chức', 'Nơi', 'Loại nơi', 'Mã điểm kiểm soát', 'Ngày', 'Từ', 'Đến', 'Số phút tiếp xúc', 'Nguồn', 'Đồng hồ chưa xác minh', 'Tiếp xúc qua (F1)', 'Đã báo bởi', 'Đã báo lúc'],
  en: ['Rank', 'Degree', 'Worker id', 'Name', 'Team', 'Organisation', 'Place', 'Place kind', 'Checkpoint', 'Day', 'From', 'To', 'Overlap minutes', 'Source', 'Unverified clock', 'Via (F1)', 'Notified by', 'Notified at'],
};
const EXPORT_WORDS: Record<TraceExportLanguage, Record<string, string>> = {
  vi: { zone: 'Khu vực', team: 'Tổ', canteen: 'Nhà ăn', dormitory: 'Ký túc xá', bus: 'Xe đưa đón', kiosk: 'Máy kiểm soát', phone: 'Điện thoại', yes: 'Có', trip: 'chuyến', visiting: 'Khách thăm' },
  en: { zone: 'Zone', team: 'Team', canteen: 'Canteen', dormitory: 'Dormitory', bus: 'Bus', kiosk: 'Kiosk', phone: 'Phone', yes: 'Yes', trip: 'trip', visiting: 'Visitor to' },
};

/**
 * A trace as the health authority's sheet: one row per exposure (a contact at one place at one
 * time; at a bus trip, the bus's name with the trip's id), contacts by rank, times in the province zone, the header in the chosen language
 * (Vietnamese first). Only what the viewer may see: pass the viewer's `view`.
 */
export function traceExportRows(view: TraceView, workers: ReadonlyMap<string, TracedWorker>, zone: string, lang: TraceExportLanguage): string[][] {
  const words = EXPORT_WORDS[lang];
  const marks = new Map(view.notifiedMarks.map((m) => [m.workerId, m]));
  const rows: string[][] = [EXPORT_HEADERS[lang]];
  for (const c of view.result.contacts) {
    const w = workers.get(c.workerId);
    const mark = marks.get(c.workerId);
    for (const e of c.exposures) {
      rows.push([
        String(c.rank),
        `F${c.degree}`,
        c.workerId,
        // A visitor (issue 14): the name they gave, and in the team's column whom they visited and why.
        c.kind === 'visitor' ? (c.visitor?.name ?? '') : (w?.fullName ?? ''),
        c.kind === 'visitor' ? (c.visitor ? `${words.visiting} ${c.visitor.host} (${c.visitor.purpose})` : words.visiting!) : (w?.team ?? ''),
        c.orgId ?? '',
        // A bus trip is its own place (issue 13): the bus's name and the trip.
        e.place.tripId !== undefined ? `${e.place.name} (${words.trip} ${e.place.tripId})` : e.place.name,
        words[e.place.kind]!,
        e.place.checkpointId,
        dayKeyIn(e.fromMs, zone),
        localTimeIn(e.fromMs, zone),
        localTimeIn(e.toMs, zone),
        String(e.overlapMinutes),
        words[e.source]!,
        e.unverifiedClock ? words.yes! : '',
        e.viaWorkerId ?? '',
        mark?.by ?? '',
        mark ? localTimeIn(mark.atMs, zone) : '',
      ]);
    }
  }
  return rows;
}

/** The sheet as CSV (the one formula guard, BOM, CRLF: base/common/cell-guard.ts). */
export function traceCsv(rows: readonly (readonly string[])[]): Uint8Array {
  return spreadsheetCsv(rows);
}

/** The sheet as XLSX: every text cell through the same guard (a name is an organisation's own text). */
export async function traceXlsx(rows: readonly (readonly string[])[], lang: TraceExportLanguage): Promise<Buffer> {
  // Loaded when a trace is exported: a hub process that never exports need not carry ExcelJS.
  const { default: ExcelJS } = await import('exceljs');
  const book = new ExcelJS.Workbook();
  book.creator = 'SafeGate';
  const sheet = book.addWorksheet(lang === 'vi' ? 'Truy vết' : 'Trace', { views: [{ state: 'frozen', ySplit: 1 }] });
  rows.forEach((row, i) => {
    const added = sheet.addRow(row.map(guardCell));
    if (i === 0) added.font = { bold: true };
  });
  sheet.columns.forEach((c, i) => (c.width = [6, 6, 16, 26, 16, 14, 24, 12, 16, 12, 20, 20, 10, 12, 10, 16, 16, 20][i] ?? 14));
  return Buffer.from(await book.xlsx.writeBuffer());
}
