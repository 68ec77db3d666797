import Database from 'better-sqlite3';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../../../base/common/policy/policy.js';
import { encodeCbor, signCoseSign1 } from '../../../../base/node/cose.js';
import { generateSigningKeyPair, HubKeyring, keyIdOf } from '../../../../base/node/keys.js';
import { createDccCheck, DCC_TRUST_FORMAT, DccTrustHolder, SqliteDccTrustStorage, type DccTrustStorage } from '../../../../src-main/core/dcc/index.js';
import { up as migrate0023 } from '../../../../src-main/core/store/migrations/0023-dcc-trust.js';
import { corpus } from '../../../helpers/corpora.js';
import { tempDir } from '../../../helpers/fixtures.js';

/**
 * The kiosk's signed HC1 trust list (issue 14 part G): verified with the hub's downlink key before
 * it is kept, newer versions only, verified again from storage after a restart, and used by the
 * gate's DccCheck. (The stored bytes go to the kiosk store's table once migration 0023 lands; here
 * a storage that keeps exactly what is saved stands in for it.)
 */

interface Case {
  PREFIX: string;
  TESTCTX: { CERTIFICATE: string; VALIDATIONCLOCK: string };
}
const ROOT = join(corpus('dcc'), 'common', '2DCode', 'raw');
const CO28 = JSON.parse(readFileSync(join(ROOT, 'CO28.json'), 'utf8')) as Case;
const AT = Date.parse(CO28.TESTCTX.VALIDATIONCLOCK);

/** The EU gateway's trustList format: one DSC entry (its kid taken from the certificate). */
const DGCG_LIST = Buffer.from(JSON.stringify([{ country: 'DE', certificateType: 'DSC', rawData: CO28.TESTCTX.CERTIFICATE }]));

function sealed(privatePem: string, version: number, document: Uint8Array, format = DCC_TRUST_FORMAT): Uint8Array {
  const key = createPrivateKey(privatePem);
  return signCoseSign1(encodeCbor({ format, version, document }), key, keyIdOf(createPublicKey(key)));
}

function memoryStorage(): DccTrustStorage & { saved: number } {
  let held: { version: number; signed: Uint8Array } | null = null;
  return {
    saved: 0,
    load: () => held,
    save(version, signed) {
      held = { version, signed: Uint8Array.from(signed) };
      this.saved++;
    },
  };
}

function setup() {
  const hub = generateSigningKeyPair('EdDSA');
  const keyring = new HubKeyring();
  keyring.add(createPublicKey(hub.publicPem), { role: 'downlink', source: 'test' });
  return { hub, keyring, storage: memoryStorage() };
}

