import type { Settings } from './config.js';
import { DownlinkState } from './store/downlink-state.js';
import type { SqliteDatabase } from '../../base/node/sqlite.js';
import { EventLog } from './store/event-log.js';
import { Notices } from './store/notices.js';
import { Roster } from './store/roster.js';
import { DOWNLINK_STREAMS, type Notice } from '../../base/common/types.js';
import { secondsSince } from '../../base/common/time.js';

export interface DataAge {
  revision: number;
  appliedAt: string | null;
  checkedAt: string | null;
  /** Seconds since the hub last confirmed this data current; null if it never has. */
  ageS: number | null;
}

export interface KioskStatus {
  device: string;
  checkpoint: { id: string; name: string; kind: string; direction: string };
  syncs: boolean;
  outbox: { depth: number; oldestUnsyncedAgeS: number | null; unsentAlerts: number };
  roster: { workers: number };
  data: Record<string, DataAge>;
  notices: Notice[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What the kiosk holds and how old it is; read from the database, so it works beside a running kiosk. */
export function readStatus(db: SqliteDatabase, settings: Settings, nowMs: number): KioskStatus {
  const events = new EventLog(db);
  const depth = events.outboxDepth();
  const state = new DownlinkState(db);
  const data: Record<string, DataAge> = {};
  for (const stream of DOWNLINK_STREAMS) {
    const c = state.cursor(stream);
    data[stream] = {
      revision: c.cursor,
      appliedAt: iso(c.appliedAt),
      checkedAt: iso(c.checkedAt),
      ageS: secondsSince(c.checkedAt, nowMs),
    };
  }
  return {
    device: settings.device.id,
    checkpoint: { id: settings.checkpoint.id, name: settings.checkpoint.name, kind: settings.checkpoint.kind, direction: settings.checkpoint.direction },
    syncs: Boolean(settings.hub.broker),
    outbox: {
      depth: depth.count,
      oldestUnsyncedAgeS: secondsSince(depth.oldestWallMs, nowMs),
      unsentAlerts: events.unsentAlerts(1_000).length,
    },
    roster: { workers: new Roster(db).count() },
    data,
    notices: new Notices(db).current(nowMs),
  };
}
