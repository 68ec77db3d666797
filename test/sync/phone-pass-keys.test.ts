import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubKeyring, generateSigningKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import { checkPass, issuePass } from '../../base/node/pass.js';
import { checkPhonePass, issuePhonePass, provePhonePass, type ProofTimeRules } from '../../base/node/phone-pass.js';
import { openStore, type SqliteDatabase } from '../../src-main/core/store/database.js';
import { DownlinkState } from '../../src-main/core/store/downlink-state.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../src-main/core/store/hub-data.js';
import { Notices } from '../../src-main/core/store/notices.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { Downlink } from '../../sync/downlink.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { tempDir } from '../helpers/fixtures.js';

const RULES: ProofTimeRules = { maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, kioskClockSynced: true, unverifiedKioskClock: 'check' };

/**
 * A kiosk learns the hub's phone-pass key as it learns any hub key: over the signed keys stream,
 * under its installed downlink key (`safegate hub keys publish --role phone-pass`), and forgets it
 * when the hub retires it; a phone-pass key delivered this way still cannot sign a printed pass.
 */
describe.each(directoryBackends)('phone-pass keys over the downlink (hub directory on $name)', (backend) => {
  let dir: ReturnType<typeof tempDir>;
  let hub: HubDirectory;
  let db: SqliteDatabase;
  const downlinkPair = generateSigningKeyPair();
  const downlinkKey = createPrivateKey(downlinkPair.privatePem);
  const ring = new HubKeyring();
  ring.add(createPublicKey(downlinkPair.publicPem), { role: 'downlink', source: 'installed' });

  beforeEach(async () => {
    dir = tempDir('safegate-phone-keys-');
    hub = await HubDirectory.open(await backend.target());
    db = openStore(join(dir.path, 'kiosk.db'));
  });
  afterEach(async () => {
    await hub.close();
    db.close();
    dir.remove();
  });

  it('a published phone-pass key makes phone codes pass at the kiosk; retired, they are UNKNOWN_KEY again', async () => {
    const keys = new DownloadedKeys(db);
    const d = new Downlink(
      'kiosk-a',
      new DownlinkState(db),
      () => ring,
      {
        roster: (k, c) => new Roster(db).applyChanges(k, c),
        notices: (k, c) => new Notices(db).applyChanges(k, c),
        revocations: (k, c) => new Revocations(db).applyChanges(k, c),
        policy: (k, c) => new DownloadedPolicy(db).applyChanges(k, c),
        keys: (k, c) => keys.applyChanges(k, c, ring),
      },
      silentLogger,
    );
    const pull = async () => {
      for await (const p of hub.respondSigned(d.requests().find((r) => r.stream === 'keys')!, Date.now(), downlinkKey)) d.receive(p, Date.now());
    };
    const phonePassPair = generateSigningKeyPair('ES256');
    const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { pass } = issuePhonePass(phonePassPair.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(Date.now() + 86_400_000), holderKey: phone.publicKey });
    const code = () => provePhonePass(pass, phone.privateKey, Date.now());
    expect(checkPhonePass(code(), ring, Date.now(), RULES)).toMatchObject({ ok: false, failure: 'UNKNOWN_KEY' });

    const { kid } = await hub.publishKey(phonePassPair.publicPem, 'phone-pass');
    await pull();
    expect(ring.lookup(kid)).toMatchObject({ role: 'phone-pass', origin: 'downloaded', anchorKid: downlinkPair.kid });
    expect(checkPhonePass(code(), ring, Date.now(), RULES)).toMatchObject({ ok: true, pass: { claims: { workerId: 'W1' } } });
    const printed = issuePass(phonePassPair.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(Date.now() + 86_400_000) });
    expect(checkPass(printed, ring, Date.now())).toMatchObject({ ok: false, failure: 'UNKNOWN_KEY', detail: expect.stringMatching(/phone-pass key and may not sign a worker-pass/) });

    await hub.retireKey(kid);
    await pull();
    expect(ring.lookup(kid)).toBeUndefined();
    expect(checkPhonePass(code(), ring, Date.now(), RULES)).toMatchObject({ ok: false, failure: 'UNKNOWN_KEY' });
  });
});
