import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { safegateProcess } from './cli.js';
import { hubKeys, tempDir, waitFor, writeKioskConfig, type KioskConfigOptions } from './fixtures.js';
import { PtyPair } from './pty.js';

export interface RunningKiosk {
  child: ChildProcess;
  logs: Record<string, unknown>[];
}

/**
 * A folder with hub keys, a kiosk settings file and a real pty pair, for running `safegate run` as
 * its own process the way operators do. `dispose()` kills what was started and removes the folder.
 */
export class KioskProcessRig {
  readonly dir = tempDir('safegate-rig-');
  readonly pty = new PtyPair(this.dir.path);
  readonly keys = hubKeys(this.dir.path);
  readonly config: string;
  private readonly children: ChildProcess[] = [];

  private constructor(options: KioskConfigOptions) {
    this.config = writeKioskConfig(this.dir.path, { scannerPath: this.pty.devicePath, pulseMs: 20, ...options });
  }

  static async create(options: KioskConfigOptions = {}): Promise<KioskProcessRig> {
    const rig = new KioskProcessRig(options);
    await rig.pty.plug();
    return rig;
  }

  /** Writes a roster CSV of workers who pass the default policy now; returns its path. */
  rosterCsv(name: string, ids: readonly string[]): string {
    const file = join(this.dir.path, name);
    const now = new Date().toISOString();
    writeFileSync(file, `worker_id,display_name,company,team,declared_at,vaccine_doses\n${ids.map((id) => `${id},Công nhân ${id},Công ty A,Tổ 1,${now},2`).join('\n')}\n`);
    return file;
  }

  /** Starts `safegate run --headless` and resolves once its scanner port is open. */
  async startKiosk(onLog?: (entry: Record<string, unknown>) => void): Promise<RunningKiosk> {
    const running = safegateProcess(['run', '--config', this.config, '--headless'], onLog);
    this.children.push(running.child);
    await waitFor(() => (running.logs.some((l) => l.msg === 'scanner connected') ? true : undefined), 'kiosk ready', 20_000);
    return running;
  }

  async dispose(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    await this.pty.unplug();
    this.dir.remove();
  }
}
