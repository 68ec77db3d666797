import { EventEmitter } from 'node:events';
import { realpathSync } from 'node:fs';
import { SerialPort } from 'serialport';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../../base/common/backoff.js';
import { BoundedLineSplitter } from './lines.js';
import { NMEA_MAX_LINE, readNmeaSentence } from './nmea.js';
import { monoNowUs, type GpsReceiver, type GpsReceiverEvents, type GpsReceiverState } from './report.js';

export interface NmeaSerialReceiverOptions {
  path: string;
  baudRate: number;
  reconnect?: { initialMs: number; maxMs: number } | undefined;
  /** How often an open port checks that its device node is still there (tests shorten it). */
  presenceCheckMs?: number;
}

const DEFAULT_RECONNECT = { initialMs: 250, maxMs: 5_000 };

function deviceNode(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * An NMEA 0183 GPS receiver on a serial port (a USB GPS mouse, a HAT on /dev/serial0). Reads only:
 * it never writes configuration to the receiver. Unplugged (the port closes or errors, or its device
 * node vanishes) it reopens with backoff until the receiver is back; a partial line is dropped.
 */
export class NmeaSerialReceiver extends EventEmitter<GpsReceiverEvents> implements GpsReceiver {
  readonly kind = 'nmea' as const;
  private currentState: GpsReceiverState = 'stopped';
  private port: SerialPort | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = true;

  constructor(
    private readonly options: NmeaSerialReceiverOptions,
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
    clearInterval(this.presenceTimer);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
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
    const path = this.options.path;
    const port = new SerialPort({ path, baudRate: this.options.baudRate, autoOpen: false });
    const lines = new BoundedLineSplitter(NMEA_MAX_LINE, 'latin1');
    port.on('data', (chunk: Buffer) => {
      if (this.port !== port) return;
      const atMonoUs = monoNowUs();
      for (const line of lines.push(chunk)) {
        if (line.kind === 'too-long') {
          this.emit('rejected', { reason: 'too-long', detail: `${line.length} bytes without a line end` });
          continue;
        }
        const reading = readNmeaSentence(line.text);
        if (reading.kind === 'refused') this.emit('rejected', reading.rejected);
        else if (reading.kind === 'fix') this.emit('report', { kind: 'fix', position: reading.position, utcMs: reading.utcMs, atMonoUs });
        else if (reading.kind === 'no-fix') this.emit('report', { kind: 'no-fix', atMonoUs });
      }
    });
    port.on('error', (err) => this.log.warn({ err: err.message, path }, 'GPS port error'));
    port.on('close', () => this.drop(port, 'port closed (receiver unplugged?)'));
    port.open((err) => {
      if (err) {
        this.retry(err.message);
        return;
      }
      if (this.stopped) {
        port.close();
        return;
      }
      this.port = port;
      this.attempt = 0;
      this.watchPresence(port, path);
      this.log.info({ path }, 'GPS receiver connected');
      this.setState('ready');
    });
  }

  /** As the serial scanner does: an idle reader is not always told of a hang-up, so check the node. */
  private watchPresence(port: SerialPort, path: string): void {
    const opened = deviceNode(path);
    clearInterval(this.presenceTimer);
    this.presenceTimer = setInterval(() => {
      if (this.port !== port) return;
      if (deviceNode(path) !== opened) this.drop(port, 'device node vanished or changed');
    }, this.options.presenceCheckMs ?? 1_000);
  }

  private drop(port: SerialPort, why: string): void {
    if (this.port !== port) return;
    this.port = undefined;
    clearInterval(this.presenceTimer);
    if (port.isOpen) port.close(() => {});
    this.retry(why);
  }

  private retry(why: string): void {
    if (this.stopped) return;
    const delay = backoffDelayMs(this.attempt++, this.options.reconnect ?? DEFAULT_RECONNECT);
    if (this.attempt === 1 || this.attempt % 20 === 0) this.log.warn({ why, retryInMs: delay, attempt: this.attempt }, 'GPS receiver unavailable');
    this.setState('disconnected', why);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
