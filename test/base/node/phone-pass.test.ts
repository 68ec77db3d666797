import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, webcrypto, type JsonWebKey } from 'node:crypto';
import { encode as base45Encode } from '@digitalbazaar/base45';
import { describe, expect, it } from 'vitest';
import { proofMessage } from '../../../base/common/phone-proof.js';
import { decodeCoseSign1, encodeCbor, signCoseSign1 } from '../../../base/node/cose.js';
import { HubKeyring, generateSigningKeyPair, keyIdOf } from '../../../base/node/keys.js';
import { checkPass, issuePass, signPassClaims } from '../../../base/node/pass.js';
import { PHONE_PASS_PREFIX, checkPhonePass, decodePhoneCode, encodePhoneCode, issuePhonePass, provePhonePass, type ProofTimeRules } from '../../../base/node/phone-pass.js';
import { openEnvelope, sealEnvelope } from '../../../base/node/envelope.js';

const DAY = 86_400_000;
const RULES: ProofTimeRules = { maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, kioskClockSynced: true, unverifiedKioskClock: 'accept-with-flag' };

function setup() {
  const hub = generateSigningKeyPair('EdDSA');
  const ring = new HubKeyring();
  ring.add(createPublicKey(hub.publicPem), { role: 'phone-pass', source: 'test' });
  const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const issued = issuePhonePass(hub.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(now + DAY), holderKey: phone.publicKey });
  return { hub, ring, phone, now, issued };
}

