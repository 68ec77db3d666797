import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

export interface ClockReading {
  wallMs: number;
  /** CLOCK_MONOTONIC in microseconds: comparable between events of the same boot. */
  monoUs: number;
  bootId: string;
  /** Whether the wall clock was known to be synchronised when read. */
  synced: boolean;
  /** 'gps': wallMs came from the GPS time (GpsDatedClock), not the system clock; synced is then true. */
  source?: 'gps';
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

/** A GPS time this far from a synchronised system clock is wrong (a broken or spoofed receiver): not used in this boot. */
export const GPS_DISAGREEMENT_MS = 2_000;

/** A GPS time and when it arrived, on the same monotonic clock as ClockReading.monoUs (device/gps GpsTracker.time()). */
export interface GpsTimeSample {
  utcMs: number;
  atMonoUs: number;
}

/**
 * The clock of a unit with a GPS receiver (issue 13): a bus that boots with no network and no
 * real-time clock has an unsynchronised system clock, often at some date long past, but its GPS
 * receiver knows the time. While the system clock is synchronised it wins. Otherwise, once a GPS
 * time sample has been seen in this boot, the wall time is the latest sample carried forward on the
 * monotonic clock (CLOCK_MONOTONIC drifts by parts per million): synced, source 'gps'. That holds
 * when the fix goes stale too (a tunnel, a covered stop): the GPS time is still known, carried by
 * the monotonic clock, and falling back to a system clock days behind would date a rider's exit
 * before their boarding. Before any sample: the system's unsynchronised reading, as before.
 * Whatever is not the synchronised system clock never goes backwards within a boot. A GPS time that
 * disagrees with a synchronised system clock by more than GPS_DISAGREEMENT_MS is refused for the
 * rest of the boot (a broken or spoofed receiver must not date events once the network is gone).
 */
/** How far back a new GPS time may be from the carried one and still be held (jitter, not a correction). */
export const GPS_STEP_BACK_MS = 2_000;

export class GpsDatedClock {
  /** The latest GPS time sample seen (fresh or not), of this process's monotonic clock. */
  private lastSample: GpsTimeSample | null = null;
  /** The latest GPS-dated wall time this clock answered, per boot. */
  private lastWall: { bootId: string; wallMs: number } | null = null;
  /** The GPS time disagreed with the synchronised system clock in this boot: not trusted again. */
  private distrustedBoot: string | null = null;

  constructor(
    private readonly system: { read(): ClockReading },
    private readonly gpsTime: () => GpsTimeSample | null,
    /** settings gps.clock; false: always the system clock. */
    private readonly enabled: boolean,
  ) {}

  /** The boot id of the readings (a drop-in for SystemClock where that is asked). */
  get bootId(): string {
    return this.system.read().bootId;
  }

  read(): ClockReading {
    const reading = this.system.read();
    if (!this.enabled) return reading;
    if (reading.synced) {
      this.checkAgainst(reading);
      return reading;
    }
    if (this.distrustedBoot === reading.bootId) return reading;
    const fresh = this.gpsTime();
    // A sample from the future of this reading's monotonic time belongs to another boot or clock: ignore it.
    if (fresh && fresh.atMonoUs <= reading.monoUs) this.lastSample = fresh;
    const sample = this.lastSample;
    // No GPS time yet: the unsynchronised system clock as it is (it never holds back the GPS time
    // that follows: a clock running ahead of GPS would otherwise pin every event to its last reading).
    if (!sample || sample.atMonoUs > reading.monoUs) return reading;
    const sinceUs = reading.monoUs - sample.atMonoUs;
    return this.forward({ ...reading, wallMs: Math.round(sample.utcMs + sinceUs / 1_000), synced: true, source: 'gps' });
  }

  /** Whether read() dates from GPS right now (the driver screen's GpsView.datingFromGps). */
  datingFromGps(): boolean {
    return this.read().source === 'gps';
  }

  /** With a synchronised system clock: a GPS time far from it is refused for this boot. */
  private checkAgainst(reading: ClockReading): void {
    if (this.distrustedBoot === reading.bootId) return;
    const fresh = this.gpsTime();
    if (!fresh || fresh.atMonoUs > reading.monoUs) return;
    const gpsWall = fresh.utcMs + (reading.monoUs - fresh.atMonoUs) / 1_000;
    if (Math.abs(gpsWall - reading.wallMs) > GPS_DISAGREEMENT_MS) {
      this.distrustedBoot = reading.bootId;
      this.lastSample = null;
    } else this.lastSample = fresh;
  }

  /**
   * GPS-dated readings do not go backwards within a boot for the jitter of a new sample against the
   * carried time (up to GPS_STEP_BACK_MS: held at the last one). A larger step back is the receiver
   * correcting a wrong time (a cold start, a bad first fix): taken, or the clock would stand still
   * for as long as the error was.
   */
  private forward(reading: ClockReading): ClockReading {
    const last = this.lastWall;
    if (last && last.bootId === reading.bootId && reading.wallMs < last.wallMs && last.wallMs - reading.wallMs <= GPS_STEP_BACK_MS) {
      return { ...reading, wallMs: last.wallMs };
    }
    this.lastWall = { bootId: reading.bootId, wallMs: reading.wallMs };
    return reading;
  }
}
