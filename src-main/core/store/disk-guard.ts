import { randomFillSync } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Logger } from 'pino';

import { diskLevel, diskSpace, type DiskLevel } from '../../../base/node/disk.js';

export type { DiskLevel };

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
  /** The reserve: a file of `reserveBytes` random bytes (a compressing filesystem cannot shrink it), deleted when the store hits a full disk. */
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
  /** The reserve being written (off the event loop, into `<reserve>.part`), and whether to give it up. */
  private allocating: Promise<void> | undefined;
  private abandon = false;
  private running = false;

  constructor(private readonly options: DiskGuardOptions) {}

  start(): void {
    this.running = true;
    this.inUse = !existsSync(this.options.reserveFile) && this.options.reserveBytes > 0 && this.tooLittleForReserve();
    this.check();
    this.timer = setInterval(() => this.check(), this.options.everyMs ?? 30_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.running = false;
    this.abandon = true;
  }

  /** Resolves once no reserve is being written (tests; a stop that wants the disk quiet). */
  async settled(): Promise<void> {
    await this.allocating;
  }

  /** The store hit a full disk: give up the reserve. True when that freed space just now. */
  releaseReserve(): boolean {
    const partial = this.partFile();
    if (this.allocating && existsSync(partial)) {
      // Being written: stop, and free what it has taken so far.
      this.abandon = true;
      rmSync(partial, { force: true });
      this.inUse = true;
      this.report();
      return true;
    }
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
    return diskLevel(freeBytes, { reserveBytes: this.options.reserveBytes, warnFreeBytes: this.options.warnFreeBytes, reserveInUse: this.inUse });
  }

  private free(): number | null {
    if (this.options.freeBytes) return this.options.freeBytes();
    return diskSpace(this.options.dir)?.freeBytes ?? null;
  }

  private tooLittleForReserve(): boolean {
    const free = this.free();
    return free !== null && free < this.options.reserveBytes + this.options.warnFreeBytes;
  }

  /** Makes the reserve when it is missing and there is room for it with the warning margin to spare. */
  private check(): void {
    if (!this.allocating && this.running && this.options.reserveBytes > 0 && !existsSync(this.options.reserveFile) && !this.tooLittleForReserve()) {
      this.abandon = false;
      this.allocating = this.allocateReserve()
        .then((made) => {
          if (made) this.inUse = false;
          this.report();
        })
        .finally(() => (this.allocating = undefined));
    }
    this.report();
  }

  private partFile(): string {
    return `${this.options.reserveFile}.part`;
  }

  /**
   * Writes the reserve a chunk at a time without blocking the event loop (scans go on), into a part
   * file renamed when complete and synced; given up (and removed) if the store needs the space first.
   */
  private async allocateReserve(): Promise<boolean> {
    const { reserveFile, reserveBytes, log } = this.options;
    const partial = this.partFile();
    rmSync(partial, { force: true });
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(partial, 'wx', 0o600);
      const chunk = randomFillSync(Buffer.alloc(Math.min(CHUNK, reserveBytes)));
      for (let written = 0; written < reserveBytes; ) {
        if (this.abandon) throw new Error('given up: the store needed the space');
        written += (await handle.write(chunk, 0, Math.min(chunk.length, reserveBytes - written))).bytesWritten;
        // Flushed a chunk at a time: one 32 MiB flush at the end would stall the scans' commits
        // (each waits for the disk) for as long as it takes.
        await handle.datasync();
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      if (this.abandon) throw new Error('given up: the store needed the space');
      renameSync(partial, reserveFile);
      return true;
    } catch (err) {
      if (!this.abandon) log.warn({ err: (err as Error).message }, 'cannot make the disk reserve now; will try again');
      await handle?.close().catch(() => undefined);
      rmSync(partial, { force: true });
      return false;
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
