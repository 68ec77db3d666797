import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { HubKeyring, generateSigningKeyPair, keyIdOf, keyIdText, type GeneratedKeyPair } from '../../../../base/node/keys.js';
import { acceptRemoteSettings, fleetFigures, loadSettings } from '../../../../src-main/core/enrolment/index.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { DownloadedKeys } from '../../../../src-main/core/store/hub-data.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { makeEnrolledFolder } from './enrolled-folder.js';

/**
 * The hub rotated its downlink key after this kiosk enrolled (review r1, finding 7): the new key
 * reached the kiosk over the keys stream (kept in its store, vouched for by the installed downlink
 * key). Remote settings signed by the new key are verified with the kiosk's current keyring, as the
 * downlink verifies its parts: accepted, and laid in at every load. A key no installed key vouched
 * for is still not trusted.
 */
describe('remote settings after a downlink key rotation', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const now = Date.now();

  const setUp = () => {
    const d = tempDir('safegate-remote-rotation-');
    dirs.push(d);
    const config = join(d.path, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' }, store: { path: 'safegate.db' } }));
    const f = makeEnrolledFolder(join(d.path, 'enrolment'));
    /** The keys stream delivering a key, as the running kiosk applies it (store + its keyring). */
    const deliver = (key: GeneratedKeyPair, anchorKid: string) => {
      const db = openStore(join(d.path, 'safegate.db'));
      try {
        const ring = HubKeyring.fromDirectory(join(f.dir, 'keys'));
        new DownloadedKeys(db).applyChanges('delta', [{ deleted: false, key: key.kid, value: { kid: key.kid, role: 'downlink', publicPem: key.publicPem, anchorKid } }], ring, now);
      } finally {
        db.close();
      }
    };
    return { config, f, deliver };
  };

  it('a document signed by the new downlink key delivered over the keys stream is accepted and applied at load', () => {
    const { config, f, deliver } = setUp();
    const rotated = generateSigningKeyPair('ES256');
    const doc = f.sign({ version: 2, source: 'remote', settings: { screens: { resultSeconds: 9 } } }, createPrivateKey(rotated.privatePem));
    // Before the key arrived: not trusted (what every kiosk said before the fix, even after it arrived).
    expect(acceptRemoteSettings(config, doc, now)).toMatchObject({ ok: false, version: null, problems: [expect.stringMatching(/^signature: key .* is not trusted here$/) as unknown as string] });

    deliver(rotated, keyIdText(keyIdOf(f.downlinkKey)));
    expect(acceptRemoteSettings(config, doc, now)).toEqual({ ok: true, version: 2, changed: ['screens.resultSeconds'], restartNeeded: false });
    const loaded = loadSettings(config);
    expect(loaded.settings.screens.resultSeconds).toBe(9);
    expect(loaded.layers?.applied.map((l) => l.layer)).toEqual(['file', 'enrolment', 'remote']);
    expect(fleetFigures(config, now)).toMatchObject({ settingsVersion: 2, settingsRefused: null });
  });

  it('a delivered key that no installed downlink key vouched for does not make a document trusted', () => {
    const { config, f, deliver } = setUp();
    const stranger = generateSigningKeyPair('ES256');
    const rogue = generateSigningKeyPair('ES256');
    deliver(rogue, stranger.kid);
    const doc = f.sign({ version: 2, source: 'remote', settings: { screens: { resultSeconds: 9 } } }, createPrivateKey(rogue.privatePem));
    expect(acceptRemoteSettings(config, doc, now)).toMatchObject({ ok: false, problems: [expect.stringMatching(/^signature: /) as unknown as string] });
    expect(loadSettings(config).settings.screens.resultSeconds).toBe(4);
  });
});
