import { constants } from 'node:fs';
import { access, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DriveError, EXPORT_FILE_NAME, freeName } from './removable-drives.js';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** A plain reason for what the filesystem said. */
export function driveFailure(err: unknown, what: string): DriveError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? 'the drive is full'
      : code === 'EROFS'
        ? 'the drive is read-only (check its lock switch)'
        : code === 'EACCES' || code === 'EPERM'
          ? 'the kiosk may not write to this drive'
          : code === 'EIO'
            ? 'the drive reported an error (it may have been pulled out)'
            : `the drive could not be written (${code ?? String(err)})`;
  return new DriveError(`${what}: ${reason}`, { cause: err });
}

/**
 * Writes a new file in `folder` and makes it durable: the file's data is fsynced, then the folder
 * (so the new name is on the drive too). Never overwrites; a name taken gets " (2)" and so on.
 * Returns the name used.
 */
export async function writeDurably(folder: string, fileName: string, bytes: Uint8Array): Promise<string> {
  if (!EXPORT_FILE_NAME.test(fileName)) throw new DriveError(`not an export file name: ${JSON.stringify(fileName.slice(0, 40))}`);
  // The names in use, read once (a drive's folder may be slow); `wx` below still refuses a race.
  const taken = new Set<string>();
  for (let n = 1; n < 1000; n++) {
    const candidate = freeName(fileName, (name) => taken.has(name));
    if (await exists(join(folder, candidate))) {
      taken.add(candidate);
      continue;
    }
    let file;
    try {
      file = await open(join(folder, candidate), 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        taken.add(candidate);
        continue;
      }
      throw driveFailure(err, 'cannot create the file');
    }
    try {
      await file.writeFile(bytes);
      await file.sync();
    } catch (err) {
      await file.close().catch(() => undefined);
      // A file cut short (a full drive) must not pass for an export: it goes (as far as the drive lets it).
      await unlink(join(folder, candidate)).catch(() => undefined);
      throw driveFailure(err, 'cannot write the file');
    }
    await file.close();
    const dir = await open(folder, 'r');
    try {
      await dir.sync();
    } catch (err) {
      // Some filesystems (vfat on older kernels) refuse fsync on a folder: the unmount that follows flushes it.
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw driveFailure(err, 'cannot sync the folder');
    } finally {
      await dir.close();
    }
    return candidate;
  }
  throw new DriveError('the drive already holds too many files of this name');
}
