import { generateKeyPairSync } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { encode as base45Encode } from '@digitalbazaar/base45';
import { describe, expect, it } from 'vitest';
import { decodeCoseSign1, encodeCbor, signCoseSign1 } from '../../../base/node/cose.js';
import { openEnvelope, sealEnvelope } from '../../../base/node/envelope.js';
import { HubKeyring, generateSigningKeyPair, keyIdOf } from '../../../base/node/keys.js';
import { PASS_PREFIX, checkPass, issuePass } from '../../../base/node/pass.js';
import { createPrivateKey, createPublicKey } from 'node:crypto';

const DAY = 86_400_000;

function ringOf(...pems: string[]): HubKeyring {
  const ring = new HubKeyring();
  for (const pem of pems) ring.add(createPublicKey(pem), { role: 'pass', source: 'test' });
  return ring;
}

describe('worker pass', () => {
  for (const alg of ['EdDSA', 'ES256'] as const) {
    it(`issued with ${alg} verifies offline and yields its claims`, () => {
      const pair = generateSigningKeyPair(alg);
      const now = Date.now();
      const text = issuePass(pair.privatePem, { workerId: 'W0001', issuer: 'hub', expiresAt: new Date(now + DAY) });
      expect(text.startsWith(PASS_PREFIX)).toBe(true);
      const check = checkPass(text, ringOf(pair.publicPem), now);
      expect(check).toMatchObject({ ok: true, pass: { kid: pair.kid, claims: { workerId: 'W0001', issuer: 'hub' } } });
    });
  }

  it('is accepted under any of several trusted keys (rotation)', () => {
    const oldKey = generateSigningKeyPair('EdDSA');
    const newKey = generateSigningKeyPair('ES256');
    const ring = ringOf(oldKey.publicPem, newKey.publicPem);
    const now = Date.now();
    for (const k of [oldKey, newKey]) {
      const text = issuePass(k.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(now + DAY) });
      expect(checkPass(text, ring, now).ok).toBe(true);
    }
  });

  it('signed by an untrusted key is UNKNOWN_KEY', () => {
    const trusted = generateSigningKeyPair();
    const other = generateSigningKeyPair();
    const text = issuePass(other.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(Date.now() + DAY) });
    expect(checkPass(text, ringOf(trusted.publicPem), Date.now())).toMatchObject({ ok: false, failure: 'UNKNOWN_KEY' });
  });

  it('forged with a trusted key id but another key is BAD_SIGNATURE', () => {
    const trusted = generateSigningKeyPair();
    const forger = createPrivateKey(generateSigningKeyPair().privatePem);
    const payload = encodeCbor(new Map<number, unknown>([[1, 'hub'], [2, 'W1'], [4, Math.floor(Date.now() / 1000) + 3600], [6, 1]]));
    const kid = keyIdOf(createPublicKey(trusted.publicPem));
    const text = sealEnvelope(signCoseSign1(payload, forger, kid), PASS_PREFIX);
    expect(checkPass(text, ringOf(trusted.publicPem), Date.now())).toMatchObject({ ok: false, failure: 'BAD_SIGNATURE' });
  });

  it('altered after signing (worker id swapped) is BAD_SIGNATURE', () => {
    const pair = generateSigningKeyPair();
    const text = issuePass(pair.privatePem, { workerId: 'W0001', issuer: 'hub', expiresAt: new Date(Date.now() + DAY) });
    const msg = decodeCoseSign1(openEnvelope(text, PASS_PREFIX));
    const altered = encodeCbor(new Map<number, unknown>([[1, 'hub'], [2, 'W0002'], [4, Math.floor(Date.now() / 1000) + 3600], [6, 1]]));
    const forged = encodeCbor([msg.protectedBytes, new Map(), altered, msg.signature]);
    expect(checkPass(sealEnvelope(forged, PASS_PREFIX), ringOf(pair.publicPem), Date.now())).toMatchObject({
      ok: false,
      failure: 'BAD_SIGNATURE',
    });
  });

  it('past its expiry is PASS_EXPIRED, and before its start PASS_NOT_YET_VALID', () => {
    const pair = generateSigningKeyPair();
    const now = Date.now();
    const text = issuePass(pair.privatePem, { workerId: 'W1', issuer: 'hub', issuedAt: new Date(now), expiresAt: new Date(now + DAY) });
    const ring = ringOf(pair.publicPem);
    expect(checkPass(text, ring, now + DAY + 1000)).toMatchObject({ ok: false, failure: 'PASS_EXPIRED' });
    expect(checkPass(text, ring, now - DAY)).toMatchObject({ ok: false, failure: 'PASS_NOT_YET_VALID' });
    expect(checkPass(text, ring, now + 1000).ok).toBe(true);
  });

  it.each([
    ['not Base45', `${PASS_PREFIX}abc~~`],
    ['bad length', `${PASS_PREFIX}A`],
    ['empty', PASS_PREFIX],
    ['not CBOR', PASS_PREFIX + base45Encode(new Uint8Array([0xff, 0xfe, 0xfd]))],
    ['broken zlib', PASS_PREFIX + base45Encode(new Uint8Array([0x78, 0x9c, 1, 2, 3, 4]))],
    ['CBOR but not COSE', PASS_PREFIX + base45Encode(new Uint8Array(deflateSync(encodeCbor({ a: 1 }))))],
  ])('that is malformed (%s) is MALFORMED_CODE, never a throw', (_name, text) => {
    const pair = generateSigningKeyPair();
    expect(checkPass(text, ringOf(pair.publicPem), Date.now())).toMatchObject({ ok: false, failure: 'MALFORMED_CODE' });
  });

  it('refuses a zlib bomb without inflating it', () => {
    const bomb = PASS_PREFIX + base45Encode(new Uint8Array(deflateSync(Buffer.alloc(10_000_000))));
    expect(bomb.length).toBeLessThan(40_000);
    expect(checkPass(bomb, new HubKeyring(), Date.now())).toMatchObject({ ok: false, failure: 'MALFORMED_CODE' });
  });

  it('with a signature over valid COSE but claims of the wrong types is MALFORMED_CODE', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const ring = new HubKeyring();
    ring.add(privateKey, { role: 'pass', source: 'test' });
    const payload = encodeCbor(new Map<number, unknown>([[1, 42], [2, ''], [4, 'soon']]));
    const text = sealEnvelope(signCoseSign1(payload, privateKey, keyIdOf(privateKey)), PASS_PREFIX);
    expect(checkPass(text, ring, Date.now())).toMatchObject({ ok: false, failure: 'MALFORMED_CODE' });
  });
});
