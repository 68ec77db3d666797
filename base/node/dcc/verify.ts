import { constants, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { DccEntry, DccReason, DccResult, DccSteps, DccType } from '../../common/dcc.js';
import { DccStepError, decodeBase45, inflateCapped, parseCwtClaims, parseDccCose, sigStructure, unprefixHc1, type DccClaims, type DccCose } from './decode.js';
import { dccTypeOf, hcertSchemaProblem } from './schema.js';
import { DCC_EKU, signerPublicKey, type DccSigner, type TrustList } from './trust.js';

/**
 * Offline verification of an EU Digital COVID Certificate (`HC1:` text) against a trust list at a
 * given time. Never throws: every input gives a DccResult with the steps and reasons. Business
 * rules (CertLogic) are separate: evaluateDccRules.
 */

/**
 * How far in the verifier's future a certificate's issue time (`iat`) may be: a kiosk whose clock is
 * a little slow must not refuse a certificate issued minutes ago. Expiry (`exp`) gets no tolerance.
 */
export const DCC_IAT_SKEW_SECONDS = 5 * 60;

export interface VerifyDccOptions {
  /** Verification time, milliseconds since the epoch (default now). */
  at?: number;
}

/** COSE algorithm ids: ECDSA (raw r||s) and RSASSA-PSS. */
const ALGORITHMS: Record<number, { hash: string; kind: 'ec' | 'pss' }> = {
  [-7]: { hash: 'sha256', kind: 'ec' },
  [-35]: { hash: 'sha384', kind: 'ec' },
  [-36]: { hash: 'sha512', kind: 'ec' },
  [-37]: { hash: 'sha256', kind: 'pss' },
  [-38]: { hash: 'sha384', kind: 'pss' },
  [-39]: { hash: 'sha512', kind: 'pss' },
};

/** The one algorithm a key fixes by itself: ECDSA with the hash of its curve's size, RSA with PS256. */
function naturalAlgOf(key: KeyObject): number | undefined {
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') return -37;
  if (key.asymmetricKeyType !== 'ec') return undefined;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === 'prime256v1' ? -7 : curve === 'secp384r1' ? -35 : curve === 'secp521r1' ? -36 : undefined;
}

export function verifyCoseSignature(cose: DccCose, key: KeyObject): boolean {
  const alg = cose.alg === undefined ? undefined : ALGORITHMS[cose.alg];
  if (!alg) return false;
  // An algorithm the signature does not cover is taken only when the key leaves no other choice.
  if (cose.algOnlyUnprotected && naturalAlgOf(key) !== cose.alg) return false;
  const data = sigStructure(cose.protectedBytes, cose.payload);
  try {
    if (alg.kind === 'ec') {
      if (key.asymmetricKeyType !== 'ec') return false;
      return cryptoVerify(alg.hash, data, { key, dsaEncoding: 'ieee-p1363' }, cose.signature);
    }
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') return false;
    return cryptoVerify(alg.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, cose.signature);
  } catch {
    return false;
  }
}

function emptySteps(): DccSteps {
  return { unprefix: 'skipped', base45: 'skipped', decompress: 'skipped', cose: 'skipped', signature: 'skipped', expiry: 'skipped', schema: 'skipped', keyUsage: 'skipped' };
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function entryOf(hcert: Record<string, unknown>, type: DccType | null): DccEntry | undefined {
  if (!type) return undefined;
  const list = hcert[type === 'vaccination' ? 'v' : type === 'test' ? 't' : 'r'];
  const first: unknown = Array.isArray(list) ? list[0] : undefined;
  if (!first || typeof first !== 'object') return undefined;
  const out: DccEntry = {};
  for (const [k, v] of Object.entries(first)) if (typeof v === 'string' || typeof v === 'number') out[k] = v;
  return out;
}

function holderOf(hcert: Record<string, unknown>): DccResult['holder'] {
  const nam = hcert.nam;
  if (!nam || typeof nam !== 'object') return undefined;
  const n = nam as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 80).trim() : '');
  const given = str(n.gn) || str(n.gnt).replace(/</g, ' ');
  const family = str(n.fn) || str(n.fnt).replace(/</g, ' ');
  const name = [given, family].filter(Boolean).join(' ').trim();
  if (!name) return undefined;
  const dob = typeof hcert.dob === 'string' ? hcert.dob.slice(0, 10) : undefined;
  return dob ? { name, dob } : { name };
}

/** Whether the signer's extended key usage allows this type (no DCC OID at all: any type). */
export function keyUsageAllows(signer: DccSigner, type: DccType): boolean {
  const all = [...DCC_EKU.test, ...DCC_EKU.vaccination, ...DCC_EKU.recovery];
  const dccOids = signer.extendedKeyUsage.filter((o) => (all as string[]).includes(o));
  if (dccOids.length === 0) return true;
  return dccOids.some((o) => (DCC_EKU[type] as readonly string[]).includes(o));
}

/**
 * Verifies `input` (HC1 text, or its bytes) at `options.at`. The times, against the verification
 * time `at` (seconds for the CWT claims):
 *  - `exp` is required and strict: expired (DCC_EXPIRED) when exp < at; the exp second itself is
 *    still valid;
 *  - `iat`, when present, may be up to DCC_IAT_SKEW_SECONDS after `at` (a slow kiosk clock); later
 *    than that is DCC_NOT_YET_VALID;
 *  - the signer certificate must be within its own notBefore..notAfter at `at` (DCC_SIGNER_NOT_VALID).
 * The signature algorithm is taken from the protected header; only when that names none, from the
 * unprotected one, and then only the algorithm the signer's key fixes (P-256: ES256, RSA: PS256). The
 * kid from either (protected first).
 */
