import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { EnrolmentBook } from '../../../../sync/hub/fleet/enrolment-book.js';
import type { CrlEntry } from '../../../../sync/hub/fleet/pki.js';
import { RevocationMarks } from '../../../../sync/hub/fleet/revocation-marks.js';
import { directoryBackends } from '../../../helpers/directory-db.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The directory's revocation marks (directory 0023 / PostgreSQL step 9) on both backends: marking
 * asks for a fresh broker cut-off confirmation, hub processes confirm it, and the CRL is written under
 * the directory's write lock with the serials read inside it (two revokes at once: the second writer
 * sees both devices; review r3 finding 3).
 */
describe.each(directoryBackends)('revocation marks on $name', (backend) => {
  let directory: HubDirectory;
  let other: HubDirectory;
  let marks: RevocationMarks;

  beforeEach(async () => {
    const target = await backend.target();
    directory = await HubDirectory.open(target);
    other = await HubDirectory.open(target);
    marks = new RevocationMarks(directory.sql);
    const book = new EnrolmentBook(directory.sql);
    for (const [id, serial] of [['kiosk-a', '0a'], ['kiosk-b', '0b']] as const) {
      await book.recordCertificate(id, { serialHex: serial, notAfterMs: Date.now() + 1e9, fingerprint: serial.repeat(32) }, new Uint8Array([1]));
    }
  });
  afterEach(async () => {
    await other.close();
    await directory.close();
  });

  it('marks enrolled devices (with their serials), refuses unknown ones when asked to, and tracks the cut-off confirmation', async () => {
    expect(await marks.mark('kiosk-zz', 1_000, { onlyEnrolled: true })).toBe('unknown');
    expect(await marks.list()).toEqual([]);
    expect(await marks.mark('kiosk-a', 1_000, { onlyEnrolled: true })).toEqual({ enrolled: true, serials: ['0a'] });
    expect(await marks.list()).toEqual([{ deviceId: 'kiosk-a', revokedAtMs: 1_000, cutOffAtMs: null }]);
    expect(await new EnrolmentBook(directory.sql).isRevoked('kiosk-a')).toBe(true);
    await marks.confirmCutOff([{ deviceId: 'kiosk-a', revokedAtMs: 1_000 }], 2_000);
    await marks.confirmCutOff([{ deviceId: 'kiosk-a', revokedAtMs: 1_000 }], 3_000);
    expect(await marks.cutOffAt('kiosk-a')).toBe(2_000);
    // Revoked again: the first time stays, a fresh confirmation is asked for.
    await marks.mark('kiosk-a', 5_000);
    expect(await marks.list()).toEqual([{ deviceId: 'kiosk-a', revokedAtMs: 1_000, cutOffAtMs: null }]);
    // A device marked only in fleet_devices (the book's own mark) is listed too, unconfirmed.
    await new EnrolmentBook(directory.sql).markRevoked('kiosk-b', 6_000);
    expect((await marks.list()).map((m) => m.deviceId)).toEqual(['kiosk-a', 'kiosk-b']);
  });

  it('writes the CRL one writer at a time, each with the serials read inside the lock', async () => {
    const written: CrlEntry[][] = [];
    let inside = 0;
    const writer = async (entries: CrlEntry[]) => {
      inside++;
      expect(inside).toBe(1);
      await sleep(50);
      written.push(entries);
      inside--;
    };
    // Two revokes from two processes: each marks, then writes.
    await Promise.all([
      (async () => {
        await marks.mark('kiosk-a', 1_000);
        await marks.writeCrl(writer);
      })(),
      (async () => {
        const m = new RevocationMarks(other.sql);
        await m.mark('kiosk-b', 1_000);
        await m.writeCrl(writer);
      })(),
    ]);
    expect(written).toHaveLength(2);
    expect(written[1]!.map((e) => e.serialHex)).toEqual(['0a', '0b']);
  });
});
