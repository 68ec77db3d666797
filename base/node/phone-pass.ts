import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { MAX_PROOF_SECONDS, PHONE_PASS_PREFIX, PROOF_SIGNATURE_BYTES, proofMessage } from '../common/phone-proof.js';
import { CoseFormatError, decodeCbor, encodeCbor } from './cose.js';
import { EnvelopeError, openEnvelope } from './envelope.js';
import { encode as base45Encode } from '@digitalbazaar/base45';
import type { HubKeyring } from './keys.js';
import { checkValidity, claimsFromCbor, holderPublicKey, newPassId, signPassClaims, timeText, type IssuePassOptions, type PassClaims, type PassFailure } from './pass.js';
import { openSigned } from './signed.js';

export { PHONE_PASS_PREFIX } from '../common/phone-proof.js';

/**
 * Phone-bound rotating passes (docs/worker-pass.md, "Phone-bound passes"). The hub signs a pass that
 * carries the phone's public key; the phone shows that pass with the current time signed by its
 * non-extractable key, redrawn every 30 s. The kiosk checks both signatures offline and the proof's
 * age against its own clock, so a screenshot stops working within the policy's limit.
 */

/** How a kiosk judges the proof's time (policy `params.passes`). */
export interface ProofTimeRules {
  /** A proof older than this (by the kiosk's clock) is refused as PASS_STALE. */
  maxProofAgeSeconds: number;
  /** A proof dated further ahead than this is refused as PHONE_CLOCK_AHEAD. */
  phoneClockSkewSeconds: number;
  /** Whether the kiosk's own clock is known to be synchronised now. */
  kioskClockSynced: boolean;
  /** While it is not: judge the proof's age by it anyway, accept without judging it, or refuse. */
  unverifiedKioskClock: 'check' | 'accept-with-flag' | 'deny';
}

export type PhonePassFailure = PassFailure | 'PASS_STALE' | 'PHONE_CLOCK_AHEAD' | 'CLOCK_UNVERIFIED';

export type PhonePassCheck =
  | { ok: true; pass: { claims: PassClaims & { passId: string }; kid: string }; proofSeconds: number; proofAgeUnchecked: boolean }
  | { ok: false; failure: PhonePassFailure; detail: string; kid?: string; claims?: PassClaims };

export interface PhonePass {
  passId: string;
  /** The hub-signed pass (COSE_Sign1) the phone keeps and shows inside every code. */
  pass: Uint8Array;
}

/** Signs a phone-bound pass (the hub's side), with a `phone-pass` key. */
export function issuePhonePass(privateKey: KeyObject | string, options: IssuePassOptions & { holderKey: NonNullable<IssuePassOptions['holderKey']> }): PhonePass {
  const passId = options.passId ?? newPassId();
  return { passId, pass: signPassClaims(privateKey, { ...options, passId }) };
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** The QR text for a pass, a proof time and the phone's signature over proofMessage(...). */
export function encodePhoneCode(pass: Uint8Array, tSeconds: number, signature: Uint8Array): string {
  // A fresh copy: the Base45 encoder reads the whole underlying buffer, and cborg's output is a view.
  return PHONE_PASS_PREFIX + base45Encode(new Uint8Array(encodeCbor([pass, tSeconds, signature])));
}

/**
 * What the phone page does, in Node (tests, tools): signs the proof for `nowMs` with the phone's
 * private key and returns the QR text.
 */
export function provePhonePass(pass: Uint8Array, phoneKey: KeyObject, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  const signature = sign('sha256', proofMessage(sha256(pass), t), { key: phoneKey, dsaEncoding: 'ieee-p1363' });
  return encodePhoneCode(pass, t, new Uint8Array(signature));
}

interface PhoneCode {
  pass: Uint8Array;
  t: number;
  signature: Uint8Array;
}

/** Envelope and structure of a shown code; throws EnvelopeError or CoseFormatError. */
export function decodePhoneCode(text: string): PhoneCode {
  const bytes = openEnvelope(text, PHONE_PASS_PREFIX);
  let value: unknown;
  try {
    value = decodeCbor(bytes);
  } catch (err) {
    throw new CoseFormatError(`not CBOR: ${(err as Error).message}`);
  }
  if (!Array.isArray(value) || value.length !== 3) throw new CoseFormatError('a phone code is an array of 3 (pass, time, signature)');
  const [pass, t, signature] = value as unknown[];
  if (!(pass instanceof Uint8Array)) throw new CoseFormatError('the pass is not a byte string');
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0 || t > MAX_PROOF_SECONDS) throw new CoseFormatError('the proof time is not whole seconds up to year 9999');
  if (!(signature instanceof Uint8Array) || signature.length !== PROOF_SIGNATURE_BYTES) throw new CoseFormatError(`the proof signature is not ${PROOF_SIGNATURE_BYTES} bytes`);
  return { pass, t, signature };
}

