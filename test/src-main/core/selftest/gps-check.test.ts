import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../base/node/logger.js';
import { createGpsReceiver } from '../../../../device/gps/gps.js';
import type { Settings } from '../../../../src-main/core/config.js';
import type { RuntimeStatus } from '../../../../src-main/core/runtime.js';
import { gpsCheck, liveGpsCheck } from '../../../../src-main/core/selftest/gps.js';
import { freePort } from '../../../helpers/mosquitto.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { PtyPair } from '../../../helpers/pty.js';
import { fixCycle, noFixCycle } from '../../../device/gps/nmea-sentences.js';
import { GPSD_BINARY, GpsdPeer } from '../../../device/gps/gpsd-peer.js';

/** The gps settings with the schema's defaults (config.ts), and what a test sets. */
const gpsSettings = (gps: Partial<Settings['gps']>): Settings['gps'] => ({ source: 'none', host: '127.0.0.1', port: 2947, baudRate: 9600, fixMaxAgeSeconds: 10, clock: true, ...gps });
const signal = new AbortController().signal;
const runtimeStatus: RuntimeStatus = { pid: 4242, atMs: 0, link: 'offline', heldEvents: 0, disk: null };

/** `safegate selftest`'s GPS check against real receivers: NMEA on a socat pty, and a real gpsd. */
describe('selftest gps check', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  /** Writes `cycle()` into the pty every 200 ms while the check listens. */
  function feed(pty: { write(t: string): Promise<void> }, cycle: () => string): () => Promise<void> {
    let on = true;
    const loop = (async () => {
      while (on) {
        await pty.write(cycle()).catch(() => {});
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    return async () => {
      on = false;
      await loop;
    };
  }

  it('NMEA with a fix passes and names the GPS time against the system clock (never the position)', async () => {
    const dir = tempDir('safegate-gps-check-');
    const pty = new PtyPair(dir.path, 'gps');
    await pty.plug();
    let utc = Math.floor(Date.now() / 1_000) * 1_000 + 200 * 86_400_000;
    const stop = feed(pty, () => fixCycle(10.818723, 106.692797, (utc += 1_000)));
    cleanup = async () => {
      await stop();
      await pty.unplug();
      dir.remove();
    };
    const r = await gpsCheck({ gps: gpsSettings({ source: 'nmea', path: pty.devicePath }), bus: true, running: null, listenMs: 20_000 }, signal);
    expect(r.status).toBe('pass');
    expect(r.detail).toMatch(/a fix, GPS time \d{4}-.*the system clock is \d+(\.\d)? s behind/);
    expect(r.detail).not.toMatch(/10\.8|106\.6/);
  }, 60_000);

  it('NMEA without a fix warns; a port with no NMEA fails; a missing device fails with what to check', async () => {
    const dir = tempDir('safegate-gps-check-');
    const pty = new PtyPair(dir.path, 'gps');
    await pty.plug();
    const stop = feed(pty, () => noFixCycle(Date.now()));
    cleanup = async () => {
      await stop();
      await pty.unplug();
      dir.remove();
    };
    const noFix = await gpsCheck({ gps: gpsSettings({ source: 'nmea', path: pty.devicePath }), bus: true, running: null, listenMs: 1_500 }, signal);
    expect(noFix).toMatchObject({ status: 'warn', detail: expect.stringContaining('has no fix') });
    await stop();
    const silent = await gpsCheck({ gps: gpsSettings({ source: 'nmea', path: pty.devicePath }), bus: true, running: null, listenMs: 1_500 }, signal);
    expect(silent).toMatchObject({ status: 'fail', detail: expect.stringContaining('no NMEA sentence') });
    const missing = await gpsCheck({ gps: gpsSettings({ source: 'nmea', path: `${dir.path}/nothing` }), bus: true, running: null, listenMs: 1_500 }, signal);
    expect(missing).toMatchObject({ status: 'fail', detail: expect.stringContaining('no receiver'), action: expect.stringContaining('gps.path') });
    // A kiosk running beside it holds the port: what it publishes is reported, the port is not taken.
    const held = await gpsCheck({ gps: gpsSettings({ source: 'nmea', path: pty.devicePath }), bus: true, running: { pid: 4242, status: null }, listenMs: 1_500 }, signal);
    expect(held).toMatchObject({ status: 'warn', detail: expect.stringContaining('pid 4242') });
    const status = (gps: string) => ({ running: { pid: 4242, status: { ...runtimeStatus, gps } } });
    const heldCheck = (gps: string) => gpsCheck({ gps: gpsSettings({ source: 'nmea', path: `${dir.path}/held-by-the-kiosk` }), bus: true, ...status(gps), listenMs: 1_500 }, signal);
    expect(await heldCheck('fix')).toMatchObject({ status: 'pass', detail: expect.stringContaining('pid 4242) has a fix') });
    expect((await heldCheck('no-fix')).status).toBe('warn');
    expect(await heldCheck('disconnected')).toMatchObject({ status: 'fail', detail: expect.stringContaining('says disconnected') });
  }, 60_000);

  it.skipIf(!GPSD_BINARY)('a real gpsd with a fix passes; gpsd not running fails', async () => {
    const dir = tempDir('safegate-gps-check-gpsd-');
    const peer = new GpsdPeer(dir.path);
    await peer.start();
    let utc = Math.floor(Date.now() / 1_000) * 1_000 + 200 * 86_400_000;
    const stop = feed(peer.pty, () => fixCycle(10.8, 106.7, (utc += 1_000)));
    cleanup = async () => {
      await stop();
      await peer.stop();
      dir.remove();
    };
    const r = await gpsCheck({ gps: gpsSettings({ source: 'gpsd', host: '127.0.0.1', port: peer.port }), bus: true, running: { pid: 1, status: null }, listenMs: 20_000 }, signal);
    expect(r).toMatchObject({ status: 'pass', detail: expect.stringContaining(`gpsd at 127.0.0.1:${peer.port}: a fix`) });
    const down = await gpsCheck({ gps: gpsSettings({ source: 'gpsd', host: '127.0.0.1', port: await freePort() }), bus: true, running: null, listenMs: 1_500 }, signal);
    expect(down).toMatchObject({ status: 'fail', action: expect.stringContaining('systemctl status gpsd') });
  }, 90_000);

  it('no receiver configured: a warning on a bus, a pass at a fixed gate; the live check reads the tracker view', async () => {
    expect((await gpsCheck({ gps: gpsSettings({}), bus: true, running: null }, signal)).status).toBe('warn');
    expect((await gpsCheck({ gps: gpsSettings({}), bus: false, running: null }, signal)).status).toBe('pass');
    const g = gpsSettings({ source: 'gpsd' });
    expect(liveGpsCheck(g, true, { state: 'fix', position: { lat: 1, lon: 2 }, datingFromGps: true })).toMatchObject({ status: 'pass', detail: expect.stringContaining('dated from the GPS time') });
    expect(liveGpsCheck(g, true, { state: 'no-fix', position: null, datingFromGps: false }).status).toBe('warn');
    expect(liveGpsCheck(g, true, { state: 'disconnected', position: null, datingFromGps: false }).status).toBe('fail');
    expect(liveGpsCheck(g, true, undefined).status).toBe('warn');
    // The factory the check uses is the kiosk's: an nmea receiver without a path is refused, not crashed.
    expect(() => createGpsReceiver({ source: 'nmea', host: '', port: 1, baudRate: 9600 }, createLogger({ level: 'silent' }))).toThrow(/path/);
  });
});
