import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GpsReceiver, GpsReceiverState } from '../../../device/gps/report.js';
import { GpsTracker } from '../../../device/gps/tracker.js';
import { badChecksumCycle, fixCycle, noFixCycle } from './nmea-sentences.js';

/**
 * What every GPS receiver adapter must do, whatever carries the sentences: NMEA on a serial port
 * (a socat pty) and gpsd (a real gpsd reading a socat pty). Each driver writes NMEA sentences into
 * the receiver's device the way a GPS receiver would, and can unplug and replug it. The contract
 * follows the adapter through a GpsTracker, as the kiosk does.
 */
export interface GpsReceiverDriver {
  receiver: GpsReceiver;
  /** Bytes as the receiver module sends them. */
  write(text: string | Uint8Array): Promise<void>;
  unplug(): Promise<void>;
  plug(): Promise<void>;
  close(): Promise<void>;
}

export interface GpsContractOptions {
  /** Whether the adapter itself sees the receiver's bytes (and so reports refused lines); gpsd filters them first. */
  seesRawBytes: boolean;
}

const FIX_MAX_AGE_MS = 3_000;
const WAIT_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Repeats `act` (a receiver sends a cycle a second; here faster) until `done` holds. */
async function until(done: () => boolean, act: () => Promise<void>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await act();
    await sleep(150);
  }
}

export function gpsReceiverContract(name: string, makeDriver: () => Promise<GpsReceiverDriver>, options: GpsContractOptions): void {
  describe(`GPS receiver contract: ${name}`, () => {
    let driver: GpsReceiverDriver;
    let tracker: GpsTracker;
    const states: GpsReceiverState[] = [];
    const events: string[] = [];
    // A date far from this machine's clock (but under gpsd's one-year sanity limit), so a time that
    // arrives can only have come from the sentences.
    const firstUtc = Math.floor(Date.now() / 1_000) * 1_000 + 200 * 86_400_000;
    let utc = firstUtc;
    const nextUtc = () => (utc += 1_000);

    beforeEach(async () => {
      driver = await makeDriver();
      states.length = 0;
      events.length = 0;
      driver.receiver.on('state', (s) => states.push(s));
      tracker = new GpsTracker(driver.receiver, { fixMaxAgeMs: FIX_MAX_AGE_MS, tickMs: 100 });
      tracker.on('fix-lost', (why) => events.push(`fix-lost:${why}`));
      tracker.on('state', (s) => events.push(`state:${s}`));
      tracker.start();
    }, 60_000);

    afterEach(async () => {
      await tracker.stop();
      await driver.close();
    }, 60_000);

    it('a fix gives the position (6 decimals) and the GPS time of the fix', async () => {
      await until(() => tracker.position() !== null, () => driver.write(fixCycle(10.818723, 106.692797, nextUtc())), 'a fix');
      expect(tracker.position()).toEqual({ lat: 10.818723, lon: 106.692797 });
      expect(driver.receiver.state).toBe('ready');
      expect(tracker.view(false)).toEqual({ state: 'fix', position: { lat: 10.818723, lon: 106.692797 }, datingFromGps: false });
      const time = tracker.time();
      expect(time).not.toBeNull();
      // The fix's own time (one of the cycles just written), not this machine's.
      expect(time!.utcMs).toBeGreaterThan(firstUtc);
      expect(time!.utcMs).toBeLessThanOrEqual(utc);
      expect(time!.utcMs % 1_000).toBe(0);
    }, 60_000);

    it('a receiver without a fix gives no position ("no fix"), and no time', async () => {
      await until(() => driver.receiver.state === 'ready', () => driver.write(noFixCycle(nextUtc())), 'the receiver');
      for (let i = 0; i < 5; i++) {
        await driver.write(noFixCycle(nextUtc()));
        await sleep(150);
      }
      expect(tracker.position()).toBeNull();
      expect(tracker.time()).toBeNull();
      expect(tracker.view(false).state).toBe('no-fix');
    }, 60_000);

    it('a fix lost mid-stream: fix-lost, then no position, and the position comes back with the fix', async () => {
      await until(() => tracker.position() !== null, () => driver.write(fixCycle(10.8, 106.7, nextUtc())), 'a fix');
      await until(() => tracker.position() === null, () => driver.write(noFixCycle(nextUtc())), 'the fix to be lost');
      expect(events).toContain('fix-lost:no-fix');
      expect(tracker.view(false).state).toBe('no-fix');
      await until(() => tracker.position() !== null, () => driver.write(fixCycle(10.81, 106.71, nextUtc())), 'the fix again');
      expect(tracker.position()).toEqual({ lat: 10.81, lon: 106.71 });
    }, 60_000);

    it('a receiver unplugged is disconnected (no position) and comes back by itself when plugged in again', async () => {
      await until(() => tracker.position() !== null, () => driver.write(fixCycle(10.8, 106.7, nextUtc())), 'a fix');
      await driver.unplug();
      await until(() => driver.receiver.state === 'disconnected', () => Promise.resolve(), 'disconnected');
      expect(tracker.position()).toBeNull();
      expect(tracker.view(false).state).toBe('disconnected');
      // gpsd notices a silent device after a few seconds, so the fix may have gone stale first.
      expect(events.filter((e) => e.startsWith('fix-lost:'))).toHaveLength(1);
      await driver.plug();
      await until(() => tracker.position() !== null, () => driver.write(fixCycle(10.82, 106.72, nextUtc())), 'the fix after replugging');
      expect(driver.receiver.state).toBe('ready');
      expect(tracker.position()).toEqual({ lat: 10.82, lon: 106.72 });
    }, 90_000);

    it('garbage, an over-long line and bad checksums are refused without a crash; the next good fix is read', async () => {
      const rejected: string[] = [];
      driver.receiver.on('rejected', (r) => rejected.push(r.reason));
      await until(() => tracker.position() !== null, () => driver.write(fixCycle(10.8, 106.7, nextUtc())), 'a fix');
      const seen: string[] = [];
      tracker.on('fix', (p) => seen.push(`${p.lat},${p.lon}`));
      await driver.write(Buffer.from([0x00, 0xff, 0xfe, 0x24, 0x0d, 0x0a, 0x80, 0x81, 0x0a]));
      await driver.write(`$GPRMC,${'9'.repeat(5_000)}\r\n`);
      await driver.write('not a sentence at all\r\n$GPRMC,short*00\r\n');
      for (let i = 0; i < 3; i++) {
        await driver.write(badChecksumCycle(-33.9, 151.2, nextUtc()));
        await sleep(100);
      }
      await until(() => tracker.position()?.lat === 10.83, () => driver.write(fixCycle(10.83, 106.73, nextUtc())), 'the good fix after the garbage');
      expect(seen.some((p) => p.startsWith('-33.9'))).toBe(false);
      expect(driver.receiver.state).toBe('ready');
      if (options.seesRawBytes) {
        expect(rejected).toContain('too-long');
        expect(rejected).toContain('bad-checksum');
        expect(rejected).toContain('not-nmea');
      }
    }, 60_000);
  });
}
