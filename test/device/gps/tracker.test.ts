import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { GpsReceiver, GpsReceiverEvents, GpsReceiverState } from '../../../device/gps/report.js';
import { GpsTracker } from '../../../device/gps/tracker.js';

/**
 * The tracker's own rules (freshness, events, the view), driven by hand: a receiver stand-in whose
 * reports the test emits and a monotonic clock the test moves. The real receivers run under the
 * tracker in the contract tests (nmea-receiver.pty, gpsd-receiver.gpsd).
 */
class HandReceiver extends EventEmitter<GpsReceiverEvents> implements GpsReceiver {
  readonly kind = 'nmea' as const;
  state: GpsReceiverState = 'stopped';
  start(): void {
    this.set('ready');
  }
  stop(): Promise<void> {
    this.set('stopped');
    return Promise.resolve();
  }
  set(s: GpsReceiverState): void {
    this.state = s;
    this.emit('state', s);
  }
}

const MAX_AGE_MS = 10_000;
const P = { lat: 10.818723, lon: 106.692797 };

describe('GpsTracker', () => {
  let tracker: GpsTracker | undefined;
  afterEach(async () => {
    await tracker?.stop();
    tracker = undefined;
  });

  function setUp() {
    let mono = 5_000_000_000;
    const receiver = new HandReceiver();
    const t = new GpsTracker(receiver, { fixMaxAgeMs: MAX_AGE_MS, monoUs: () => mono, tickMs: 10 });
    tracker = t;
    const events: string[] = [];
    t.on('fix', (p) => events.push(`fix:${p.lat}`));
    t.on('fix-lost', (why) => events.push(`fix-lost:${why}`));
    t.on('state', (s) => events.push(`state:${s}`));
    t.start();
    return { receiver, t, events, advanceMs: (ms: number) => (mono += ms * 1_000), now: () => mono };
  }

  it('a fresh fix is the position and its time the sample; both go stale after fixMaxAge, with fix-lost', async () => {
    const { receiver, t, events, advanceMs, now } = setUp();
    expect(t.view(false)).toEqual({ state: 'no-fix', position: null, datingFromGps: false });
    receiver.emit('report', { kind: 'fix', position: P, utcMs: 1_900_000_000_000, atMonoUs: now() });
    expect(t.position()).toEqual(P);
    expect(t.time()).toEqual({ utcMs: 1_900_000_000_000, atMonoUs: now() });
    expect(t.view(true)).toEqual({ state: 'fix', position: P, datingFromGps: true });
    advanceMs(MAX_AGE_MS);
    expect(t.position()).toEqual(P);
    advanceMs(1);
    expect(t.position()).toBeNull();
    expect(t.time()).toBeNull();
    // The tick notices the staleness without any report.
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toEqual(['state:no-fix', 'state:fix', 'fix:10.818723', 'fix-lost:stale', 'state:no-fix']);
  });

  it('the receiver saying "no fix" ends the position at once; the time sample stays until fixMaxAge', () => {
    const { receiver, t, events, advanceMs, now } = setUp();
    receiver.emit('report', { kind: 'fix', position: P, utcMs: 1_900_000_000_000, atMonoUs: now() });
    advanceMs(1_000);
    receiver.emit('report', { kind: 'no-fix', atMonoUs: now() });
    expect(t.position()).toBeNull();
    expect(events.slice(-2)).toEqual(['fix-lost:no-fix', 'state:no-fix']);
    expect(t.time()?.utcMs).toBe(1_900_000_000_000);
    advanceMs(MAX_AGE_MS);
    expect(t.time()).toBeNull();
  });

  it('a fix without a date (GGA) moves the position but keeps the last dated time sample', () => {
    const { receiver, t, advanceMs, now } = setUp();
    const first = now();
    receiver.emit('report', { kind: 'fix', position: P, utcMs: 1_900_000_000_000, atMonoUs: first });
    advanceMs(500);
    receiver.emit('report', { kind: 'fix', position: { lat: 10.9, lon: 106.8 }, utcMs: null, atMonoUs: now() });
    expect(t.position()).toEqual({ lat: 10.9, lon: 106.8 });
    expect(t.time()).toEqual({ utcMs: 1_900_000_000_000, atMonoUs: first });
  });

  it('a receiver that disconnects: state disconnected, no position, fix-lost disconnected', () => {
    const { receiver, t, events, now } = setUp();
    receiver.emit('report', { kind: 'fix', position: P, utcMs: null, atMonoUs: now() });
    receiver.set('disconnected');
    expect(t.position()).toBeNull();
    expect(t.view(false).state).toBe('disconnected');
    expect(events.slice(-2)).toEqual(['fix-lost:disconnected', 'state:disconnected']);
    receiver.set('ready');
    expect(t.view(false).state).toBe('no-fix');
  });

  it('a listener that throws does not throw into the receiver', () => {
    const { receiver, t, now } = setUp();
    t.on('fix', () => {
      throw new Error('listener bug');
    });
    expect(() => receiver.emit('report', { kind: 'fix', position: P, utcMs: null, atMonoUs: now() })).not.toThrow();
    expect(t.position()).toEqual(P);
  });

  it('stop() detaches from the receiver and stops it', async () => {
    const { receiver, t, now } = setUp();
    await t.stop();
    expect(receiver.state).toBe('stopped');
    expect(receiver.listenerCount('report')).toBe(0);
    receiver.emit('report', { kind: 'fix', position: P, utcMs: null, atMonoUs: now() });
    expect(t.position()).toBeNull();
  });
});
