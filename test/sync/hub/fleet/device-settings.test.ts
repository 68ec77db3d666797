import { createPrivateKey, createPublicKey } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { deviceSettingsDocumentSchema } from '../../../../base/common/enrolment.js';
import { generateSigningKeyPair, HubKeyring } from '../../../../base/node/keys.js';
import { openSigned } from '../../../../base/node/signed.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { openDownlink, streamCodecs } from '../../../../sync/downlink-codec.js';
import { DeviceSettingsBook, DeviceSettingsError } from '../../../../sync/hub/fleet/device-settings.js';
import { overlayProblems } from '../../../../src-main/core/settings-overlay.js';
import { directoryBackends } from '../../../helpers/directory-db.js';

const downlink = generateSigningKeyPair();
const signingKey = createPrivateKey(downlink.privatePem);
const ring = new HubKeyring();
ring.add(createPublicKey(downlink.publicPem), { role: 'downlink', source: 'test' });

async function refusal(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeviceSettingsError);
  return (err as DeviceSettingsError).problems;
}

describe.each(directoryBackends)('device settings at the hub on $name', (backend) => {
  it('numbers versions after the enrolment document, keeps the cumulative overlay, unsets, and signs each as sent', async () => {
    const directory = await HubDirectory.open(await backend.target());
    let now = 1_800_000_000_000;
    const book = new DeviceSettingsBook(directory.sql, { signingKey, checkOverlay: overlayProblems, now: () => now });
    try {
      const first = await book.set('kiosk-a', { set: { 'gate.relay.pulseMs': 2500, 'screens.language': 'en' } }, 'it-alice');
      expect(first.version).toBe(2);
      expect(first.overlay).toEqual({ gate: { relay: { pulseMs: 2500 } }, screens: { language: 'en' } });
      now += 1000;
      const second = await book.set('kiosk-a', { set: { 'log.level': 'debug' }, unset: ['screens.language'] }, 'it-bob');
      expect(second.version).toBe(3);
      // Cumulative: the earlier pulse stays, the unset language (and its emptied parent) is gone.
      expect(second.overlay).toEqual({ gate: { relay: { pulseMs: 2500 } }, log: { level: 'debug' } });
      now += 1000;
      const third = await book.set('kiosk-a', { merge: { gate: { relay: { maxOnMs: 20_000 } } } }, 'it-alice');
      expect(third.overlay).toEqual({ gate: { relay: { pulseMs: 2500, maxOnMs: 20_000 } }, log: { level: 'debug' } });
      // Another device counts on its own.
      expect((await book.set('kiosk-b', { set: { 'screens.resultSeconds': 4 } }, 'it-alice')).version).toBe(2);

      const versions = await book.versions('kiosk-a');
      expect(versions.map((v) => [v.version, v.issuedBy, v.issuedAtMs])).toEqual([
        [2, 'it-alice', 1_800_000_000_000],
        [3, 'it-bob', 1_800_000_001_000],
        [4, 'it-alice', 1_800_000_002_000],
      ]);
      // Each stored document is what the kiosk verifies: a downlink key's signature, for the device, the whole overlay.
      for (const v of versions) {
        const opened = openSigned(v.signed, ring, 'device-settings', now);
        expect(opened.ok).toBe(true);
        if (!opened.ok) continue;
        const doc = deviceSettingsDocumentSchema.parse(JSON.parse(Buffer.from(opened.payload).toString('utf8')));
        expect(doc).toEqual({ v: 1, deviceId: 'kiosk-a', version: v.version, issuedAtMs: v.issuedAtMs, source: 'remote', settings: v.overlay });
      }
      const view = await book.view('kiosk-a');
      expect(view).toMatchObject({ version: 4, overlay: third.overlay, state: 'pending', reported: null });
      expect(await book.view('kiosk-new')).toMatchObject({ version: 1, overlay: {}, versions: [], state: 'none' });

      // The device's settings stream carries its newest document only, to itself only.
      const parts = await directory.respondTo('kiosk-a', { v: 1, stream: 'settings', cursor: 0 }, now);
      expect(parts).toHaveLength(1);
      const body = parts[0]!.body.map((r) => streamCodecs.settings.fromWire(r));
      expect(body).toEqual([{ deleted: false, key: 'kiosk-a', value: { deviceId: 'kiosk-a', version: 4, document: Buffer.from(versions[2]!.signed).toString('base64') } }]);
      const signedPart = (await directory.respondSignedTo('kiosk-a', { v: 1, stream: 'settings', cursor: 0 }, now, signingKey).next()).value as Uint8Array;
      expect(openDownlink(signedPart, ring, now).ok).toBe(true);
      const forB = await directory.respondTo('kiosk-b', { v: 1, stream: 'settings', cursor: 0 }, now);
      expect(forB.flatMap((p) => p.body).map((r) => streamCodecs.settings.fromWire(r).key)).toEqual(['kiosk-b']);
      // Up to date: nothing but "current".
      const at = parts[0]!.to;
      expect((await directory.respondTo('kiosk-a', { v: 1, stream: 'settings', cursor: at }, now))[0]).toMatchObject({ kind: 'current', to: at });
    } finally {
      await directory.close();
    }
  });

  it('refuses forbidden settings, unknown keys, bad values and unsetting what is not set, storing nothing', async () => {
    const directory = await HubDirectory.open(await backend.target());
    const book = new DeviceSettingsBook(directory.sql, { signingKey, checkOverlay: overlayProblems });
    try {
      expect(await refusal(book.set('kiosk-a', { set: { 'hub.broker.cert': '/tmp/x.crt', 'device.id': 'kiosk-z' } }, 'it'))).toEqual([
        "hub.broker.cert: the hub may not set hub.broker.cert (the kiosk's own files and credentials)",
        "device.id: the hub may not set device (the kiosk's own files and credentials)",
      ]);
      // A whole object above a forbidden one is refused too (it could carry the credential).
      expect((await refusal(book.set('kiosk-a', { merge: { hub: { broker: { key: '/tmp/k' } } } }, 'it')))[0]).toMatch(/^hub\.broker\.key: the hub may not set/);
      expect((await refusal(book.set('kiosk-a', { set: { 'store.path': 'x.db' } }, 'it')))[0]).toMatch(/^store\.path: the hub may not set store/);
      expect(await refusal(book.set('kiosk-a', { set: { 'gate.relay.pulsems': 2500, 'screen.language': 'en' } }, 'it'))).toEqual([
        'gate.relay.pulsems: not a kiosk setting',
        'screen: not a kiosk setting',
      ]);
      expect(await refusal(book.set('kiosk-a', { set: { 'gate.relay.pulseMs': 5, 'screens.language': 'fr' } }, 'it'))).toEqual([
        'gate.relay.pulseMs: Too small: expected number to be >=10',
        'screens.language: Invalid option: expected one of "vi"|"en"',
      ]);
      expect(await refusal(book.set('kiosk-a', { unset: ['screens.language'] }, 'it'))).toEqual(["screens.language: not in the device's remote settings (nothing to unset)"]);
      expect((await refusal(book.set('kiosk-a', { set: { 'gate..relay': 1 } }, 'it')))[0]).toMatch(/not a settings path/);
      expect((await refusal(book.set('kiosk-a', {}, 'it')))[0]).toMatch(/nothing to change/);
      expect((await refusal(book.set('../etc', { set: { 'log.level': 'info' } }, 'it')))[0]).toMatch(/^device id/);
      const rows = await directory.sql.all(sql`SELECT device_id FROM device_settings_versions`);
      expect(rows).toEqual([]);
      expect(await directory.revision('settings')).toBe(0);
    } finally {
      await directory.close();
    }
  });

  it("records the device's report from its heartbeats: applied, then a refusal with its problems, written only on change", async () => {
    const directory = await HubDirectory.open(await backend.target());
    const book = new DeviceSettingsBook(directory.sql, { signingKey, checkOverlay: overlayProblems });
    try {
      await book.set('kiosk-a', { set: { 'screens.language': 'en' } }, 'it');
      expect(await book.recordReport('kiosk-a', { settingsVersion: 2, settingsRefused: null }, 100)).toBe(true);
      expect(await book.recordReport('kiosk-a', { settingsVersion: 2, settingsRefused: null }, 200)).toBe(false);
      expect(await book.view('kiosk-a')).toMatchObject({ state: 'applied', reported: { appliedVersion: 2, refused: null, sinceMs: 100 } });
      await book.set('kiosk-a', { set: { 'gate.relay.pulseMs': 20_000 } }, 'it');
      expect((await book.view('kiosk-a')).state).toBe('pending');
      const refused = { version: 3, problems: ['gate.relay.maxOnMs: maxOnMs must be at least pulseMs'] };
      expect(await book.recordReport('kiosk-a', { settingsVersion: 2, settingsRefused: refused }, 300)).toBe(true);
      expect(await book.view('kiosk-a')).toMatchObject({ state: 'refused', version: 3, reported: { appliedVersion: 2, refused, sinceMs: 300 } });
    } finally {
      await directory.close();
    }
  });
});
