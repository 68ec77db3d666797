import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { waitFor } from './fixtures.js';

const RECEIVER = fileURLToPath(new URL('./notify-socket-receiver.py', import.meta.url));

export interface Datagram {
  t: number;
  msg: string;
}

/** A fake systemd notify socket: a real unix datagram socket (python3), every datagram with the time it arrived. */
export class FakeNotifySocket {
  readonly datagrams: Datagram[] = [];
  private constructor(
    readonly address: string,
    private readonly child: ChildProcess,
  ) {}

  static async open(address: string): Promise<FakeNotifySocket> {
    const child = spawn('python3', ['-u', RECEIVER, address], { stdio: ['ignore', 'pipe', 'inherit'] });
    const socket = new FakeNotifySocket(address, child);
    let listening = false;
    let rest = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      rest += chunk;
      const lines = rest.split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        const entry = JSON.parse(line) as { listening?: boolean } & Datagram;
        if (entry.listening) listening = true;
        else socket.datagrams.push(entry);
      }
    });
    await waitFor(() => (listening ? true : undefined), 'the fake notify socket', 10_000);
    return socket;
  }

  /** The datagrams that carry this assignment (e.g. WATCHDOG=1). */
  with(assignment: string): Datagram[] {
    return this.datagrams.filter((d) => d.msg.split('\n').includes(assignment));
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await once(this.child, 'exit');
    }
  }
}
