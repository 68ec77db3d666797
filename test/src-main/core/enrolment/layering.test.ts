import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SettingsError, loadSettings, loadSettingsForRun } from '../../../../src-main/core/config.js';
import { generateSigningKeyPair } from '../../../../base/node/keys.js';
import { createPrivateKey } from 'node:crypto';
import { tempDir } from '../../../helpers/fixtures.js';
import { makeEnrolledFolder } from './enrolled-folder.js';

/** A packaged kiosk's file: no device, checkpoint or hub; its own scanner and screens. */
const packagedFile = { scanner: { source: 'none' }, gate: { gpio: 'simulated' }, screens: { language: 'en', resultSeconds: 6 }, clock: { syncedWhen: 'always' } };

describe('settings layers: file < enrolment < remote', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const setUp = (file: Record<string, unknown> = packagedFile) => {
    const d = tempDir('safegate-layers-');
    dirs.push(d);
    const config = join(d.path, 'kiosk.yaml');
    writeFileSync(config, stringify(file));
    return { d, config };
  };

  it('a file without device or checkpoint and no enrolment is "not enrolled", with placeholders and no broker; loadSettings refuses it in words', () => {
    const { d, config } = setUp();
    const r = loadSettingsForRun(config);
    expect(r.kind).toBe('not-enrolled');
    if (r.kind !== 'not-enrolled') return;
    expect(r.enrolmentDir).toBe(join(d.path, 'enrolment'));
    expect(r.reason).toMatch(/no enrolment in/);
    expect(r.loaded.broker).toBeUndefined();
    expect(r.loaded.settings.device.id).toBe('not-enrolled');
    expect(r.loaded.settings.screens.language).toBe('en');
    expect(() => loadSettings(config)).toThrow(/this kiosk is not enrolled .*safegate enrol --config/);
  });

  it("a bad local file is refused for its own problems before anything about enrolment", () => {
    const { config } = setUp({ ...packagedFile, scanner: { source: 'moon' } });
    try {
      loadSettingsForRun(config);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SettingsError);
      expect((err as SettingsError).problems.map((p) => p.path)).toEqual(['scanner.source']);
    }
  });

  it('an enrolled kiosk: the enrolment document over the file, then identity, broker and keys from the folder', () => {
    const { d, config } = setUp({ ...packagedFile, checkpoint: { id: 'local', name: 'Local', kind: 'zone' } });
    const f = makeEnrolledFolder(join(d.path, 'enrolment'), { settings: { checkpoint: { id: 'gate-e', name: 'Cổng E', kind: 'gate', site: 'site-e' }, screens: { resultSeconds: 3 } } });
    const loaded = loadSettings(config);
    expect(loaded.settings.device.id).toBe(f.deviceId);
    expect(loaded.settings.checkpoint).toMatchObject({ id: 'gate-e', kind: 'gate', site: 'site-e', zone: 'gate-e' });
    expect(loaded.settings.screens).toMatchObject({ language: 'en', resultSeconds: 3 });
    expect(loaded.broker).toMatchObject({ url: 'mqtts://127.0.0.1:8883', ca: join(f.dir, 'ca.crt'), cert: join(f.dir, 'device.crt'), key: join(f.dir, 'device.key') });
    expect(loaded.paths.keysDir).toBe(join(f.dir, 'keys'));
    expect(loaded.layers?.applied.map((l) => [l.layer, l.version])).toEqual([['file', undefined], ['enrolment', 1]]);
  });

  it('the newest remote document lies over the enrolment document', () => {
    const { d, config } = setUp();
    const f = makeEnrolledFolder(join(d.path, 'enrolment'));
    writeFileSync(join(f.dir, 'remote-settings.cose'), f.sign({ version: 4, source: 'remote', settings: { screens: { resultSeconds: 9 }, checkpoint: { name: 'Cổng E mới' } } }));
    const loaded = loadSettings(config);
    expect(loaded.settings.screens.resultSeconds).toBe(9);
    expect(loaded.settings.checkpoint).toMatchObject({ id: 'gate-e', name: 'Cổng E mới' });
    expect(loaded.layers?.applied.map((l) => [l.layer, l.version])).toEqual([['file', undefined], ['enrolment', 1], ['remote', 4]]);
  });

  it('a remote document that no longer checks (another key, another device, a forbidden path) is left out, and says why', () => {
    const { d, config } = setUp();
    const f = makeEnrolledFolder(join(d.path, 'enrolment'));
    const stranger = createPrivateKey(generateSigningKeyPair('ES256').privatePem);
    const cases: [Uint8Array, RegExp][] = [
      [f.sign({ version: 2, source: 'remote', settings: { screens: { resultSeconds: 9 } } }, stranger), /signature: key .* is not trusted here/],
      [f.sign({ version: 2, source: 'remote', deviceId: 'kiosk-other', settings: { screens: { resultSeconds: 9 } } }), /deviceId: the document is for kiosk-other/],
      [f.sign({ version: 2, source: 'remote', settings: { screens: { resultSeconds: 9 }, hub: { keysDir: '/tmp/evil' } } }), /hub\.keysDir: the hub may not set this/],
      [f.sign({ version: 2, source: 'remote', settings: { screens: { resultSeconds: 99 } } }), /screens\.resultSeconds: /],
    ];
    for (const [bytes, why] of cases) {
      writeFileSync(join(f.dir, 'remote-settings.cose'), bytes);
      const loaded = loadSettings(config);
      expect(loaded.settings.screens.resultSeconds).toBe(6);
      expect(loaded.layers?.applied.map((l) => l.layer)).toEqual(['file', 'enrolment']);
      expect(loaded.layers?.ignored.join('\n')).toMatch(why);
    }
  });

  it('a tampered enrolment document or a swapped certificate makes the kiosk not enrolled, saying what is broken', () => {
    const { d, config } = setUp();
    const f = makeEnrolledFolder(join(d.path, 'enrolment'));
    const good = f.sign({ settings: { checkpoint: { id: 'gate-e', name: 'E', kind: 'gate' } } });
    const tampered = Buffer.from(good);
    tampered[tampered.indexOf(Buffer.from('gate-e')) + 5] = 0x66; // gate-e -> gate-f inside the signed payload
    writeFileSync(join(f.dir, 'settings.cose'), tampered);
    let r = loadSettingsForRun(config);
    expect(r.kind === 'not-enrolled' && r.reason).toMatch(/settings\.cose: signature: .*does not verify/);

    writeFileSync(join(f.dir, 'settings.cose'), f.sign({ deviceId: 'kiosk-other', settings: {} }));
    r = loadSettingsForRun(config);
    expect(r.kind === 'not-enrolled' && r.reason).toMatch(/document is for kiosk-other/);

    writeFileSync(join(f.dir, 'settings.cose'), good);
    expect(loadSettingsForRun(config).kind).toBe('ready');
    f.certs.issue('other', 'kiosk-other');
    writeFileSync(join(f.dir, 'device.crt'), f.certs.credentials('other').cert);
    r = loadSettingsForRun(config);
    expect(r.kind === 'not-enrolled' && r.reason).toMatch(/device\.crt is not this device's/);
  });

  it('a file naming hub.broker itself runs as before: the enrolment folder is not used', () => {
    const { d, config } = setUp({ ...packagedFile, device: { id: 'hand-made' }, checkpoint: { id: 'g', name: 'G', kind: 'gate' }, hub: { broker: { url: 'mqtts://10.0.0.1:8883' } } });
    makeEnrolledFolder(join(d.path, 'enrolment'));
    const r = loadSettingsForRun(config);
    expect(r.kind).toBe('ready');
    expect(r.loaded.settings.device.id).toBe('hand-made');
    expect(r.loaded.broker?.url).toBe('mqtts://10.0.0.1:8883');
    expect(r.loaded.layers).toBeUndefined();
    expect(r.loaded.enrolmentDir).toBeUndefined();
  });

  it('enrolment.dir names the folder (relative to the file)', () => {
    const { d, config } = setUp({ ...packagedFile, enrolment: { dir: 'elsewhere' } });
    makeEnrolledFolder(join(d.path, 'elsewhere'), { deviceId: 'kiosk-x-2' });
    expect(loadSettings(config).settings.device.id).toBe('kiosk-x-2');
  });
});
