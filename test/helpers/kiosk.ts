import { once } from 'node:events';
import { loadSettings } from '../../src-main/core/config.js';
import type { Passage } from '../../src-main/core/gatekeeper.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import { createLogger } from '../../base/node/logger.js';
import type { Transition } from '../../device/gpio/output.js';
import { PtyPair } from './pty.js';
import { hubKeys, tempDir, waitFor, writeKioskConfig, type KioskConfigOptions } from './fixtures.js';

export interface LogRecord {
  level: number;
  msg: string;
  ns?: string;
  [k: string]: unknown;
}

/** A kiosk in this process reading a real pty as its serial scanner, with simulated GPIO. */
export class KioskUnderTest {
  readonly dir = tempDir('safegate-kiosk-');
  readonly keys = hubKeys(this.dir.path);
  readonly pty = new PtyPair(this.dir.path);
  readonly transitions: Transition[] = [];
  readonly logs: LogRecord[] = [];
  kiosk!: Kiosk;

  async start(options: KioskConfigOptions = {}): Promise<this> {
    await this.pty.plug();
    const file = writeKioskConfig(this.dir.path, { scannerPath: this.pty.devicePath, ...options });
    const log = createLogger({ level: 'debug', destination: { write: (s: string) => void this.logs.push(JSON.parse(s)) } });
    this.kiosk = new Kiosk(loadSettings(file), { headless: true, log, onTransition: (t) => this.transitions.push(t) });
    this.kiosk.start();
    await waitFor(() => (this.kiosk.scanner?.state === 'ready' ? true : undefined), 'scanner ready');
    return this;
  }

  /** Sends one code as the scanner would (with its suffix) and waits for the gate's answer. */
  async scan(text: string, suffix = '\r'): Promise<Passage> {
    const next = once(this.kiosk.gatekeeper, 'passage') as Promise<[Passage]>;
    await this.pty.write(text + suffix);
    const [passage] = await withTimeout(next, 5_000, `a passage for a scan`);
    return passage;
  }

  relayOpenings(): number {
    return this.transitions.filter((t) => t.output === 'relay' && t.active).length;
  }

  async stop(): Promise<void> {
    await this.kiosk?.stop();
    await this.pty.unplug();
    this.dir.remove();
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
