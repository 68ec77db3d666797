import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Statement } from 'better-sqlite3';
import { z } from 'zod';
import { DENY_REASON_CODES, type DenyReason } from '../../../base/common/reasons.js';
import { tripIdSchema } from '../../../base/common/bus.js';
import { identifierSchema } from '../../../base/common/ids.js';
import { MAX_ANSWER_BITS } from '../../../base/common/declaration.js';
import { VISIT_TEXT_MAX, VISITOR_ID_PATTERN } from '../../../base/common/visitor.js';
import { ALERT_KINDS, type AlertKind, type NewGateEvent } from '../../../base/common/types.js';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { ensurePrivateDir, writePrivate } from '../runtime.js';
import type { EventLog } from './event-log.js';

/** An event the store could not take yet, with its alert. */
export interface HeldEvent {
  event: NewGateEvent;
  alert: AlertKind | undefined;
}

/** What the gate needs of the place held events wait in. */
export interface HeldEvents {
  readonly count: number;
  /** Keeps an event the store refused. */
  add(held: HeldEvent): void;
  /** Stores up to `max` of the oldest held events in one transaction; returns how many. Throws the store's error. */
  storeChunk(max: number): number;
}

/**
 * Bounds of a visit's texts in UTF-16 units: twice the characters the visitor desk takes (a name of
 * 120, host and purpose of VISIT_TEXT_MAX), so no event the kiosk wrote is ever refused here.
 */
const VISIT_NAME_UNITS = 240;
const VISIT_TEXT_UNITS = 2 * VISIT_TEXT_MAX;
const heldEventSchema = z
  .object({
    wallMs: z.number().int(),
    monoUs: z.number().int(),
    bootId: z.string().min(1).max(64),
    clockSynced: z.boolean(),
    checkpointId: z.string().min(1).max(64),
    zoneId: z.string().min(1).max(64),
    direction: z.enum(['entry', 'exit']),
    credentialKind: z.enum(['pass', 'badge', 'cccd', 'dcc', 'unknown']),
    workerId: z.string().max(64).nullable(),
    codeHash: z.string().max(64).nullable(),
    decision: z.enum(['allow', 'deny']),
    reasons: z.array(z.enum(DENY_REASON_CODES as [DenyReason, ...DenyReason[]])),
    source: z.enum(['serial', 'stdin', 'camera', 'keyboard', 'input', 'trip', 'evdev', 'declaration', 'visitor']),
    policyVersion: z.number().int().nonnegative(),
    // A bus unit's (issue 13): absent on a gate kiosk's events.
    tripId: tripIdSchema.optional(),
    routeId: identifierSchema.optional(),
    position: z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }).strict().nullable().optional(),
    clockSource: z.literal('gps').optional(),
    // The gate for everyone (issue 14): absent on every other event.
    declaration: z.object({ answers: z.number().int().min(0).max(MAX_ANSWER_BITS) }).strict().optional(),
    visitorId: z.string().regex(VISITOR_ID_PATTERN).optional(),
    visit: z
      .object({
        name: z.string().max(VISIT_NAME_UNITS).optional(),
        host: z.string().max(VISIT_TEXT_UNITS).optional(),
        purpose: z.string().max(VISIT_TEXT_UNITS).optional(),
        noticeVersion: z.number().int().nonnegative().optional(),
        decidedBy: z.string().max(64).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
const alertSchema = z.enum(ALERT_KINDS as [AlertKind, ...AlertKind[]]).optional();
const headerSchema = z.object({ spool: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/) }).strict();
const lineSchema = z.object({ i: z.number().int().positive(), event: heldEventSchema, alert: alertSchema }).strict();
/** The spool of an earlier version: events only, no numbers. */
const legacyLineSchema = z.object({ event: heldEventSchema, alert: alertSchema }).strict();

interface Numbered extends HeldEvent {
  i: number;
}

/** What reading a spool file found. */
export interface SpoolContents {
  spoolId: string | null;
  entries: Numbered[];
  /** Lines that were not a held event (cut short by a crash while writing, or not ours). */
  unreadable: number;
}

/** Reads a spool file (either format); a missing file is an empty spool. */
export function readSpool(file: string): SpoolContents {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { spoolId: null, entries: [], unreadable: 0 };
  }
  const lines = text.split('\n').filter((l) => l.trim());
  let spoolId: string | null = null;
  const entries: Numbered[] = [];
  let unreadable = 0;
  let legacy = 0;
  for (const [n, line] of lines.entries()) {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      unreadable++;
      continue;
    }
    if (n === 0) {
      const header = headerSchema.safeParse(json);
      if (header.success) {
        spoolId = header.data.spool;
        continue;
      }
    }
    const numbered = lineSchema.safeParse(json);
    if (numbered.success && spoolId !== null) {
      entries.push({ i: numbered.data.i, event: numbered.data.event, alert: numbered.data.alert });
      continue;
    }
    const old = legacyLineSchema.safeParse(json);
    if (old.success && spoolId === null) {
      entries.push({ i: ++legacy, event: old.data.event, alert: old.data.alert });
      continue;
    }
    unreadable++;
  }
  return { spoolId, entries, unreadable };
}

