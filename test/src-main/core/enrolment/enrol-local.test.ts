import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generateSigningKeyPair } from '../../../../base/node/keys.js';
import { enrolDevice, loadSettings, loadSettingsForRun } from '../../../../src-main/core/enrolment/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { LocalEnrolHub } from './est-local-hub.js';

/**
 * The kiosk's EST client over real HTTPS against a local stand-in hub (openssl CA): what it accepts,
 * what it refuses and that a refusal leaves nothing behind. The same client against H1's enrolment
 * server: enrol-hub.test.ts.
 */
describe('enrolDevice against a local HTTPS hub', () => {
  const root = tempDir('safegate-enrol-');
  let hub: LocalEnrolHub;
  beforeAll(async () => {
    hub = await new LocalEnrolHub(join(root.path, 'hub')).start();
  });
  afterAll(async () => {
    await hub.stop();
    root.remove();
  });
  let n = 0;
  const kiosk = (file: Record<string, unknown> = {}) => {
    const d = join(root.path, `kiosk-${++n}`);
    const config = join(d, 'kiosk.yaml');
    mkdirSync(d, { recursive: true });
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' }, ...file }));
    return { config, dir: join(d, 'enrolment') };
  };

  it('enrols: the folder holds key (0600), certificate, CA, keys and the signed settings; the kiosk loads as that device', async () => {
    const k = kiosk();
    const r = await enrolDevice(hub.newCode('kiosk-h-0001'), { settingsFile: k.config });
    expect(r).toEqual({ ok: true, deviceId: 'kiosk-h-0001' });
    expect(statSync(k.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(k.dir, 'device.key')).mode & 0o777).toBe(0o600);
    for (const f of ['device.crt', 'ca.crt', 'settings.cose', 'state.json']) expect(statSync(join(k.dir, f)).mode & 0o777).toBe(0o600);
    const loaded = loadSettings(k.config);
    expect(loaded.settings.device.id).toBe('kiosk-h-0001');
    expect(loaded.settings.checkpoint).toMatchObject({ id: 'gate-h', site: 'site-h' });
    expect(loaded.broker?.url).toBe('mqtts://127.0.0.1:8883');
    expect(readFileSync(join(k.dir, 'ca.crt'), 'utf8')).toBe(readFileSync(join(hub.certs.dir, 'ca.crt'), 'utf8'));
    // Enrolled: a second code is refused without --force, and the hub is not even asked.
    const again = hub.newCode('kiosk-h-0002');
    expect(await enrolDevice(again, { settingsFile: k.config })).toMatchObject({ ok: false, reason: 'ALREADY_ENROLLED' });
    // With force, a new enrolment replaces the old one whole.
    expect(await enrolDevice(again, { settingsFile: k.config, force: true })).toEqual({ ok: true, deviceId: 'kiosk-h-0002' });
    expect(loadSettings(k.config).settings.device.id).toBe('kiosk-h-0002');
    // A power cut between moving the old folder aside and renaming the new one in: the old one comes back.
    renameSync(k.dir, `${k.dir}.old`);
    expect(loadSettings(k.config).settings.device.id).toBe('kiosk-h-0002');
    expect(existsSync(`${k.dir}.old`)).toBe(false);
  });

  it('a damaged enrolment (settings.cose flipped, or a key that is not the certificate\'s) refuses a scanned code (ENROLMENT_DAMAGED, folder untouched, hub not asked); only --force replaces it', async () => {
    const k = kiosk();
    expect(await enrolDevice(hub.newCode('kiosk-h-0021'), { settingsFile: k.config })).toMatchObject({ ok: true });
    const snapshot = () => Object.fromEntries(['device.key', 'device.crt', 'ca.crt', 'settings.cose', 'state.json'].map((f) => [f, readFileSync(join(k.dir, f)).toString('base64')]));
    const damages: [string, () => void][] = [
      [
        'settings.cose',
        () => {
          const bytes = readFileSync(join(k.dir, 'settings.cose'));
          bytes.writeUInt8(bytes.readUInt8(bytes.length - 5) ^ 0x01, bytes.length - 5);
          writeFileSync(join(k.dir, 'settings.cose'), bytes);
        },
      ],
      ['device.key', () => writeFileSync(join(k.dir, 'device.key'), generateSigningKeyPair('ES256').privatePem)],
    ];
    for (const [file, damage] of damages) {
      const intact = snapshot();
      damage();
      const run = loadSettingsForRun(k.config);
      expect(run).toMatchObject({ kind: 'not-enrolled', damaged: expect.stringContaining(file) as unknown });
      const before = snapshot();
      // The code names a hub that answers nothing (port 9): only a refusal before any request passes.
      const rogue = hub.newCode('kiosk-h-0022').replace(/^SGE1:https:\/\/[^#]+/, 'SGE1:https://127.0.0.1:9');
      const r = await enrolDevice(rogue, { settingsFile: k.config });
      expect(r).toMatchObject({ ok: false, reason: 'ENROLMENT_DAMAGED' });
      expect(r.ok ? '' : r.message).toMatch(new RegExp(`damaged \\(${file}.*safegate enrol --force`));
      expect(snapshot()).toEqual(before);
      for (const [f, b64] of Object.entries(intact)) writeFileSync(join(k.dir, f), Buffer.from(b64, 'base64'));
      expect(loadSettingsForRun(k.config).kind).toBe('ready');
    }
    // IT at the shell: --force replaces a damaged folder.
    const bytes = readFileSync(join(k.dir, 'settings.cose'));
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 5) ^ 0x01, bytes.length - 5);
    writeFileSync(join(k.dir, 'settings.cose'), bytes);
    expect(await enrolDevice(hub.newCode('kiosk-h-0023'), { settingsFile: k.config, force: true })).toEqual({ ok: true, deviceId: 'kiosk-h-0023' });
    expect(loadSettings(k.config).settings.device.id).toBe('kiosk-h-0023');
  });

  it.runIf(process.getuid?.() === 0)('enrolled by root at the shell, the folder belongs to the user who owns the folder above it (the service user)', async () => {
    const k = kiosk();
    const parent = join(k.dir, '..');
    chownSync(parent, 4242, 4243);
    expect(await enrolDevice(hub.newCode('kiosk-h-0012'), { settingsFile: k.config })).toMatchObject({ ok: true });
    for (const f of ['', 'device.key', 'device.crt', 'settings.cose', 'state.json', 'keys', 'keys/downlink']) {
      expect([statSync(join(k.dir, f)).uid, statSync(join(k.dir, f)).gid]).toEqual([4242, 4243]);
    }
  });

  it('two enrolments at once (a scan at the gate, IT at the shell) each complete whole; one of them is the enrolment', async () => {
    const k = kiosk();
    // A staging folder a power cut left (its process is gone) is cleared on the way.
    mkdirSync(`${k.dir}.staging-999999-abcd`, { mode: 0o700 });
    const [a, b] = await Promise.all([enrolDevice(hub.newCode('kiosk-h-0013'), { settingsFile: k.config }), enrolDevice(hub.newCode('kiosk-h-0014'), { settingsFile: k.config })]);
    expect([a.ok, b.ok]).toEqual([true, true]);
    expect(['kiosk-h-0013', 'kiosk-h-0014']).toContain(loadSettings(k.config).settings.device.id);
    expect(readdirSync(join(k.dir, '..')).sort()).toEqual(['enrolment', 'kiosk.yaml']);
  });

  it('refuses a hub whose CA is not the one in the code (CA_MISMATCH) and writes nothing', async () => {
    const k = kiosk();
    const r = await enrolDevice(hub.newCode('kiosk-h-0003', { caFingerprint: 'ab'.repeat(32) }), { settingsFile: k.config });
    expect(r).toMatchObject({ ok: false, reason: 'CA_MISMATCH', message: expect.stringMatching(/not the one in the enrolment code/) });
    expect(readdirSync(join(k.dir, '..'))).toEqual(['kiosk.yaml']);
    expect(loadSettingsForRun(k.config).kind).toBe('not-enrolled');
  });

  it("passes the hub's refusals on with their message (a replayed token: TOKEN_USED), and a forced retry keeps the old enrolment", async () => {
    const k = kiosk();
    const code = hub.newCode('kiosk-h-0004');
    expect(await enrolDevice(code, { settingsFile: k.config })).toMatchObject({ ok: true });
    const before = readFileSync(join(k.dir, 'device.crt'), 'utf8');
    expect(await enrolDevice(code, { settingsFile: k.config, force: true })).toEqual({ ok: false, reason: 'TOKEN_USED', message: 'refused: TOKEN_USED' });
    expect(readFileSync(join(k.dir, 'device.crt'), 'utf8')).toBe(before);
    expect(loadSettings(k.config).settings.device.id).toBe('kiosk-h-0004');
  });

  it('refuses an answer whose settings are for another device, or signed by a key the answer did not deliver (BAD_ANSWER), and writes nothing', async () => {
    const k = kiosk();
    hub.docDeviceId = 'kiosk-other';
    try {
      expect(await enrolDevice(hub.newCode('kiosk-h-0005'), { settingsFile: k.config })).toMatchObject({ ok: false, reason: 'BAD_ANSWER', message: expect.stringMatching(/for kiosk-other/) });
    } finally {
      hub.docDeviceId = undefined;
    }
    const stranger = createPrivateKey(generateSigningKeyPair('ES256').privatePem);
    hub.tamper = (a) => ({ ...a, settings: hub.signDoc({ deviceId: a['deviceId'] as string }, stranger) });
    try {
      expect(await enrolDevice(hub.newCode('kiosk-h-0006'), { settingsFile: k.config })).toMatchObject({ ok: false, reason: 'BAD_ANSWER', message: expect.stringMatching(/signature/) });
      hub.tamper = (a) => ({ ...a, brokerUrl: 'http://nope' });
      expect(await enrolDevice(hub.newCode('kiosk-h-0007'), { settingsFile: k.config })).toMatchObject({ ok: false, reason: 'BAD_ANSWER', message: expect.stringMatching(/brokerUrl/) });
    } finally {
      hub.tamper = undefined;
    }
    expect(existsSync(k.dir)).toBe(false);
  });

  it('refuses settings that are not valid on this kiosk (SETTINGS_INVALID) and writes nothing', async () => {
    const k = kiosk();
    const saved = hub.settings;
    hub.settings = { checkpoint: { id: 'gate-h', name: 'H', kind: 'moon' } };
    try {
      expect(await enrolDevice(hub.newCode('kiosk-h-0008'), { settingsFile: k.config })).toMatchObject({ ok: false, reason: 'SETTINGS_INVALID', message: expect.stringMatching(/checkpoint\.kind/) });
    } finally {
      hub.settings = saved;
    }
    expect(existsSync(k.dir)).toBe(false);
  });

  it('says NETWORK when the hub is not there or does not answer in time, CODE_INVALID for a code it cannot read', async () => {
    const k = kiosk();
    const closed = hub.newCode('kiosk-h-0009').replace(`:${hub.port}#`, ':1#');
    expect(await enrolDevice(closed, { settingsFile: k.config })).toMatchObject({ ok: false, reason: 'NETWORK', message: expect.stringMatching(/cannot reach the hub/) });
    hub.silent = true;
    try {
      expect(await enrolDevice(hub.newCode('kiosk-h-0010'), { settingsFile: k.config, timeoutMs: 300 })).toMatchObject({ ok: false, reason: 'NETWORK', message: expect.stringMatching(/did not answer within/) });
    } finally {
      hub.silent = false;
    }
    expect(await enrolDevice('SGE1:https://x#d=a', { settingsFile: k.config })).toMatchObject({ ok: false, reason: 'CODE_INVALID' });
    expect(existsSync(k.dir)).toBe(false);
  });

  it('refuses when the settings file names hub.broker itself (enrolment is not used there)', async () => {
    const k = kiosk({ device: { id: 'hand' }, checkpoint: { id: 'g', name: 'G', kind: 'gate' }, hub: { broker: { url: 'mqtts://h:8883' } } });
    expect(await enrolDevice(hub.newCode('kiosk-h-0011'), { settingsFile: k.config })).toMatchObject({ ok: false, reason: 'SETTINGS_INVALID', message: expect.stringMatching(/names hub\.broker itself/) });
  });
});
