import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import { NmeaSerialReceiver } from '../../../device/gps/nmea-receiver.js';
import { GpsTracker } from '../../../device/gps/tracker.js';
import { GpsDatedClock, SystemClock, type ClockReading } from '../../../src-main/core/clock.js';
import { fixCycle, noFixCycle } from '../../device/gps/nmea-sentences.js';
import { tempDir } from '../../helpers/fixtures.js';
import { PtyPair } from '../../helpers/pty.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FIX_MAX_AGE_MS = 1_500;

/**
 * GPS time as the clock of a bus that booted without network or real-time clock: a real NMEA
 * receiver on a socat pty, the tracker, and the system clock told it is not synchronised.
 */
describe('GpsDatedClock with an NMEA receiver on a pty', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  async function setUp() {
    const dir = tempDir('safegate-gps-clock-');
    const pty = new PtyPair(dir.path, 'gps');
    await pty.plug();
    const receiver = new NmeaSerialReceiver({ path: pty.devicePath, baudRate: 9600 }, createLogger({ level: 'silent' }));
    const tracker = new GpsTracker(receiver, { fixMaxAgeMs: FIX_MAX_AGE_MS, tickMs: 100 });
    tracker.start();
    cleanup = async () => {
      await tracker.stop();
      await pty.unplug();
      dir.remove();
    };
    // A GPS time 200 days from this machine's clock: a reading near it can only be dated from GPS.
    const gpsUtc = Math.floor(Date.now() / 1_000) * 1_000 + 200 * 86_400_000;
    const deadline = Date.now() + 30_000;
    let sentAt = 0;
    while (!tracker.time()) {
      if (Date.now() > deadline) throw new Error('no GPS time in 30 s');
      await pty.write(fixCycle(10.8, 106.7, gpsUtc));
      sentAt = Date.now();
      await sleep(100);
    }
    return { pty, tracker, gpsUtc, sentAt };
  }

  it('an unsynchronised system clock: readings are dated from the GPS time, synced, source gps', async () => {
    const { tracker, gpsUtc, sentAt } = await setUp();
    const clock = new GpsDatedClock(new SystemClock('never'), () => tracker.time(), true);
    const reading = clock.read();
    expect(reading.source).toBe('gps');
    expect(reading.synced).toBe(true);
    // The fix's time carried forward by the monotonic time since the sentence arrived (at most since it was sent).
    expect(reading.wallMs).toBeGreaterThanOrEqual(gpsUtc);
    expect(reading.wallMs).toBeLessThanOrEqual(gpsUtc + (Date.now() - sentAt) + 50);
    expect(clock.datingFromGps()).toBe(true);
    await sleep(300);
    const later = clock.read();
    expect(later.wallMs - reading.wallMs).toBeGreaterThanOrEqual(290);
    expect(later.monoUs).toBeGreaterThan(reading.monoUs);
  }, 60_000);

  it('a fix lost: still GPS-dated after fixMaxAge has passed (the last GPS time carried on the monotonic clock), never going back', async () => {
    const { pty, tracker, gpsUtc } = await setUp();
    const clock = new GpsDatedClock(new SystemClock('never'), () => tracker.time(), true);
    const before = clock.read();
    expect(before.source).toBe('gps');
    await pty.write(noFixCycle(Date.now()));
    const deadline = Date.now() + 30_000;
    while (tracker.position() !== null && Date.now() < deadline) await sleep(50);
    expect(tracker.position()).toBeNull();
    await sleep(FIX_MAX_AGE_MS + 200);
    expect(tracker.time()).toBeNull();
    const reading = clock.read();
    // Not the system clock (200 days behind the GPS time): the GPS time carried forward.
    expect(reading.source).toBe('gps');
    expect(reading.synced).toBe(true);
    expect(reading.wallMs).toBeGreaterThan(gpsUtc);
    expect(reading.wallMs - before.wallMs).toBeGreaterThanOrEqual(FIX_MAX_AGE_MS);
    expect(Math.abs(reading.wallMs - Date.now())).toBeGreaterThan(100 * 86_400_000);
  }, 60_000);

  it('a synchronised system clock wins over GPS, and gps.clock false never uses GPS', async () => {
    const { tracker } = await setUp();
    const synced = new GpsDatedClock(new SystemClock('always'), () => tracker.time(), true).read();
    expect(synced.source).toBeUndefined();
    expect(synced.synced).toBe(true);
    expect(Math.abs(synced.wallMs - Date.now())).toBeLessThan(1_000);
    const disabled = new GpsDatedClock(new SystemClock('never'), () => tracker.time(), false);
    expect(disabled.read().source).toBeUndefined();
    expect(disabled.read().synced).toBe(false);
    expect(disabled.datingFromGps()).toBe(false);
  }, 60_000);
});

