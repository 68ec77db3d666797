import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generateSigningKeyPair } from '../../../../base/node/keys.js';
import { loadSettingsForRun } from '../../../../src-main/core/enrolment/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { makeEnrolledFolder } from './enrolled-folder.js';

/**
 * A renewal cut off between writing the new pair (device.key.next, then device.crt.next) and renaming
 * it in is finished at the next load, but only with a pair checked to match (review r1, finding 12):
 * a stale device.crt.next that does not fit device.key.next never costs the kiosk its current key.
 */
describe('finishing an interrupted certificate renewal', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const setUp = () => {
    const d = tempDir('safegate-renewal-recovery-');
    dirs.push(d);
    const config = join(d.path, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    return { config, f: makeEnrolledFolder(join(d.path, 'enrolment')) };
  };

  it('a new key with a certificate that is not for it: both .next files go, the current pair stays, the kiosk stays enrolled', () => {
    const { config, f } = setUp();
    const keyBefore = readFileSync(join(f.dir, 'device.key'), 'utf8');
    writeFileSync(join(f.dir, 'device.key.next'), generateSigningKeyPair('ES256').privatePem, { mode: 0o600 });
    copyFileSync(join(f.dir, 'device.crt'), join(f.dir, 'device.crt.next'));
    expect(loadSettingsForRun(config).kind).toBe('ready');
    expect(readFileSync(join(f.dir, 'device.key'), 'utf8')).toBe(keyBefore);
    expect(existsSync(join(f.dir, 'device.key.next'))).toBe(false);
    expect(existsSync(join(f.dir, 'device.crt.next'))).toBe(false);
  });

  it('a matching new pair is renamed in, key and certificate', () => {
    const { config, f } = setUp();
    const next = f.certs.issue('device-next', f.deviceId);
    writeFileSync(join(f.dir, 'device.key.next'), next.key, { mode: 0o600 });
    writeFileSync(join(f.dir, 'device.crt.next'), next.cert, { mode: 0o600 });
    expect(loadSettingsForRun(config).kind).toBe('ready');
    expect(readFileSync(join(f.dir, 'device.crt'))).toEqual(Buffer.from(next.cert));
    expect(readFileSync(join(f.dir, 'device.key'))).toEqual(Buffer.from(next.key));
    expect(existsSync(join(f.dir, 'device.crt.next'))).toBe(false);
  });
});
