import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HubSqlTarget } from '../../sync/hub/hub-sql.js';

export const SAFEGATE_BIN = fileURLToPath(new URL('../../bin/safegate.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command had to be killed (ETIMEDOUT) or could not start. */
  error: Error | undefined;
}

/**
 * Runs the real `safegate` command to completion, as an operator would (the executable, with its
 * shebang's Node flags); `env` is added to this process's environment (DATABASE_URL, say).
 */
export function safegate(args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(SAFEGATE_BIN, args, {
    cwd: options.cwd,
    input: options.input,
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
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
export function safegateProcess(args: string[], onLog: (entry: Record<string, unknown>) => void = () => {}, options: { env?: NodeJS.ProcessEnv } = {}): RunningProcess {
  const child = spawn(SAFEGATE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(options.env ? { env: { ...process.env, ...options.env } } : {}) });
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

/**
 * Where a hub command keeps its directory, for a test's directory backend (test/helpers/directory-db.ts):
 * the settings' `directory.path` for SQLite, DATABASE_URL in the command's environment for PostgreSQL
 * (the settings' path is then unused, and no such file may appear).
 */
export function hubDirectoryAt(target: HubSqlTarget): { path: string; env: NodeJS.ProcessEnv } {
  return target.kind === 'sqlite' ? { path: target.path, env: { DATABASE_URL: '' } } : { path: 'directory-not-used.db', env: { DATABASE_URL: target.url } };
}
