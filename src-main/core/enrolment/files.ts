import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkPrivateDir } from '../../../base/node/private-files.js';

/**
 * Replaces a file of the enrolment folder (0600) whole and atomically: written to a temporary file
 * in the same folder, flushed, then renamed over the old one; never through a link. The folder is
 * made 0700 (with its parents) when missing and must be private.
 */
export function writeEnrolmentFile(file: string, content: string | Uint8Array): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkPrivateDir(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    if (typeof content === 'string') writeSync(fd, content);
    else writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
