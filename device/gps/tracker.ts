import { EventEmitter } from 'node:events';
import type { GpsView } from '../../base/common/bus.js';
import type { GeoPoint } from '../../base/common/types.js';
import { monoNowUs, type GpsReceiver, type GpsReceiverState, type GpsReport } from './report.js';

export interface GpsTrackerOptions {
  /** A fix older than this counts as "no fix" (settings gps.fixMaxAgeSeconds), and so does its time. */
  fixMaxAgeMs: number;
  /** CLOCK_MONOTONIC in µs (tests drive it); the same clock as ClockReading.monoUs. */
  monoUs?: () => number;
  /** How often staleness is checked between reports. */
  tickMs?: number;
}

/** A GPS time and when it arrived: the clock's wall time is utcMs + (now - atMonoUs) / 1000. */
export interface GpsTimeSample {
  utcMs: number;
  atMonoUs: number;
}

export interface GpsTrackerEvents {
  /** Every fresh fix (the depot geofence follows these). */
  fix: [position: GeoPoint];
  /** The fix went away: the receiver said no fix, went silent past fixMaxAge, or was disconnected. */
  'fix-lost': [why: 'no-fix' | 'stale' | 'disconnected'];
  /** GpsView.state changed. */
  state: [state: GpsView['state']];
}

/**
 * Follows a GPS receiver: the position while a fix is fresh, the last GPS time sample while fresh,
 * and the view the driver screen shows. Its state is only ever 'no-fix', 'fix' or 'disconnected'
 * ('none' is the composition root's answer for a unit without GPS). The constructor only stores its
 * dependencies; a listener that throws is logged away, never thrown into the receiver's I/O.
 */
export class GpsTracker extends EventEmitter<GpsTrackerEvents> {
  private lastFix: { position: GeoPoint; atMonoUs: number } | null = null;
  private lastTime: GpsTimeSample | null = null;
  private currentState: GpsView['state'] = 'disconnected';
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private readonly mono: () => number;
  private readonly onReport = (r: GpsReport): void => this.report(r);
  private readonly onState = (s: GpsReceiverState): void => this.receiverState(s);

  constructor(
    private readonly receiver: GpsReceiver,
    private readonly options: GpsTrackerOptions,
    private readonly log?: { warn(obj: object, msg: string): void },
  ) {
    super();
    this.mono = options.monoUs ?? monoNowUs;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.receiver.on('report', this.onReport);
    this.receiver.on('state', this.onState);
    this.timer = setInterval(() => this.update('stale'), this.options.tickMs ?? Math.min(1_000, Math.max(100, this.options.fixMaxAgeMs / 4)));
    this.timer.unref();
    this.receiver.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearInterval(this.timer);
    this.receiver.off('report', this.onReport);
    this.receiver.off('state', this.onState);
    await this.receiver.stop();
  }

  /** The fix, while it is fresh and the receiver is there; null means "no fix". */
  position(): GeoPoint | null {
    if (!this.lastFix || this.receiver.state !== 'ready') return null;
    return this.fresh(this.lastFix.atMonoUs) ? this.lastFix.position : null;
  }

  /** The last GPS time sample while it is fresh (fixMaxAge); null when the clock must not use GPS time. */
  time(): GpsTimeSample | null {
    return this.lastTime && this.fresh(this.lastTime.atMonoUs) ? this.lastTime : null;
  }

  view(datingFromGps: boolean): GpsView {
    return { state: this.computeState(), position: this.position(), datingFromGps };
  }

  private fresh(atMonoUs: number): boolean {
    const ageUs = this.mono() - atMonoUs;
    return ageUs >= 0 && ageUs <= this.options.fixMaxAgeMs * 1_000;
  }

  private computeState(): GpsView['state'] {
    if (this.receiver.state !== 'ready') return 'disconnected';
    return this.position() ? 'fix' : 'no-fix';
  }

  private report(r: GpsReport): void {
    if (r.kind === 'fix') {
      this.lastFix = { position: r.position, atMonoUs: r.atMonoUs };
      if (r.utcMs !== null) this.lastTime = { utcMs: r.utcMs, atMonoUs: r.atMonoUs };
      this.update('no-fix');
      this.safeEmit('fix', r.position);
    } else {
      this.lastFix = null;
      this.update('no-fix');
    }
  }

  private receiverState(s: GpsReceiverState): void {
    if (s !== 'ready') this.lastFix = null;
    this.update('disconnected');
  }

  /** Emits state and fix-lost on a change; `why` is what caused a loss found now. */
  private update(why: 'no-fix' | 'stale' | 'disconnected'): void {
    const state = this.computeState();
    const previous = this.currentState;
    if (state === previous) return;
    this.currentState = state;
    if (previous === 'fix') this.safeEmit('fix-lost', state === 'disconnected' ? 'disconnected' : why);
    this.safeEmit('state', state);
  }

  private safeEmit<K extends keyof GpsTrackerEvents>(event: K, ...args: GpsTrackerEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: GpsTrackerEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, event }, 'a GPS listener failed');
    }
  }
}
