import { ensurePrivateDir, writePrivateFile } from '../../base/node/private-files.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What a running kiosk knows only in memory (the hub link, events held while the disk is full),
 * kept in RAM (the runtime folder: $XDG_RUNTIME_DIR or /dev/shm, never the store's disk, which may
 * be the full one) so `safegate status` can show it, and the spool of events the store refused
 * (store/held-spool.ts). Files are private (0600 in a checked 0700 folder).
 */

export interface RuntimeStatus {
  pid: number;
  atMs: number;
  link: string;
  heldEvents: number;
  disk: { freeBytes: number | null; reserveBytes: number; reserveInUse: boolean; level: string } | null;
  /**
   * What `safegate selftest` beside the running kiosk reports instead of taking the hardware (absent
   * in files written by older versions): the scanner's state (null: no serial scanner), the outputs'
   * mode, the MQTT link's own state (`auth-failed`: the broker refused this device; null: standalone)
   * and the device certificate's days left (null: none).
   */
  scanner?: string | null;
  gpio?: 'real' | 'simulated';
  linkState?: string | null;
  certDaysLeft?: number | null;
  /** A unit with GPS: the receiver's state now (GpsView.state); absent: no GPS, or an older version. */
  gps?: string;
}

export interface RuntimeFiles {
  dir: string;
  status: string;
  held: string;
  /** A bus unit's control socket (src-main/api/control-socket.ts), which `safegate trip` talks to. */
  control: string;
}

/** The packaged service's runtime folder (the unit's RuntimeDirectory, owned by the service user). */
export const SERVICE_RUNTIME_DIR = '/run/safegate';

/**
 * The runtime folder for this user: SAFEGATE_RUNTIME_DIR, else $XDG_RUNTIME_DIR/safegate, else the
 * service's folder when this user owns it (`sudo -u safegate safegate status|selftest` then reads
 * what the service wrote, without setting the variable the unit sets), else /dev/shm (RAM) or the
 * temp folder.
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env, serviceDir = SERVICE_RUNTIME_DIR): string {
  if (env.SAFEGATE_RUNTIME_DIR) return env.SAFEGATE_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'safegate');
  if (ownedDir(serviceDir)) return serviceDir;
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return join(base, `safegate-${process.getuid?.() ?? 'user'}`);
}

/** The runtime files of the kiosk whose database is `storePath` (several kiosks may share a machine). */
export function runtimeFiles(storePath: string, env: NodeJS.ProcessEnv = process.env): RuntimeFiles {
  const dir = runtimeDir(env);
  const id = createHash('sha256').update(storePath).digest('hex').slice(0, 16);
  return { dir, status: join(dir, `${id}.status.json`), held: join(dir, `${id}.held.jsonl`), control: join(dir, `${id}.control.sock`) };
}

function ownedDir(dir: string): boolean {
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.();
  } catch {
    return false;
  }
}

export { ensurePrivateDir };

/** Writes a private file (0600) whole and atomically, in the checked private folder `dir`, never through a link. */
export function writePrivate(file: string, dir: string, text: string): void {
  ensurePrivateDir(dir);
  writePrivateFile(file, text);
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
