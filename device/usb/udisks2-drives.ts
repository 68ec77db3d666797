import { EventEmitter } from 'node:events';
import type { MessageBus, ClientInterface } from 'dbus-next';
import { DRIVE_ID_PATTERN } from '../../base/common/ids.js';
import { writeDurably } from './durable-write.js';
import { DriveError, type RemovableDrive, type RemovableDrives, type WrittenFile } from './removable-drives.js';

const UDISKS = 'org.freedesktop.UDisks2';
const ROOT = '/org/freedesktop/UDisks2';
const BLOCK = 'org.freedesktop.UDisks2.Block';
const FILESYSTEM = 'org.freedesktop.UDisks2.Filesystem';
const DRIVE = 'org.freedesktop.UDisks2.Drive';
const OBJECT_MANAGER = 'org.freedesktop.DBus.ObjectManager';

/** What GetManagedObjects answers: object path -> interface -> property -> value (dbus-next Variants). */
export type ManagedObjects = Record<string, Record<string, Record<string, { value: unknown } | undefined> | undefined>>;

export interface UdisksFilesystem {
  drive: RemovableDrive;
  blockPath: string;
  drivePath: string;
  mountPoints: string[];
}

function prop<T>(objects: ManagedObjects, path: string, iface: string, name: string): T | undefined {
  return objects[path]?.[iface]?.[name]?.value as T | undefined;
}

/** A D-Bus byte string (`ay`, NUL-terminated) as text. */
function byteString(v: unknown): string {
  const bytes = Buffer.isBuffer(v) ? v : Array.isArray(v) ? Buffer.from(v as number[]) : Buffer.alloc(0);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
}

/**
 * The writable filesystems on removable USB drives among udisks2's objects: a Block with a
 * Filesystem, not hidden, not a system device, not read-only, on a Drive that is removable or on the
 * USB bus. The drive id is the block device's name (`sdb1`). Pure, so it is tested with objects as
 * udisks2 describes them.
 */
export function removableFilesystems(objects: ManagedObjects): UdisksFilesystem[] {
  const out: UdisksFilesystem[] = [];
  for (const [path, ifaces] of Object.entries(objects)) {
    if (!ifaces?.[BLOCK] || !ifaces[FILESYSTEM]) continue;
    if (prop<boolean>(objects, path, BLOCK, 'HintIgnore') || prop<boolean>(objects, path, BLOCK, 'HintSystem') !== false) continue;
    if (prop<boolean>(objects, path, BLOCK, 'ReadOnly')) continue;
    const drivePath = prop<string>(objects, path, BLOCK, 'Drive') ?? '/';
    const removable =
      prop<boolean>(objects, drivePath, DRIVE, 'Removable') === true ||
      prop<boolean>(objects, drivePath, DRIVE, 'MediaRemovable') === true ||
      prop<string>(objects, drivePath, DRIVE, 'ConnectionBus') === 'usb';
    if (!removable) continue;
    const id = path.slice(path.lastIndexOf('/') + 1);
    if (!DRIVE_ID_PATTERN.test(id)) continue;
    const size = prop<bigint | number>(objects, path, BLOCK, 'Size');
    const fsLabel = (prop<string>(objects, path, BLOCK, 'IdLabel') ?? '').trim();
    const model = [prop<string>(objects, drivePath, DRIVE, 'Vendor'), prop<string>(objects, drivePath, DRIVE, 'Model')]
      .map((s) => (s ?? '').trim())
      .filter(Boolean)
      .join(' ');
    const mounts = prop<unknown[]>(objects, path, FILESYSTEM, 'MountPoints') ?? [];
    out.push({
      drive: { id, label: fsLabel || model || id, sizeBytes: size === undefined ? null : Number(size) },
      blockPath: path,
      drivePath,
      mountPoints: mounts.map(byteString).filter(Boolean),
    });
  }
  return out.sort((a, b) => a.drive.id.localeCompare(b.drive.id));
}

type Bus = Pick<MessageBus, 'getProxyObject' | 'disconnect' | 'on' | 'once'>;

/** Calls a D-Bus method through a dbus-next proxy interface (its methods are looked up by name). */
async function call(iface: ClientInterface, method: string, ...args: unknown[]): Promise<unknown> {
  const fn = iface[method] as ((...a: unknown[]) => Promise<unknown>) | undefined;
  if (typeof fn !== 'function') throw new DriveError(`udisks2 has no ${method} here`);
  return fn.apply(iface, args);
}

/**
 * Removable drives through udisks2 on the system bus: a drive is mounted for the kiosk's user
 * (`Filesystem.Mount`, no interactive authentication: the polkit rule in
 * config/polkit/50-safegate-udisks2.rules grants the service user this), written and synced, then
 * unmounted and powered off (`Filesystem.Unmount`, `Drive.PowerOff`). Drives coming and going are
 * udisks2's InterfacesAdded / InterfacesRemoved signals. The constructor only stores its dependency.
 */
