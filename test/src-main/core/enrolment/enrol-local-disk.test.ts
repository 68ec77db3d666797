import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { enrolDevice, loadSettingsForRun } from '../../../../src-main/core/enrolment/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { LocalEnrolHub } from './est-local-hub.js';

/** The file name whose write fails as on a full disk (none: every write goes through). */
const disk = vi.hoisted(() => ({ failOn: undefined as string | undefined }));

// A full disk cannot be made here (tests run as root on one file system): the folder's writer fails
// for one file name, as writeFileSync does on ENOSPC. Everything else (the hub, TLS, the CA pinning) is real.
vi.mock('../../../../src-main/core/enrolment/files.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../../src-main/core/enrolment/files.js')>();
  return {
    ...real,
    writeEnrolmentFile: (path: string, content: string | Uint8Array) => {
      if (disk.failOn && path.endsWith(disk.failOn)) throw Object.assign(new Error(`ENOSPC: no space left on device, open '${path}'`), { code: 'ENOSPC', path });
      real.writeEnrolmentFile(path, content);
    },
  };
});

/**
 * A kiosk that cannot write its enrolment (review r1, finding 6, the kiosk's part): said as its own
 * reason (LOCAL_ERROR, with the file and the error), not as "the hub cannot be reached"; when the hub
 * had already issued the certificate, the message says the code is used and the device id to revoke.
 */
describe('enrolDevice when the kiosk cannot write its files', () => {
  const root = tempDir('safegate-enrol-disk-');
  let hub: LocalEnrolHub;
  beforeAll(async () => {
    hub = await new LocalEnrolHub(join(root.path, 'hub')).start();
  });
  afterAll(async () => {
    disk.failOn = undefined;
    await hub.stop();
    root.remove();
  });
  let n = 0;
  const kiosk = () => {
    const d = join(root.path, `kiosk-${++n}`);
    const config = join(d, 'kiosk.yaml');
    mkdirSync(d, { recursive: true });
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    return { config, dir: join(d, 'enrolment'), parent: d };
  };

  it('after the hub issued the certificate: LOCAL_ERROR naming the file and ENOSPC, the code said used and the id to revoke; nothing left behind', async () => {
    const k = kiosk();
    disk.failOn = 'device.crt';
    const r = await enrolDevice(hub.newCode('kiosk-h-0031'), { settingsFile: k.config });
    disk.failOn = undefined;
    expect(r).toMatchObject({ ok: false, reason: 'LOCAL_ERROR' });
    const message = r.ok ? '' : r.message;
    expect(message).toMatch(/could not write its enrolment \(ENOSPC on .*device\.crt\)/);
    expect(message).toContain('this code is used');
    expect(message).toContain('safegate hub devices revoke kiosk-h-0031');
    expect(existsSync(k.dir)).toBe(false);
    expect(readdirSync(k.parent)).toEqual(['kiosk.yaml']);
    expect(loadSettingsForRun(k.config).kind).toBe('not-enrolled');
  });

  it('before the hub was asked (the key cannot be written): LOCAL_ERROR, and the code is not said used', async () => {
    const k = kiosk();
    disk.failOn = 'device.key';
    const code = hub.newCode('kiosk-h-0032');
    const r = await enrolDevice(code, { settingsFile: k.config });
    disk.failOn = undefined;
    expect(r).toMatchObject({ ok: false, reason: 'LOCAL_ERROR' });
    expect(r.ok ? '' : r.message).not.toContain('this code is used');
    // The code was never spent: it enrols once the disk has room.
    expect(await enrolDevice(code, { settingsFile: k.config })).toEqual({ ok: true, deviceId: 'kiosk-h-0032' });
  });
});
