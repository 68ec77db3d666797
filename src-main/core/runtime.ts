import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DENY_REASON_CODES, type DenyReason } from '../../base/common/reasons.js';
import { ALERT_KINDS, type AlertKind } from '../../base/common/types.js';
import type { HeldEvent } from './gatekeeper.js';

/**
 * What a running kiosk knows only in memory (the hub link, events held while the disk is full),
 * kept in RAM (the runtime folder: $XDG_RUNTIME_DIR or /dev/shm, never the store's disk, which may
 * be the full one) so `safegate status` can show it, and events that could not be written when the
 * kiosk stopped, so the next start writes them. Files are private (0600 in a 0700 folder).
 */

export interface RuntimeStatus {
  pid: number;
  atMs: number;
  link: string;
  heldEvents: number;
  disk: { freeBytes: number | null; reserveBytes: number; reserveInUse: boolean; level: string } | null;
}

export interface RuntimeFiles {
  dir: string;
  status: string;
  held: string;
}

/** The runtime folder for this user: SAFEGATE_RUNTIME_DIR, else $XDG_RUNTIME_DIR/safegate, else /dev/shm (RAM) or the temp folder. */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SAFEGATE_RUNTIME_DIR) return env.SAFEGATE_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'safegate');
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return join(base, `safegate-${process.getuid?.() ?? 'user'}`);
}

/** The runtime files of the kiosk whose database is `storePath` (several kiosks may share a machine). */
export function runtimeFiles(storePath: string, env: NodeJS.ProcessEnv = process.env): RuntimeFiles {
  const dir = runtimeDir(env);
  const id = createHash('sha256').update(storePath).digest('hex').slice(0, 16);
  return { dir, status: join(dir, `${id}.status.json`), held: join(dir, `${id}.held.jsonl`) };
}

function writePrivate(file: string, dir: string, text: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function writeRuntimeStatus(files: RuntimeFiles, status: RuntimeStatus): void {
  writePrivate(files.status, files.dir, JSON.stringify(status));
}

/** The status a running kiosk published, if that kiosk is still running. */
export function readRuntimeStatus(files: RuntimeFiles): RuntimeStatus | undefined {
  try {
    const status = JSON.parse(readFileSync(files.status, 'utf8')) as RuntimeStatus;
    process.kill(status.pid, 0);
    return status;
  } catch {
    return undefined;
  }
}

export function clearRuntimeStatus(files: RuntimeFiles): void {
  rmSync(files.status, { force: true });
}

const heldSchema = z
  .object({
    event: z
      .object({
        wallMs: z.number().int(),
        monoUs: z.number().int(),
        bootId: z.string().min(1).max(64),
        clockSynced: z.boolean(),
        checkpointId: z.string().min(1).max(64),
        zoneId: z.string().min(1).max(64),
        direction: z.enum(['entry', 'exit']),
        credentialKind: z.enum(['pass', 'badge', 'unknown']),
        workerId: z.string().max(64).nullable(),
        codeHash: z.string().max(64).nullable(),
        decision: z.enum(['allow', 'deny']),
        reasons: z.array(z.enum(DENY_REASON_CODES as [DenyReason, ...DenyReason[]])),
        source: z.enum(['serial', 'stdin', 'camera', 'keyboard']),
        policyVersion: z.number().int().nonnegative(),
      })
      .strict(),
    alert: z.enum(ALERT_KINDS as [AlertKind, ...AlertKind[]]).optional(),
  })
  .strict();

/**
 * Keeps the events the store could not take (at stop; and, while a new run still holds them, what is
 * left of them): the file is replaced whole, atomically. Throws if even that fails.
 */
export function writeSpilled(files: RuntimeFiles, events: readonly HeldEvent[]): void {
  writePrivate(files.held, files.dir, events.map((h) => JSON.stringify({ event: h.event, ...(h.alert ? { alert: h.alert } : {}) }) + '\n').join(''));
}

/** Events a previous run spilled; the file is removed by `clearSpilled` once they are stored. */
export function readSpilled(files: RuntimeFiles): HeldEvent[] {
  let text: string;
  try {
    text = readFileSync(files.held, 'utf8');
  } catch {
    return [];
  }
  const out: HeldEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const h = heldSchema.parse(JSON.parse(line));
      out.push({ event: h.event, alert: h.alert });
    } catch {
      // A line cut short by a crash while spilling: skip it, keep the rest.
    }
  }
  return out;
}

export function clearSpilled(files: RuntimeFiles): void {
  rmSync(files.held, { force: true });
}
