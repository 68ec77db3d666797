import { EventEmitter } from 'node:events';
import { realpathSync } from 'node:fs';
import { SerialPort } from 'serialport';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../../base/common/backoff.js';
import { ScanLineFramer, type FramedLine, type LineSuffix } from './framing.js';
import type { Scanner, ScannerEvents, ScannerState } from './scanner.js';

export interface SerialScannerOptions {
  /** A fixed device path, or find the port by USB ids on every (re)connect. */
  path?: string;
  usb?: { vendorId: string; productId: string };
  baudRate: number;
  suffix: LineSuffix;
  maxLineLength: number;
  reconnect?: { initialMs: number; maxMs: number };
}

const DEFAULT_RECONNECT = { initialMs: 200, maxMs: 5_000 };
/** How often an open port checks that its device node is still the one it opened. */
const PRESENCE_CHECK_MS = 1_000;

function deviceNode(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * A barcode scanner on a serial or USB-serial port. When the scanner is unplugged (the port closes
 * or errors) it reopens with backoff until the scanner returns; partial lines are discarded.
 */
export class SerialScanner extends EventEmitter<ScannerEvents> implements Scanner {
  readonly source = 'serial' as const;
  private currentState: ScannerState = 'stopped';
  private port: SerialPort | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private presenceTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = true;

  constructor(
    private readonly options: SerialScannerOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  get state(): ScannerState {
    return this.currentState;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
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

  private setState(state: ScannerState, detail?: string): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state, detail);
  }

  private async resolvePath(): Promise<string> {
    if (this.options.path) return this.options.path;
    const usb = this.options.usb;
    if (!usb) throw new Error('no scanner path or USB ids configured');
    const ports = await SerialPort.list();
    const match = ports.find((p) => p.vendorId?.toLowerCase() === usb.vendorId && p.productId?.toLowerCase() === usb.productId);
    if (!match) throw new Error(`no serial port with USB id ${usb.vendorId}:${usb.productId}`);
    return match.path;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setState(this.attempt === 0 ? 'connecting' : 'disconnected');
    let path: string;
    try {
      path = await this.resolvePath();
    } catch (err) {
      this.retry((err as Error).message);
      return;
    }
    if (this.stopped) return;
    const port = new SerialPort({ path, baudRate: this.options.baudRate, autoOpen: false });
    const framer = new ScanLineFramer(this.options.suffix, this.options.maxLineLength);
    framer.on('data', (line: FramedLine) => {
      if (line.kind === 'line') this.emit('line', line);
      else this.emit('rejected', line);
    });
    port.on('error', (err) => this.log.warn({ err: err.message, path }, 'scanner port error'));
    port.on('close', () => {
      port.unpipe(framer);
      this.drop(port, 'port closed (scanner unplugged?)');
    });
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
      port.pipe(framer);
      this.watchPresence(port, path);
      this.log.info({ path }, 'scanner connected');
      this.setState('ready');
    });
  }

  /**
   * The kernel does not always report a hang-up to a reader that is idle, so an open port also checks
   * that its device node still exists and is the same one (an unplugged USB scanner's node vanishes;
   * a replugged one may come back as another node behind the same by-id path).
   */
  private watchPresence(port: SerialPort, path: string): void {
    const opened = deviceNode(path);
    clearInterval(this.presenceTimer);
    this.presenceTimer = setInterval(() => {
      if (this.port !== port) return;
      const now = deviceNode(path);
      if (now !== opened) {
        this.log.warn({ path }, 'scanner device node vanished or changed; reopening');
        this.drop(port, 'device node vanished or changed');
      }
    }, PRESENCE_CHECK_MS);
  }

  /** Forgets a port that is gone (closing it if it still can be) and starts reconnecting. */
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
    if (this.attempt === 1 || this.attempt % 20 === 0) this.log.warn({ why, retryInMs: delay, attempt: this.attempt }, 'scanner unavailable');
    this.setState('disconnected', why);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}
