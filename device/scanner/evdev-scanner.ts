import { EventEmitter } from 'node:events';
import { closeSync, constants, fstat, open, readSync, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import { backoffDelayMs, type Backoff } from '../../base/common/backoff.js';
import { EvdevDecoder, inputEventSize, type InputEventSize } from './evdev-decoder.js';
import type { FramedLine } from './framing.js';
import type { KeyboardLayout } from './keymap-us.js';
import type { Scanner, ScannerEvents, ScannerState } from './scanner.js';

export interface EvdevScannerOptions {
  /** The scanner's input device, best by id: /dev/input/by-id/usb-<maker>-event-kbd. */
  path: string;
  /**
   * Take the device for this process alone (EVIOCGRAB), so its keys reach no console or desktop.
   * Always on a real unit; off only where the path is not an input device (a FIFO in tests).
   */
  grab: boolean;
  maxLineLength: number;
  layout: KeyboardLayout;
  reconnect?: Backoff;
  /** `struct input_event`'s size; by default this process's (tests feed both). */
  recordSize?: InputEventSize;
}

const DEFAULT_RECONNECT: Backoff = { initialMs: 200, maxMs: 5_000 };
/** Records read per read(2): a scanner's burst is a few hundred; the kernel's queue holds far fewer. */
const RECORDS_PER_READ = 64;
/** Reads per readiness callback before yielding to the event loop (level-triggered: it calls again). */
const READS_PER_WAKE = 16;

/** _IOW('E', 0x90, int): linux/input.h. The grab ends when the descriptor closes. */
export const EVIOCGRAB = 0x40044590;

type Ioctl = (fd: number, request: number, type: 'int', value: number) => number;
let libc: Promise<{ ioctl: Ioctl; errno: () => number; names: Record<string, number> }> | undefined;

/** libc's ioctl through koffi, loaded once and only by a unit that grabs an input device. */
function loadLibc() {
  libc ??= (async () => {
    const { default: koffi } = await import('koffi');
    const lib = koffi.load('libc.so.6');
    // ioctl is variadic in C: declared as such, so the call follows the variadic calling convention.
    const ioctl = lib.func('int ioctl(int fd, unsigned long request, ...)') as unknown as Ioctl;
    return { ioctl, errno: () => koffi.errno(), names: koffi.os.errno };
  })();
  return libc;
}

/**
 * Takes the input device open on `fd` for this process alone. Throws an Error whose message says why
 * not: another program holds it, or the path is not an input device at all.
 */
export async function grabInputDevice(fd: number, path: string): Promise<void> {
  let lib: Awaited<ReturnType<typeof loadLibc>>;
  try {
    lib = await loadLibc();
  } catch (err) {
    libc = undefined;
    throw new Error(`cannot grab ${path}: the FFI binding (koffi) or libc did not load: ${(err as Error).message}`, { cause: err });
  }
  if (lib.ioctl(fd, EVIOCGRAB, 'int', 1) === 0) return;
  const e = lib.errno();
  const name = Object.entries(lib.names).find(([, n]) => n === e)?.[0] ?? `errno ${e}`;
  if (e === lib.names.EBUSY) {
    throw new Error(`cannot grab ${path}: another program holds this input device (a desktop session, or another safegate?), so its keys cannot be read alone`);
  }
  if (e === lib.names.ENOTTY || e === lib.names.EINVAL) {
    throw new Error(`cannot grab ${path}: not an input device (EVIOCGRAB refused: ${name}); set scanner.evdevPath to the scanner's /dev/input/by-id/...-event-kbd`);
  }
  throw new Error(`cannot grab ${path}: ${name}`);
}

function openReadOnly(path: string): Promise<number> {
  return new Promise((resolve, reject) =>
    open(path, constants.O_RDONLY | constants.O_NONBLOCK, (err, fd) => (err ? reject(err) : resolve(fd))),
  );
}

function whyNotOpen(err: NodeJS.ErrnoException, path: string): string {
  switch (err.code) {
    case 'ENOENT':
      return `${path} does not exist (scanner unplugged?)`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to read ${path} (the kiosk's user needs the input group)`;
    default:
      return `cannot open ${path}: ${err.code ?? err.message}`;
  }
}

interface Connection {
  fd: number;
  poller: { add(fd: number, events: number): unknown; remove(fd: number): unknown; close(): void };
  decoder: EvdevDecoder;
}

/**
 * A keyboard-mode (HID) barcode scanner read straight from its Linux input device, for a unit without
 * screens. The device is opened read-only and non-blocking, grabbed, and read when epoll says it is
 * readable (a blocking read could not be cancelled by stop(): it would hold a thread until the next key).
 * When the scanner is unplugged (ENODEV, end of input) it reopens by path with backoff; a code left
 * unfinished is dropped.
 */
export class EvdevScanner extends EventEmitter<ScannerEvents> implements Scanner {
  readonly source = 'evdev' as const;
  private currentState: ScannerState = 'stopped';
  private conn: Connection | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = true;
  /** Bumped by start() and stop(): a connect still opening when they ran gives up. */
  private generation = 0;
  private readonly recordSize: InputEventSize;
  private readonly buffer: Buffer;

  constructor(
    private readonly options: EvdevScannerOptions,
    private readonly log: Logger,
  ) {
    super();
    this.recordSize = options.recordSize ?? inputEventSize();
    this.buffer = Buffer.alloc(this.recordSize * RECORDS_PER_READ);
  }

  get state(): ScannerState {
    return this.currentState;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    void this.connect(++this.generation);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.retryTimer);
    const conn = this.conn;
    this.conn = undefined;
    if (conn) release(conn);
    this.setState('stopped');
    return Promise.resolve();
  }

  private setState(state: ScannerState, detail?: string): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state, detail);
  }

  private async connect(generation: number): Promise<void> {
    const current = () => !this.stopped && generation === this.generation;
    if (!current()) return;
    this.setState(this.attempt === 0 ? 'connecting' : 'disconnected');
    const { path } = this.options;
    let fd: number;
    try {
      fd = await openReadOnly(path);
    } catch (err) {
      if (current()) this.retry(generation, whyNotOpen(err as NodeJS.ErrnoException, path));
      return;
    }
    const fail = (why: string) => {
      safely(() => closeSync(fd));
      if (current()) this.retry(generation, why);
    };
    try {
      const stat = await new Promise<Stats>((resolve, reject) => fstat(fd, (e, s) => (e ? reject(e) : resolve(s))));
      if (!stat.isCharacterDevice() && !stat.isFIFO()) {
        fail(`${path} is not an input device (not a character device)`);
        return;
      }
      if (this.options.grab) await grabInputDevice(fd, path);
    } catch (err) {
      fail((err as Error).message);
      return;
    }
    if (!current()) {
      safely(() => closeSync(fd));
      return;
    }
    let conn: Connection;
    let poller: Connection['poller'] | undefined;
    try {
      const { Epoll } = (await import('epoll')).default;
      if (!current()) {
        safely(() => closeSync(fd));
        return;
      }
      const decoder = new EvdevDecoder({ recordSize: this.recordSize, maxLineLength: this.options.maxLineLength, layout: this.options.layout });
      const watched: { conn?: Connection } = {};
      poller = new Epoll((err) => {
        if (watched.conn) this.onReadable(watched.conn, err);
      });
      conn = watched.conn = { fd, poller, decoder };
      poller.add(fd, Epoll.EPOLLIN);
    } catch (err) {
      if (poller) safely(() => poller?.close());
      fail(`cannot watch ${path}: ${(err as Error).message}`);
      return;
    }
    this.conn = conn;
    this.attempt = 0;
    this.log.info({ path, grabbed: this.options.grab }, 'scanner connected');
    this.setState('ready');
  }

  private onReadable(conn: Connection, err: Error | null): void {
    if (this.conn !== conn) return;
    if (err) {
      this.drop(conn, `waiting for input failed: ${err.message}`);
      return;
    }
    for (let i = 0; i < READS_PER_WAKE; i++) {
      // A listener may have stopped the scanner, and its descriptor's number may be another file's now.
      if (this.conn !== conn) return;
      let n: number;
      try {
        n = readSync(conn.fd, this.buffer, 0, this.buffer.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return;
        if (code === 'EINTR') continue;
        this.drop(conn, code === 'ENODEV' ? 'input device gone (scanner unplugged?)' : `read failed: ${code ?? (e as Error).message}`);
        return;
      }
      if (n === 0) {
        this.drop(conn, 'end of input (scanner unplugged?)');
        return;
      }
      const lines = conn.decoder.push(this.buffer.subarray(0, n), process.hrtime.bigint());
      for (const line of lines) {
        // Nothing is emitted after stop(), even from lines read before it.
        if (this.conn !== conn) return;
        this.deliver(line);
      }
    }
  }

  private deliver(line: FramedLine): void {
    if (line.kind === 'line') this.emit('line', line);
    else this.emit('rejected', line);
  }

  /** Forgets a connection that is gone and starts reconnecting. */
  private drop(conn: Connection, why: string): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    release(conn);
    this.retry(this.generation, why);
  }

  private retry(generation: number, why: string): void {
    if (this.stopped || generation !== this.generation) return;
    const delay = backoffDelayMs(this.attempt++, this.options.reconnect ?? DEFAULT_RECONNECT);
    if (this.attempt === 1 || this.attempt % 20 === 0) this.log.warn({ why, retryInMs: delay, attempt: this.attempt }, 'scanner unavailable');
    this.setState('disconnected', why);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(generation), delay);
  }
}

function release(conn: Connection): void {
  // Closing the descriptor also ends the grab.
  safely(() => conn.poller.remove(conn.fd));
  safely(() => conn.poller.close());
  safely(() => closeSync(conn.fd));
}

function safely(f: () => unknown): void {
  try {
    f();
  } catch {
    // Releasing what is already gone: nothing left to do.
  }
}
