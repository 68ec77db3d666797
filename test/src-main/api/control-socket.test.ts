import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TripRefusal, type BusView, type TripControl } from '../../../base/common/bus.js';
import { silentLogger } from '../../../base/node/logger.js';
import {
  CONNECTION_TIMEOUT_MS,
  ControlUnavailable,
  MAX_REQUEST_BYTES,
  requestControl,
  startControlSocket,
  type ControlSocket,
} from '../../../src-main/api/control-socket.js';
import { tempDir } from '../../helpers/fixtures.js';

/** A bus unit's trips as the control socket sees them: the real TripControl rules (refusals change nothing), in memory. */
class FakeTrips implements TripControl {
  readonly calls: string[] = [];
  private trip: BusView['trip'] = null;
  fail = false;

  view(): BusView {
    this.calls.push('view');
    return this.current();
  }
  startTrip(trigger: 'button' | 'command', routeId?: string): BusView {
    this.calls.push(`start:${trigger}:${routeId ?? '-'}`);
    if (this.fail) throw new Error('disk on fire');
    if (this.trip) throw new TripRefusal(`a trip is open already (${this.trip.tripId}): end it first`);
    if (routeId !== undefined && routeId !== 'R1') throw new TripRefusal(`this bus has no route ${JSON.stringify(routeId)}`);
    this.trip = { tripId: 'Tmie5x0qo-0a1b2c', routeId: routeId ?? null, startedAtMs: 1_700_000_000_000, startedBy: trigger, aboard: 0 };
    return this.current();
  }
  endTrip(trigger: 'button' | 'command'): BusView {
    this.calls.push(`end:${trigger}`);
    if (!this.trip) throw new TripRefusal('no trip is open');
    this.trip = null;
    return this.current();
  }
  chooseRoute(): BusView {
    throw new Error('not reachable from the control socket');
  }
  private current(): BusView {
    return {
      plate: '61B-123.45',
      capacity: 45,
      routes: [{ id: 'R1', name: 'KTX – KCN' }],
      trip: this.trip,
      tiles: [],
      gps: { state: 'fix', position: { lat: 10.98, lon: 106.65 }, datingFromGps: false },
      staleData: false,
    };
  }
}

/** Sends raw bytes and collects everything the kiosk answers until it closes the connection. */
function raw(path: string, send: (socket: ReturnType<typeof createConnection>) => void): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let reply = '';
    const socket = createConnection(path);
    socket.setEncoding('utf8');
    socket.once('connect', () => send(socket));
    socket.on('data', (c: string) => (reply += c));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    socket.on('close', () => resolve({ reply, ms: performance.now() - started }));
  });
}

