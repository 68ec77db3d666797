import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstatSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { TripRefusal, type BusView, type TripControl } from '../../../base/common/bus.js';
import { silentLogger } from '../../../base/node/logger.js';
import { startControlSocket, type ControlSocket } from '../../../src-main/api/control-socket.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { runtimeFiles } from '../../../src-main/core/runtime.js';
import { SAFEGATE_BIN, safegate, safegateProcess } from '../../helpers/cli.js';
import { hubKeys, tempDir, waitFor } from '../../helpers/fixtures.js';

/**
 * `safegate trip start|end|status --config FILE` as an operator runs it: the compiled command in its
 * own process, talking to the control socket of the kiosk that runs with the same settings: an
 * in-process socket over a TripControl fake for the exact lines, and a real `safegate run --headless`
 * bus unit for the whole path. (Riders, GPS and the hub with trips: test/src-main/cli/bus-e2e.test.ts.)
 */

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command without blocking this process (the socket under test answers from here). */
async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  const child = spawn(SAFEGATE_BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [status] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  return { status, stdout, stderr };
}

function writeConfig(dir: string, kind: 'bus' | 'gate'): string {
  hubKeys(dir);
  const file = join(dir, `${kind}.yaml`);
  const pulse = { pulseMs: 20, maxOnMs: 2_000 };
  writeFileSync(
    file,
    stringify({
      device: { id: 'bus-unit-01' },
      checkpoint: { id: kind === 'bus' ? 'bus-51b' : 'gate-a', name: 'Xe 51B', kind, zone: 'shuttle', direction: kind === 'bus' ? 'both' : 'entry' },
      ...(kind === 'bus'
        ? {
            bus: {
              plate: '51B-123.45',
              capacity: 40,
              routes: [
                { id: 'r1', name: 'KTX Vĩnh Tân – KCN Tân Đông Hiệp' },
                { id: 'r2', name: 'KTX Bình An – KCN Sóng Thần' },
              ],
            },
          }
        : {}),
      scanner: { source: 'none' },
      gate: { gpio: 'simulated', relay: pulse, greenLight: pulse, redLight: pulse, buzzer: pulse },
      store: { path: 'safegate.db' },
      hub: { keysDir: 'keys' },
      time: { zone: 'Asia/Ho_Chi_Minh' },
      log: { level: 'info' },
    }),
  );
  return file;
}

/** The trips of a running bus unit, in memory, with the refusals BusMode makes. */
class Trips implements TripControl {
  trip: BusView['trip'] = null;
  view(): BusView {
    return {
      plate: '51B-123.45',
      capacity: 40,
      routes: [
        { id: 'r1', name: 'KTX Vĩnh Tân – KCN Tân Đông Hiệp' },
        { id: 'r2', name: 'KTX Bình An – KCN Sóng Thần' },
      ],
      trip: this.trip,
      tiles: [],
      gps: { state: 'no-fix', position: null, datingFromGps: false },
      staleData: true,
    };
  }
  startTrip(trigger: 'button' | 'command', routeId?: string): BusView {
    if (this.trip) throw new TripRefusal(`a trip is open already (${this.trip.tripId}): end it first`);
    // 2026-11-28 06:42 in Hồ Chí Minh City.
    this.trip = { tripId: 'Tmiiub5c0-a1b2c3', routeId: routeId ?? null, startedAtMs: Date.UTC(2026, 10, 27, 23, 42), startedBy: trigger, aboard: 0 };
    return this.view();
  }
  endTrip(): BusView {
    if (!this.trip) throw new TripRefusal('no trip is open');
    this.trip = null;
    return this.view();
  }
  chooseRoute(): BusView {
    return this.view();
  }
}

