import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../helpers/mosquitto.js';

/** Debian's gpsd, when this machine has it (scripts/setup.sh test installs it). */
export const GPSD_BINARY = ['/usr/sbin/gpsd', '/usr/bin/gpsd'].find((p) => spawnSync(p, ['-V']).status === 0);

/**
 * A real gpsd on loopback reading a GPS "receiver" that is a socat pty: the test writes NMEA into
 * the pty's other end. gpsd runs in the foreground (-N), opens the device at once (-n), never writes
 * configuration to it (-b), listens on a free port (-S) with its control socket in `dir` (-F).
 * GPSD_DEBUG=<level> in the environment passes -D <level> and copies gpsd's log to stderr.
 */
export class GpsdPeer {
  readonly pty: WorldReadablePty;
  port = 0;
  private gpsd: ChildProcess | undefined;
  private stderr = '';

  constructor(private readonly dir: string) {
    this.pty = new WorldReadablePty(dir);
  }

  async start(): Promise<void> {
    if (!GPSD_BINARY) throw new Error('gpsd is not installed');
    // gpsd drops root after start-up and reopens a replugged device as its own user: let it reach the pty's name.
    chmodSync(this.dir, 0o755);
    await this.plug();
    this.port = await freePort();
    const debug = process.env.GPSD_DEBUG ? ['-D', process.env.GPSD_DEBUG] : [];
    const args = [...debug, '-N', '-n', '-b', '-S', String(this.port), '-F', join(this.dir, 'gpsd.sock'), this.pty.devicePath];
    const gpsd = spawn(GPSD_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.gpsd = gpsd;
    gpsd.stderr?.on('data', (b: Buffer) => {
      if (process.env.GPSD_DEBUG) process.stderr.write(b);
      if (this.stderr.length < 10_000) this.stderr += b.toString();
    });
    const deadline = Date.now() + 15_000;
    while (!(await this.listening())) {
      if (gpsd.exitCode !== null) throw new Error(`gpsd exited with ${gpsd.exitCode}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`gpsd did not listen in 15 s: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * A new pty under the same name. A running gpsd is told
   * the device is back the way Debian's udev hotplug rule tells it (gpsdctl add: `+path` on its
   * control socket): gpsd forgets a device that fails to reopen.
   */
  async plug(): Promise<void> {
    await this.pty.plug();
    if (this.gpsd) await this.control(`+${this.pty.devicePath}\r\n`, ['OK']);
  }

  /** One command on gpsd's control socket (-F), as gpsdctl sends it; gpsd answers OK or ERROR. */
  private async control(command: string, expected: string[]): Promise<void> {
    const { createConnection } = await import('node:net');
    const answer = await new Promise<string>((resolve, reject) => {
      const s = createConnection(join(this.dir, 'gpsd.sock'));
      let text = '';
      s.setTimeout(10_000, () => s.destroy(new Error('gpsd control socket: no answer in 10 s')));
      s.once('connect', () => s.write(command));
      s.on('data', (b: Buffer) => {
        text += b.toString();
        if (text.includes('\n')) s.end();
      });
      s.once('close', () => resolve(text.trim()));
      s.once('error', reject);
    });
    if (!expected.includes(answer)) throw new Error(`gpsd control socket answered ${JSON.stringify(answer)} to ${JSON.stringify(command.trim())}`);
  }

  /**
   * The receiver's device goes away, and gpsd is told as Debian's udev hotplug rule tells it
   * (gpsdctl remove: `-path`). ERROR is fine there: gpsd may have noticed and dropped the device first.
   */
  async unplug(): Promise<void> {
    await this.pty.unplug();
    if (this.gpsd) await this.control(`-${this.pty.devicePath}\r\n`, ['OK', 'ERROR']);
  }

  async stop(): Promise<void> {
    const gpsd = this.gpsd;
    this.gpsd = undefined;
    if (gpsd && gpsd.exitCode === null && gpsd.signalCode === null) {
      await new Promise<void>((resolve) => {
        gpsd.once('exit', () => resolve());
        gpsd.kill('SIGTERM');
      });
    }
    await this.pty.unplug();
  }

  private async listening(): Promise<boolean> {
    const { createConnection } = await import('node:net');
    return new Promise((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port: this.port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  }
}

/**
 * test/helpers/pty.ts's PtyPair, with the device end created readable by anyone (socat mode=666):
 * gpsd drops root after start-up, and reopens a replugged device as its own user, at any moment.
 */
class WorldReadablePty {
  readonly devicePath: string;
  readonly hostPath: string;
  private socat: ChildProcess | undefined;
  private host: FileHandle | undefined;

  constructor(dir: string) {
    this.devicePath = join(dir, 'gps-device');
    this.hostPath = join(dir, 'gps-host');
  }

  async plug(): Promise<void> {
    if (this.socat) throw new Error('already plugged');
    const socat = spawn('socat', [`pty,raw,echo=0,mode=666,link=${this.devicePath}`, `pty,raw,echo=0,link=${this.hostPath}`], { stdio: 'ignore' });
    this.socat = socat;
    const deadline = Date.now() + 10_000;
    while (!(existsSync(this.devicePath) && existsSync(this.hostPath))) {
      if (socat.exitCode !== null) throw new Error(`socat exited with ${socat.exitCode}`);
      if (Date.now() > deadline) throw new Error('socat did not create the pty pair in 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    this.host = await open(this.hostPath, 'w');
  }

  async write(data: string | Uint8Array): Promise<void> {
    if (!this.host) throw new Error('not plugged');
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += (await this.host.write(buf, off, Math.min(4096, buf.length - off))).bytesWritten;
  }

  async unplug(): Promise<void> {
    const socat = this.socat;
    this.socat = undefined;
    if (socat && socat.exitCode === null && socat.signalCode === null) {
      await new Promise<void>((resolve) => {
        socat.once('exit', () => resolve());
        socat.kill('SIGTERM');
      });
    }
    const host = this.host;
    this.host = undefined;
    await host?.close().catch(() => {});
  }
}
