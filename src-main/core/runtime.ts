import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
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

/**
 * Creates the runtime folder (0700) or checks the one that is there: ours, a real folder (not a
 * link), and closed to others. A folder someone else made first (/dev/shm is shared by every user)
 * is refused rather than used: what is in it is read back as events at the next start.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory()) throw new Error(`${dir} is not a folder (a link or a file is in its place); remove it`);
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir} belongs to another user (uid ${st.uid}); remove it or set SAFEGATE_RUNTIME_DIR`);
  if ((st.mode & 0o077) !== 0) throw new Error(`${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)}); it must be 0700`);
}

/** Writes a private file (0600) whole and atomically, in a checked private folder, never through a link. */
export function writePrivate(file: string, dir: string, text: string): void {
  ensurePrivateDir(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
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
