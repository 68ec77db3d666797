import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Udisks2Drives } from '../../../device/usb/udisks2-drives.js';
import { DriveError } from '../../../device/usb/removable-drives.js';
import { readMountInfo } from '../../../device/usb/mountinfo.js';
import { tempDir } from '../../helpers/fixtures.js';

/**
 * The udisks2 adapter on a real D-Bus: a private dbus-daemon, and on it a stand-in for udisks2 that
 * answers the calls the adapter makes (ObjectManager.GetManagedObjects and its InterfacesAdded /
 * InterfacesRemoved signals, Filesystem.Mount / Unmount, Drive.PowerOff) and mounts a loop image
 * for real. udisks2 itself cannot run here (it needs udev, which a container lacks), so what this
 * proves is the adapter's side: method names, argument signatures and how the answers are read
 * (64-bit sizes, NUL-terminated byte-string mount points), through real D-Bus marshalling.
 */
function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'not root: mounting a loop image needs root';
  try {
    execFileSync('dbus-daemon', ['--version'], { stdio: 'ignore' });
    execFileSync('mkfs.ext4', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'dbus-daemon or mkfs.ext4 missing';
  }
  return null;
}
const skip = skipReason();
if (skip) console.warn(`udisks2 adapter test on a private D-Bus skipped: ${skip}`);

const { Interface } = dbus.interface;
const { Variant } = dbus;
const BLOCK_PATH = '/org/freedesktop/UDisks2/block_devices/sdz1';
const DRIVE_PATH = '/org/freedesktop/UDisks2/drives/Test_Stick_0001';

class FakeUdisks {
  plugged = false;
  mountPoint: string | null = null;
  calls: { method: string; options: Record<string, unknown> }[] = [];
  constructor(
    readonly image: string,
    readonly mountDir: string,
  ) {}

  objects(): Record<string, Record<string, Record<string, InstanceType<typeof Variant>>>> {
    if (!this.plugged) return {};
    return {
      [DRIVE_PATH]: this.driveIfaces(),
      [BLOCK_PATH]: this.blockIfaces(),
    };
  }
  driveIfaces() {
    return {
      'org.freedesktop.UDisks2.Drive': {
        Removable: new Variant('b', true),
        ConnectionBus: new Variant('s', 'usb'),
        Vendor: new Variant('s', 'Test'),
        Model: new Variant('s', 'Stick'),
      },
    };
  }
  blockIfaces() {
    return {
      'org.freedesktop.UDisks2.Block': {
        Drive: new Variant('o', DRIVE_PATH),
        HintSystem: new Variant('b', false),
        HintIgnore: new Variant('b', false),
        ReadOnly: new Variant('b', false),
        IdLabel: new Variant('s', 'KHO SO'),
        Size: new Variant('t', 16n * 1024n * 1024n),
      },
      'org.freedesktop.UDisks2.Filesystem': {
        MountPoints: new Variant('aay', this.mountPoint ? [Buffer.from(`${this.mountPoint}\0`)] : []),
      },
    };
  }
}

