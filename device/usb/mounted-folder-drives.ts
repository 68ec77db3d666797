import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { basename, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { EventEmitter } from 'node:events';
import { MountWatcher, readMountInfo, type MountEntry } from './mountinfo.js';
import { writeDurably } from './durable-write.js';
import { DriveError, type RemovableDrive, type RemovableDrives, type WrittenFile } from './removable-drives.js';

const run = promisify(execFile);

/** A drive id from a mount point's place under the folder: what the id pattern allows, at most 64 characters. */
export function driveIdFor(folder: string, mountPoint: string): string {
  const id = relative(folder, mountPoint).split(sep).join('.').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return (id || 'drive').slice(0, 64);
}

/** Where the system's own filesystems live; a drive is never one of them (`drivesFolder: /` lists none of these). */
const SYSTEM_FOLDERS = ['/boot', '/dev', '/etc', '/home', '/opt', '/proc', '/root', '/srv', '/sys', '/usr', '/var'];

/**
 * A mount that is the system's, not a plugged drive: the root filesystem (or another mount of its
 * device), a filesystem not on a block device (proc, sysfs, tmpfs, overlay...), or one in a system
 * folder. /run is the system's too, except /run/media where desktops mount drives.
 */
export function isSystemMount(m: MountEntry, root: MountEntry | undefined): boolean {
  if (m.mountPoint === '/' || (root !== undefined && m.device === root.device)) return true;
  if (!m.source.startsWith('/dev/')) return true;
  const under = (folder: string) => m.mountPoint === folder || m.mountPoint.startsWith(`${folder}/`);
  if (under('/run') && !m.mountPoint.startsWith('/run/media/')) return true;
  return SYSTEM_FOLDERS.some(under);
}

/**
 * Drives that something else mounts under one folder (an automounter such as usbmount, a desktop's
 * udisks2 session, or a test): every writable filesystem mounted below the folder is a drive. The
 * mount table is watched (see MountWatcher). Eject unmounts with umount(8), which needs root or a
 * `user` mount; when it fails the file is written but the drive is not reported safe to remove.
 * The constructor only stores its settings.
 */
export class MountedFolderDrives implements RemovableDrives {
  private readonly events = new EventEmitter<{ change: [] }>();
  private readonly watcher: MountWatcher;

  private readonly mountInfoFile: string | undefined;

  constructor(
    private readonly folder: string,
    options: { pollMs?: number; mountInfoFile?: string } = {},
  ) {
    this.mountInfoFile = options.mountInfoFile;
    this.watcher = new MountWatcher(() => this.events.emit('change'), options.pollMs ?? 1000, options.mountInfoFile);
  }

  start(): Promise<void> {
    return this.watcher.start();
  }

  stop(): Promise<void> {
    this.watcher.stop();
    return Promise.resolve();
  }

  /** Reads the mount table now and reports a change at once (tests, and before a list on demand). */
  refresh(): Promise<void> {
    return this.watcher.check();
  }

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private async mounts(): Promise<{ mount: MountEntry; drive: RemovableDrive }[]> {
    const prefix = this.folder.endsWith(sep) ? this.folder : this.folder + sep;
    const all = await readMountInfo(this.mountInfoFile);
    // The last mount on a point is the one that shows (a mount over a mount hides it).
    const byPoint = new Map<string, MountEntry>();
    for (const m of all) if (m.mountPoint.startsWith(prefix)) byPoint.set(m.mountPoint, m);
    const root = byPoint.get('/') ?? all.findLast((m) => m.mountPoint === '/');
    for (const [point, m] of byPoint) if (isSystemMount(m, root)) byPoint.delete(point);
    const out: { mount: MountEntry; drive: RemovableDrive }[] = [];
    for (const m of byPoint.values()) {
      if (m.readOnly) continue;
      let sizeBytes: number | null = null;
      try {
        const s = await statfs(m.mountPoint);
        sizeBytes = s.blocks * s.bsize;
      } catch {
        // A mount point we cannot stat is still listed; its size is unknown.
      }
      out.push({ mount: m, drive: { id: driveIdFor(this.folder, m.mountPoint), label: basename(m.mountPoint), sizeBytes } });
    }
    return out.sort((a, b) => a.drive.id.localeCompare(b.drive.id));
  }

  async list(): Promise<RemovableDrive[]> {
    return (await this.mounts()).map((m) => m.drive);
  }

  private async find(driveId: string): Promise<{ mount: MountEntry; drive: RemovableDrive }> {
    const found = (await this.mounts()).find((m) => m.drive.id === driveId);
    if (!found) throw new DriveError('that drive is not plugged in (or not mounted) any more', { safeToRemove: true });
    return found;
  }

  async write(driveId: string, fileName: string, bytes: Uint8Array): Promise<WrittenFile> {
    const { mount, drive } = await this.find(driveId);
    const name = await writeDurably(mount.mountPoint, fileName, bytes);
    return { drive, fileName: name, bytes: bytes.byteLength };
  }

  async eject(driveId: string): Promise<void> {
    const { mount } = await this.find(driveId);
    try {
      await run('umount', [mount.mountPoint], { timeout: 30_000 });
    } catch (err) {
      const detail = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0];
      throw new DriveError(`the drive could not be unmounted: ${detail}`, { cause: err });
    }
    await this.watcher.check();
  }
}