describe('GpsDatedClock rules', () => {
  const system = (r: Partial<ClockReading>) => ({ read: (): ClockReading => ({ wallMs: 1_000, monoUs: 10_000_000, bootId: 'b', synced: false, ...r }) });

  it('carries the sample forward by the monotonic time since it arrived', () => {
    const clock = new GpsDatedClock(system({}), () => ({ utcMs: 1_900_000_000_000, atMonoUs: 7_500_000 }), true);
    expect(clock.read()).toEqual({ wallMs: 1_900_000_002_500, monoUs: 10_000_000, bootId: 'b', synced: true, source: 'gps' });
    expect(clock.bootId).toBe('b');
  });

  it('ignores a sample from after the reading (another clock), and no sample means the system reading', () => {
    expect(new GpsDatedClock(system({}), () => ({ utcMs: 1_900_000_000_000, atMonoUs: 10_000_001 }), true).read().source).toBeUndefined();
    expect(new GpsDatedClock(system({}), () => null, true).read()).toEqual({ wallMs: 1_000, monoUs: 10_000_000, bootId: 'b', synced: false });
  });

  it('keeps dating from the last GPS time once the fix is gone (carried on the monotonic clock), source gps', () => {
    let mono = 10_000_000;
    let sample: { utcMs: number; atMonoUs: number } | null = { utcMs: 1_900_000_000_000, atMonoUs: 10_000_000 };
    const clock = new GpsDatedClock({ read: () => ({ wallMs: 1_000 + mono / 1_000, monoUs: mono, bootId: 'b', synced: false }) }, () => sample, true);
    expect(clock.read().wallMs).toBe(1_900_000_000_000);
    sample = null; // the fix went stale: the tracker answers no time
    mono += 60_000_000; // a minute in a tunnel
    expect(clock.read()).toEqual({ wallMs: 1_900_000_060_000, monoUs: mono, bootId: 'b', synced: true, source: 'gps' });
    // A fresh sample again, now 2 s off the carried time (a slightly drifting monotonic clock): it is taken, but never backwards.
    sample = { utcMs: 1_900_000_058_000, atMonoUs: mono };
    expect(clock.read().wallMs).toBe(1_900_000_060_000);
    mono += 5_000_000;
    expect(clock.read().wallMs).toBe(1_900_000_063_000);
  });

  it('a GPS time corrected back by more than jitter (a wrong first fix) is taken, and the clock runs on from it instead of standing still', () => {
    let mono = 1_000_000;
    let sample: { utcMs: number; atMonoUs: number } | null = { utcMs: 1_900_000_600_000, atMonoUs: mono }; // 10 min ahead
    const clock = new GpsDatedClock({ read: () => ({ wallMs: 1_000 + mono / 1_000, monoUs: mono, bootId: 'b', synced: false }) }, () => sample, true);
    expect(clock.read().wallMs).toBe(1_900_000_600_000);
    mono += 3_000_000;
    sample = { utcMs: 1_900_000_003_000, atMonoUs: mono }; // the true time
    expect(clock.read().wallMs).toBe(1_900_000_003_000);
    mono += 9_000_000;
    expect(clock.read().wallMs).toBe(1_900_000_012_000);
  });

  it('a system clock running ahead of the GPS time before the first fix does not hold back the GPS-dated readings that follow', () => {
    let mono = 1_000_000;
    let sample: { utcMs: number; atMonoUs: number } | null = null;
    // The unsynchronised system clock runs 6 minutes ahead of the true (GPS) time.
    const clock = new GpsDatedClock({ read: () => ({ wallMs: 1_900_000_360_000 + mono / 1_000, monoUs: mono, bootId: 'b', synced: false }) }, () => sample, true);
    expect(clock.read()).toMatchObject({ wallMs: 1_900_000_361_000, synced: false });
    sample = { utcMs: 1_900_000_001_000, atMonoUs: mono };
    mono += 2_000_000;
    expect(clock.read()).toEqual({ wallMs: 1_900_000_003_000, monoUs: mono, bootId: 'b', synced: true, source: 'gps' });
    mono += 1_000_000;
    expect(clock.read().wallMs).toBe(1_900_000_004_000);
  });

  it('a synchronised system clock still wins; another boot starts afresh', () => {
    let r: ClockReading = { wallMs: 5_000_000, monoUs: 1, bootId: 'b', synced: true };
    const clock = new GpsDatedClock({ read: () => r }, () => ({ utcMs: 9_000_000, atMonoUs: 1 }), true);
    expect(clock.read()).toEqual(r);
    r = { wallMs: 1_000, monoUs: 1, bootId: 'c', synced: false };
    expect(clock.read()).toMatchObject({ wallMs: 9_000_000, source: 'gps' });
  });

  it('refuses, for the rest of the boot, a GPS time more than 2 s off a synchronised system clock', () => {
    let r: ClockReading = { wallMs: 1_900_000_000_000, monoUs: 10_000_000, bootId: 'b', synced: true };
    let sample = { utcMs: 1_900_000_003_000, atMonoUs: 10_000_000 }; // 3 s ahead
    const clock = new GpsDatedClock({ read: () => r }, () => sample, true);
    expect(clock.read()).toEqual(r);
    // The network goes: the system clock is no longer synchronised; the GPS time is not used.
    r = { ...r, monoUs: 20_000_000, wallMs: 1_900_000_010_000, synced: false };
    sample = { utcMs: 1_900_000_013_000, atMonoUs: 20_000_000 };
    expect(clock.read()).toEqual(r);
    // A GPS time within 2 s of the synchronised clock is used once it is gone.
    const ok = new GpsDatedClock({ read: () => r }, () => sample, true);
    r = { ...r, synced: true };
    sample = { utcMs: r.wallMs + 1_500, atMonoUs: r.monoUs };
    ok.read();
    r = { ...r, synced: false };
    expect(ok.read()).toMatchObject({ wallMs: 1_900_000_011_500, source: 'gps' });
  });
});
