import { SOFTWARE_VERSION } from '../../base/node/package.js';
import type { FleetHealth, HealthFigures } from '../../base/common/types.js';
import type { DiskFigures } from './store/disk-guard.js';
import type { DownlinkState } from './store/downlink-state.js';
import type { EventLog } from './store/event-log.js';

export interface HealthSources {
  events: EventLog;
  downlinkState: DownlinkState;
  scanner: () => HealthFigures['scanner'];
  gpio: 'real' | 'simulated';
  policyVersion: () => number;
  heldEvents: () => number;
  disk: () => DiskFigures | null;
  /** The kiosk's enrolment and remote settings figures; absent: null (a kiosk that cannot tell). */
  fleet?: () => FleetHealth | null;
  now?: () => number;
}

const ageS = (atMs: number | null, nowMs: number): number | null => (atMs === null ? null : Math.max(0, (nowMs - atMs) / 1000));

/** What the kiosk reports about itself: the heartbeat's figures (and the screens' and `safegate status`'s). */
export function healthFigures(s: HealthSources): HealthFigures {
  const now = s.now?.() ?? Date.now();
  const depth = s.events.outboxDepth();
  const disk = s.disk();
  return {
    software: SOFTWARE_VERSION,
    outboxDepth: depth.count,
    oldestUnsyncedAgeS: ageS(depth.oldestWallMs, now),
    scanner: s.scanner(),
    gpio: s.gpio,
    rosterAgeS: ageS(s.downlinkState.cursor('roster').checkedAt, now),
    policyVersion: s.policyVersion(),
    heldEvents: s.heldEvents(),
    disk: disk ? { freeBytes: disk.freeBytes, reserveInUse: disk.reserveInUse, level: disk.level } : null,
    fleet: s.fleet?.() ?? null,
  };
}