/**
 * Verifies a shown phone code offline, in this order: structure (MALFORMED_CODE); the hub's
 * signature by a trusted `phone-pass` key (UNKNOWN_KEY, BAD_SIGNATURE); the claims, which must carry
 * a pass id and the phone's key (MALFORMED_CODE); the proof's signature by that key over this very
 * pass and time (BAD_SIGNATURE); validity period and revocation (as for printed passes); then the
 * proof's time against the kiosk's clock (PASS_STALE, PHONE_CLOCK_AHEAD, CLOCK_UNVERIFIED).
 * Nothing here throws for bad input.
 */
export function checkPhonePass(
  text: string,
  keyring: HubKeyring,
  nowMs: number,
  rules: ProofTimeRules,
  isRevoked: (passId: string) => boolean = () => false,
): PhonePassCheck {
  let code: PhoneCode;
  try {
    code = decodePhoneCode(text);
  } catch (err) {
    if (err instanceof EnvelopeError || err instanceof CoseFormatError) return { ok: false, failure: 'MALFORMED_CODE', detail: err.message };
    throw err;
  }
  const opened = openSigned(code.pass, keyring, 'phone-pass', nowMs);
  if (!opened.ok) {
    const failure = opened.failure === 'MALFORMED' ? 'MALFORMED_CODE' : opened.failure;
    return { ok: false, failure, detail: opened.detail, ...(opened.kid ? { kid: opened.kid } : {}) };
  }
  const kid = opened.signer.kid;
  let claims: PassClaims;
  let phoneKey: KeyObject;
  try {
    claims = claimsFromCbor(opened.payload);
    if (!claims.holderKey) throw new CoseFormatError('a phone pass without the phone key (cnf)');
    if (!claims.passId) throw new CoseFormatError('a phone pass without a pass id (cti)');
    phoneKey = holderPublicKey(claims.holderKey);
  } catch (err) {
    return { ok: false, failure: 'MALFORMED_CODE', detail: (err as Error).message, kid };
  }
  let proofOk: boolean;
  try {
    proofOk = verify('sha256', proofMessage(sha256(code.pass), code.t), { key: phoneKey, dsaEncoding: 'ieee-p1363' }, code.signature);
  } catch {
    proofOk = false;
  }
  if (!proofOk) return { ok: false, failure: 'BAD_SIGNATURE', detail: 'the proof is not signed by the phone this pass is bound to', kid, claims };
  const validity = checkValidity(claims, kid, nowMs, isRevoked);
  if (!validity.ok) return validity;

  const passId = claims.passId;
  let proofAgeUnchecked = false;
  if (!rules.kioskClockSynced && rules.unverifiedKioskClock !== 'check') {
    if (rules.unverifiedKioskClock === 'deny') {
      return { ok: false, failure: 'CLOCK_UNVERIFIED', detail: 'this kiosk clock is not verified: the proof time cannot be judged', kid, claims };
    }
    proofAgeUnchecked = true;
  } else {
    const ageS = nowMs / 1000 - code.t;
    if (ageS > rules.maxProofAgeSeconds) {
      return { ok: false, failure: 'PASS_STALE', detail: `proof made ${timeText(code.t)}, ${Math.floor(ageS)} s ago (limit ${rules.maxProofAgeSeconds} s)`, kid, claims };
    }
    if (-ageS > rules.phoneClockSkewSeconds) {
      return { ok: false, failure: 'PHONE_CLOCK_AHEAD', detail: `proof dated ${timeText(code.t)}, ${Math.ceil(-ageS)} s ahead (tolerated ${rules.phoneClockSkewSeconds} s)`, kid, claims };
    }
  }
  return { ok: true, pass: { claims: { ...claims, passId }, kid }, proofSeconds: code.t, proofAgeUnchecked };
}