export class Udisks2Drives implements RemovableDrives {
  private readonly events = new EventEmitter<{ change: [] }>();
  private bus: Bus | undefined;
  private manager: ClientInterface | undefined;

  /** `connect` opens the bus (dbus-next's systemBus by default, loaded only when used). */
  constructor(private readonly connect: () => Promise<Bus> = async () => (await import('dbus-next')).systemBus()) {}

  async start(): Promise<void> {
    const bus = await this.connect();
    // The bus reports a failed or lost connection as an 'error' event: without a listener that would
    // end the kiosk. Before start completes it fails the start; later it only drops the drives.
    const failed = new Promise<never>((_, reject) => bus.once('error', reject));
    bus.on('error', () => {
      this.manager = undefined;
      this.events.emit('change');
    });
    try {
      const root = await Promise.race([bus.getProxyObject(UDISKS, ROOT), failed]);
      this.manager = root.getInterface(OBJECT_MANAGER);
    } catch (err) {
      bus.disconnect();
      throw new DriveError(`udisks2 is not available on the system bus (${(err as Error).message})`, { cause: err });
    }
    this.bus = bus;
    const changed = (): boolean => this.events.emit('change');
    this.manager.on('InterfacesAdded', changed);
    this.manager.on('InterfacesRemoved', changed);
  }

  stop(): Promise<void> {
    this.manager?.removeAllListeners();
    // Its 'error' listener stays: a socket closing late must not end the kiosk.
    this.bus?.disconnect();
    this.bus = undefined;
    this.manager = undefined;
    return Promise.resolve();
  }

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private async filesystems(): Promise<UdisksFilesystem[]> {
    if (!this.manager) throw new DriveError('udisks2 is not connected');
    return removableFilesystems((await call(this.manager, 'GetManagedObjects')) as ManagedObjects);
  }

  /** None while udisks2 is not connected (a machine without it: exports go to the screen). */
  async list(): Promise<RemovableDrive[]> {
    if (!this.manager) return [];
    return (await this.filesystems()).map((f) => f.drive);
  }

  private async find(driveId: string): Promise<UdisksFilesystem> {
    const found = (await this.filesystems()).find((f) => f.drive.id === driveId);
    if (!found) throw new DriveError('that drive is not plugged in any more', { safeToRemove: true });
    return found;
  }

  private async iface(path: string, name: string): Promise<ClientInterface> {
    if (!this.bus) throw new DriveError('udisks2 is not connected');
    return (await this.bus.getProxyObject(UDISKS, path)).getInterface(name);
  }

  private async options(): Promise<Record<string, unknown>> {
    const { Variant } = await import('dbus-next');
    return { 'auth.no_user_interaction': new Variant('b', true) };
  }

  async write(driveId: string, fileName: string, bytes: Uint8Array): Promise<WrittenFile> {
    const fs = await this.find(driveId);
    let mountPoint = fs.mountPoints[0];
    const mountedHere = mountPoint === undefined;
    if (mountPoint === undefined) {
      try {
        mountPoint = (await call(await this.iface(fs.blockPath, FILESYSTEM), 'Mount', await this.options())) as string;
      } catch (err) {
        throw new DriveError(`the drive could not be mounted: ${(err as Error).message}`, { cause: err, safeToRemove: true });
      }
    }
    try {
      const name = await writeDurably(mountPoint, fileName, bytes);
      return { drive: fs.drive, fileName: name, bytes: bytes.byteLength };
    } catch (err) {
      if (!mountedHere) throw err;
      // This call mounted the drive: it does not leave it mounted after a failure (full, read-only, an I/O error).
      const safeToRemove = await this.unmount(fs.blockPath);
      if (!(err instanceof DriveError)) throw err;
      throw new DriveError(err.message, { cause: err, safeToRemove });
    }
  }

  /** Unmounts a filesystem; true when it is no longer mounted. */
  private async unmount(blockPath: string): Promise<boolean> {
    try {
      await call(await this.iface(blockPath, FILESYSTEM), 'Unmount', await this.options());
      return true;
    } catch {
      return false;
    }
  }

  async eject(driveId: string): Promise<void> {
    const fs = await this.find(driveId);
    const options = await this.options();
    if (fs.mountPoints.length > 0) {
      try {
        await call(await this.iface(fs.blockPath, FILESYSTEM), 'Unmount', options);
      } catch (err) {
        throw new DriveError(`the drive could not be unmounted: ${(err as Error).message}`, { cause: err });
      }
    }
    // Powering off is a courtesy (the light goes out); some drives cannot, and unmounted is already safe.
    try {
      await call(await this.iface(fs.drivePath, DRIVE), 'PowerOff', options);
    } catch {
      /* unmounted is what makes it safe to remove */
    }
  }
}
