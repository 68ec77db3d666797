import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

export interface ClockReading {
  wallMs: number;
  /** CLOCK_MONOTONIC in microseconds: comparable between events of the same boot. */
  monoUs: number;
  bootId: string;
  /** Whether the wall clock was known to be synchronised when read. */
  synced: boolean;
}

export type ClockSyncMode = 'timesyncd' | 'always' | 'never';

const TIMESYNCD_FLAG = '/run/systemd/timesync/synchronized';
/** Re-check synchronisation at most this often; the scan path must not touch the disk for it. */
const SYNC_RECHECK_MS = 10_000;

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // Not Linux: a per-process id still keeps monotonic times of different runs apart.
    return `proc-${randomUUID()}`;
  }
}

export class SystemClock {
  readonly bootId = readBootId();
  private syncedCache = false;
  private checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly mode: ClockSyncMode,
    private readonly flagFile = TIMESYNCD_FLAG,
  ) {}

  read(): ClockReading {
    const wallMs = Date.now();
    return {
      wallMs,
      // process.hrtime is libuv's uv_hrtime: CLOCK_MONOTONIC on Linux, i.e. time since boot.
      monoUs: Number(process.hrtime.bigint() / 1000n),
      bootId: this.bootId,
      synced: this.isSynced(wallMs),
    };
  }

  private isSynced(wallMs: number): boolean {
    if (this.mode !== 'timesyncd') return this.mode === 'always';
    if (wallMs - this.checkedAt > SYNC_RECHECK_MS || wallMs < this.checkedAt) {
      this.syncedCache = existsSync(this.flagFile);
      this.checkedAt = wallMs;
    }
    return this.syncedCache;
  }
}
