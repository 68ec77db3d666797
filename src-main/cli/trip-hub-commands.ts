import type { Command } from 'commander';
import { CliError } from './cli-error.js';

/**
 * `safegate hub trips [--json] [--device ID] [--trip ID] [--from T] [--to T] [--limit N] --config FILE`:
 * the bus trips the hub holds (sync/hub/trips.ts), newest first, each with its riders. An operator's
 * command on the hub machine: every rider is named. The hub's modules load only when it runs.
 */
export function registerTripHubCommands(hub: Command): void {
  hub
    .command('trips')
    .description('bus trips the hub holds, newest first: bus, trip, route, driver, start and end, every rider with boarding and alighting')
    .option('--json', 'one JSON object per trip per line (times ISO 8601)')
    .option('--device <id>', "only this bus unit's trips")
    .option('--trip <id>', 'only this trip')
    .option('--from <time>', 'trips with an event at or after this time (ISO 8601; a plain date or a time without offset is in the province zone)')
    .option('--to <time>', 'trips with an event before this time (a plain date: until the end of that day)')
    .option('--limit <n>', 'at most this many trips (1 to 1000)', '100')
    .option('--config <file>', 'hub settings file (required)')
    .action(async (o: TripsCommandOptions & { config?: string }) => {
      if (!o.config) throw new CliError("required option '--config <file>' not specified", 2);
      console.log(await listHubTrips(o.config, o));
    });
}

export interface TripsCommandOptions {
  json?: boolean | undefined;
  device?: string | undefined;
  trip?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  limit?: string | undefined;
}

const PLAIN_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** `safegate hub trips`: the lines to print. */
export async function listHubTrips(configFile: string, o: TripsCommandOptions): Promise<string> {
  const [{ loadHubSettings }, { dayRangeIn, localTimeIn, parseInstant }, { IDENTIFIER_PATTERN, IDENTIFIER_RULE }, { TRIP_ID_PATTERN }] = await Promise.all([
    import('../../sync/hub/settings.js'),
    import('../../base/common/time.js'),
    import('../../base/common/ids.js'),
    import('../../base/common/bus.js'),
  ]);
  const loaded = loadHubSettings(configFile);
  const zone = loaded.settings.time.zone;
  const limit = Number(o.limit ?? '100');
  if (!/^\d{1,4}$/.test(o.limit ?? '100') || limit < 1 || limit > 1000) throw new CliError('--limit: a whole number from 1 to 1000', 2);
  if (o.device !== undefined && !IDENTIFIER_PATTERN.test(o.device)) throw new CliError(`--device: ${IDENTIFIER_RULE}`, 2);
  if (o.trip !== undefined && !TRIP_ID_PATTERN.test(o.trip)) throw new CliError('--trip: a trip id (T<time>-<6 hex>, as `safegate trip status` shows it)', 2);
  const instant = (text: string, what: '--from' | '--to') => {
    const t = parseInstant(text, zone);
    if (t instanceof Error) throw new CliError(`${what}: ${t.message}`, 2);
    return what === '--to' && PLAIN_DATE.test(text.trim()) ? dayRangeIn(t, zone).toMs : t;
  };
  const fromMs = o.from !== undefined ? instant(o.from, '--from') : undefined;
  const toMs = o.to !== undefined ? instant(o.to, '--to') : undefined;
  if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs) throw new CliError('--from must be before --to', 2);

  const url = process.env.DATABASE_URL;
  // The hub store as `safegate hub run` opens it: PostgreSQL when DATABASE_URL is set, else the SQLite file.
  const store = url ? await (await import('../../sync/hub/pg-store.js')).PgHubStore.open(url, 2) : new (await import('../../sync/hub/store.js')).SqliteHubStore(loaded.storePath);
  try {
    const trips = await store.trips({
      limit,
      ...(o.device !== undefined ? { deviceId: o.device } : {}),
      ...(o.trip !== undefined ? { tripId: o.trip } : {}),
      ...(fromMs !== undefined ? { fromMs } : {}),
      ...(toMs !== undefined ? { toMs } : {}),
    });
    if (o.json) return trips.map((t) => JSON.stringify(tripJson(t))).join('\n');
    if (trips.length === 0) return 'no trip';
    const local = (ms: number) => (Number.isNaN(new Date(ms).getTime()) ? String(ms) : localTimeIn(ms, zone));
    const lines: string[] = [];
    for (const t of trips) {
      // A time on the trip's start day shows as the time only; on a later day (a trip past midnight), with its date.
      const day = local(t.startedAt).slice(0, 10);
      const at = (ms: number) => (local(ms).startsWith(day) ? local(ms).slice(11) : local(ms));
      const end = t.endedAt === null ? 'open' : `${at(t.endedAt)} ${t.endReason === 'TRIP_ENDED' ? 'ended' : t.endReason === 'TRIP_ENDED_TIMEOUT' ? 'ended by timeout' : 'ended at the depot'}`;
      lines.push(
        [
          `${local(t.startedAt)} to ${end}`,
          t.deviceId,
          t.tripId,
          `route ${t.routeId ?? '-'}`,
          `driver ${t.driverWorkerId ?? '-'}`,
          `${t.riders.length} rider(s)`,
          `${t.refused} refused`,
          `clock ${t.clock}`,
        ].join('  '),
      );
      for (const r of t.riders) {
        const off = r.alightedAt === null ? 'still aboard' : `alighted ${at(r.alightedAt)}${r.alightedBy === 'trip-end' ? ' at the trip end' : ''}`;
        lines.push(`    ${r.workerId}  boarded ${at(r.boardedAt)}  ${off}`);
      }
    }
    return lines.join('\n');
  } finally {
    await store.close();
  }
}

/** ISO 8601, or the number itself for a time no date can hold (a kiosk's broken clock must not break the listing). */
const iso = (ms: number | null): string | number | null => {
  if (ms === null) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? ms : d.toISOString();
};

/** A trip as `--json` prints it: the read model with its times as ISO 8601 strings. */
export function tripJson(t: import('../../sync/hub/trips.js').HubTrip) {
  return {
    tripId: t.tripId,
    deviceId: t.deviceId,
    checkpointId: t.checkpointId,
    routeId: t.routeId,
    startedAt: iso(t.startedAt),
    endedAt: iso(t.endedAt),
    endReason: t.endReason,
    driverWorkerId: t.driverWorkerId,
    clock: t.clock,
    startPosition: t.startPosition,
    endPosition: t.endPosition,
    riders: t.riders.map((r) => ({ ...r, boardedAt: iso(r.boardedAt), alightedAt: iso(r.alightedAt) })),
    refused: t.refused,
  };
}