describe('DccTrustHolder (kiosk, issue 14 part G)', () => {
  it('keeps a list signed by the hub, uses it for HC1 checks, and restores it after a restart', () => {
    const { hub, keyring, storage } = setup();
    const holder = new DccTrustHolder(storage, keyring);
    const check = createDccCheck({ trust: () => holder.list(), policy: defaultPolicy });
    expect(check.check(CO28.PREFIX, AT)).toMatchObject({ ok: false });
    expect(holder.offer(sealed(hub.privatePem, 1, DGCG_LIST), AT)).toEqual({ ok: true, version: 1, signers: 1 });
    expect(check.check(CO28.PREFIX, AT)).toMatchObject({ ok: true, type: 'vaccination', accepted: true });
    const restarted = new DccTrustHolder(storage, keyring);
    expect(restarted.list()).toBeNull();
    expect(restarted.restore(AT)).toEqual({ ok: true, version: 1, signers: 1 });
    expect(createDccCheck({ trust: () => restarted.list(), policy: defaultPolicy }).check(CO28.PREFIX, AT)).toMatchObject({ ok: true });
  });

  it('refuses a forged list (unknown key, tampered bytes, wrong key role) and keeps nothing', () => {
    const { hub, keyring, storage } = setup();
    const holder = new DccTrustHolder(storage, keyring);
    const forger = generateSigningKeyPair('EdDSA');
    expect(holder.offer(sealed(forger.privatePem, 1, DGCG_LIST), AT)).toMatchObject({ ok: false, reason: 'UNKNOWN_KEY' });
    const good = sealed(hub.privatePem, 1, DGCG_LIST);
    const tampered = Uint8Array.from(good);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 0x01;
    expect(holder.offer(tampered, AT)).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
    const passKey = generateSigningKeyPair('EdDSA');
    keyring.add(createPublicKey(passKey.publicPem), { role: 'pass', source: 'test' });
    expect(holder.offer(sealed(passKey.privatePem, 1, DGCG_LIST), AT)).toMatchObject({ ok: false, reason: 'UNKNOWN_KEY' });
    expect(storage.saved).toBe(0);
    expect(holder.list()).toBeNull();
    // A restart with a forged list in storage does not use it either.
    storage.save(1, sealed(forger.privatePem, 1, DGCG_LIST));
    const restarted = new DccTrustHolder(storage, keyring);
    expect(restarted.restore(AT)).toMatchObject({ ok: false, reason: 'UNKNOWN_KEY' });
    expect(restarted.list()).toBeNull();
  });

  it('refuses an older or equal version, an empty or invalid list, another document and garbage, never throwing', () => {
    const { hub, keyring, storage } = setup();
    const holder = new DccTrustHolder(storage, keyring);
    expect(holder.offer(sealed(hub.privatePem, 3, DGCG_LIST), AT)).toMatchObject({ ok: true, version: 3 });
    expect(holder.offer(sealed(hub.privatePem, 3, DGCG_LIST), AT)).toMatchObject({ ok: false, reason: 'NOT_NEWER' });
    expect(holder.offer(sealed(hub.privatePem, 2, DGCG_LIST), AT)).toMatchObject({ ok: false, reason: 'NOT_NEWER' });
    expect(holder.offer(sealed(hub.privatePem, 4, Buffer.from('[]')), AT)).toMatchObject({ ok: false, reason: 'INVALID_LIST' });
    expect(holder.offer(sealed(hub.privatePem, 4, Buffer.from('not a list')), AT)).toMatchObject({ ok: false, reason: 'INVALID_LIST' });
    expect(holder.offer(sealed(hub.privatePem, 4, DGCG_LIST, 'safegate-policy/1'), AT)).toMatchObject({ ok: false, reason: 'MALFORMED' });
    expect(holder.offer(new Uint8Array(0), AT)).toMatchObject({ ok: false, reason: 'MALFORMED' });
    expect(holder.offer(Uint8Array.from([0xd2, 0x84, 0x40]), AT)).toMatchObject({ ok: false, reason: 'MALFORMED' });
    expect(holder.version()).toBe(3);
    expect(storage.saved).toBe(1);
    expect(holder.offer(sealed(hub.privatePem, 4, DGCG_LIST), AT)).toMatchObject({ ok: true, version: 4 });
  });
});

describe('the trust list in a real SQLite file (migration 0023)', () => {
  it('a restart of the kiosk reads the signed list back from the file and verifies it offline', () => {
    const dir = tempDir();
    try {
      const { hub, keyring } = setup();
      const file = join(dir.path, 'kiosk.db');
      let db = new Database(file);
      migrate0023(db);
      const holder = new DccTrustHolder(new SqliteDccTrustStorage(db, () => AT), keyring);
      expect(holder.offer(sealed(hub.privatePem, 7, DGCG_LIST), AT)).toMatchObject({ ok: true, version: 7 });
      expect(holder.offer(sealed(hub.privatePem, 8, DGCG_LIST), AT)).toMatchObject({ ok: true, version: 8 });
      db.close();
      db = new Database(file);
      expect(db.prepare('SELECT COUNT(*) AS n, MAX(version) AS v FROM dcc_trust').get()).toEqual({ n: 1, v: 8 });
      const restarted = new DccTrustHolder(new SqliteDccTrustStorage(db), keyring);
      expect(restarted.restore(AT)).toEqual({ ok: true, version: 8, signers: 1 });
      expect(createDccCheck({ trust: () => restarted.list(), policy: defaultPolicy }).check(CO28.PREFIX, AT)).toMatchObject({ ok: true, type: 'vaccination' });
      // The table refuses a second row or a version below 1.
      expect(() => db.prepare('INSERT INTO dcc_trust (id, version, signed, received_ms) VALUES (2, 1, x\'00\', 0)').run()).toThrow();
      db.close();
    } finally {
      dir.remove();
    }
  });
});