/** How many events in a spool file are above what was stored from it (what the next start takes back). */
export function spooledCount(db: SqliteDatabase, file: string): number {
  const found = readSpool(file);
  if (!found.entries.length) return 0;
  let through = 0;
  if (found.spoolId) {
    try {
      through = (db.prepare('SELECT stored_through FROM held_spool WHERE spool_id = ?').pluck().get(found.spoolId) as number | undefined) ?? 0;
    } catch {
      // A store from before the spool: nothing was stored from it.
    }
  }
  return found.entries.filter((e) => e.i > through).length;
}

const newSpoolId = (): string => randomBytes(12).toString('base64url');
const lineOf = (e: Numbered): string => JSON.stringify({ i: e.i, event: e.event, ...(e.alert ? { alert: e.alert } : {}) }) + '\n';

/**
 * Events the store refused (disk full, I/O error, locked) wait here, in order, until it takes them.
 * Each is also appended at once to a spool file in RAM (the runtime folder: never the store's disk,
 * which may be the full one), numbered, so a kiosk killed or crashing while it holds events loses none:
 * the next start takes them back. Each stored chunk records the highest number it stored in the same
 * transaction (table held_spool), so the next start restores exactly what is above it and nothing
 * twice. The file is removed once all are stored. A power cut loses RAM: only the store is durable.
 */
export class HeldSpool implements HeldEvents {
  private readonly queue: Numbered[] = [];
  private spoolId: string;
  private next = 1;
  private fd: number | null = null;
  /** Held events that are in memory only (the spool file could not be written). */
  private unspooled = 0;
  private readonly statements: { mark: Statement; storedThrough: Statement; forget: Statement };

  constructor(
    private readonly deps: { file: string; dir: string; db: SqliteDatabase; events: EventLog; log: Logger; maxHeld?: number },
  ) {
    const { db } = deps;
    this.statements = {
      mark: db.prepare(
        'INSERT INTO held_spool (spool_id, stored_through) VALUES (?, ?) ON CONFLICT (spool_id) DO UPDATE SET stored_through = excluded.stored_through',
      ),
      storedThrough: db.prepare('SELECT stored_through FROM held_spool WHERE spool_id = ?').pluck(),
      forget: db.prepare('DELETE FROM held_spool WHERE spool_id <> ?'),
    };
    this.spoolId = newSpoolId();
  }

  get count(): number {
    return this.queue.length;
  }

