import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Another process that has the store's database open: the kiosk, when it runs as another user (the
 * packaged service user) whose runtime folder this user cannot see. Found through /proc/<pid>/fd (only
 * the processes this user may inspect: all of them for root); null when none is found or there is no
 * /proc. Used so the self-test does not take a running kiosk's scanner, GPIO lines or broker session.
 */
export function processHoldingFile(file: string, procDir = '/proc', self = process.pid): number | null {
  let target: string;
  try {
    target = realpathSync(file);
  } catch {
    return null;
  }
  let pids: string[];
  try {
    pids = readdirSync(procDir).filter((n) => /^\d+$/.test(n));
  } catch {
    return null;
  }
  for (const pid of pids) {
    if (Number(pid) === self) continue;
    let fds: string[];
    try {
      fds = readdirSync(join(procDir, pid, 'fd'));
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(join(procDir, pid, 'fd', fd)) === target) return Number(pid);
      } catch {
        // Closed meanwhile, or not ours to read.
      }
    }
  }
  return null;
}