describe('phone-bound pass', () => {
  it('a fresh proof by the bound phone is admitted, and yields the pass id and worker', () => {
    const { ring, phone, now, issued } = setup();
    const text = provePhonePass(issued.pass, phone.privateKey, now);
    expect(text.startsWith(PHONE_PASS_PREFIX)).toBe(true);
    expect(checkPhonePass(text, ring, now + 1000, RULES)).toMatchObject({
      ok: true,
      pass: { claims: { workerId: 'W1', passId: issued.passId } },
      proofAgeUnchecked: false,
    });
    // A QR a phone can show: a few hundred characters.
    expect(text.length).toBeLessThan(500);
  });

  it('a proof made with WebCrypto (what the phone page does) is admitted', async () => {
    const { hub, ring, now } = setup();
    const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const jwk = await webcrypto.subtle.exportKey('jwk', pair.publicKey);
    const issued = issuePhonePass(hub.privatePem, { workerId: 'W2', issuer: 'hub', expiresAt: new Date(now + DAY), holderKey: jwk as JsonWebKey });
    const t = Math.floor(now / 1000);
    const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', issued.pass));
    const sig = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, proofMessage(digest, t)));
    expect(checkPhonePass(encodePhoneCode(issued.pass, t, sig), ring, now, RULES)).toMatchObject({ ok: true });
  });

  it('a replayed proof older than the limit is PASS_STALE; at the limit it still passes', () => {
    const { ring, phone, now, issued } = setup();
    const t0 = Math.floor(now / 1000) * 1000;
    const text = provePhonePass(issued.pass, phone.privateKey, t0);
    expect(checkPhonePass(text, ring, t0 + 60_000, RULES).ok).toBe(true);
    expect(checkPhonePass(text, ring, t0 + 61_000, RULES)).toMatchObject({ ok: false, failure: 'PASS_STALE' });
    expect(checkPhonePass(text, ring, t0 + 61_000, { ...RULES, maxProofAgeSeconds: 120 }).ok).toBe(true);
  });

  it('a phone clock ahead within the tolerated skew passes; beyond it is PHONE_CLOCK_AHEAD', () => {
    const { ring, phone, now, issued } = setup();
    expect(checkPhonePass(provePhonePass(issued.pass, phone.privateKey, now + 25_000), ring, now, RULES).ok).toBe(true);
    expect(checkPhonePass(provePhonePass(issued.pass, phone.privateKey, now + 40_000), ring, now, RULES)).toMatchObject({ ok: false, failure: 'PHONE_CLOCK_AHEAD' });
    // A phone behind by less than the age limit passes too.
    expect(checkPhonePass(provePhonePass(issued.pass, phone.privateKey, now - 45_000), ring, now, RULES).ok).toBe(true);
  });

  it('a proof signed by another phone is refused (BAD_SIGNATURE)', () => {
    const { ring, now, issued } = setup();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(checkPhonePass(provePhonePass(issued.pass, other.privateKey, now), ring, now, RULES)).toMatchObject({ ok: false, failure: 'BAD_SIGNATURE' });
  });

  it('a proof moved onto another pass, even of the same phone, is refused', () => {
    const { hub, ring, phone, now, issued } = setup();
    const second = issuePhonePass(hub.privatePem, { workerId: 'W9', issuer: 'hub', expiresAt: new Date(now + DAY), holderKey: phone.publicKey });
    const code = decodePhoneCode(provePhonePass(issued.pass, phone.privateKey, now));
    const moved = encodePhoneCode(second.pass, code.t, code.signature);
    expect(checkPhonePass(moved, ring, now, RULES)).toMatchObject({ ok: false, failure: 'BAD_SIGNATURE' });
    // And a proof whose time was edited no longer verifies.
    expect(checkPhonePass(encodePhoneCode(issued.pass, code.t + 50, code.signature), ring, now, RULES)).toMatchObject({ ok: false, failure: 'BAD_SIGNATURE' });
  });

  it('a signature by the phone key over anything but the proof message is refused', () => {
    const { ring, phone, now, issued } = setup();
    const t = Math.floor(now / 1000);
    // The same bytes without the SGP1 context (what a phone key might sign for another purpose).
    const hash = createHash('sha256').update(issued.pass).digest();
    const bare = Buffer.concat([hash, Buffer.from(proofMessage(hash, t).subarray(36))]);
    const sig = sign('sha256', bare, { key: phone.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(checkPhonePass(encodePhoneCode(issued.pass, t, sig), ring, now, RULES)).toMatchObject({ ok: false, failure: 'BAD_SIGNATURE' });
  });

  it('the hub signature must be by a phone-pass key: a printed-pass key cannot make one', () => {
    const { phone, now } = setup();
    const passKey = generateSigningKeyPair('EdDSA');
    const ring = new HubKeyring();
    ring.add(createPublicKey(passKey.publicPem), { role: 'pass', source: 'test' });
    const forged = issuePhonePass(passKey.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(now + DAY), holderKey: phone.publicKey });
    expect(checkPhonePass(provePhonePass(forged.pass, phone.privateKey, now), ring, now, RULES)).toMatchObject({
      ok: false,
      failure: 'UNKNOWN_KEY',
      detail: expect.stringMatching(/pass key and may not sign a phone-pass/),
    });
  });

  it('the inner pass shown alone as a printed pass is refused; a printed pass cannot be shown as a phone code', () => {
    const { ring, phone, now, issued } = setup();
    const printedKey = generateSigningKeyPair('EdDSA');
    ring.add(createPublicKey(printedKey.publicPem), { role: 'pass', source: 'test' });
    expect(checkPass(sealEnvelope(issued.pass, 'SG1:'), ring, now)).toMatchObject({ ok: false, failure: 'UNKNOWN_KEY' });
    // Even a phone-bound pass made with a printed-pass key: shown without a proof, it is refused.
    const bound = signPassClaims(printedKey.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(now + DAY), holderKey: phone.publicKey });
    expect(checkPass(sealEnvelope(bound, 'SG1:'), ring, now)).toMatchObject({ ok: false, failure: 'MALFORMED_CODE', detail: expect.stringMatching(/without its phone proof/) });
    const printed = signPassClaims(printedKey.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(now + DAY) });
    expect(checkPhonePass(provePhonePass(printed, phone.privateKey, now), ring, now, RULES)).toMatchObject({ ok: false, failure: 'UNKNOWN_KEY' });
  });

  it('a pass signed by a phone-pass key but without the phone key or pass id is malformed', () => {
    const { hub, ring, phone, now } = setup();
    const s = Math.floor(now / 1000);
    const claims = encodeCbor(new Map<number, unknown>([[1, 'hub'], [2, 'W1'], [4, s + 3600], [6, s]]));
    const noKey = signCoseSign1(claims, createPrivateKey(hub.privatePem), keyIdOf(createPublicKey(hub.publicPem)));
    expect(checkPhonePass(provePhonePass(noKey, phone.privateKey, now), ring, now, RULES)).toMatchObject({ ok: false, failure: 'MALFORMED_CODE' });
    // A point not on the curve.
    const badKey = new Map<number, unknown>([[1, new Map<number, unknown>([[1, 2], [-1, 1], [-2, new Uint8Array(32).fill(1)], [-3, new Uint8Array(32).fill(2)]])]]);
    const withBad = encodeCbor(new Map<number, unknown>([[1, 'hub'], [2, 'W1'], [4, s + 3600], [6, s], [7, new Uint8Array(8)], [8, badKey]]));
    const bad = signCoseSign1(withBad, createPrivateKey(hub.privatePem), keyIdOf(createPublicKey(hub.publicPem)));
    expect(checkPhonePass(provePhonePass(bad, phone.privateKey, now), ring, now, RULES)).toMatchObject({ ok: false, failure: 'MALFORMED_CODE' });
  });

  it('validity period and revocation apply as for printed passes', () => {
    const { ring, phone, now, issued } = setup();
    expect(checkPhonePass(provePhonePass(issued.pass, phone.privateKey, now + 2 * DAY), ring, now + 2 * DAY, RULES)).toMatchObject({ ok: false, failure: 'PASS_EXPIRED' });
    expect(checkPhonePass(provePhonePass(issued.pass, phone.privateKey, now), ring, now, RULES, (id) => id === issued.passId)).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
  });

  it('on an unverified kiosk clock: deny refuses, accept-with-flag admits unjudged, check judges anyway', () => {
    const { ring, phone, now, issued } = setup();
    const old = provePhonePass(issued.pass, phone.privateKey, now - 10 * 60_000);
    const unsynced = { ...RULES, kioskClockSynced: false };
    expect(checkPhonePass(old, ring, now, { ...unsynced, unverifiedKioskClock: 'deny' })).toMatchObject({ ok: false, failure: 'CLOCK_UNVERIFIED' });
    expect(checkPhonePass(old, ring, now, { ...unsynced, unverifiedKioskClock: 'accept-with-flag' })).toMatchObject({ ok: true, proofAgeUnchecked: true });
    expect(checkPhonePass(old, ring, now, { ...unsynced, unverifiedKioskClock: 'check' })).toMatchObject({ ok: false, failure: 'PASS_STALE' });
    // A forged proof is refused whatever the clock.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(checkPhonePass(provePhonePass(issued.pass, other.privateKey, now), ring, now, { ...unsynced, unverifiedKioskClock: 'accept-with-flag' })).toMatchObject({ ok: false, failure: 'BAD_SIGNATURE' });
  });

  it.each([
    ['empty', PHONE_PASS_PREFIX],
    ['not Base45', `${PHONE_PASS_PREFIX}~~`],
    ['not an array', PHONE_PASS_PREFIX + base45Encode(new Uint8Array(encodeCbor({ a: 1 })))],
    ['two items', PHONE_PASS_PREFIX + base45Encode(new Uint8Array(encodeCbor([new Uint8Array(4), 1])))],
    ['negative time', PHONE_PASS_PREFIX + base45Encode(new Uint8Array(encodeCbor([new Uint8Array(4), -1, new Uint8Array(64)])))],
    ['fractional time', PHONE_PASS_PREFIX + base45Encode(new Uint8Array(encodeCbor([new Uint8Array(4), 1.5, new Uint8Array(64)])))],
    ['short signature', PHONE_PASS_PREFIX + base45Encode(new Uint8Array(encodeCbor([new Uint8Array(4), 1, new Uint8Array(63)])))],
    ['pass not COSE', PHONE_PASS_PREFIX + base45Encode(new Uint8Array(encodeCbor([new Uint8Array(4), 1, new Uint8Array(64)])))],
  ])('refuses a malformed code (%s) as MALFORMED_CODE', (_, text) => {
    const { ring, now } = setup();
    expect(checkPhonePass(text, ring, now, RULES)).toMatchObject({ ok: false, failure: 'MALFORMED_CODE' });
  });

  it('the hub hands the phone its pass as SG1 text: a kiosk refuses it shown as it is; the phone builds codes from the pass inside', () => {
    const { hub, ring, phone, now } = setup();
    const transport = issuePass(hub.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(now + DAY), holderKey: phone.publicKey });
    expect(checkPass(transport, ring, now).ok).toBe(false);
    expect(checkPhonePass(provePhonePass(openEnvelope(transport, 'SG1:'), phone.privateKey, now), ring, now, RULES).ok).toBe(true);
    expect(() => issuePhonePass(hub.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(now + DAY), holderKey: generateKeyPairSync('ed25519').publicKey })).toThrow(/P-256/);
    const check = decodeCoseSign1(issuePhonePass(hub.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(now + DAY), holderKey: phone.publicKey, passId: '0011223344556677' }).pass);
    expect(check.payload.length).toBeGreaterThan(0);
  });
});
