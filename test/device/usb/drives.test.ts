import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMountInfo, readMountInfo } from '../../../device/usb/mountinfo.js';
import { MountedFolderDrives, driveIdFor } from '../../../device/usb/mounted-folder-drives.js';
import { removableFilesystems, type ManagedObjects } from '../../../device/usb/udisks2-drives.js';
import { DriveError, freeName } from '../../../device/usb/removable-drives.js';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { createLogger } from '../../../base/node/logger.js';
import { healthyWorker, hubKeys, passFor, tempDir, writeKioskConfig } from '../../helpers/fixtures.js';

describe('the mount table', () => {
  const sample = [
    '22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw,errors=remount-ro',
    '98 22 8:17 / /media/safegate/KHO\\040SO\\0401 rw,nosuid,nodev,relatime shared:52 - vfat /dev/sdb1 rw,fmask=0022',
    '99 22 8:33 / /media/safegate/LOCKED ro,nosuid,nodev,relatime - vfat /dev/sdc1 ro',
    'not a mountinfo line',
    '',
  ].join('\n');

  it('reads mount points (octal escapes undone), read-only mounts and filesystem types', () => {
    expect(parseMountInfo(sample)).toEqual([
      { mountId: 22, device: '8:2', mountPoint: '/', readOnly: false, fsType: 'ext4', source: '/dev/sda2' },
      { mountId: 98, device: '8:17', mountPoint: '/media/safegate/KHO SO 1', readOnly: false, fsType: 'vfat', source: '/dev/sdb1' },
      { mountId: 99, device: '8:33', mountPoint: '/media/safegate/LOCKED', readOnly: true, fsType: 'vfat', source: '/dev/sdc1' },
    ]);
    expect(driveIdFor('/media', '/media/safegate/KHO SO 1')).toBe('safegate.KHO_SO_1');
  });

  it('never throws on any text, and reads this machine\'s own table', async () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => Array.isArray(parseMountInfo(text))), { seed: 9, numRuns: 500 });
    expect((await readMountInfo()).some((m) => m.mountPoint === '/')).toBe(true);
  });

  it("never offers the system's own filesystems, even with the drives folder at /", async () => {
    const dir = tempDir('safegate-mounts-');
    try {
      const table = join(dir.path, 'mountinfo');
      writeFileSync(
        table,
        [
          '22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw',
          '23 22 8:1 / /boot/firmware rw,relatime - vfat /dev/sda1 rw',
          '24 22 0:5 / /proc rw,nosuid - proc proc rw',
          '25 22 0:21 / /run rw,nosuid - tmpfs tmpfs rw',
          '26 22 8:2 /srv/data /data rw,relatime - ext4 /dev/sda2 rw',
          '27 22 8:3 / /var/lib rw,relatime - ext4 /dev/sda3 rw',
          '28 22 0:40 / /tmp rw - tmpfs tmpfs rw',
          '98 22 8:17 / /media/safegate/KHO\\040SO rw,nosuid,nodev,relatime - vfat /dev/sdb1 rw',
          '99 25 8:33 / /run/media/lan/USB rw,nosuid,nodev,relatime - exfat /dev/sdc1 rw',
          '',
        ].join('\n'),
      );
      const drives = new MountedFolderDrives('/', { mountInfoFile: table });
      expect((await drives.list()).map((d) => d.id)).toEqual(['media.safegate.KHO_SO', 'run.media.lan.USB']);
    } finally {
      dir.remove();
    }
  });

  it('names a second export so it never overwrites the first', () => {
    const taken = new Set(['log.csv', 'log (2).csv']);
    expect(freeName('log.csv', (n) => taken.has(n))).toBe('log (3).csv');
    expect(freeName('other.csv', (n) => taken.has(n))).toBe('other.csv');
  });
});

