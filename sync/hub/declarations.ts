import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { z } from 'zod';
import { UPLOAD_ID_PATTERN } from '../../base/common/phone-upload.js';
import { issuesText } from '../../base/common/validation.js';
import type { Logger } from 'pino';
import { DECLARATION_ANSWERS_KEPT_DAYS, DECLARATION_QUESTIONS, MAX_ANSWER_BITS, bitsToAnswers, isFlaggedBits, type DeclarationQuestion } from '../../base/common/declaration.js';
import type { WireEvent } from '../batch-codec.js';
import type { HubDirectory } from './directory.js';
import type { HubSql } from './hub-sql.js';
import { PhoneUploadError, type PhoneUploads } from './phone-uploads.js';

/**
 * Daily health declarations made on a worker's phone page (directory migration 0011).
 *
 * The questions are the Ministry's usual ones (DOMAIN.md): travel in the last 14 days (and where),
 * seven symptoms, three kinds of contact. Any "yes" flags the declaration. The phone keeps it while
 * offline and sends it when online, signed with its own key (sync/hub/phone-uploads.ts), with an id
 * it made: the hub keeps each id once, so a declaration sent again (a lost answer, two tabs) is one.
 *
 * What the hub keeps (Decree 13: health data is sensitive personal data, kept to what is needed):
 * - every declaration: the worker, the phone pass that signed it, when it was made and received, and
 *   whether it is flagged: what a gate decides by and what shows a worker declared;
 * - the answers only of a flagged declaration (which symptom, which contact, where they travelled),
 *   for the health officer's follow-up, and only for 14 days (the look-back the questions ask about:
 *   `purge`); an unflagged declaration's answers are all "no" and are not kept at all.
 * The worker's roster record takes the latest declaration's time and flag (so each of their kiosks
 * gets it at its next download), and the hub passes the same two facts at once to the kiosks of the
 * sites that serve the worker over the live site stream. Nothing here logs; no answer ever leaves the
 * hub (kiosks get time and flag only, and never show them on the public screen).
 */

export { SYMPTOMS, CONTACTS, DECLARATION_QUESTIONS, type DeclarationQuestion } from '../../base/common/declaration.js';

/** How long the answers of a flagged declaration are kept (the questions look back 14 days; the one constant for every store). */
export const ANSWERS_KEPT_DAYS = DECLARATION_ANSWERS_KEPT_DAYS;
/** A phone clock this far ahead of the hub's is refused (the declaration would look newer than it is). */
export const MAX_PHONE_AHEAD_MS = 5 * 60_000;
/** A declaration made longer ago than this says nothing about today: refused as too old. */
export const MAX_DECLARATION_AGE_MS = 7 * 86_400_000;

const answersSchema = z
  .object({
    ...Object.fromEntries(DECLARATION_QUESTIONS.map((q) => [q, z.boolean()])),
    /**
     * Where they travelled, when they did (free text, short, one line). No control or invisible
     * formatting characters (a right-to-left override would show the health officer other words than
     * those kept) and no half characters.
     */
    travelWhere: z
      .string()
      .max(200)
      .refine((s) => !/[\p{Cc}\p{Cf}\p{Cs}]/u.test(s), 'plain text on one line only')
      .optional(),
  } as Record<DeclarationQuestion, z.ZodBoolean> & { travelWhere: z.ZodOptional<z.ZodString> })
  .strict()
  // Where they went only when they went somewhere: nothing more is kept than the answer needs.
  .refine((a) => a.travelWhere === undefined || a.travel, { message: 'where they travelled is given only with travel: yes', path: ['travelWhere'] });
export type DeclarationAnswers = z.infer<typeof answersSchema>;

/** The payload a phone signs for a declaration. */
export const declarationPayloadSchema = z
  .object({
    kind: z.literal('declaration'),
    /** Made on the phone (16 random bytes, base64url): the same declaration sent again has the same id. */
    id: z.string().regex(UPLOAD_ID_PATTERN, '16 bytes in base64url'),
    /** The phone's clock when the worker answered, epoch ms. */
    madeAtMs: z.number().int().positive(),
    answers: answersSchema,
  })
  .strict();
export type DeclarationPayload = z.infer<typeof declarationPayloadSchema>;

export class DeclarationError extends PhoneUploadError {
  override name = 'DeclarationError';
}

/** Reads a declaration payload (already signature-checked JSON); throws DeclarationError naming what is wrong. */
export function parseDeclarationPayload(value: unknown): DeclarationPayload {
  const r = declarationPayloadSchema.safeParse(value);
  if (!r.success) throw new DeclarationError(`the declaration is out of shape: ${issuesText(r.error)}`, 400);
  return r.data;
}

export function isFlagged(answers: DeclarationAnswers): boolean {
  return DECLARATION_QUESTIONS.some((q) => answers[q]);
}