describe.skipIf(skip !== null)('the udisks2 adapter on a private D-Bus', () => {
  let dir: ReturnType<typeof tempDir>;
  let daemon: ChildProcess;
  let address: string;
  let service: dbus.MessageBus;
  let fake: FakeUdisks;
  let manager: InstanceType<typeof Interface> & { InterfacesAdded(path: string, ifaces: unknown): [string, unknown]; InterfacesRemoved(path: string, names: string[]): [string, string[]] };

  beforeAll(async () => {
    dir = tempDir('safegate-udisks-');
    const image = join(dir.path, 'stick.img');
    execFileSync('truncate', ['-s', '16M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image]);
    fake = new FakeUdisks(image, join(dir.path, 'media'));
    daemon = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1', `--address=unix:path=${join(dir.path, 'bus')}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    address = await new Promise<string>((resolve, reject) => {
      daemon.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      daemon.once('error', reject);
    });
    service = dbus.sessionBus({ busAddress: address });
    await service.requestName('org.freedesktop.UDisks2', 0);

    class ObjectManager extends Interface {
      GetManagedObjects() {
        return fake.objects();
      }
      InterfacesAdded(path: string, ifaces: unknown) {
        return [path, ifaces];
      }
      InterfacesRemoved(path: string, names: string[]) {
        return [path, names];
      }
    }
    ObjectManager.configureMembers({
      methods: { GetManagedObjects: { outSignature: 'a{oa{sa{sv}}}' } },
      signals: { InterfacesAdded: { signature: 'oa{sa{sv}}' }, InterfacesRemoved: { signature: 'oas' } },
    });
    class Filesystem extends Interface {
      Mount(options: Record<string, InstanceType<typeof Variant>>) {
        fake.calls.push({ method: 'Mount', options: Object.fromEntries(Object.entries(options).map(([k, v]) => [k, v.value as unknown])) });
        mkdirSync(fake.mountDir, { recursive: true });
        execFileSync('mount', ['-o', 'loop', fake.image, fake.mountDir]);
        fake.mountPoint = fake.mountDir;
        return fake.mountDir;
      }
      Unmount(options: Record<string, InstanceType<typeof Variant>>) {
        fake.calls.push({ method: 'Unmount', options: Object.fromEntries(Object.entries(options).map(([k, v]) => [k, v.value as unknown])) });
        execFileSync('umount', [fake.mountDir]);
        fake.mountPoint = null;
      }
    }
    Filesystem.configureMembers({ methods: { Mount: { inSignature: 'a{sv}', outSignature: 's' }, Unmount: { inSignature: 'a{sv}' } } });
    class Drive extends Interface {
      PowerOff(options: Record<string, InstanceType<typeof Variant>>) {
        fake.calls.push({ method: 'PowerOff', options: Object.fromEntries(Object.entries(options).map(([k, v]) => [k, v.value as unknown])) });
      }
    }
    Drive.configureMembers({ methods: { PowerOff: { inSignature: 'a{sv}' } } });
    manager = new ObjectManager('org.freedesktop.DBus.ObjectManager') as unknown as typeof manager;
    service.export('/org/freedesktop/UDisks2', manager);
    service.export(BLOCK_PATH, new Filesystem('org.freedesktop.UDisks2.Filesystem'));
    service.export(DRIVE_PATH, new Drive('org.freedesktop.UDisks2.Drive'));
  });

  afterAll(() => {
    try {
      execFileSync('umount', [fake.mountDir], { stdio: 'ignore' });
    } catch {
      // Not mounted.
    }
    service?.disconnect();
    daemon?.kill();
    dir?.remove();
  });

  it('sees a drive plugged in, mounts it, writes and syncs the file, unmounts and powers it off', async () => {
    const drives = new Udisks2Drives(() => Promise.resolve(dbus.sessionBus({ busAddress: address })));
    await drives.start();
    try {
      expect(await drives.list()).toEqual([]);
      const changed = new Promise<void>((resolve) => drives.onChange(resolve));
      fake.plugged = true;
      manager.InterfacesAdded(BLOCK_PATH, fake.blockIfaces());
      await changed;
      expect(await drives.list()).toEqual([{ id: 'sdz1', label: 'KHO SO', sizeBytes: 16 * 1024 * 1024 }]);

      const bytes = new TextEncoder().encode('Số sự kiện\r\n1\r\n');
      const written = await drives.write('sdz1', 'safegate-log-2026-11-27.csv', bytes);
      expect(written).toEqual({ drive: { id: 'sdz1', label: 'KHO SO', sizeBytes: 16 * 1024 * 1024 }, fileName: 'safegate-log-2026-11-27.csv', bytes: bytes.byteLength });
      await drives.eject('sdz1');
      expect(fake.calls).toEqual([
        { method: 'Mount', options: { 'auth.no_user_interaction': true } },
        { method: 'Unmount', options: { 'auth.no_user_interaction': true } },
        { method: 'PowerOff', options: { 'auth.no_user_interaction': true } },
      ]);
      expect(fake.mountPoint).toBeNull();

      // Plugged in again somewhere else: the file is there, whole.
      execFileSync('mount', ['-o', 'loop', fake.image, fake.mountDir]);
      expect(readFileSync(join(fake.mountDir, 'safegate-log-2026-11-27.csv'), 'utf8')).toBe('Số sự kiện\r\n1\r\n');
      execFileSync('umount', [fake.mountDir]);

      const gone = new Promise<void>((resolve) => drives.onChange(resolve));
      fake.plugged = false;
      manager.InterfacesRemoved(BLOCK_PATH, ['org.freedesktop.UDisks2.Block', 'org.freedesktop.UDisks2.Filesystem']);
      await gone;
      expect(await drives.list()).toEqual([]);
      await expect(drives.write('sdz1', 'x.csv', new Uint8Array(1))).rejects.toThrow('not plugged in');
    } finally {
      await drives.stop();
    }
  });

  it('unmounts a drive it mounted when the export does not fit, leaves no file cut short, and says the drive is safe to remove', async () => {
    // A 1 MiB stick (about 950 kB free) and a 2 MiB export.
    const small = join(dir.path, 'small.img');
    execFileSync('truncate', ['-s', '1M', small]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', small]);
    const big = fake;
    fake = new FakeUdisks(small, join(dir.path, 'media-small'));
    fake.plugged = true;
    const drives = new Udisks2Drives(() => Promise.resolve(dbus.sessionBus({ busAddress: address })));
    await drives.start();
    try {
      const failure = await drives.write('sdz1', 'safegate-log-2026-11-27.csv', new Uint8Array(2 * 1024 * 1024).fill(65)).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(DriveError);
      expect(failure).toMatchObject({ message: 'cannot write the file: the drive is full', safeToRemove: true });
      expect(fake.calls.map((c) => c.method)).toEqual(['Mount', 'Unmount']);
      expect(fake.mountPoint).toBeNull();
      expect((await readMountInfo()).some((m) => m.mountPoint === fake.mountDir)).toBe(false);
      // Nothing half-written is left on the stick.
      execFileSync('mount', ['-o', 'loop', small, fake.mountDir]);
      try {
        expect(readdirSync(fake.mountDir).filter((f) => f.startsWith('safegate-'))).toEqual([]);
      } finally {
        execFileSync('umount', [fake.mountDir]);
      }
    } finally {
      await drives.stop();
      try {
        execFileSync('umount', [fake.mountDir], { stdio: 'ignore' });
      } catch {
        // Not mounted (what the adapter must leave).
      }
      fake = big;
    }
  });

  it('starts with no drives, without ending the process, when nobody answers for udisks2', async () => {
    const drives = new Udisks2Drives(() => Promise.resolve(dbus.sessionBus({ busAddress: `unix:path=${join(dir.path, 'no-bus')}` })));
    await expect(drives.start()).rejects.toThrow('udisks2 is not available');
    expect(await drives.list()).toEqual([]);
    await drives.stop();
  });
});