describe('udisks2 objects', () => {
  const v = (value: unknown) => ({ value });
  const bytes = (s: string) => Buffer.from(`${s}\0`);
  const objects: ManagedObjects = {
    '/org/freedesktop/UDisks2/drives/Kingston_DataTraveler_1234': {
      'org.freedesktop.UDisks2.Drive': { Removable: v(true), ConnectionBus: v('usb'), Vendor: v('Kingston'), Model: v('DataTraveler 3.0') },
    },
    '/org/freedesktop/UDisks2/drives/Samsung_SSD': {
      'org.freedesktop.UDisks2.Drive': { Removable: v(false), MediaRemovable: v(false), ConnectionBus: v('') },
    },
    '/org/freedesktop/UDisks2/block_devices/sdb1': {
      'org.freedesktop.UDisks2.Block': {
        Drive: v('/org/freedesktop/UDisks2/drives/Kingston_DataTraveler_1234'),
        HintSystem: v(false), HintIgnore: v(false), ReadOnly: v(false), IdLabel: v('KHO SO'), Size: v(16_000_000_000n),
      },
      'org.freedesktop.UDisks2.Filesystem': { MountPoints: v([bytes('/media/safegate/KHO SO')]) },
    },
    '/org/freedesktop/UDisks2/block_devices/sdb2': {
      'org.freedesktop.UDisks2.Block': {
        Drive: v('/org/freedesktop/UDisks2/drives/Kingston_DataTraveler_1234'),
        HintSystem: v(false), HintIgnore: v(false), ReadOnly: v(false), IdLabel: v(''), Size: v(1_000_000n),
      },
      'org.freedesktop.UDisks2.Filesystem': { MountPoints: v([]) },
    },
    // The kiosk's own disk: a system device, never offered.
    '/org/freedesktop/UDisks2/block_devices/sda2': {
      'org.freedesktop.UDisks2.Block': { Drive: v('/org/freedesktop/UDisks2/drives/Samsung_SSD'), HintSystem: v(true), HintIgnore: v(false), ReadOnly: v(false) },
      'org.freedesktop.UDisks2.Filesystem': { MountPoints: v([bytes('/')]) },
    },
    // A whole-disk block without a filesystem (the stick itself).
    '/org/freedesktop/UDisks2/block_devices/sdb': {
      'org.freedesktop.UDisks2.Block': { Drive: v('/org/freedesktop/UDisks2/drives/Kingston_DataTraveler_1234'), HintSystem: v(false) },
    },
    '/org/freedesktop/UDisks2/block_devices/sdc1': {
      'org.freedesktop.UDisks2.Block': { Drive: v('/org/freedesktop/UDisks2/drives/Kingston_DataTraveler_1234'), HintSystem: v(false), HintIgnore: v(false), ReadOnly: v(true) },
      'org.freedesktop.UDisks2.Filesystem': { MountPoints: v([]) },
    },
  };

  it('offers the writable filesystems of removable USB drives only, labelled, with their mount points', () => {
    expect(removableFilesystems(objects)).toEqual([
      {
        drive: { id: 'sdb1', label: 'KHO SO', sizeBytes: 16_000_000_000 },
        blockPath: '/org/freedesktop/UDisks2/block_devices/sdb1',
        drivePath: '/org/freedesktop/UDisks2/drives/Kingston_DataTraveler_1234',
        mountPoints: ['/media/safegate/KHO SO'],
      },
      {
        drive: { id: 'sdb2', label: 'Kingston DataTraveler 3.0', sizeBytes: 1_000_000 },
        blockPath: '/org/freedesktop/UDisks2/block_devices/sdb2',
        drivePath: '/org/freedesktop/UDisks2/drives/Kingston_DataTraveler_1234',
        mountPoints: [],
      },
    ]);
  });
});

/**
 * A filesystem the test mounts stands for the USB stick: a loop image (ext4) mounted under the
 * drives folder, which the mounted-folder adapter sees through the mount table. Mounting needs root.
 */
