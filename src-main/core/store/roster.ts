import type { Statement } from 'better-sqlite3';
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import type { DataChange, WorkerRecord } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { applyChangeSet } from './change-set.js';
import { workerIdSchema } from '../../../base/common/ids.js';
import { DEFAULT_TIME_ZONE, parseInstant } from '../../../base/common/time.js';

interface WorkerRow {
  worker_id: string;
  display_name: string;
  company: string;
  team: string;
  declared_at: number | null;
  declaration_flagged: number;
  test_result: 'negative' | 'positive' | null;
  tested_at: number | null;
  vaccine_doses: number;
  quarantine_until: number | null;
  case_status: 'none' | 'F0' | 'F1';
  org_id: string | null;
  site_id: string | null;
}

function fromRow(r: WorkerRow): WorkerRecord {
  return {
    workerId: r.worker_id,
    displayName: r.display_name,
    company: r.company,
    team: r.team,
    declaredAt: r.declared_at,
    declarationFlagged: r.declaration_flagged === 1,
    testResult: r.test_result,
    testedAt: r.tested_at,
    vaccineDoses: r.vaccine_doses,
    quarantineUntil: r.quarantine_until,
    caseStatus: r.case_status,
    ...(r.org_id !== null && r.site_id !== null ? { orgId: r.org_id, siteId: r.site_id } : {}),
  };
}

function rowParams(w: WorkerRecord, now: number) {
  return { ...w, declarationFlagged: w.declarationFlagged ? 1 : 0, updatedAt: now, orgId: w.orgId ?? null, siteId: w.siteId ?? null };
}

/** The local roster. Lookups are by primary key; writes replace whole records atomically. */
export class Roster {
  private readonly getStmt: Statement;
  private readonly upsertStmt: Statement;
  private readonly countStmt: Statement;

  constructor(private readonly db: SqliteDatabase) {
    this.getStmt = db.prepare('SELECT * FROM workers WHERE worker_id = ?');
    this.upsertStmt = db.prepare(`
      INSERT INTO workers (worker_id, display_name, company, team, declared_at, declaration_flagged, test_result,
        tested_at, vaccine_doses, quarantine_until, case_status, updated_at, org_id, site_id)
      VALUES (@workerId, @displayName, @company, @team, @declaredAt, @declarationFlagged, @testResult,
        @testedAt, @vaccineDoses, @quarantineUntil, @caseStatus, @updatedAt, @orgId, @siteId)
      ON CONFLICT (worker_id) DO UPDATE SET
        display_name = excluded.display_name, company = excluded.company, team = excluded.team,
        declared_at = excluded.declared_at, declaration_flagged = excluded.declaration_flagged,
        test_result = excluded.test_result, tested_at = excluded.tested_at, vaccine_doses = excluded.vaccine_doses,
        quarantine_until = excluded.quarantine_until, case_status = excluded.case_status, updated_at = excluded.updated_at,
        org_id = excluded.org_id, site_id = excluded.site_id`);
    this.countStmt = db.prepare('SELECT count(*) AS n FROM workers');
  }

