import { closeSync, existsSync, fsyncSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';

export type DiskLevel = 'ok' | 'low' | 'critical';

export interface DiskFigures {
  /** Free space for this process on the store's filesystem (bytes), null if unknown. */
  freeBytes: number | null;
  /** The reserve kept for a full disk, and whether it has been given up (the store ran out once). */
  reserveBytes: number;
  reserveInUse: boolean;
  /** ok; low: below the warning threshold; critical: the reserve is in use or nearly nothing is left. */
  level: DiskLevel;
}

export interface DiskGuardOptions {
  /** The store's folder: its filesystem is watched. */
  dir: string;
  /** The reserve: a file of `reserveBytes` zeros, deleted when the store hits a full disk. */
  reserveFile: string;
  reserveBytes: number;
  /** Below this much free space, warn (heartbeat, screens, status, log). */
  warnFreeBytes: number;
  /** How often free space is checked (and the reserve made again once there is room). */
  everyMs?: number;
  log: Logger;
  /** Free space, for tests on filesystems the test controls; statfs by default. */
  freeBytes?: () => number | null;
}

const CHUNK = 1024 * 1024;

/**
 * Keeps a full disk from costing scans. A reserve file is allocated while there is room; when the
 * store reports a full disk the reserve is deleted at once, so what the gate holds and the next scans
 * can still be written, and an alarm goes out (log, heartbeat, screens, `safegate status`). Free space
 * is watched so IT hears well before it runs out, and the reserve is made again once there is room.
 * `start()`/`stop()`; the constructor only stores its dependencies.
 */
export class DiskGuard {
  private timer: NodeJS.Timeout | undefined;
  private inUse = false;
  private lastLevel: DiskLevel = 'ok';

  constructor(private readonly options: DiskGuardOptions) {}

  start(): void {
    this.inUse = !existsSync(this.options.reserveFile) && this.options.reserveBytes > 0 && this.tooLittleForReserve();
    this.check();
    this.timer = setInterval(() => this.check(), this.options.everyMs ?? 30_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The store hit a full disk: give up the reserve. True when that freed space just now. */
  releaseReserve(): boolean {
    if (!existsSync(this.options.reserveFile)) {
      this.inUse = this.options.reserveBytes > 0;
      return false;
    }
    try {
      rmSync(this.options.reserveFile, { force: true });
    } catch (err) {
      this.options.log.error({ err: (err as Error).message }, 'cannot release the disk reserve');
      return false;
    }
    this.inUse = true;
    this.report();
    return true;
  }

  figures(): DiskFigures {
    const freeBytes = this.free();
    return { freeBytes, reserveBytes: this.options.reserveBytes, reserveInUse: this.inUse, level: this.level(freeBytes) };
  }

  private level(freeBytes: number | null): DiskLevel {
    if (this.inUse) return 'critical';
    if (freeBytes === null) return 'ok';
    if (freeBytes < Math.max(this.options.reserveBytes, CHUNK)) return 'critical';
    return freeBytes < this.options.warnFreeBytes ? 'low' : 'ok';
  }

  private free(): number | null {
    if (this.options.freeBytes) return this.options.freeBytes();
    try {
      const s = statfsSync(this.options.dir);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  }

  private tooLittleForReserve(): boolean {
    const free = this.free();
    return free !== null && free < this.options.reserveBytes + this.options.warnFreeBytes;
  }

  /** Makes the reserve when it is missing and there is room for it with the warning margin to spare. */
  private check(): void {
    if (this.options.reserveBytes > 0 && !existsSync(this.options.reserveFile) && !this.tooLittleForReserve()) {
      if (this.allocateReserve()) this.inUse = false;
    }
    this.report();
  }

  private allocateReserve(): boolean {
    const { reserveFile, reserveBytes, log } = this.options;
    let fd: number | undefined;
    try {
      fd = openSync(reserveFile, 'wx', 0o600);
      const zeros = Buffer.alloc(Math.min(CHUNK, reserveBytes));
      for (let written = 0; written < reserveBytes; ) written += writeSync(fd, zeros, 0, Math.min(zeros.length, reserveBytes - written));
      fsyncSync(fd);
      return true;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot make the disk reserve now; will try again');
      if (fd !== undefined) rmSync(reserveFile, { force: true });
      return false;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  private report(): void {
    const f = this.figures();
    if (f.level === this.lastLevel) return;
    this.lastLevel = f.level;
    const mb = f.freeBytes === null ? null : Math.round(f.freeBytes / CHUNK);
    if (f.level === 'critical') this.options.log.fatal({ freeMB: mb, reserveInUse: f.reserveInUse }, 'disk nearly full: scans are recorded on the reserve; free disk space now');
    else if (f.level === 'low') this.options.log.warn({ freeMB: mb }, 'disk space low');
    else this.options.log.info({ freeMB: mb }, 'disk space back to normal');
  }
}
