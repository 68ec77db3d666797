import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const SAFEGATE_BIN = fileURLToPath(new URL('../../bin/safegate.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command had to be killed (ETIMEDOUT) or could not start. */
  error: Error | undefined;
}

/** Runs the real `safegate` command to completion, as an operator would (the executable, with its shebang's Node flags). */
export function safegate(args: string[], options: { cwd?: string; input?: string } = {}): CliResult {
  const r = spawnSync(SAFEGATE_BIN, args, {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

export interface RunningProcess {
  child: ChildProcess;
  logs: Record<string, unknown>[];
}

/** Starts `safegate` as a long-running process (e.g. `run`); its JSON log lines are parsed from stderr. */
export function safegateProcess(args: string[], onLog: (entry: Record<string, unknown>) => void = () => {}): RunningProcess {
  const child = spawn(SAFEGATE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let rest = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    rest += chunk;
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(l) as Record<string, unknown>;
      } catch {
        entry = { msg: l, unparsed: true };
      }
      logs.push(entry);
      onLog(entry);
    }
  });
  return { child, logs };
}
