import { readFileSync, readlinkSync, readdirSync, realpathSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { RuntimeStatus } from '../runtime.js';
import { warn, type CheckOutcome } from './check.js';

/**
 * A `safegate run` process on the settings file `configFile`, found through /proc/<pid>/cmdline
 * (readable for every user's processes, unlike /proc/<pid>/fd): a kiosk in every mode, a running
 * one, one waiting for its enrolment code (it opens no store and publishes no status), or one
 * started by systemd as the service user. The self-test must then leave its scanner port and GPIO
 * lines alone. null when none is found or there is no /proc.
 *
 * A process whose settings file cannot be resolved (a relative path and a working folder this user
 * cannot read) counts as running on this file: taking the lines of a live gate is worse than not
 * testing them.
 */
export function kioskProcessFor(configFile: string, procDir = '/proc', self = process.pid): number | null {
  const wanted = canonical(resolve(configFile));
  let pids: string[];
  try {
    pids = readdirSync(procDir).filter((n) => /^\d+$/.test(n));
  } catch {
    return null;
  }
  for (const pid of pids) {
    if (Number(pid) === self) continue;
    let argv: string[];
    try {
      argv = readFileSync(join(procDir, pid, 'cmdline'), 'utf8').split('\0');
    } catch {
      continue;
    }
    const config = runConfigArg(argv);
    if (config === undefined) continue;
    if (config === null) return Number(pid);
    let file: string | null = config;
    if (!isAbsolute(config)) {
      try {
        file = resolve(readlinkSync(join(procDir, pid, 'cwd')), config);
      } catch {
        file = null;
      }
    }
    if (file === null || canonical(file) === wanted) return Number(pid);
  }
  return null;
}

/**
 * The `--config` of a `safegate run` command line (`node …/safegate.js run --config F`, or the
 * installed `safegate run --config=F`); null for a `safegate run` without one; undefined for any
 * other process (including `safegate hub run`).
 */
export function runConfigArg(argv: readonly string[]): string | null | undefined {
  const script = argv.findIndex((a) => /^safegate(\.js|\.mjs)?$/.test(basename(a)));
  if (script < 0) return undefined;
  const rest = argv.slice(script + 1);
  const command = rest.find((a) => a !== '' && !a.startsWith('-'));
  if (command !== 'run') return undefined;
  for (const [i, a] of rest.entries()) {
    if (a === '--config') return rest[i + 1] || null;
    if (a.startsWith('--config=')) return a.slice('--config='.length) || null;
  }
  return null;
}

/**
 * Whether `pid` still runs `safegate run` (a status file whose kiosk died and whose pid went to another
 * program must not make the self-test trust it). true when its command line cannot be read.
 */
export function pidRunsKiosk(pid: number, procDir = '/proc'): boolean {
  let argv: string[];
  try {
    argv = readFileSync(join(procDir, String(pid), 'cmdline'), 'utf8').split('\0');
  } catch {
    return true;
  }
  return runConfigArg(argv) !== undefined;
}

function canonical(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/** A kiosk running on the self-test's settings: the scanner and GPIO checks report it and never take its hardware. */
export interface RunningKiosk {
  pid: number;
  /**
   * What it published in its runtime status; null when nothing is readable here (a kiosk waiting for
   * its enrolment code, a kiosk running as another user, or a version that did not publish it).
   */
  status: RuntimeStatus | null;
}

/** Held by a running kiosk whose state this self-test cannot read: not tested, and says how to see it. */
export function heldStateUnknown(k: RunningKiosk, what: string): CheckOutcome {
  return warn(
    `held by the running kiosk (pid ${k.pid}), not taken; its ${what} is not known here (a kiosk waiting for its enrolment code publishes none, and another user's is not readable)`,
    "run the self-test as the kiosk's user with its runtime folder, as the service does: `sudo -u safegate env SAFEGATE_RUNTIME_DIR=/run/safegate safegate selftest --config FILE`",
  );
}