  get(workerId: string): WorkerRecord | undefined {
    const row = this.getStmt.get(workerId) as WorkerRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /**
   * Workers' ids, names and teams in id order, a page at a time (the supervisor's search for a worker
   * to trace reads the roster in pages, giving the event loop back between them).
   */
  namesAfter(afterWorkerId: string, limit: number): { workerId: string; displayName: string; team: string }[] {
    const rows = this.db
      .prepare('SELECT worker_id, display_name, team FROM workers WHERE worker_id > ? ORDER BY worker_id LIMIT ?')
      .raw()
      .all(afterWorkerId, limit) as [string, string, string][];
    return rows.map(([workerId, displayName, team]) => ({ workerId, displayName, team }));
  }

  /** A worker whose id is this one but for letter case, if any. */
  idIgnoringCase(workerId: string): string | undefined {
    const row = this.db.prepare('SELECT worker_id FROM workers WHERE worker_id = ? COLLATE NOCASE LIMIT 1').raw().get(workerId) as [string] | undefined;
    return row?.[0];
  }

  /** The names and teams of these workers, in one query (those not on the roster are absent). */
  namesOf(workerIds: readonly string[]): Map<string, { displayName: string; team: string }> {
    const out = new Map<string, { displayName: string; team: string }>();
    if (workerIds.length === 0) return out;
    const rows = this.db
      .prepare('SELECT worker_id, display_name, team FROM workers WHERE worker_id IN (SELECT value FROM json_each(?))')
      .raw()
      .all(JSON.stringify(workerIds)) as [string, string, string][];
    for (const [workerId, displayName, team] of rows) out.set(workerId, { displayName, team });
    return out;
  }

  count(): number {
    return (this.countStmt.get() as { n: number }).n;
  }

  /**
   * Applies downloaded changes: a snapshot replaces the roster, a delta updates and removes. Runs in
   * the caller's transaction when there is one (better-sqlite3 nests it as a savepoint).
   */
  applyChanges(kind: 'snapshot' | 'delta', changes: Iterable<DataChange<WorkerRecord>>): number {
    const now = Date.now();
    // After a snapshot's DELETE every row is new: a plain positional INSERT is much cheaper than an upsert.
    const insert = this.db.prepare(
      `INSERT INTO workers (worker_id, display_name, company, team, declared_at, declaration_flagged, test_result,
        tested_at, vaccine_doses, quarantine_until, case_status, updated_at, org_id, site_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const del = this.db.prepare('DELETE FROM workers WHERE worker_id = ?');
    return applyChangeSet(this.db, kind, changes, {
      clear: () => this.db.prepare('DELETE FROM workers').run(),
      remove: (key) => del.run(key),
      put: (_key, w, fresh) => {
        if (fresh) insert.run(w.workerId, w.displayName, w.company, w.team, w.declaredAt, w.declarationFlagged ? 1 : 0, w.testResult, w.testedAt, w.vaccineDoses, w.quarantineUntil, w.caseStatus, now, w.orgId ?? null, w.siteId ?? null);
        else this.upsertStmt.run(rowParams(w, now));
      },
    });
  }

  /** Writes all records in one transaction: either every record is stored or none is. */
  upsertAll(records: readonly WorkerRecord[], options: { replace?: boolean } = {}): void {
    const now = Date.now();
    this.db
      .transaction(() => {
        if (options.replace) this.db.prepare('DELETE FROM workers').run();
        for (const r of records) {
          this.upsertStmt.run(rowParams(r, now));
        }
      })
      .immediate();
  }
}

// ---- CSV import -------------------------------------------------------------------------------

export const ROSTER_CSV_COLUMNS = [
  'worker_id',
  'display_name',
  'company',
  'team',
  'declared_at',
  'declaration_flagged',
  'test_result',
  'tested_at',
  'vaccine_doses',
  'quarantine_until',
  'case_status',
] as const;

const REQUIRED_COLUMNS = ['worker_id', 'display_name'] as const;

/** An ISO 8601 date or time (see parseInstant: plain dates and times without an offset are in the province zone). */
const optionalTime = (zone: string) =>
  z
    .string()
    .trim()
    .transform((s, ctx) => {
      if (s === '') return null;
      const ms = parseInstant(s, zone);
      if (ms instanceof Error) {
        ctx.addIssue({ code: 'custom', message: ms.message });
        return z.NEVER;
      }
      return ms;
    });

const yesNo = z
  .string()
  .trim()
  .toLowerCase()
  .transform((s, ctx) => {
    if (['', '0', 'false', 'no', 'n', 'không'].includes(s)) return false;
    if (['1', 'true', 'yes', 'y', 'có'].includes(s)) return true;
    ctx.addIssue({ code: 'custom', message: `expected yes/no (1/0, true/false), got "${s}"` });
    return z.NEVER;
  });

const csvRowSchema = (zone: string) => z
  .object({
    worker_id: z.string().trim().pipe(workerIdSchema),
    display_name: z.string().trim().min(1, 'required').max(120),
    company: z.string().trim().max(120).default(''),
    team: z.string().trim().max(120).default(''),
    declared_at: optionalTime(zone).prefault(''),
    declaration_flagged: yesNo.prefault(''),
    test_result: z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(['', 'negative', 'positive'], { message: 'expected negative, positive or empty' }))
      .default(''),
    tested_at: optionalTime(zone).prefault(''),
    vaccine_doses: z
      .string()
      .trim()
      .regex(/^\d{0,2}$/, 'expected a whole number from 0 to 99')
      .transform((s) => (s === '' ? 0 : Number(s)))
      .prefault('0'),
    quarantine_until: optionalTime(zone).prefault(''),
    case_status: z
      .string()
      .trim()
      .toUpperCase()
      .pipe(z.enum(['', 'NONE', 'F0', 'F1'], { message: 'expected none, F0, F1 or empty' }))
      .default(''),
  })
  .transform(
    (r): WorkerRecord => ({
      workerId: r.worker_id,
      displayName: r.display_name,
      company: r.company,
      team: r.team,
      declaredAt: r.declared_at,
      declarationFlagged: r.declaration_flagged,
      testResult: r.test_result === '' ? null : r.test_result,
      testedAt: r.tested_at,
      vaccineDoses: r.vaccine_doses,
      quarantineUntil: r.quarantine_until,
      caseStatus: r.case_status === 'F0' || r.case_status === 'F1' ? r.case_status : 'none',
    }),
  );

export interface CsvProblem {
  line: number;
  message: string;
}

export class RosterImportError extends Error {
  constructor(readonly problems: CsvProblem[]) {
    const shown = problems.slice(0, 20).map((p) => (p.line > 0 ? `line ${p.line}: ${p.message}` : p.message));
    const more = problems.length > 20 ? `; and ${problems.length - 20} more` : '';
    super(`roster CSV refused, nothing imported: ${shown.join('; ')}${more}`);
    this.name = 'RosterImportError';
  }
}

/**
 * Parses a roster CSV (UTF-8, optional BOM, header row). Every bad row is reported with its line
 * number; if there is any, RosterImportError is thrown and nothing is returned, so a caller can
 * never store half a file.
 */
export function parseRosterCsv(content: string | Buffer, zone = DEFAULT_TIME_ZONE): WorkerRecord[] {
  const rowSchema = csvRowSchema(zone);
  const problems: CsvProblem[] = [];
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parseCsv(content, {
      bom: true,
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim().toLowerCase());
        const unknown = names.filter((n) => !(ROSTER_CSV_COLUMNS as readonly string[]).includes(n));
        const missing = REQUIRED_COLUMNS.filter((c) => !names.includes(c));
        const dupes = names.filter((n, i) => names.indexOf(n) !== i);
        const errs = [
          unknown.length ? `unknown column(s) ${unknown.join(', ')}` : '',
          missing.length ? `missing column(s) ${missing.join(', ')}` : '',
          dupes.length ? `repeated column(s) ${dupes.join(', ')}` : '',
        ].filter(Boolean);
        if (errs.length) throw new Error(`header: ${errs.join('; ')} (expected: ${ROSTER_CSV_COLUMNS.join(',')})`);
        return names;
      },
      info: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        if (err) problems.push({ line: (err as { lines?: number }).lines ?? 0, message: err.message.replace(/^[A-Za-z_]+: /, '') });
      },
    });
  } catch (err) {
    throw new RosterImportError([{ line: 1, message: (err as Error).message.replace(/^Invalid Record Length: |^.*?: /, '') }]);
  }
  const seen = new Map<string, number>();
  const records: WorkerRecord[] = [];
  for (const { record, info } of rows) {
    const line = info.lines;
    const parsed = rowSchema.safeParse(record);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push({ line, message: `${issue.path.join('.')}: ${issue.message}` });
      continue;
    }
    const first = seen.get(parsed.data.workerId);
    if (first !== undefined) {
      problems.push({ line, message: `worker_id ${parsed.data.workerId} already appears on line ${first}` });
      continue;
    }
    seen.set(parsed.data.workerId, line);
    records.push(parsed.data);
  }
  if (problems.length) throw new RosterImportError(problems.sort((a, b) => a.line - b.line));
  return records;
}