/** What the hub answers the phone, and what it passes on to the worker's kiosks. */
export interface DeclarationReceipt {
  status: 'recorded' | 'duplicate';
  flagged: boolean;
  /** The time the worker's kiosks go by (the phone's time, never later than the hub's). */
  declaredAtMs: number;
  /** Whether the worker's roster record changed (it did not when a newer declaration was already there). */
  rosterChanged: boolean;
  /** The sites whose kiosks serve the worker (for the live site stream). */
  sites: string[];
  workerId: string;
}

export interface DeclarationsOptions {
  /** The directory's database (the caller opened it and closes it). */
  sql: HubSql;
  directory: Pick<HubDirectory, 'recordDeclaration'>;
  uploads: PhoneUploads;
  /** The province time zone: a flagged declaration stands for the rest of its day in it. */
  zone?: string;
  now?: () => number;
}

interface DeclarationRow {
  decl_id: string;
  made_ms: number;
  received_ms: number;
  flagged: number;
  answers: string | null;
}

export class Declarations {
  private readonly db: HubSql;
  private readonly now: () => number;

  /** Only stores its dependencies. */
  constructor(private readonly options: DeclarationsOptions) {
    this.db = options.sql;
    this.now = options.now ?? Date.now;
  }

  /**
   * Takes a phone's signed upload (the request body as sent): verified, checked, kept once. Two
   * uploads of one declaration racing (two tabs, two hub processes) keep one row: the insert's
   * conflict on the id decides, and the loser answers as a duplicate.
   */
  async submit(body: unknown): Promise<DeclarationReceipt> {
    const nowMs = this.now();
    const upload = await this.options.uploads.verify(body, nowMs);
    const d = parseDeclarationPayload(upload.payload);
    if (d.madeAtMs > nowMs + MAX_PHONE_AHEAD_MS) throw new DeclarationError("the phone's clock is ahead of the hub's: set the phone's time and send again", 400);
    if (d.madeAtMs < nowMs - MAX_DECLARATION_AGE_MS) throw new DeclarationError('this declaration is more than 7 days old: make a new one', 400);
    const flagged = isFlagged(d.answers);
    const declaredAtMs = Math.min(d.madeAtMs, nowMs);
    const inserted = await this.db.run(
      sql`INSERT INTO declarations (decl_id, worker_id, pass_id, made_ms, received_ms, flagged, answers)
          VALUES (${d.id}, ${upload.workerId}, ${upload.passId}, ${declaredAtMs}, ${nowMs}, ${flagged ? 1 : 0}, ${flagged ? JSON.stringify(d.answers) : null})
          ON CONFLICT (decl_id) DO NOTHING`,
    );
    let status: DeclarationReceipt['status'] = 'recorded';
    if (inserted === 0) {
      // The row that won the conflict is committed by now (PostgreSQL's insert waited for it).
      const held = await this.db.get<{ worker_id: string }>(sql`SELECT worker_id FROM declarations WHERE decl_id = ${d.id}`);
      if (!held || held.worker_id !== upload.workerId) throw new DeclarationError('this declaration id is taken: make a new declaration', 409);
      status = 'duplicate';
    }
    // Also for a duplicate: a hub stopped between keeping the row and the roster finishes the job now.
    const roster = await this.options.directory.recordDeclaration(upload.workerId, declaredAtMs, flagged, this.options.zone === undefined ? {} : { zone: this.options.zone });
    return { status, flagged, declaredAtMs, rosterChanged: roster?.changed ?? false, sites: roster?.sites ?? [], workerId: upload.workerId };
  }

  /** A worker's declarations, newest first (time and flag; the answers only to whoever may see health data). */
  async ofWorker(workerId: string, limit = 30): Promise<{ id: string; madeAtMs: number; receivedAtMs: number; flagged: boolean; answers: DeclarationAnswers | null }[]> {
    const rows = await this.db.all<DeclarationRow>(
      sql`SELECT decl_id, made_ms, received_ms, flagged, answers FROM declarations WHERE worker_id = ${workerId} ORDER BY made_ms DESC LIMIT ${limit}`,
    );
    return rows.map((r) => ({ id: r.decl_id, madeAtMs: r.made_ms, receivedAtMs: r.received_ms, flagged: r.flagged === 1, answers: r.answers === null ? null : (JSON.parse(r.answers) as DeclarationAnswers) }));
  }

  /**
   * Retention: the answers of declarations received more than 14 days ago are erased, and whole
   * declarations (and health officers' clearances) older than `retentionDays` go. Returns how many of each.
   */
  async purge(retentionDays: number): Promise<{ answers: number; declarations: number }> {
    const nowMs = this.now();
    return this.db.write(async (tx) => ({
      answers: await tx.run(sql`UPDATE declarations SET answers = NULL WHERE answers IS NOT NULL AND received_ms < ${nowMs - ANSWERS_KEPT_DAYS * 86_400_000}`),
      declarations:
        (await tx.run(sql`DELETE FROM declarations WHERE received_ms < ${nowMs - retentionDays * 86_400_000}`)) +
        (await tx.run(sql`DELETE FROM declaration_clearances WHERE cleared_ms < ${nowMs - retentionDays * 86_400_000}`)),
    }));
  }

