import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, writeSync } from 'node:fs';
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
  private hostFd: number | undefined;

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
    this.hostFd = openSync(this.hostPath, 'w');
  }

  write(data: string | Uint8Array): void {
    if (this.hostFd === undefined) throw new Error('not plugged');
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += writeSync(this.hostFd, buf, off, Math.min(4096, buf.length - off));
  }

  async unplug(): Promise<void> {
    if (this.hostFd !== undefined) closeSync(this.hostFd);
    this.hostFd = undefined;
    const socat = this.socat;
    this.socat = undefined;
    if (!socat || socat.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      socat.once('exit', () => resolve());
      socat.kill('SIGTERM');
    });
  }
}
