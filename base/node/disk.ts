import { statfsSync } from 'node:fs';

export type DiskLevel = 'ok' | 'low' | 'critical';

/** Free space (for this process) and size of the filesystem holding `dir`; null if it cannot be read. */
export function diskSpace(dir: string): { freeBytes: number; totalBytes: number } | null {
  try {
    const s = statfsSync(dir);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return null;
  }
}

/**
 * One rule for how full a store's disk is: critical once the reserve is in use or less than the
 * reserve (at least 1 MiB) is left, low below the warning threshold, else ok; unknown space is ok.
 */
export function diskLevel(freeBytes: number | null, o: { reserveBytes: number; warnFreeBytes: number; reserveInUse: boolean }): DiskLevel {
  if (o.reserveInUse) return 'critical';
  if (freeBytes === null) return 'ok';
  if (freeBytes < Math.max(o.reserveBytes, 1024 * 1024)) return 'critical';
  return freeBytes < o.warnFreeBytes ? 'low' : 'ok';
}