export function verifyDcc(input: unknown, trust: TrustList, options: VerifyDccOptions = {}): DccResult {
  const steps = emptySteps();
  const reasons: DccReason[] = [];
  const result: DccResult = { valid: false, reasons, type: null, steps };
  let detail: string | undefined;
  const fail = (reason: DccReason, message: string) => {
    if (!reasons.includes(reason)) reasons.push(reason);
    detail ??= message;
  };
  try {
    const at = options.at ?? Date.now();
    const text = input instanceof Uint8Array ? new TextDecoder('utf-8', { fatal: false }).decode(input.subarray(0, 16 * 1024)) : input;
    let stage: keyof DccSteps = 'unprefix';
    let cose: DccCose;
    let claims: DccClaims;
    try {
      const b45 = unprefixHc1(text);
      steps.unprefix = 'ok';
      stage = 'base45';
      const compressed = decodeBase45(b45);
      steps.base45 = 'ok';
      stage = 'decompress';
      const coseBytes = inflateCapped(compressed);
      steps.decompress = 'ok';
      stage = 'cose';
      cose = parseDccCose(coseBytes);
      claims = parseCwtClaims(cose.payload);
      steps.cose = 'ok';
    } catch (err) {
      steps[stage] = 'fail';
      if (err instanceof DccStepError) fail(err.reason, err.message);
      else fail(stage === 'unprefix' ? 'DCC_PREFIX' : 'DCC_COSE', 'unreadable');
      return finish();
    }
    if (cose.kid) result.kid = base64(cose.kid);
    if (claims.iss !== undefined) result.issuer = claims.iss.slice(0, 8);
    if (claims.iat !== undefined) result.iat = claims.iat;
    if (claims.exp !== undefined) result.exp = claims.exp;
    const type = dccTypeOf(claims.hcert);
    result.type = type;
    result.payload = claims.hcert;
    const entry = entryOf(claims.hcert, type);
    if (entry) result.entries = entry;
    const holder = holderOf(claims.hcert);
    if (holder) result.holder = holder;

    // Signature: the signer found by kid.
    const kidB64 = cose.kid ? base64(cose.kid) : undefined;
    // Key ids are 8 bytes: two signers may share one, so every signer with the kid is tried.
    const candidates = kidB64 ? trust.signers.filter((s) => s.kid === kidB64) : [];
    let signer: DccSigner | undefined;
    if (candidates.length === 0) {
      steps.signature = 'fail';
      fail('DCC_UNKNOWN_SIGNER', kidB64 ? `no signer with kid ${kidB64} in the trust list` : 'the message names no key id');
    } else {
      signer = candidates.find((s) => {
        try {
          return verifyCoseSignature(cose, signerPublicKey(s));
        } catch {
          return false;
        }
      });
      if (signer) steps.signature = 'ok';
      else {
        steps.signature = 'fail';
        const why =
          cose.alg !== undefined
            ? cose.algOnlyUnprotected
              ? `the signature does not verify with signer ${kidB64} (its alg, only in the unprotected header, is taken only when it is the one the key fixes)`
              : `the signature does not verify with signer ${kidB64}`
            : 'no signature algorithm (alg) in either header';
        fail('DCC_BAD_SIGNATURE', why);
      }
    }

    // Expiry: CWT iat/exp and the signer certificate's validity.
    const atSeconds = at / 1000;
    let expiryOk = true;
    if (!Number.isFinite(atSeconds)) {
      // A caller's bad clock must not make every certificate current.
      expiryOk = false;
      fail('DCC_EXPIRED', 'no valid verification time');
    } else if (claims.exp === undefined || claims.exp < atSeconds) {
      expiryOk = false;
      fail('DCC_EXPIRED', claims.exp === undefined ? 'no expiry (exp) in the certificate' : 'the certificate has expired');
    }
    if (claims.iat !== undefined && claims.iat > atSeconds + DCC_IAT_SKEW_SECONDS) {
      expiryOk = false;
      fail('DCC_NOT_YET_VALID', `issued more than ${DCC_IAT_SKEW_SECONDS} seconds after the verification time`);
    }
    if (signer && (at < signer.notBefore || at > signer.notAfter)) {
      expiryOk = false;
      fail('DCC_SIGNER_NOT_VALID', `signer ${signer.kid} is not valid at the verification time`);
    }
    steps.expiry = expiryOk ? 'ok' : 'fail';

    const problem = hcertSchemaProblem(claims.hcert);
    if (problem || !type) {
      steps.schema = 'fail';
      fail('DCC_SCHEMA', `not the DCC schema (${problem ?? 'no single v/t/r group'})`);
    } else steps.schema = 'ok';

    if (signer && type) {
      if (keyUsageAllows(signer, type)) steps.keyUsage = 'ok';
      else {
        steps.keyUsage = 'fail';
        fail('DCC_KEY_USAGE', `signer ${signer.kid} may not sign ${type} certificates`);
      }
    }
    return finish();
  } catch {
    // Not expected: every step above catches its own errors. Still a result, never a throw.
    fail('DCC_COSE', 'unexpected verifier error');
    return finish();
  }

  function finish(): DccResult {
    result.valid = reasons.length === 0 && Object.values(steps).every((s) => s === 'ok');
    if (detail) result.detail = detail;
    return result;
  }
}
