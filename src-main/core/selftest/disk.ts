import { diskLevel, diskSpace } from '../../../base/node/disk.js';
import { fail, pass, warn, type CheckOutcome } from './check.js';

export interface DiskCheckInput {
  /** The store's folder. */
  dir: string;
  reserveMB: number;
  lowSpaceWarnMB: number;
  /** The running kiosk's disk guard knows whether its reserve was given up. */
  reserveInUse?: boolean;
  space?: (dir: string) => { freeBytes: number } | null;
}

const mb = (bytes: number) => `${Math.floor(bytes / 1024 / 1024)} MB`;

/** Free space on the store's disk against the kiosk's own thresholds (base/node/disk.ts's rule). */
export function diskCheck(input: DiskCheckInput): CheckOutcome {
  const free = (input.space ?? diskSpace)(input.dir)?.freeBytes ?? null;
  if (free === null) return warn(`cannot read the free space of ${input.dir}`, 'check that the store\'s folder exists');
  const reserveBytes = input.reserveMB * 1024 * 1024;
  const warnFreeBytes = input.lowSpaceWarnMB * 1024 * 1024;
  const level = diskLevel(free, { reserveBytes, warnFreeBytes, reserveInUse: input.reserveInUse ?? false });
  const what = `${mb(free)} free on ${input.dir}`;
  if (level === 'critical') {
    return fail(
      input.reserveInUse ? `${what}: the disk ran full and the reserve is in use` : `${what}, less than the ${input.reserveMB} MB reserve`,
      'free disk space now (old exports, logs, other files); scans are kept in RAM until there is room',
    );
  }
  if (level === 'low') return warn(`${what}, below the ${input.lowSpaceWarnMB} MB warning level`, 'free disk space soon (store.lowSpaceWarnMB)');
  return pass(`${what} (warning below ${input.lowSpaceWarnMB} MB)`);
}
