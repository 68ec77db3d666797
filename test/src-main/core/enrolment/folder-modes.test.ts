import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseEnrolmentCode, EnrolmentCodeError } from '../../../../base/common/enrolment.js';
import { loadSettingsForRun } from '../../../../src-main/core/enrolment/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { makeEnrolledFolder } from './enrolled-folder.js';

/**
 * The enrolment folder's trust anchors sit inside it, so its modes are checked at every load (review
 * r1, finding 11): a folder group or others may write, or a private key others may read, makes the
 * enrolment damaged (said with the chmod that mends it), and such a kiosk takes no code at the gate.
 */
describe('the enrolment folder modes at load', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

  it('a folder group-writable (0770) or a key readable by others (0644) is damaged with what to run; mended, it is enrolled again', () => {
    const d = tempDir('safegate-folder-modes-');
    dirs.push(d);
    const config = join(d.path, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    const f = makeEnrolledFolder(join(d.path, 'enrolment'));
    expect(loadSettingsForRun(config).kind).toBe('ready');

    chmodSync(f.dir, 0o770);
    expect(loadSettingsForRun(config)).toMatchObject({ kind: 'not-enrolled', damaged: `${f.dir} may be written by group or others (mode 770): chmod 700 ${f.dir}` });
    chmodSync(f.dir, 0o700);
    expect(loadSettingsForRun(config).kind).toBe('ready');

    chmodSync(join(f.dir, 'device.key'), 0o644);
    expect(loadSettingsForRun(config)).toMatchObject({ kind: 'not-enrolled', damaged: expect.stringMatching(/^device\.key may be read by group or others \(mode 644\): chmod 600 /) as unknown });
    chmodSync(join(f.dir, 'device.key'), 0o600);
    expect(loadSettingsForRun(config).kind).toBe('ready');
  });

  it('a code field with no name is refused without echoing it (it may be the token)', () => {
    const token = 'tQWERTYUIOPASDFGHJKLZXCVBNM';
    let message = '';
    try {
      parseEnrolmentCode(`SGE1:https://hub.example.vn:8443#d=kiosk-a-0001&${token}&ca=${'a'.repeat(64)}`);
    } catch (err) {
      expect(err).toBeInstanceOf(EnrolmentCodeError);
      message = (err as Error).message;
    }
    expect(message).toBe('a field is not name=value');
  });
});
