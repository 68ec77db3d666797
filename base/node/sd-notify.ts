import { spawn } from 'node:child_process';
import type { Logger } from './logger.js';

/**
 * systemd's service notifications (sd_notify(3)): READY=1 once the service is really up, STATUS=
 * lines, STOPPING=1 on shutdown, and WATCHDOG=1 pings from the event loop, so a loop that hangs stops
 * the pings and systemd (WatchdogSec=, Restart=) kills and restarts the service. With NOTIFY_SOCKET
 * unset (a shell, a test, a box without systemd) it does nothing at all: no timer, no process.
 *
 * The mechanism: Node cannot open unix DATAGRAM sockets (net has stream sockets only), so each message
 * is sent by Debian's own `systemd-notify` (package systemd, always on a systemd box), spawned with
 * the message's `KEY=VALUE` assignments. Chosen over an npm binding because the bindings are native
 * addons (`unix-dgram`: nan, last release years old; `sd-notify`: links libsystemd, needs its -dev
 * headers) that H6's arm64 cross build would have to compile and check under qemu for one datagram,
 * and over writing the datagram ourselves (impossible without such an addon). What this needs, and why
 * it is sound:
 * - The message comes from a child, not the main process: the unit must say `NotifyAccess=all`
 *   (packaging/, H6). `--pid=<our pid>` adds MAINPID=<our pid> (true already: we are the main
 *   process) and, where the sender may fake its credentials (root), makes the message ours.
 * - The cgroup-attribution race (systemd looks the sender's PID up when it reads the datagram; a
 *   sender that already exited belongs to no unit and its message is dropped) is closed by
 *   `systemd-notify`'s barrier, which it does by default on systemd 246 and later (252 in bookworm,
 *   257 in trixie): after the message it sends BARRIER=1 with a pipe and waits (up to 5 s) until the
 *   manager has read everything before it. So never `--no-block` here.
 * - Abstract sockets (`@name`) and paths are both handled by libsystemd inside systemd-notify.
 * - Only the documented `KEY=VALUE` lines are sent; a status text has its line breaks replaced, so it
 *   can never add an assignment of its own.
 * The watchdog pings come from a timer on the event loop (every WATCHDOG_USEC/2): while the loop is
 * blocked no timer fires and no `systemd-notify` is spawned. A ping still in flight is not doubled.
 */
export interface ServiceNotifierOptions {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** The program that sends a message (default `systemd-notify`, found on PATH). */
  command?: string;
}

const SEND_TIMEOUT_MS = 10_000;
const STATUS_MAX = 200;

export class ServiceNotifier {
  /** The interval of the watchdog pings, when systemd asked for them (WATCHDOG_USEC, for this process). */
  readonly watchdogMs: number | undefined;
  private readonly socket: string | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly command: string;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private pingInFlight = false;
  private failureLogged = false;
  private saidStopping = false;
  private queue: Promise<void> = Promise.resolve();

  /** Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID; the constructor starts nothing. */
  constructor(options: ServiceNotifierOptions) {
    this.env = options.env ?? process.env;
    this.log = options.log;
    this.command = options.command ?? 'systemd-notify';
    const socket = this.env.NOTIFY_SOCKET;
    this.socket = socket && (socket.startsWith('/') || socket.startsWith('@')) ? socket : undefined;
    if (socket && !this.socket) this.log.warn({ socket }, 'NOTIFY_SOCKET is neither a path nor an abstract name (@...): no service notifications');
    this.watchdogMs = this.socket ? watchdogIntervalMs(this.env) : undefined;
  }

  /** Whether systemd listens (NOTIFY_SOCKET set): otherwise every call does nothing. */
  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** Starts the watchdog pings, when systemd asked for them; call it early (the watchdog runs during start-up too). */
  start(): void {
    if (!this.watchdogMs || this.timer) return;
    this.log.info({ everyMs: this.watchdogMs }, 'systemd watchdog pings started');
    this.timer = setInterval(() => this.ping(), this.watchdogMs);
    // The pings never keep a process alive that has nothing else left to do.
    this.timer.unref();
    this.ping();
  }

  /** READY=1: the service is up (with a status line). */
  ready(status?: string): Promise<void> {
    return this.send(['READY=1', ...(status === undefined ? [] : [statusLine(status)])]);
  }

  status(text: string): Promise<void> {
    return this.send([statusLine(text)]);
  }

  /** STOPPING=1 (with a status line), and no more watchdog pings: the service is shutting down. Said once; later calls do nothing. */
  stopping(status?: string): Promise<void> {
    this.stopPings();
    if (this.saidStopping) return this.queue;
    this.saidStopping = true;
    return this.send(['STOPPING=1', ...(status === undefined ? [] : [statusLine(status)])]);
  }

  /** Ends the pings; resolves once every message already asked for was sent (or given up). */
  async stop(): Promise<void> {
    this.stopPings();
    await this.queue;
  }

  private stopPings(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private ping(): void {
    if (this.pingInFlight) return;
    this.pingInFlight = true;
    void this.send(['WATCHDOG=1']).finally(() => {
      this.pingInFlight = false;
    });
  }

  /** Messages go out one at a time, in the order asked for (READY before a later STATUS). */
  private send(assignments: string[]): Promise<void> {
    if (!this.socket) return Promise.resolve();
    const next = this.queue.then(() => this.spawnNotify(assignments));
    this.queue = next;
    return next;
  }

  private spawnNotify(assignments: string[]): Promise<void> {
    return new Promise((resolve) => {
      let stderr = '';
      const child = spawn(this.command, [`--pid=${process.pid}`, ...assignments], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...this.env, NOTIFY_SOCKET: this.socket },
        timeout: SEND_TIMEOUT_MS,
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < 500) stderr += chunk;
      });
      const fail = (reason: string): void => {
        // Logged once: a box whose systemd-notify is missing would otherwise log every ping.
        if (!this.failureLogged) this.log.error({ reason, message: assignments.map((a) => a.split('=')[0]).join(',') }, 'systemd notification not sent');
        this.failureLogged = true;
      };
      child.on('error', (err) => {
        fail(err.message);
        resolve();
      });
      child.on('close', (code, signal) => {
        if (code !== 0) fail(signal ? `systemd-notify killed (${signal})` : `systemd-notify exit ${code}: ${stderr.trim().split('\n')[0] ?? ''}`);
        resolve();
      });
    });
  }
}

/** STATUS=<text> on one line (a line break would start an assignment of its own). */
function statusLine(text: string): string {
  return `STATUS=${text.replace(/[\r\n]+/g, ' ').slice(0, STATUS_MAX)}`;
}

/**
 * Half of WATCHDOG_USEC in ms, when the watchdog is meant for this process (WATCHDOG_PID unset or
 * ours); undefined otherwise, or when the value is not a positive number of microseconds.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv): number | undefined {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^[0-9]{1,15}$/.test(usec) || Number(usec) === 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== String(process.pid)) return undefined;
  return Math.max(1, Math.floor(Number(usec) / 2_000));
}
