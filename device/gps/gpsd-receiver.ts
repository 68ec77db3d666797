import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../../base/common/backoff.js';
import { GPSD_DEVICES, GPSD_MAX_LINE, GPSD_WATCH, readGpsdLine } from './gpsd.js';
import { BoundedLineSplitter } from './lines.js';
import { monoNowUs, type GpsReceiver, type GpsReceiverEvents, type GpsReceiverState } from './report.js';

export interface GpsdReceiverOptions {
  host: string;
  port: number;
  reconnect?: { initialMs: number; maxMs: number } | undefined;
  /** How often to ask gpsd which receivers it has open (it does not say when one goes away). */
  pollMs?: number;
}

const DEFAULT_RECONNECT = { initialMs: 250, maxMs: 5_000 };
const DEFAULT_POLL_MS = 2_000;

/**
 * The gpsd daemon over its TCP JSON protocol. `ready` while gpsd is reachable and has a receiver
 * open; `disconnected` while gpsd is down (reconnects with backoff) or has none (then it asks gpsd
 * to watch again, which makes gpsd reopen its devices, so a receiver plugged back in comes back).
 */
export class GpsdReceiver extends EventEmitter<GpsReceiverEvents> implements GpsReceiver {
  readonly kind = 'gpsd' as const;
  private currentState: GpsReceiverState = 'stopped';
  private socket: Socket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = true;
  private readonly active = new Set<string>();

  constructor(
    private readonly options: GpsdReceiverOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  get state(): GpsReceiverState {
    return this.currentState;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pollTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    }
    this.setState('stopped');
  }

  private setState(state: GpsReceiverState, detail?: string): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state, detail);
  }

  private connect(): void {
    if (this.stopped) return;
    this.setState(this.attempt === 0 ? 'connecting' : 'disconnected');
    this.active.clear();
    const socket = createConnection({ host: this.options.host, port: this.options.port });
    this.socket = socket;
    socket.setNoDelay(true);
    const lines = new BoundedLineSplitter(GPSD_MAX_LINE, 'utf8');
    socket.on('connect', () => {
      if (this.socket !== socket) return;
      // The backoff starts again only once gpsd answers (handle()): a port that accepts and closes at
      // once (socket activation with a failing gpsd, another service) must not be retried 4 times a second.
      if (this.attempt === 0) this.log.info({ host: this.options.host, port: this.options.port }, 'connected to gpsd');
      socket.write(GPSD_WATCH);
      clearInterval(this.pollTimer);
      this.pollTimer = setInterval(() => this.poll(socket), this.options.pollMs ?? DEFAULT_POLL_MS);
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      const atMonoUs = monoNowUs();
      for (const line of lines.push(chunk)) {
        if (line.kind === 'too-long') this.emit('rejected', { reason: 'too-long', detail: `${line.length} bytes without a line end` });
        else this.handle(line.text, atMonoUs);
      }
    });
    socket.on('error', (err) => {
      if (this.socket === socket) this.log.debug({ err: err.message }, 'gpsd connection error');
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearInterval(this.pollTimer);
      this.retry('gpsd connection closed (gpsd not running?)');
    });
  }

  private handle(text: string, atMonoUs: number): void {
    const m = readGpsdLine(text);
    if (m.kind !== 'refused') this.attempt = 0;
    switch (m.kind) {
      case 'refused':
        this.emit('rejected', m.rejected);
        return;
      case 'ignored':
        return;
      case 'error':
        this.log.warn({ message: m.message }, 'gpsd reported an error');
        return;
      case 'devices':
        this.log.debug({ devices: m.devices, whole: m.whole }, 'gpsd devices');
        if (m.whole) this.active.clear();
        for (const d of m.devices) {
          if (d.active) this.active.add(d.path);
          else this.active.delete(d.path);
        }
        this.updateReadiness();
        return;
      case 'fix':
      case 'no-fix':
        // A report from a device proves gpsd has it open, even before the next DEVICES answer.
        if (m.device !== undefined && !this.active.has(m.device)) {
          this.active.add(m.device);
          this.updateReadiness();
        }
        if (m.kind === 'fix') this.emit('report', { kind: 'fix', position: m.position, utcMs: m.utcMs, atMonoUs });
        else this.emit('report', { kind: 'no-fix', atMonoUs });
        return;
    }
  }

  private updateReadiness(): void {
    if (this.active.size > 0) this.setState('ready');
    else this.setState('disconnected', 'gpsd has no GPS receiver open');
  }

  /** gpsd does not report a receiver that went away; its device list does. With none open, wake it. */
  private poll(socket: Socket): void {
    if (this.socket !== socket || !socket.writable) return;
    socket.write(this.active.size === 0 ? GPSD_WATCH + GPSD_DEVICES : GPSD_DEVICES);
  }

  private retry(why: string): void {
    if (this.stopped) return;
    this.active.clear();
    const delay = backoffDelayMs(this.attempt++, this.options.reconnect ?? DEFAULT_RECONNECT);
    if (this.attempt === 1 || this.attempt % 20 === 0) this.log.warn({ why, retryInMs: delay, attempt: this.attempt }, 'gpsd unavailable');
    this.setState('disconnected', why);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
