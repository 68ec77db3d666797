import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./smtp-server-child.mjs', import.meta.url));

export interface ReceivedMail {
  from: string | undefined;
  to: string[];
  /** The whole message as received (headers and body, as the client encoded them). */
  raw: string;
}

/**
 * A real SMTP server for tests: the smtp-server package in a child process on 127.0.0.1 (see
 * smtp-server-child.mjs), each accepted message a file in `folder`. `stop()` kills it (the mail
 * server is down: connections refused); `start()` again listens on the same port.
 */
export class TestSmtpServer {
  private child: ChildProcess | undefined;
  port = 0;

  constructor(readonly folder: string) {
    mkdirSync(folder, { recursive: true });
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(process.execPath, [CHILD, String(this.port), this.folder], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    this.port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the test SMTP server did not start within 10 s')), 10_000);
      child.stdout!.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const m = /listening (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the test SMTP server exited (${code}) before listening`));
      });
    });
  }

  /** Kills the server (SIGKILL: a crash, nothing finished). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Every message accepted so far, oldest first. */
  messages(): ReceivedMail[] {
    return readdirSync(this.folder)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(this.folder, f), 'utf8')) as ReceivedMail);
  }
}

/** The text of a message as a reader sees it (quoted-printable and encoded-word headers undone). */
export function readableMail(raw: string): string {
  const unfolded = raw.replace(/=\r?\n/g, '');
  const qp = unfolded.replace(/(=[0-9A-F]{2})+/g, (s) => Buffer.from(s.replace(/=/g, ''), 'hex').toString('utf8'));
  return qp.replace(/=\?utf-8\?([BQ])\?([^?]*)\?=/gi, (_s, enc: string, text: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : text.replace(/_/g, ' ').replace(/(=[0-9A-F]{2})+/g, (s) => Buffer.from(s.replace(/=/g, ''), 'hex').toString('utf8')),
  );
}
