import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generateSigningKeyPair } from '../../../../base/node/keys.js';
import { acceptRemoteSettings, fleetFigures, loadSettings } from '../../../../src-main/core/enrolment/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { makeEnrolledFolder } from './enrolled-folder.js';

describe('acceptRemoteSettings and fleetFigures', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const setUp = () => {
    const d = tempDir('safegate-remote-');
    dirs.push(d);
    const config = join(d.path, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    const f = makeEnrolledFolder(join(d.path, 'enrolment'));
    return { config, f };
  };
  const now = Date.now();

  it('accepts a newer document: kept as remote-settings.cose, changed paths listed, restart only for what cannot apply live', () => {
    const { config, f } = setUp();
    expect(fleetFigures(config, now)).toMatchObject({ enrolled: true, settingsVersion: 1, settingsRefused: null });
    const live = f.sign({ version: 2, source: 'remote', settings: { screens: { language: 'en', resultSeconds: 7 } } });
    expect(acceptRemoteSettings(config, live, now)).toEqual({ ok: true, version: 2, changed: ['screens.language', 'screens.resultSeconds'], restartNeeded: false });
    expect(Buffer.from(readFileSync(join(f.dir, 'remote-settings.cose'))).equals(Buffer.from(live))).toBe(true);
    expect(loadSettings(config).settings.screens.resultSeconds).toBe(7);
    // The same document again (the stream resumed): accepted, nothing changed.
    expect(acceptRemoteSettings(config, live, now)).toEqual({ ok: true, version: 2, changed: [], restartNeeded: false });
    // Cumulative: version 3 is the whole overlay; dropping resultSeconds brings back the default.
    const v3 = f.sign({ version: 3, source: 'remote', settings: { screens: { language: 'en' }, gate: { relay: { pulseMs: 1500 } } } });
    expect(acceptRemoteSettings(config, v3, now)).toEqual({ ok: true, version: 3, changed: ['gate.relay.pulseMs', 'screens.resultSeconds'], restartNeeded: true });
    expect(fleetFigures(config, now)).toMatchObject({ enrolled: true, settingsVersion: 3, settingsRefused: null });
    expect(fleetFigures(config, now).certDaysLeft).toBeGreaterThan(0);
  });

  it('refuses, with problems as "path: message" strings kept for the heartbeat: forbidden path, invalid value, older version, foreign device, wrong key', () => {
    const { config, f } = setUp();
    const stranger = createPrivateKey(generateSigningKeyPair('ES256').privatePem);
    expect(acceptRemoteSettings(config, f.sign({ version: 5, source: 'remote', settings: { screens: { language: 'en' } } }), now)).toMatchObject({ ok: true });
    const cases: [Uint8Array, number | null, string[]][] = [
      [f.sign({ version: 6, source: 'remote', settings: { store: { path: '/tmp/x.db' }, hub: { broker: { key: '/tmp/k' } } } }), 6, ["store: the hub may not set this (it is the kiosk's own)", "hub.broker.key: the hub may not set this (it is the kiosk's own)"]],
      [f.sign({ version: 7, source: 'remote', settings: { screens: { resultSeconds: 99, colour: 'red' } } }), 7, ['screens.resultSeconds: must be a number from 1 to 30, got 99', expect.stringMatching(/^screens\.colour: unknown setting/) as unknown as string]],
      [f.sign({ version: 4, source: 'remote', settings: { screens: { language: 'vi' } } }), 4, ['version: 4 is not newer than the applied version 5']],
      [f.sign({ version: 8, source: 'remote', deviceId: 'kiosk-other', settings: {} }), 8, ['deviceId: the document is for kiosk-other, this kiosk is kiosk-e-0001']],
      [f.sign({ version: 9, source: 'remote', settings: {} }, stranger), null, [expect.stringMatching(/^signature: key .* is not trusted here$/) as unknown as string]],
    ];
    for (const [bytes, version, problems] of cases) {
      const r = acceptRemoteSettings(config, bytes, now);
      expect(r).toEqual({ ok: false, version, problems });
      if (version !== null) expect(fleetFigures(config, now).settingsRefused).toEqual({ version, problems });
    }
    // Signed by a key the kiosk does not trust (the hub rotated or restored its downlink key), or not a
    // document at all: the downlink record's (verified) version is kept with the refusal, so the hub hears it.
    const untrusted = acceptRemoteSettings(config, f.sign({ version: 9, source: 'remote', settings: {} }, stranger), now, 9);
    expect(untrusted).toMatchObject({ ok: false, version: 9 });
    expect(fleetFigures(config, now).settingsRefused).toEqual({ version: 9, problems: [expect.stringMatching(/^signature: key .* is not trusted here$/)] });
    expect(acceptRemoteSettings(config, new Uint8Array([1, 2, 3]), now, 9)).toMatchObject({ ok: false, version: 9 });
    expect(fleetFigures(config, now).settingsRefused?.version).toBe(9);
    // Nothing refused took effect.
    expect(loadSettings(config).settings.screens).toMatchObject({ language: 'en', resultSeconds: 4 });
    expect(loadSettings(config).settings.store.path).toBe('safegate.db');
    // A newer good document clears the pending refusal.
    expect(acceptRemoteSettings(config, f.sign({ version: 10, source: 'remote', settings: {} }), now)).toMatchObject({ ok: true, version: 10 });
    expect(existsSync(join(f.dir, 'refused-settings.json'))).toBe(false);
    expect(fleetFigures(config, now)).toMatchObject({ settingsVersion: 10, settingsRefused: null });
  });

  it('a document the kiosk cannot keep (the folder cannot take the file) is refused, never thrown, and the refusal reaches the heartbeat', () => {
    const { config, f } = setUp();
    // Where the document would go is taken by a directory: the write (temp file + rename) fails.
    mkdirSync(join(f.dir, 'remote-settings.cose'));
    let r: ReturnType<typeof acceptRemoteSettings> | undefined;
    expect(() => (r = acceptRemoteSettings(config, f.sign({ version: 2, source: 'remote', settings: { screens: { language: 'en' } } }), now, 2))).not.toThrow();
    expect(r).toMatchObject({ ok: false, version: 2, problems: [expect.stringMatching(/^\(kiosk\): the document cannot be kept in the enrolment folder: /)] });
    expect(fleetFigures(config, now).settingsRefused).toMatchObject({ version: 2 });
  });

  it('a kiosk that is not enrolled refuses remote settings and reports itself not enrolled', () => {
    const d = tempDir('safegate-remote-');
    dirs.push(d);
    const config = join(d.path, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' } }));
    expect(acceptRemoteSettings(config, new Uint8Array([1, 2, 3]), now)).toEqual({ ok: false, version: null, problems: ['(top): this kiosk is not enrolled'] });
    expect(fleetFigures(config, now)).toEqual({ enrolled: false, certDaysLeft: null, settingsVersion: 0, settingsRefused: null });
  });
});
