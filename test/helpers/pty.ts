import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A real pseudo-terminal pair made by socat: the kiosk opens `devicePath` as its serial scanner, the
 * test writes bytes into `hostPath` as the scanner would. `unplug()` ends socat (both ends vanish);
 * `plug()` makes a new pair under the same names.
 */
export class PtyPair {
  readonly devicePath: string;
  readonly hostPath: string;
  private socat: ChildProcess | undefined;
  private host: FileHandle | undefined;

  constructor(dir: string, name = 'scanner') {
    this.devicePath = join(dir, `${name}-device`);
    this.hostPath = join(dir, `${name}-host`);
  }

  async plug(): Promise<void> {
    if (this.socat) throw new Error('already plugged');
    const socat = spawn('socat', [`pty,raw,echo=0,link=${this.devicePath}`, `pty,raw,echo=0,link=${this.hostPath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.socat = socat;
    const deadline = Date.now() + 5_000;
    while (!(existsSync(this.devicePath) && existsSync(this.hostPath))) {
      if (socat.exitCode !== null) throw new Error(`socat exited with ${socat.exitCode}`);
      if (Date.now() > deadline) throw new Error('socat did not create the pty pair in 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    this.host = await open(this.hostPath, 'w');
  }

  /**
   * Writes asynchronously: a pty holds only a few KB, so a synchronous write of a large burst would
   * block this process's event loop, and with it a kiosk running in the same process.
   */
  async write(data: string | Uint8Array): Promise<void> {
    if (!this.host) throw new Error('not plugged');
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += (await this.host.write(buf, off, Math.min(4096, buf.length - off))).bytesWritten;
  }

  /**
   * Ends socat first: a write blocked on a full pty (nobody reading the device end) then fails with
   * EIO instead of hanging, and the host end can be closed.
   */
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