  /**
   * Takes back what an earlier run left in the spool file, above what it stored. Returns how many.
   * Reads the store (the stored-through mark), so a store that cannot be read throws.
   */
  open(): number {
    const { file, log } = this.deps;
    const found = readSpool(file);
    if (found.unreadable) log.error({ lines: found.unreadable }, 'lines of the held-event spool could not be read and are skipped');
    const through = found.spoolId ? ((this.statements.storedThrough.get(found.spoolId) as number | undefined) ?? 0) : 0;
    const left = found.entries.filter((e) => e.i > through);
    if (found.spoolId && left.length) {
      // Carry on with the same spool: its numbering and mark stay valid.
      this.spoolId = found.spoolId;
      this.next = Math.max(...found.entries.map((e) => e.i)) + 1;
      this.queue.push(...left);
    } else if (left.length) {
      // An old spool without numbers: renumbered into a new spool, written whole before the old one goes.
      this.next = 1;
      for (const e of left) this.queue.push({ ...e, i: this.next++ });
      writePrivate(file, this.deps.dir, this.headerLine() + this.queue.map(lineOf).join(''));
    } else {
      rmSync(file, { force: true });
    }
    // Marks of spools that are gone (their file was removed after all were stored).
    this.statements.forget.run(this.spoolId);
    return left.length;
  }

  add(held: HeldEvent): void {
    const max = this.deps.maxHeld ?? 50_000;
    if (this.queue.length >= max) {
      const dropped = this.queue.shift();
      this.deps.log.fatal({ droppedWallMs: dropped?.event.wallMs }, 'held-event buffer full: oldest unstored event dropped');
    }
    const entry: Numbered = { ...held, i: this.next++ };
    this.queue.push(entry);
    try {
      const fd = this.spoolFd();
      writeSync(fd, lineOf(entry));
      fsyncSync(fd);
    } catch (err) {
      this.unspooled++;
      this.deps.log.error({ err: (err as Error).message }, 'cannot keep a held event in the RAM spool: it is in memory only');
    }
  }

  storeChunk(max: number): number {
    const chunk = this.queue.slice(0, max);
    if (!chunk.length) return 0;
    const last = chunk.at(-1)!.i;
    this.deps.db.transaction(() => {
      this.deps.events.appendMany(chunk);
      this.statements.mark.run(this.spoolId, last);
    })();
    this.queue.splice(0, chunk.length);
    if (!this.queue.length) this.finish();
    return chunk.length;
  }

  /**
   * At stop: what is still held stays in the spool file for the next start. Returns how many are
   * kept there and how many are lost (held in memory only, and the file cannot take them now either).
   */
  close(): { kept: number; lost: number } {
    this.closeFd();
    const held = this.queue.length;
    if (!held) return { kept: 0, lost: 0 };
    if (this.unspooled === 0) return { kept: held, lost: 0 };
    try {
      // Some never reached the file: write the whole spool again, atomically.
      writePrivate(this.deps.file, this.deps.dir, this.headerLine() + this.queue.map(lineOf).join(''));
      return { kept: held, lost: 0 };
    } catch (err) {
      this.deps.log.fatal({ err: (err as Error).message }, 'cannot write the held-event spool');
      return { kept: held - Math.min(held, this.unspooled), lost: Math.min(held, this.unspooled) };
    }
  }

  private headerLine(): string {
    return JSON.stringify({ spool: this.spoolId }) + '\n';
  }

  private spoolFd(): number {
    if (this.fd !== null) return this.fd;
    const { file, dir } = this.deps;
    ensurePrivateDir(dir);
    const fresh = readSpool(file).spoolId !== this.spoolId;
    if (fresh) writePrivate(file, dir, this.headerLine());
    // Appends only; never through a symbolic link someone put in its place.
    this.fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW, 0o600);
    return this.fd;
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed.
    }
    this.fd = null;
  }

  /** All stored: the file goes first, then the mark (a mark without its file is harmless). */
  private finish(): void {
    this.closeFd();
    try {
      rmSync(this.deps.file, { force: true });
      this.statements.forget.run('');
      this.unspooled = 0;
      this.spoolId = newSpoolId();
      this.next = 1;
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'cannot remove the held-event spool; its events are all stored and will be skipped');
    }
  }
}
