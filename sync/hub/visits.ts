import type { KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import { z } from 'zod';
import { UPLOAD_ID_PATTERN } from '../../base/common/phone-upload.js';
import { issuesText } from '../../base/common/validation.js';
import { HubKeyring } from '../../base/node/keys.js';
import { CheckpointCodeError, readCheckpointCode, ROTATING_WINDOW_SECONDS } from './checkpoint-codes.js';
import { isAnyOf, type HubSql, type HubSqlExecutor } from './hub-sql.js';
import { PhoneUploadError, type PhoneUploads } from './phone-uploads.js';

/**
 * Check-in where there is no kiosk (directory migration 0015): the worker's phone scans a signed
 * checkpoint code (sync/hub/checkpoint-codes.ts), records the visit (in; the same checkpoint again:
 * out), keeps it while offline and uploads it signed with its own key (sync/hub/phone-uploads.ts),
 * with an id it made: kept once, however often it is sent.
 *
 * Time: the phone says when it scanned. Uploaded promptly (within a minute of that, by the hub's
 * clock), the visit's time is verified, and a rotating code is judged against the hub's clock: one
 * whose window ended more than a minute before is refused (a photo of the screen sent on). Uploaded
 * later, the time is only the phone's word: the visit is kept and marked unverified (as a kiosk event
 * on an unsynchronised clock is), and a rotating code must at least fit the time the phone claims.
 * Visits are a table of their own that tracing joins with the kiosks' events (see the migration).
 */

/** An upload this soon after the phone's scan time (by the hub's clock) is prompt: its time is checked. */
export const PROMPT_UPLOAD_MS = 60_000;
/** A rotating code stops working this long after its window ends. */
export const ROTATING_CODE_GRACE_MS = 60_000;
/** A scan time further ahead of the hub's clock than this is refused. */
export const MAX_PHONE_AHEAD_MS = 5 * 60_000;
/** A visit scanned longer ago than this is of no use to tracing: refused. */
export const MAX_VISIT_AGE_MS = 14 * 86_400_000;

export const visitPayloadSchema = z
  .object({
    kind: z.literal('visit'),
    id: z.string().regex(UPLOAD_ID_PATTERN, '16 bytes in base64url'),
    /** The phone's clock when it scanned the code, epoch ms. */
    scannedAtMs: z.number().int().positive(),
    /** The QR text as scanned (SGC1:...). */
    code: z.string().min(1).max(1_024),
    /** in: a check-in; out: the same checkpoint scanned again. */
    direction: z.enum(['in', 'out']),
  })
  .strict();
export type VisitPayload = z.infer<typeof visitPayloadSchema>;

export class VisitError extends PhoneUploadError {
  override name = 'VisitError';
}

export function parseVisitPayload(value: unknown): VisitPayload {
  const r = visitPayloadSchema.safeParse(value);
  if (!r.success) throw new VisitError(`the visit is out of shape: ${issuesText(r.error)}`, 400);
  return r.data;
}

export interface VisitReceipt {
  status: 'recorded' | 'duplicate';
  workerId: string;
  checkpointId: string;
  checkpointName: string;
  direction: 'in' | 'out';
  atMs: number;
  timeVerified: boolean;
}

export interface VisitRecord {
  visitId: string;
  workerId: string;
  checkpointId: string;
  siteId: string;
  direction: 'in' | 'out';
  atMs: number;
  receivedAtMs: number;
  timeVerified: boolean;
  codeKind: 'static' | 'rotating';
}

/** Which visits tracing reads: these workers', or those at these checkpoints, from `sinceMs` (inclusive) to `untilMs` (exclusive). */
export interface VisitWindow {
  workerIds?: readonly string[];
  checkpointIds?: readonly string[];
  sinceMs: number;
  untilMs: number;
}

/**
 * The visits kept in the directory's database in a window, oldest first (the ids as one parameter).
 * Reading needs no key: a hub that takes no phone uploads now still traces the visits it kept.
 */
export async function visitsWithin(db: HubSqlExecutor, filter: VisitWindow): Promise<VisitRecord[]> {
  const [column, ids] = filter.workerIds !== undefined ? ['worker_id', filter.workerIds] : ['checkpoint_id', filter.checkpointIds ?? []];
  if (ids.length === 0) return [];
  const rows = await db.all<VisitRow>(
    sql`SELECT visit_id, worker_id, checkpoint_id, site_id, direction, at_ms, received_ms, time_verified, code_kind FROM visits
        WHERE ${isAnyOf(db.dialect, sql.ref(column), [...new Set(ids)])} AND at_ms >= ${filter.sinceMs} AND at_ms < ${filter.untilMs}
        ORDER BY at_ms, visit_id`,
  );
  return rows.map(visitFromRow);
}

export interface VisitsOptions {
  /** The directory's database (the caller opened it and closes it). */
  sql: HubSql;
  uploads: PhoneUploads;
  /** The hub's checkpoint-code key (private or public): the codes it signed are the only ones taken. */
  checkpointCodeKey: KeyObject;
  now?: () => number;
}

interface VisitRow {
  visit_id: string;
  worker_id: string;
  checkpoint_id: string;
  site_id: string;
  direction: 'in' | 'out';
  at_ms: number;
  received_ms: number;
  time_verified: number;
  code_kind: 'static' | 'rotating';
}

function visitFromRow(r: VisitRow): VisitRecord {
  return { visitId: r.visit_id, workerId: r.worker_id, checkpointId: r.checkpoint_id, siteId: r.site_id, direction: r.direction, atMs: r.at_ms, receivedAtMs: r.received_ms, timeVerified: r.time_verified === 1, codeKind: r.code_kind };
}

export class Visits {
  private readonly db: HubSql;
  private readonly now: () => number;
  private readonly keyring = new HubKeyring();

  /** Only stores its dependencies (and trusts the checkpoint-code key). */
  constructor(private readonly options: VisitsOptions) {
    this.db = options.sql;
    this.now = options.now ?? Date.now;
    this.keyring.add(options.checkpointCodeKey, { role: 'checkpoint-code', source: 'the hub settings (checkpointCodeKey)' });
  }

  /**
   * Takes a phone's signed upload of a visit: verified, its code and times checked, kept once. Two
   * uploads of one visit racing keep one row: the insert's conflict on the id decides, and the loser
   * answers as a duplicate with the row that won.
   */
  async submit(body: unknown): Promise<VisitReceipt> {
    const nowMs = this.now();
    const upload = await this.options.uploads.verify(body, nowMs);
    const v = parseVisitPayload(upload.payload);
    let code;
    try {
      code = readCheckpointCode(v.code, this.keyring, nowMs);
    } catch (err) {
      if (err instanceof CheckpointCodeError) throw new VisitError(`the scanned code is refused: ${err.message}`, 400);
      throw err;
    }
    const checkpoint = await this.db.get<{ site_id: string; name: string }>(sql`SELECT site_id, name FROM checkpoints WHERE checkpoint_id = ${code.checkpointId}`);
    if (!checkpoint) throw new VisitError(`checkpoint ${code.checkpointId} is not registered at this hub`, 400);
    if (v.scannedAtMs > nowMs + MAX_PHONE_AHEAD_MS) throw new VisitError("the phone's clock is ahead of the hub's: set the phone's time", 400);
    if (v.scannedAtMs < nowMs - MAX_VISIT_AGE_MS) throw new VisitError('this visit is more than 14 days old', 400);

    const prompt = nowMs - v.scannedAtMs <= PROMPT_UPLOAD_MS;
    if (code.kind === 'rotating') {
      const windowEndMs = code.windowStartMs! + ROTATING_WINDOW_SECONDS * 1000;
      // Prompt: judged by the hub's clock. Late: the code must at least fit the time the phone claims.
      const judgedAt = prompt ? nowMs : v.scannedAtMs;
      if (judgedAt > windowEndMs + ROTATING_CODE_GRACE_MS) throw new VisitError('this checkpoint code has expired (it changes every 30 seconds): scan the code on the screen again', 400);
      if (judgedAt < code.windowStartMs! - MAX_PHONE_AHEAD_MS) throw new VisitError('this checkpoint code is from later than the scan', 400);
    }
    const atMs = prompt ? Math.min(v.scannedAtMs, nowMs) : v.scannedAtMs;
    const inserted = await this.db.run(
      sql`INSERT INTO visits (visit_id, worker_id, pass_id, checkpoint_id, site_id, direction, at_ms, received_ms, time_verified, code_kind)
          VALUES (${v.id}, ${upload.workerId}, ${upload.passId}, ${code.checkpointId}, ${checkpoint.site_id}, ${v.direction}, ${atMs}, ${nowMs}, ${prompt ? 1 : 0}, ${code.kind})
          ON CONFLICT (visit_id) DO NOTHING`,
    );
    if (inserted === 0) {
      // The row that won the conflict is committed by now (PostgreSQL's insert waited for it).
      const held = await this.db.get<{ worker_id: string; at_ms: number; time_verified: number; direction: 'in' | 'out' }>(
        sql`SELECT worker_id, at_ms, time_verified, direction FROM visits WHERE visit_id = ${v.id}`,
      );
      if (!held || held.worker_id !== upload.workerId) throw new VisitError('this visit id is taken: scan again', 409);
      return { status: 'duplicate', workerId: upload.workerId, checkpointId: code.checkpointId, checkpointName: checkpoint.name, direction: held.direction, atMs: held.at_ms, timeVerified: held.time_verified === 1 };
    }
    return { status: 'recorded', workerId: upload.workerId, checkpointId: code.checkpointId, checkpointName: checkpoint.name, direction: v.direction, atMs, timeVerified: prompt };
  }

  /** Visits, oldest first, of a worker and/or at a checkpoint, from `sinceMs` (tracing). */
  async list(filter: { workerId?: string; checkpointId?: string; sinceMs?: number } = {}): Promise<VisitRecord[]> {
    const where = [sql`at_ms >= ${filter.sinceMs ?? 0}`];
    if (filter.workerId !== undefined) where.push(sql`worker_id = ${filter.workerId}`);
    if (filter.checkpointId !== undefined) where.push(sql`checkpoint_id = ${filter.checkpointId}`);
    const rows = await this.db.all<VisitRow>(
      sql`SELECT visit_id, worker_id, checkpoint_id, site_id, direction, at_ms, received_ms, time_verified, code_kind FROM visits
          WHERE ${sql.join(where, sql` AND `)} ORDER BY at_ms, visit_id`,
    );
    return rows.map(visitFromRow);
  }

  /**
   * Tracing: the visits of these workers, or at these checkpoints, from `sinceMs` (inclusive) to
   * `untilMs` (exclusive), oldest first; the ids as one parameter.
   */
  async within(filter: VisitWindow): Promise<VisitRecord[]> {
    return visitsWithin(this.db, filter);
  }

  /** Retention: visits older than `retentionDays`; returns how many. */
  async purge(retentionDays: number): Promise<number> {
    return this.db.run(sql`DELETE FROM visits WHERE at_ms < ${this.now() - retentionDays * 86_400_000}`);
  }

  /** Erasure (Decree 13): every visit of a worker; returns how many. */
  async eraseWorker(workerId: string): Promise<number> {
    return this.db.run(sql`DELETE FROM visits WHERE worker_id = ${workerId}`);
  }
}