function canMount(): string | null {
  if (process.getuid?.() !== 0) return 'not root: mounting a loop image needs root';
  try {
    execFileSync('losetup', ['--version'], { stdio: 'ignore' });
    execFileSync('mkfs.ext4', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'losetup or mkfs.ext4 (util-linux, e2fsprogs) missing';
  }
  return null;
}
const skipReason = canMount();
if (skipReason) console.warn(`USB export tests with a mounted filesystem skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)('export to a drive the test plugs in (a loop image)', () => {
  let dir: ReturnType<typeof tempDir>;
  let image: string;
  let media: string;
  let stick: string;
  let kiosk: Kiosk | undefined;
  const mount = () => {
    mkdirSync(stick, { recursive: true });
    execFileSync('mount', ['-o', 'loop', image, stick]);
  };
  const unmount = () => {
    try {
      execFileSync('umount', [stick], { stdio: 'ignore' });
    } catch {
      // Already unmounted (the export did it).
    }
  };

  beforeAll(() => {
    dir = tempDir('safegate-usb-');
    image = join(dir.path, 'stick.img');
    media = join(dir.path, 'media');
    stick = join(media, 'KHO_SO');
    execFileSync('truncate', ['-s', '16M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'KHO_SO', image]);
  });

  afterAll(async () => {
    await kiosk?.stop();
    unmount();
    dir.remove();
  });

  it('a plugged drive appears; the export is written, synced and unmounted; after a replug the file is there, whole', async () => {
    const drives = new MountedFolderDrives(media, { pollMs: 60_000 });
    await drives.start();
    let changes = 0;
    drives.onChange(() => changes++);
    expect(await drives.list()).toEqual([]);

    mount();
    await drives.refresh();
    expect(changes).toBe(1);
    expect(await drives.list()).toEqual([{ id: 'KHO_SO', label: 'KHO_SO', sizeBytes: expect.any(Number) as number }]);

    // The whole path, as the supervisor screen calls it.
    const keys = hubKeys(dir.path);
    kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path)), { headless: false, drives, log: createLogger({ level: 'silent' }) });
    kiosk.roster.upsertAll([healthyWorker('W1', Date.now(), { displayName: 'Nguyễn Văn An' })]);
    kiosk.start();
    kiosk.gatekeeper.handleScan({ text: passFor(keys, 'W1'), source: 'camera', receivedAtNs: process.hrtime.bigint() });
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    const login = await kiosk.supervisor.login('lan', '975310');
    if (!login.ok) throw new Error('no login');
    const api = kiosk.screenService;
    expect(await api.dispatch('supervisor.drives', { token: login.token })).toEqual({ ok: true, result: { drives: await drives.list(), hub: false, hubWaiting: 0 } });
    const day = { fromMs: Date.now() - 3_600_000, toMs: Date.now() + 60_000 };
    const reply = await api.dispatch('supervisor.export', { token: login.token, query: day, format: 'csv', language: 'vi', driveId: 'KHO_SO' });
    expect(reply).toMatchObject({ ok: true, result: { target: 'drive', rows: 1, drive: { id: 'KHO_SO' }, safeToRemove: true } });
    const fileName = (reply as { result: { fileName: string } }).result.fileName;
    expect(fileName).toMatch(/^safegate-log-\d{4}-\d{2}-\d{2}\.csv$/);

    // Unmounted: gone from the mount table and from the list.
    expect((await readMountInfo()).some((m) => m.mountPoint === stick)).toBe(false);
    expect(await drives.list()).toEqual([]);
    expect(changes).toBe(2);
    expect(await api.dispatch('supervisor.export', { token: login.token, query: day, format: 'csv', language: 'vi', driveId: 'KHO_SO' })).toMatchObject({
      ok: false,
      error: { code: 'refused', message: expect.stringContaining('not plugged in') as string },
    });

    // Plugged in again: the file is on the drive with the same bytes.
    mount();
    const csv = readFileSync(join(stick, fileName), 'utf8');
    expect(csv.startsWith('\uFEFFSố sự kiện,Thời gian')).toBe(true);
    expect(csv).toContain('Nguyễn Văn An');
    // A second export the same day does not overwrite the first.
    const second = await drives.write('KHO_SO', fileName, new TextEncoder().encode('second'));
    expect(second.fileName).toBe(fileName.replace('.csv', ' (2).csv'));
    expect(readdirSync(stick).filter((f) => f.startsWith('safegate-log-')).sort()).toEqual([fileName, second.fileName].sort());
    await drives.eject('KHO_SO');
    await expect(drives.write('KHO_SO', 'x.csv', new Uint8Array(1))).rejects.toThrow(DriveError);
    expect(kiosk.supervisor.auditTrail().filter((r) => r.action === 'export')).toMatchObject([
      { supervisorId: 'lan', detail: expect.stringContaining(`to drive KHO_SO as ${fileName}`) as string },
      { supervisorId: 'lan', detail: expect.stringContaining('failed (that drive is not plugged in') as string },
    ]);
    await drives.stop();
  });
});

describe.skipIf(skipReason !== null)('an export to a drive that is full (a loop image)', () => {
  let dir: ReturnType<typeof tempDir>;
  let kiosk: Kiosk | undefined;
  let stick = '';

  afterAll(async () => {
    await kiosk?.stop();
    try {
      execFileSync('umount', [stick], { stdio: 'ignore' });
    } catch {
      // Unmounted by the export, as it should be.
    }
    dir?.remove();
  });

  it('is refused in plain words, leaves no file cut short, and the drive is unmounted and safe to remove', async () => {
    dir = tempDir('safegate-usb-full-');
    const image = join(dir.path, 'full.img');
    const media = join(dir.path, 'media');
    stick = join(media, 'DAY');
    execFileSync('truncate', ['-s', '1M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    mkdirSync(stick, { recursive: true });
    execFileSync('mount', ['-o', 'loop', image, stick]);
    // Filled to the last block, as a stick full of someone's photos would be (ext4 holds some room back
    // for writes in flight, so it takes a few rounds of filling and syncing).
    for (const name of ['photos-1.bin', 'photos-2.bin', 'photos-3.bin']) {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(stick, name)}`, 'bs=1k', 'conv=fsync'], { stdio: 'ignore' });
      } catch {
        // dd stops with "No space left on device": that is the point.
      }
      execFileSync('sync');
    }
    const drives = new MountedFolderDrives(media, { pollMs: 60_000 });
    await drives.start();
    const keys = hubKeys(dir.path);
    kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path)), { headless: false, drives, log: createLogger({ level: 'silent' }) });
    kiosk.roster.upsertAll([healthyWorker('W1')]);
    kiosk.start();
    kiosk.gatekeeper.handleScan({ text: passFor(keys, 'W1'), source: 'camera', receivedAtNs: process.hrtime.bigint() });
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    const login = await kiosk.supervisor.login('lan', '975310');
    if (!login.ok) throw new Error('no login');
    const day = { fromMs: Date.now() - 3_600_000, toMs: Date.now() + 60_000 };
    const reply = await kiosk.screenService.dispatch('supervisor.export', { token: login.token, query: day, format: 'csv', language: 'vi', driveId: 'DAY' });
    expect(reply).toEqual({
      ok: false,
      error: { code: 'refused', message: 'cannot write the file: the drive is full. Nothing is left mounted: the drive is safe to remove.' },
    });
    expect((await readMountInfo()).some((m) => m.mountPoint === stick)).toBe(false);
    expect(kiosk.supervisor.auditTrail().filter((r) => r.action === 'export')).toMatchObject([
      { supervisorId: 'lan', detail: expect.stringContaining('failed (cannot write the file: the drive is full)') as string },
    ]);
    // Plugged in again: only what was there before.
    execFileSync('mount', ['-o', 'loop', image, stick]);
    expect(readdirSync(stick).filter((f) => !f.startsWith('photos-') && f !== 'lost+found')).toEqual([]);
    await drives.stop();
  });
});
