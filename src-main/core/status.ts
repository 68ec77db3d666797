import type { Settings } from './config.js';
import { DownlinkState } from './store/downlink-state.js';
import type { SqliteDatabase } from '../../base/node/sqlite.js';
import { EventLog } from './store/event-log.js';
import { Notices } from './store/notices.js';
import { Roster } from './store/roster.js';
import { DOWNLINK_STREAMS, type Notice } from '../../base/common/types.js';
import { DccSigners } from './dcc/signers.js';
import { secondsSince } from '../../base/common/time.js';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { diskLevel, diskSpace } from '../../base/node/disk.js';
import { readRuntimeStatus, type RuntimeFiles } from './runtime.js';
import { HUB_LINK_VIEWS, type HubLinkView } from '../../base/common/hub-link.js';
import { spooledCount } from './store/held-spool.js';
import { TripBook } from './bus/trip-book.js';

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
  /**
   * The hub link as the screens show it (one rule: base/common/hub-link.ts): from the running
   * kiosk, which rewrites it at each change; "standalone" when the settings name no hub; null when
   * no kiosk is running (nobody holds a link).
   */
  link: HubLinkView | null;
  /** The running kiosk's own view (from its runtime file), when one is running; `asOfS`: how old that view is. */
  running: { pid: number; link: HubLinkView; asOfS: number } | null;
  /** Events not yet in the database: held by the running kiosk, or kept (in RAM) for the next start. */
  heldEvents: { inMemory: number; keptForNextStart: number };
  disk: { freeBytes: number | null; level: string; reserveInUse: boolean };
  /**
   * A bus unit: its plate and capacity, the open trip (from the store: riders aboard as its events
   * say) and the GPS receiver's state as the running kiosk last saw it ('none': no GPS configured;
   * null: GPS configured but no kiosk running). Null on any other checkpoint.
   */
  bus: {
    plate: string;
    capacity: number;
    trip: { tripId: string; routeId: string | null; startedAt: string; startedBy: string; aboard: number } | null;
    gps: string | null;
  } | null;
  /**
   * HC1 certificates (issue 14): how many signers the hub's `dcc` stream left in the store and when
   * it last brought a change; null when the settings leave HC1 off (HC1 needs visitors, and a screen).
   */
  dcc: { signers: number; receivedAt: string | null } | null;
}

/** The view a running kiosk wrote (hubLinkView's word); anything else in the file reads as offline. */
const viewOf = (written: string): HubLinkView => ((HUB_LINK_VIEWS as readonly string[]).includes(written) ? (written as HubLinkView) : 'offline');

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What the kiosk holds and how old it is; read from the database, so it works beside a running kiosk. */
export function readStatus(db: SqliteDatabase, settings: Settings, nowMs: number, runtime: RuntimeFiles, storeDir: string): KioskStatus {
  const live = readRuntimeStatus(runtime);
  const freeBytes = diskSpace(storeDir)?.freeBytes ?? null;
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
    // The running kiosk's word, as its screens show it; without one, only "no hub at all" is known.
    link: live ? viewOf(live.link) : settings.hub.broker ? null : 'standalone',
    running: live ? { pid: live.pid, link: viewOf(live.link), asOfS: secondsSince(live.atMs, nowMs) ?? 0 } : null,
    // A running kiosk's spool is what it holds; otherwise the spool is what the next start takes back.
    heldEvents: { inMemory: live?.heldEvents ?? 0, keptForNextStart: live ? 0 : spooledCount(db, runtime.held) },
    disk: live?.disk
      ? { freeBytes: live.disk.freeBytes, level: live.disk.level, reserveInUse: live.disk.reserveInUse }
      : offlineDisk(freeBytes, settings, storeDir),
    bus: settings.bus ? busStatus(db, settings, live?.gps ?? null) : null,
    dcc: settings.dcc.enabled && settings.visitors.enabled ? { signers: new DccSigners(db).count(), receivedAt: iso(state.cursor('dcc').appliedAt) } : null,
  };
}

function busStatus(db: SqliteDatabase, settings: Settings, liveGps: string | null): NonNullable<KioskStatus['bus']> {
  const bus = settings.bus!;
  let trip: NonNullable<KioskStatus['bus']>['trip'] = null;
  try {
    const book = new TripBook(db);
    const open = book.openTrip();
    if (open) {
      trip = { tripId: open.tripId, routeId: open.routeId, startedAt: new Date(open.startedMs).toISOString(), startedBy: open.startedBy, aboard: book.aboard(open.tripId).size };
    }
  } catch {
    // A store from before bus mode (no trips table yet): no trip.
  }
  return { plate: bus.plate, capacity: bus.capacity, trip, gps: settings.gps.source === 'none' ? 'none' : liveGps };
}

/**
 * Without a running kiosk: the same rule as its disk guard. Its reserve missing while there is no
 * room to make it again means the store ran the disk full.
 */
function offlineDisk(freeBytes: number | null, settings: Settings, storeDir: string): KioskStatus['disk'] {
  const reserveBytes = settings.store.reserveMB * 1024 * 1024;
  const warnFreeBytes = settings.store.lowSpaceWarnMB * 1024 * 1024;
  const reserveFile = join(storeDir, `${basename(settings.store.path)}.reserve`);
  const reserveInUse = reserveBytes > 0 && !existsSync(reserveFile) && freeBytes !== null && freeBytes < reserveBytes + warnFreeBytes;
  return { freeBytes, level: diskLevel(freeBytes, { reserveBytes, warnFreeBytes, reserveInUse }), reserveInUse };
}