describe('safegate trip', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function folder(): { dir: string; env: NodeJS.ProcessEnv } {
    const d = tempDir('safegate-trip-');
    cleanups.push(() => d.remove());
    return { dir: d.path, env: { SAFEGATE_RUNTIME_DIR: join(d.path, 'run') } };
  }

  it(
    'drives the trips of the kiosk running with these settings: readable lines, JSON, and a refusal as one line with exit 1',
    async () => {
      const { dir, env } = folder();
      const config = writeConfig(dir, 'bus');
      const trips = new Trips();
      // The socket where the kiosk running with these settings listens (what kiosk.ts starts on a bus unit).
      const control: ControlSocket = await startControlSocket({ path: runtimeFiles(loadSettings(config).paths.store, env).control, trips, log: silentLogger });
      cleanups.push(() => control.close());

      let r = await cli(['trip', 'status', '--config', config], env);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('bus 51B-123.45: no trip open (capacity 40); GPS no-fix; data out of date (the policy lets the bus through)\n');

      r = await cli(['trip', 'start', '--route', 'r2', '--config', config], env);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('trip Tmiiub5c0-a1b2c3 started at 06:42 (route r2 "KTX Bình An – KCN Sóng Thần", started by command), 0 aboard of 40\n');
      expect(trips.trip).toMatchObject({ routeId: 'r2', startedBy: 'command' });

      r = await cli(['trip', 'start', '--config', config], env);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('safegate: a trip is open already (Tmiiub5c0-a1b2c3): end it first\n');

      trips.trip!.aboard = 7;
      r = await cli(['trip', 'status', '--json', '--config', config], env);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ plate: '51B-123.45', capacity: 40, trip: { tripId: 'Tmiiub5c0-a1b2c3', routeId: 'r2', aboard: 7 } });

      r = await cli(['trip', 'end', '--config', config], env);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('trip Tmiiub5c0-a1b2c3 ended (7 aboard alighted with it); bus 51B-123.45: no trip open\n');
      expect(trips.trip).toBeNull();

      r = await cli(['trip', 'end', '--config', config], env);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe('safegate: no trip is open\n');
    },
    90_000,
  );

  it(
    'says what is wrong without a running kiosk, on a gate, and for a route the bus does not have, in one line each',
    async () => {
      const { dir, env } = folder();
      const bus = writeConfig(dir, 'bus');
      const run = (args: string[]) => safegate(args, { env });

      let r = run(['trip', 'start', '--config', bus]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `safegate: no kiosk is running with ${bus} for this user: start it with \`safegate run --config ${bus}\` (or the safegate service; a service's kiosk answers its own user: \`sudo -u safegate safegate trip ...\`)\n`,
      );

      r = run(['trip', 'status', '--json', '--config', bus]);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^safegate: no kiosk is running with /);

      r = run(['trip', 'start', '--route', 'r9', '--config', bus]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe('safegate: this bus has no route "r9" (its routes: r1 "KTX Vĩnh Tân – KCN Tân Đông Hiệp", r2 "KTX Bình An – KCN Sóng Thần")\n');

      r = run(['trip', 'start', '--route', 'r1; reboot', '--config', bus]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^safegate: --route: 1 to 64 characters/);

      const gate = writeConfig(dir, 'gate');
      r = run(['trip', 'end', '--config', gate]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`safegate: not a bus unit: checkpoint gate-a is a gate checkpoint (trips need checkpoint.kind bus and a bus section in ${gate})\n`);

      r = run(['trip', 'start', '--config', join(dir, 'missing.yaml')]);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    },
    90_000,
  );

  it(
    'a real headless bus unit: trips started, reported and ended from the command and logged as trip events; its socket is private, goes away on stop and a killed run\'s socket is taken over',
    async () => {
      const { dir, env } = folder();
      const config = writeConfig(dir, 'bus');
      const control = runtimeFiles(loadSettings(config).paths.store, env).control;
      const children: ReturnType<typeof safegateProcess>[] = [];
      cleanups.push(async () => {
        for (const k of children) {
          if (k.child.exitCode === null && k.child.signalCode === null) {
            k.child.kill('SIGKILL');
            await once(k.child, 'exit');
          }
        }
      });
      const startKiosk = async () => {
        const k = safegateProcess(['run', '--config', config, '--headless'], () => {}, { env });
        children.push(k);
        await waitFor(() => (k.logs.some((l) => l.msg === 'control socket listening') ? true : undefined), 'the bus unit\'s control socket', 60_000);
        return k;
      };
      const trip = async (...args: string[]) => cli(['trip', ...args, '--config', config], env);

      let kiosk = await startKiosk();
      expect(lstatSync(control).isSocket()).toBe(true);
      expect(statSync(control).mode & 0o777).toBe(0o600);

      let r = await trip('status', '--json');
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ plate: '51B-123.45', capacity: 40, trip: null });

      r = await trip('start', '--route', 'r1');
      expect(r.status, r.stderr).toBe(0);
      const tripId = /^trip (T[0-9a-z]+-[0-9a-f]{6}) started at \d\d:\d\d \(route r1 "KTX Vĩnh Tân – KCN Tân Đông Hiệp", started by command\), 0 aboard of 40\n$/.exec(r.stdout)?.[1];
      expect(tripId, r.stdout).toBeDefined();
      r = await trip('start');
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^safegate: a trip is open already \\(${tripId}\\)`));

      // Killed mid-trip: the socket file stays behind; the next run takes it over, and the trip with it.
      kiosk.child.kill('SIGKILL');
      await once(kiosk.child, 'exit');
      expect(lstatSync(control).isSocket()).toBe(true);
      r = await trip('status');
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^safegate: no kiosk is running with /);
      kiosk = await startKiosk();
      r = await trip('status', '--json');
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ trip: { tripId, routeId: 'r1', startedBy: 'command', aboard: 0 } });

      r = await trip('end');
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(`trip ${tripId} ended (0 aboard alighted with it); bus 51B-123.45: no trip open\n`);
      r = await trip('end');
      expect(r.status).toBe(1);
      expect(r.stderr).toBe('safegate: no trip is open\n');

      // A second kiosk started on the same settings is refused (the store's instance lock) and does not take the first one's socket away.
      const second = await cli(['run', '--config', config, '--headless'], env);
      expect(second.status).not.toBe(0);
      expect(second.stderr).toMatch(/another SafeGate process is already running with /);
      expect(lstatSync(control).isSocket()).toBe(true);
      r = await trip('status', '--json');
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ trip: null });

      // Stopped: the socket is gone; the trip's events are in the kiosk's log, marked as trip events.
      kiosk.child.kill('SIGTERM');
      await once(kiosk.child, 'exit');
      expect(() => lstatSync(control)).toThrow(/ENOENT/);
      const log = safegate(['log', '--json', '--config', config], { env });
      expect(log.status, log.stderr).toBe(0);
      const events = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { source: string; reasons: string[]; tripId?: string; routeId?: string; direction: string });
      expect(events.map((e) => [e.source, e.reasons, e.tripId, e.routeId, e.direction])).toEqual([
        ['trip', ['TRIP_STARTED'], tripId, 'r1', 'entry'],
        ['trip', ['TRIP_ENDED'], tripId, 'r1', 'exit'],
      ]);
    },
    180_000,
  );
});
