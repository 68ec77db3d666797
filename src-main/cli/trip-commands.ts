import type { Command } from 'commander';
import type { BusView } from '../../base/common/bus.js';
import type { ControlRequest } from '../api/control-socket.js';
import { CliError } from './cli-error.js';

/**
 * `safegate trip start [--route ID] | end | status [--json] --config FILE`: drives the trips of the
 * bus unit running with these settings, through its control socket (src-main/api/control-socket.ts),
 * the way the driver's card or the driver screen's button does. One line out (or one JSON object
 * with --json); a refusal is one line on stderr and exit status 1; a usage error exit status 2.
 */
export function registerTripCommands(program: Command): void {
  const trip = program.command('trip').description("a bus unit's trips (the running kiosk with these settings): start, end, status");
  trip
    .command('start')
    .description('start a trip, as the driver does with their card or the driver screen (riders aboard alight when it ends)')
    .requiredOption('--config <file>', 'settings file of the running bus unit')
    .option('--route <id>', 'the route this trip runs (one of bus.routes; with several routes the driver may choose later on the screen)')
    .option('--json', 'print the bus state after the change as one JSON object')
    .action(async (o: TripOptions & { route?: string }) => runTripCommand('start', o));
  trip
    .command('end')
    .description('end the open trip (riders still aboard are recorded as alighted at the trip end)')
    .requiredOption('--config <file>', 'settings file of the running bus unit')
    .option('--json', 'print the bus state after the change as one JSON object')
    .action(async (o: TripOptions) => runTripCommand('end', o));
  trip
    .command('status')
    .description('the open trip (id, route, riders aboard / capacity), or that none is open')
    .requiredOption('--config <file>', 'settings file of the running bus unit')
    .option('--json', 'the bus state as one JSON object (plate, capacity, routes, trip, tiles, gps, staleData)')
    .action(async (o: TripOptions) => runTripCommand('status', o));
}

interface TripOptions {
  config: string;
  json?: boolean;
  route?: string;
}

async function runTripCommand(action: 'start' | 'end' | 'status', o: TripOptions): Promise<void> {
  const [{ loadSettings }, { readRuntimeStatus, runtimeFiles }, { ControlUnavailable, requestControl }, { IDENTIFIER_PATTERN, IDENTIFIER_RULE }] = await Promise.all([
    import('../core/config.js'),
    import('../core/runtime.js'),
    import('../api/control-socket.js'),
    import('../../base/common/ids.js'),
  ]);
  if (o.route !== undefined && !IDENTIFIER_PATTERN.test(o.route)) throw new CliError(`--route: ${IDENTIFIER_RULE}`, 2);
  const { settings, paths } = loadSettings(o.config);
  const bus = settings.bus;
  if (!bus) {
    throw new CliError(`not a bus unit: checkpoint ${settings.checkpoint.id} is a ${settings.checkpoint.kind} checkpoint (trips need checkpoint.kind bus and a bus section in ${o.config})`);
  }
  if (o.route !== undefined && !bus.routes.some((r) => r.id === o.route)) {
    const known = bus.routes.map((r) => `${r.id} "${r.name}"`).join(', ');
    throw new CliError(`this bus has no route ${JSON.stringify(o.route)} (${known ? `its routes: ${known}` : 'it has no routes in its settings'})`);
  }
  const files = runtimeFiles(paths.store);
  const send = async (request: ControlRequest): Promise<BusView> => {
    let reply;
    try {
      reply = await requestControl(files.control, request);
    } catch (err) {
      if (err instanceof ControlUnavailable) {
        const running = readRuntimeStatus(files);
        throw new CliError(
          running
            ? `the kiosk running with ${o.config} (pid ${running.pid}) does not take trip commands (no control socket at ${files.control}); restart it with this version`
            : `no kiosk is running with ${o.config} for this user: start it with \`safegate run --config ${o.config}\` (or the safegate service; a service's kiosk answers its own user: \`sudo -u safegate safegate trip ...\`)`,
          { cause: err },
        );
      }
      throw new CliError(`trip ${action}: ${(err as Error).message}`, { cause: err });
    }
    if (!reply.ok) throw new CliError(reply.kind === 'refused' ? reply.error : `trip ${action}: ${reply.error}`);
    return reply.result;
  };

  const zone = settings.time.zone;
  if (action === 'status') {
    const view = await send({ method: 'trip.status' });
    return print(o.json ? JSON.stringify(view) : statusLine(view, zone));
  }
  if (action === 'start') {
    const view = await send({ method: 'trip.start', ...(o.route !== undefined ? { routeId: o.route } : {}) });
    return print(o.json ? JSON.stringify(view) : view.trip ? `trip ${view.trip.tripId} started at ${tripDetail(view, zone)}` : statusLine(view, zone));
  }
  // The trip's id, to say which one ended (the reply describes the bus after the end: no trip).
  const before = o.json ? undefined : (await send({ method: 'trip.status' })).trip;
  const view = await send({ method: 'trip.end' });
  if (o.json) return print(JSON.stringify(view));
  const ended = before ? `trip ${before.tripId} ended (${before.aboard} aboard alighted with it)` : 'trip ended';
  print(`${ended}; bus ${view.plate}: ${view.trip ? `trip ${view.trip.tripId} open` : 'no trip open'}`);
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** `bus 61B-123.45: trip T… open since 06:42 (route R1 "KTX – KCN", started by driver-card), 12 aboard of 45; GPS fix`. */
export function statusLine(view: BusView, zone: string): string {
  const warnings = [
    view.gps.state === 'none' ? '' : `GPS ${view.gps.state}${view.gps.datingFromGps ? ', times from GPS' : ''}`,
    view.staleData ? 'data out of date (the policy lets the bus through)' : '',
  ].filter(Boolean);
  const trip = view.trip ? `trip ${view.trip.tripId} open since ${tripDetail(view, zone)}` : `no trip open (capacity ${view.capacity})`;
  return `bus ${view.plate}: ${trip}${warnings.length ? `; ${warnings.join('; ')}` : ''}`;
}

function tripDetail(view: BusView, zone: string): string {
  const t = view.trip!;
  const route = t.routeId === null ? 'no route chosen' : `route ${t.routeId}${routeName(view, t.routeId)}`;
  return `${clockTime(t.startedAtMs, zone)} (${route}, started by ${t.startedBy}), ${t.aboard} aboard of ${view.capacity}`;
}

function routeName(view: BusView, id: string): string {
  const r = view.routes.find((x) => x.id === id);
  return r ? ` "${r.name}"` : '';
}

function clockTime(ms: number, zone: string): string {
  try {
    return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
  } catch {
    return new Date(ms).toISOString();
  }
}