  /** Erasure (Decree 13): every declaration of a worker; returns how many. */
  async eraseWorker(workerId: string): Promise<number> {
    return this.db.write(async (tx) => {
      await tx.run(sql`DELETE FROM declaration_clearances WHERE worker_id = ${workerId}`);
      return tx.run(sql`DELETE FROM declarations WHERE worker_id = ${workerId}`);
    });
  }
}

/** The `pass_id` of a declaration taken on a kiosk's screen: no phone pass signed it, the kiosk did (by its batch). */
export function kioskDeclarationPass(deviceId: string): string {
  return `kiosk:${deviceId}`;
}

/**
 * A kiosk declaration's id (22 characters, as a phone's): derived from the device and the event's
 * sequence number, so a batch delivered again (or by another hub process) records it once.
 */
export function kioskDeclarationId(deviceId: string, seq: number): string {
  return createHash('sha256').update(`safegate-kiosk-declaration/1\n${deviceId}\n${seq}`).digest().subarray(0, 16).toString('base64url');
}

export interface KioskDeclarationsOptions {
  /** The directory's database (the caller opened it and closes it). */
  sql: HubSql;
  directory: Pick<HubDirectory, 'recordDeclaration' | 'rosterScopes'>;
  /** The province time zone: a flagged declaration stands for the rest of its day in it. */
  zone?: string;
  /** Warns of a declaration for a worker the device's site does not serve (never their answers). */
  log?: Pick<Logger, 'warn'>;
  now?: () => number;
}

/**
 * Declarations taken on a kiosk's screen (issue 14), as they arrive in its batches: an event of source
 * `declaration` naming a roster worker is recorded as a phone's declaration is (sync/hub/declarations.ts
 * Declarations.submit): a row in the declarations table (answers kept only when flagged, as the answer
 * set of its bits; `pass_id` kiosk:<device>), the worker's roster record (never older over newer), and
 * the receipt says which sites to tell over the live site stream when the record changed. A
 * visitor's declaration (no worker), a worker on no roster, and a worker not on the roster the device
 * receives (its rosterScopes: the downlink's rule) keep nothing here: the event stays in the hub's
 * store and the batch is acknowledged (a worker the site does not serve is no temporary failure),
 * with a warning naming the device and the event, never the answers.
 */
export class KioskDeclarations {
  private readonly now: () => number;

  /** Only stores its dependencies. */
  constructor(private readonly options: KioskDeclarationsOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The batch's declarations of roster workers, each recorded once; one receipt per declaration seen. */
  async record(deviceId: string, events: readonly WireEvent[]): Promise<DeclarationReceipt[]> {
    const out: DeclarationReceipt[] = [];
    let scopes: string[] | undefined;
    for (const e of events) {
      if (e.source !== 'declaration' || e.workerId === null || e.declaration === undefined) continue;
      const bits = e.declaration.answers;
      if (!Number.isInteger(bits) || bits < 0 || bits > MAX_ANSWER_BITS) continue; // the codec refuses these already
      const nowMs = this.now();
      const flagged = isFlaggedBits(bits);
      const declaredAtMs = Math.min(e.wallMs, nowMs);
      scopes ??= await this.options.directory.rosterScopes(deviceId);
      // The roster first: a worker on no roster, or on none the device receives, is not recorded at all.
      const roster = await this.options.directory.recordDeclaration(e.workerId, declaredAtMs, flagged, { scopes, ...(this.options.zone === undefined ? {} : { zone: this.options.zone }) });
      if (!roster) {
        this.options.log?.warn({ deviceId, seq: e.seq }, 'kiosk declaration for a worker not on the roster this device receives: kept as an event only, not recorded');
        continue;
      }
      const inserted = await this.options.sql.run(
        sql`INSERT INTO declarations (decl_id, worker_id, pass_id, made_ms, received_ms, flagged, answers)
            VALUES (${kioskDeclarationId(deviceId, e.seq)}, ${e.workerId}, ${kioskDeclarationPass(deviceId)}, ${declaredAtMs}, ${nowMs}, ${flagged ? 1 : 0},
                    ${flagged ? JSON.stringify(bitsToAnswers(bits)) : null})
            ON CONFLICT (decl_id) DO NOTHING`,
      );
      out.push({ status: inserted === 0 ? 'duplicate' : 'recorded', flagged, declaredAtMs, rosterChanged: roster.changed, sites: roster.sites, workerId: e.workerId });
    }
    return out;
  }
}
