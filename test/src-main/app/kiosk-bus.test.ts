import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { BusView } from '../../../base/common/bus.js';
import { createLogger } from '../../../base/node/logger.js';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import type { ScreenState } from '../../../src-main/api/contract.js';
import { loadSettings } from '../../../src-main/core/config.js';
import type { Passage } from '../../../src-main/core/gatekeeper.js';
import { Roster } from '../../../src-main/core/store/roster.js';
import { healthyWorker, hubKeys, passFor, tempDir, waitFor, writeKioskConfig } from '../../helpers/fixtures.js';
import { withTimeout } from '../../helpers/kiosk.js';
import { PtyPair } from '../../helpers/pty.js';
import { fixCycle } from '../../helpers/nmea.js';
import { setInputControl } from '../../../device/gpio/input-control.js';
import { inputControlFile } from '../../../src-main/core/gate-inputs.js';
import { requestControl, type ControlReply } from '../../../src-main/api/control-socket.js';
import { runtimeFiles } from '../../../src-main/core/runtime.js';
import { formatStatus, statusOf } from '../../../src-main/cli/commands.js';

/**
 * `safegate run`'s composition on a bus unit (checkpoint kind bus, a bus section): the kiosk builds
 * its trips, the serial scanner (a real pty) boards riders through them, the driver screen's API
 * drives them, and a restart takes the open trip back.
 */