describe('control socket', () => {
  const dirs: { remove(): void }[] = [];
  const sockets: ControlSocket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) await s.close();
    for (const d of dirs.splice(0)) d.remove();
  });

  async function start(trips: TripControl = new FakeTrips()): Promise<{ path: string; dir: string; control: ControlSocket }> {
    const d = tempDir('safegate-ctl-');
    dirs.push(d);
    const dir = join(d.path, 'run');
    const path = join(dir, 'k.control.sock');
    const control = await startControlSocket({ path, trips, log: silentLogger });
    sockets.push(control);
    return { path, dir, control };
  }

  it('starts, reports and ends a trip for `safegate trip`, with the trigger "command"', async () => {
    const trips = new FakeTrips();
    const { path } = await start(trips);
    const status = await requestControl(path, { method: 'trip.status' });
    expect(status).toMatchObject({ ok: true, result: { plate: '61B-123.45', trip: null } });
    const started = await requestControl(path, { method: 'trip.start', routeId: 'R1' });
    expect(started).toMatchObject({ ok: true, result: { trip: { tripId: 'Tmie5x0qo-0a1b2c', routeId: 'R1', startedBy: 'command' } } });
    expect(await requestControl(path, { method: 'trip.status' })).toMatchObject({ ok: true, result: { trip: { tripId: 'Tmie5x0qo-0a1b2c' } } });
    expect(await requestControl(path, { method: 'trip.end' })).toMatchObject({ ok: true, result: { trip: null } });
    expect(trips.calls).toEqual(['view', 'start:command:R1', 'view', 'end:command']);
  });

  it('passes a refusal back as {ok:false, kind refused} with its reason, and an unexpected failure as internal without its detail', async () => {
    const trips = new FakeTrips();
    const { path } = await start(trips);
    expect(await requestControl(path, { method: 'trip.end' })).toEqual({ ok: false, kind: 'refused', error: 'no trip is open' });
    expect(await requestControl(path, { method: 'trip.start', routeId: 'R9' })).toEqual({ ok: false, kind: 'refused', error: 'this bus has no route "R9"' });
    await requestControl(path, { method: 'trip.start' });
    expect(await requestControl(path, { method: 'trip.start' })).toMatchObject({ ok: false, kind: 'refused', error: expect.stringMatching(/open already/) as unknown });
    trips.fail = true;
    await requestControl(path, { method: 'trip.end' });
    const r = await requestControl(path, { method: 'trip.start' });
    expect(r).toMatchObject({ ok: false, kind: 'internal' });
    expect(JSON.stringify(r)).not.toMatch(/disk on fire/);
  });

  it('the socket is 0600 in a 0700 folder', async () => {
    const { path, dir } = await start();
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('refuses malformed requests at the door, never reaching the trips, and keeps serving', async () => {
    const trips = new FakeTrips();
    const { path } = await start(trips);
    const cases: [string, RegExp][] = [
      ['not json\n', /not JSON/],
      ['{"method":"trip.stop"}\n', /not a control request/],
      ['{"method":"trip.start","routeId":"R1; rm -rf /"}\n', /routeId/],
      ['{"method":"trip.end","extra":1}\n', /not a control request/],
      ['[]\n', /not a control request/],
      ['{"method":"trip.status"}', /must end with a newline/],
    ];
    for (const [text, error] of cases) {
      const { reply } = await raw(path, (s) => s.end(text));
      const parsed = JSON.parse(reply) as { ok: boolean; kind: string; error: string };
      expect(parsed).toMatchObject({ ok: false, kind: 'bad-request' });
      expect(parsed.error).toMatch(error);
    }
    expect(trips.calls).toEqual([]);
    expect(await requestControl(path, { method: 'trip.status' })).toMatchObject({ ok: true });
  });

  it('cuts off a request longer than 4 KB without waiting for its end', async () => {
    const { path } = await start();
    const { reply } = await raw(path, (s) => s.write(`{"method":"trip.status","x":"${'a'.repeat(MAX_REQUEST_BYTES)}`));
    expect(JSON.parse(reply)).toMatchObject({ ok: false, kind: 'bad-request', error: expect.stringMatching(/longer than 4096 bytes/) as unknown });
  });

  it(
    'closes a connection that sends no complete request within its time, trickling or silent',
    async () => {
      const { path } = await start();
      let trickle: NodeJS.Timeout | undefined;
      const [silent, trickling] = await Promise.all([
        raw(path, () => {}),
        raw(path, (s) => {
          trickle = setInterval(() => s.writable && s.write(' '), 500);
        }),
      ]);
      clearInterval(trickle);
      for (const r of [silent, trickling]) {
        expect(JSON.parse(r.reply)).toMatchObject({ ok: false, kind: 'bad-request', error: expect.stringMatching(/no complete request/) as unknown });
        expect(r.ms).toBeGreaterThanOrEqual(CONNECTION_TIMEOUT_MS - 100);
      }
      expect(await requestControl(path, { method: 'trip.status' })).toMatchObject({ ok: true });
    },
    30_000,
  );

  it('replaces a socket file left by a crashed kiosk, but not one another kiosk listens on', async () => {
    const d = tempDir('safegate-ctl-');
    dirs.push(d);
    const dir = join(d.path, 'run');
    mkdirSync(dir, { mode: 0o700 });
    const path = join(dir, 'k.control.sock');
    // A socket file nobody listens on: what a killed kiosk leaves (a process that listens, then is killed).
    const crashed = spawnSync(process.execPath, ['-e', 'require("net").createServer().listen(process.argv[1], () => process.kill(process.pid, "SIGKILL"))', path], { timeout: 20_000 });
    expect(crashed.signal).toBe('SIGKILL');
    expect(lstatSync(path).isSocket()).toBe(true);
    const first = await startControlSocket({ path, trips: new FakeTrips(), log: silentLogger });
    sockets.push(first);
    expect(await requestControl(path, { method: 'trip.status' })).toMatchObject({ ok: true });
    await expect(startControlSocket({ path, trips: new FakeTrips(), log: silentLogger })).rejects.toThrow(/another kiosk is listening/);
    // The first kiosk's socket is still its own.
    expect(await requestControl(path, { method: 'trip.status' })).toMatchObject({ ok: true });
    await first.close();
    expect(() => lstatSync(path)).toThrow(/ENOENT/);
    await expect(requestControl(path, { method: 'trip.status' })).rejects.toBeInstanceOf(ControlUnavailable);
  });

  it('refuses a path that is a plain file, a folder open to others, or too long for a socket', async () => {
    const d = tempDir('safegate-ctl-');
    dirs.push(d);
    const dir = join(d.path, 'run');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'file.sock'), 'x');
    await expect(startControlSocket({ path: join(dir, 'file.sock'), trips: new FakeTrips(), log: silentLogger })).rejects.toThrow(/not a socket/);
    const open = join(d.path, 'open');
    mkdirSync(open);
    chmodSync(open, 0o755);
    await expect(startControlSocket({ path: join(open, 'k.sock'), trips: new FakeTrips(), log: silentLogger })).rejects.toThrow(/open to other users/);
    await expect(startControlSocket({ path: join(dir, 'x'.repeat(120)), trips: new FakeTrips(), log: silentLogger })).rejects.toThrow(/too long/);
  });

  it('a client reports nobody listening as ControlUnavailable, and a reply that is not a control reply as an error', async () => {
    const d = tempDir('safegate-ctl-');
    dirs.push(d);
    await expect(requestControl(join(d.path, 'none.sock'), { method: 'trip.status' })).rejects.toBeInstanceOf(ControlUnavailable);
    const path = join(d.path, 'liar.sock');
    const liar = createServer((s) => s.resume().end('{"ok":true,"result":{"plate":1}}\n'));
    await new Promise<void>((r) => liar.listen(path, r));
    try {
      await expect(requestControl(path, { method: 'trip.status' })).rejects.toThrow(/not a control reply/);
    } finally {
      await new Promise((r) => liar.close(r));
    }
  });
});