describe('kiosk on a bus unit', () => {
  const dir = tempDir('safegate-kiosk-bus-');
  const keys = hubKeys(dir.path);
  const pty = new PtyPair(dir.path);
  let kiosk: Kiosk | undefined;
  afterEach(async () => {
    await kiosk?.stop();
    await pty.unplug();
    dir.remove();
  });

  const compose = async (file: string): Promise<Kiosk> => {
    const k = new Kiosk(loadSettings(file), { headless: true, log: createLogger({ level: 'silent' }) });
    k.start();
    await waitFor(() => (k.scanner?.state === 'ready' ? true : undefined), 'scanner ready', 30_000);
    return k;
  };
  const scan = async (k: Kiosk, text: string): Promise<Passage> => {
    const next = once(k.gatekeeper, 'passage') as Promise<[Passage]>;
    await pty.write(text + '\r');
    return (await withTimeout(next, 30_000, 'a passage'))[0];
  };
  const state = async (k: Kiosk): Promise<ScreenState> => {
    const reply = await k.screenService.dispatch('screen.state', {});
    if (!reply.ok) throw new Error(reply.error.message);
    return reply.result as ScreenState;
  };

  it('boards riders by the trip, answers the driver screen, and keeps the open trip across a restart', { timeout: 120_000 }, async () => {
    await pty.plug();
    const file = writeKioskConfig(dir.path, { scannerPath: pty.devicePath, checkpointKind: 'bus', direction: 'both' });
    const settings = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    settings.bus = { plate: '61B-123.45', capacity: 2, drivers: ['D1'], routes: [{ id: 'r1', name: 'KTX – KCN' }, { id: 'r2', name: 'Chợ – KCN' }] };
    writeFileSync(file, stringify(settings));

    kiosk = await compose(file);
    const roster = new Roster(kiosk.db);
    roster.upsertAll(['D1', 'W1', 'W2', 'W3'].map((id) => healthyWorker(id)));
    expect((await state(kiosk)).bus).toMatchObject({ plate: '61B-123.45', capacity: 2, trip: null, gps: { state: 'none' }, staleData: false });

    expect((await scan(kiosk, passFor(keys, 'D1'))).decision.reasons).toEqual(['TRIP_STARTED']);
    const chosen = await kiosk.screenService.dispatch('bus.chooseRoute', { routeId: 'r2' });
    expect(chosen.ok && (chosen.result as BusView).trip?.routeId).toBe('r2');
    expect((await scan(kiosk, passFor(keys, 'W1'))).decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    expect((await scan(kiosk, passFor(keys, 'W2'))).decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    expect((await scan(kiosk, passFor(keys, 'W3'))).decision.reasons).toEqual(['BUS_FULL']);
    const bus = (await state(kiosk)).bus!;
    expect(bus.trip).toMatchObject({ routeId: 'r2', aboard: 2, startedBy: 'driver-card' });
    expect(bus.tiles.map((t) => t.outcome)).toEqual(['see-driver', 'allow', 'allow']);
    const tripId = bus.trip!.tripId;
    const refused = await kiosk.screenService.dispatch('bus.startTrip', {});
    expect(refused).toMatchObject({ ok: false, error: { code: 'refused' } });

    await kiosk.stop();
    kiosk = await compose(file);
    expect((await state(kiosk)).bus?.trip).toMatchObject({ tripId, routeId: 'r2', aboard: 2 });
    // `safegate status` beside it says the same trip.
    expect(formatStatus(statusOf(file))).toMatch(new RegExp(`^bus 61B-123\\.45: trip ${tripId} on route r2, started \\S+ by driver-card, 2/2 aboard; GPS none$`, 'm'));
    expect((await scan(kiosk, passFor(keys, 'W1'))).decision).toMatchObject({ outcome: 'allow', direction: 'exit' });
    const ended = await kiosk.screenService.dispatch('bus.endTrip', {});
    expect(ended.ok && (ended.result as BusView).trip).toBeNull();
    const trip = [...kiosk.events.since(0)].filter((e) => e.tripId === tripId);
    expect(trip.map((e) => [e.workerId, e.direction, e.reasons[0] ?? null])).toEqual([
      ['D1', 'entry', 'TRIP_STARTED'],
      ['W1', 'entry', null],
      ['W2', 'entry', null],
      ['W3', 'entry', 'BUS_FULL'],
      ['W1', 'exit', null],
      ['W2', 'exit', 'ALIGHTED_AT_TRIP_END'],
      [null, 'exit', 'TRIP_ENDED'],
    ]);
    expect(trip.slice(1).every((e) => e.routeId === 'r2')).toBe(true);
  });
});

/**
 * The same composition with a GPS receiver (NMEA on a real pty) and a system clock that is not
 * synchronised: events carry the fix and GPS-dated times, and `safegate trip`'s control socket
 * answers with the trip and the GPS view.
 */
describe('kiosk on a bus unit with GPS and its control socket', () => {
  const dir = tempDir('safegate-kiosk-bus-gps-');
  const keys = hubKeys(dir.path);
  const pty = new PtyPair(dir.path);
  const gpsPty = new PtyPair(dir.path, 'gps');
  let kiosk: Kiosk | undefined;
  let feeder: NodeJS.Timeout | undefined;
  afterEach(async () => {
    clearInterval(feeder);
    await kiosk?.stop();
    await pty.unplug();
    await gpsPty.unplug();
    dir.remove();
  });

  it('dates events from the GPS, records the fix, and answers trip.start and trip.status on the control socket', { timeout: 120_000 }, async () => {
    await pty.plug();
    await gpsPty.plug();
    // The GPS says it is 7 minutes later than the (unsynchronised) system clock.
    const aheadMs = 7 * 60_000;
    const here = { lat: 10.912345, lon: 106.754321 };
    feeder = setInterval(() => void gpsPty.write(fixCycle({ ...here, utcMs: Date.now() + aheadMs })), 300);
    const file = writeKioskConfig(dir.path, { scannerPath: pty.devicePath, checkpointKind: 'bus', direction: 'both' });
    const settings = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    settings.bus = { plate: '61B-123.45', capacity: 10, drivers: ['D1'], routes: [{ id: 'r1', name: 'KTX – KCN' }] };
    settings.gps = { source: 'nmea', path: gpsPty.devicePath, baudRate: 9600 };
    settings.clock = { syncedWhen: 'never' };
    (settings.gate as Record<string, unknown>).inputs = { debounceMs: 10, emergency: { pin: 5, activeLow: true } };
    writeFileSync(file, stringify(settings));
    const loaded = loadSettings(file);
    kiosk = new Kiosk(loaded, { headless: true, log: createLogger({ level: 'silent' }) });
    kiosk.start();
    const k = kiosk;
    await waitFor(() => (k.scanner?.state === 'ready' && k.gps?.position() ? true : undefined), 'scanner ready and a GPS fix', 30_000);
    new Roster(k.db).upsertAll(['W1'].map((id) => healthyWorker(id)));

    const control = runtimeFiles(loaded.paths.store).control;
    let started: ControlReply | undefined;
    for (let i = 0; i < 100 && !started; i++) {
      started = await requestControl(control, { method: 'trip.start' }).catch(() => undefined);
      if (!started) await new Promise((r) => setTimeout(r, 100));
    }
    expect(started).toMatchObject({ ok: true, result: { trip: { routeId: 'r1', startedBy: 'command' }, gps: { state: 'fix', position: here, datingFromGps: true } } });

    const next = once(k.gatekeeper, 'passage') as Promise<[Passage]>;
    await pty.write(passFor(keys, 'W1') + '\r');
    const [boarded] = await withTimeout(next, 30_000, 'a passage');
    const event = k.events.get(boarded.seq!)!;
    expect(event).toMatchObject({ position: here, clockSource: 'gps', clockSynced: true, routeId: 'r1' });
    expect(Math.abs(event.wallMs - (Date.now() + aheadMs))).toBeLessThan(60_000);
    // The trip's own start event too (written by the trips, not the scan path).
    const marker = k.events.get(boarded.seq! - 1)!;
    expect(marker).toMatchObject({ reasons: ['TRIP_STARTED'], clockSource: 'gps', position: here });
    expect(Math.abs(marker.wallMs - (Date.now() + aheadMs))).toBeLessThan(60_000);
    const status = await requestControl(control, { method: 'trip.status' });
    expect(status).toMatchObject({ ok: true, result: { trip: { aboard: 1 } } });
    await waitFor(() => (/^bus 61B-123\.45: trip T\S+ on route r1, .* 1\/10 aboard; GPS fix$/m.test(formatStatus(statusOf(file))) ? true : undefined), 'safegate status with the trip and GPS fix', 30_000);
    expect(await requestControl(control, { method: 'trip.start' })).toMatchObject({ ok: false, kind: 'refused' });

    // An event of the gate's own inputs on the bus: GPS-dated, placed, in the trip, like a scan's.
    setInputControl(inputControlFile(runtimeFiles(loaded.paths.store)), 'emergency', true);
    const input = await waitFor(() => [...k.events.since(0)].find((e) => e.source === 'input'), 'the emergency event', 30_000);
    expect(input).toMatchObject({ reasons: ['EMERGENCY_OPEN'], clockSource: 'gps', position: here, tripId: status.ok ? status.result.trip?.tripId : 'none', routeId: 'r1' });
  });
});
