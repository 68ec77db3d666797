import { KeyObject, createPrivateKey, createPublicKey, randomBytes, type JsonWebKey } from 'node:crypto';
import { z } from 'zod';
import { PASS_ID_PATTERN, workerIdSchema } from '../common/ids.js';
import { issuesText } from '../common/validation.js';
import { CoseFormatError, decodeCbor, encodeCbor, signCoseSign1 } from './cose.js';
import { EnvelopeError, openEnvelope, sealEnvelope } from './envelope.js';
import { keyIdOf, type HubKeyring } from './keys.js';
import { openSigned } from './signed.js';

/**
 * A worker pass: a QR text the hub signs and the kiosk verifies offline. See docs/worker-pass.md.
 *   SG1: + Base45( zlib( COSE_Sign1( CBOR claims ) ) )
 * Claims use the CWT registry (RFC 8392): iss 1, sub 2 (worker id), exp 4, nbf 5, iat 6, cti 7.
 */
export const PASS_PREFIX = 'SG1:';

/** Allowed disagreement between the hub's clock and the kiosk's when checking nbf/iat. */
const CLOCK_SKEW_S = 300;

const CLAIM = { iss: 1, sub: 2, exp: 4, nbf: 5, iat: 6, cti: 7, cnf: 8 } as const;
/** The confirmation claim's member holding a COSE_Key (RFC 8747 section 3.2), and COSE_Key labels (RFC 9053). */
const CNF_COSE_KEY = 1;
const COSE_KEY = { kty: 1, crv: -1, x: -2, y: -3 } as const;
const KTY_EC2 = 2;
const CRV_P256 = 1;

/** A time claim in seconds since 1970, up to the end of year 9999 (what a date can show). */
const secondsSchema = z.number().int().positive().max(253_402_300_799);

const claimsSchema = z.object({
  issuer: z.string().min(1).max(128),
  workerId: workerIdSchema,
  issuedAt: secondsSchema,
  expiresAt: secondsSchema,
  notBefore: secondsSchema.optional(),
  passId: z.string().max(64).optional(),
  /** A phone-bound pass: the phone's P-256 public key (its affine coordinates). */
  holderKey: z.object({ x: z.instanceof(Uint8Array), y: z.instanceof(Uint8Array) }).optional(),
});

export type PassClaims = z.infer<typeof claimsSchema>;

export interface VerifiedPass {
  claims: PassClaims;
  kid: string;
}

/** Why a pass was refused; each maps to its own deny reason. */
export type PassFailure = 'MALFORMED_CODE' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE' | 'PASS_EXPIRED' | 'PASS_NOT_YET_VALID' | 'PASS_REVOKED';

export type PassCheck =
  | { ok: true; pass: VerifiedPass }
  | { ok: false; failure: PassFailure; detail: string; kid?: string; claims?: PassClaims };

/** The `cnf` claim's COSE_Key: an EC2 P-256 public key with 32-byte x and y, nothing else accepted. */
function holderKeyFromCbor(cnf: unknown): { x: Uint8Array; y: Uint8Array } | undefined {
  if (cnf === undefined) return undefined;
  if (!(cnf instanceof Map)) throw new CoseFormatError('cnf is not a map');
  const key = cnf.get(CNF_COSE_KEY);
  if (!(key instanceof Map)) throw new CoseFormatError('cnf has no COSE_Key');
  const x = key.get(COSE_KEY.x);
  const y = key.get(COSE_KEY.y);
  if (key.get(COSE_KEY.kty) !== KTY_EC2 || key.get(COSE_KEY.crv) !== CRV_P256) throw new CoseFormatError('the phone key is not an EC2 P-256 key');
  if (!(x instanceof Uint8Array) || !(y instanceof Uint8Array) || x.length !== 32 || y.length !== 32) {
    throw new CoseFormatError('the phone key coordinates are not 32-byte strings');
  }
  return { x, y };
}

/** The phone's public key as a KeyObject; throws when the point is not on the curve. */
export function holderPublicKey(holderKey: { x: Uint8Array; y: Uint8Array }): KeyObject {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(holderKey.x), y: b64(holderKey.y) }, format: 'jwk' });
}

/** Parses signed claims (after the signature was checked); CoseFormatError for anything out of shape. */
export function claimsFromCbor(payload: Uint8Array): PassClaims {
  const map = decodeCbor(payload);
  if (!(map instanceof Map)) throw new CoseFormatError('claims are not a CBOR map');
  const cti = map.get(CLAIM.cti);
  const holderKey = holderKeyFromCbor(map.get(CLAIM.cnf));
  const parsed = claimsSchema.safeParse({
    issuer: map.get(CLAIM.iss),
    workerId: map.get(CLAIM.sub),
    issuedAt: map.get(CLAIM.iat),
    expiresAt: map.get(CLAIM.exp),
    notBefore: map.get(CLAIM.nbf),
    passId: cti instanceof Uint8Array ? Buffer.from(cti).toString('hex') : undefined,
    holderKey,
  });
  if (!parsed.success) {
    throw new CoseFormatError(`claims: ${issuesText(parsed.error)}`);
  }
  return parsed.data;
}

/** A claim's time for a refusal's detail: a date when it is one (a signed claim may lie far beyond year 275760). */
export function timeText(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds} s after 1970` : date.toISOString();
}

/** Verifies a pass's text offline: envelope, signature by a trusted key, then validity period. */
export function checkPass(text: string, keyring: HubKeyring, nowMs: number, isRevoked: (passId: string) => boolean = () => false): PassCheck {
  let bytes: Uint8Array;
  try {
    bytes = openEnvelope(text, PASS_PREFIX);
  } catch (err) {
    if (err instanceof EnvelopeError) return { ok: false, failure: 'MALFORMED_CODE', detail: err.message };
    throw err;
  }
  const opened = openSigned(bytes, keyring, 'worker-pass', nowMs);
  if (!opened.ok) {
    const failure = opened.failure === 'MALFORMED' ? 'MALFORMED_CODE' : opened.failure;
    return { ok: false, failure, detail: opened.detail, ...(opened.kid ? { kid: opened.kid } : {}) };
  }
  const kid = opened.signer.kid;
  let claims: PassClaims;
  try {
    claims = claimsFromCbor(opened.payload);
  } catch (err) {
    return { ok: false, failure: 'MALFORMED_CODE', detail: (err as Error).message, kid };
  }
  if (claims.holderKey) return { ok: false, failure: 'MALFORMED_CODE', detail: 'a phone-bound pass shown without its phone proof', kid, claims };
  return checkValidity(claims, kid, nowMs, isRevoked);
}

/** The checks after the signature, shared by printed and phone-bound passes: validity period, then revocation. */
export function checkValidity(claims: PassClaims, kid: string, nowMs: number, isRevoked: (passId: string) => boolean): PassCheck {
  const nowS = Math.floor(nowMs / 1000);
  if (claims.expiresAt <= nowS) {
    return { ok: false, failure: 'PASS_EXPIRED', detail: `expired ${timeText(claims.expiresAt)}`, kid, claims };
  }
  const start = Math.max(claims.notBefore ?? 0, claims.issuedAt);
  if (start > nowS + CLOCK_SKEW_S) {
    return { ok: false, failure: 'PASS_NOT_YET_VALID', detail: `valid from ${timeText(start)}`, kid, claims };
  }
  if (claims.passId && isRevoked(claims.passId)) {
    return { ok: false, failure: 'PASS_REVOKED', detail: `pass ${claims.passId} is revoked`, kid, claims };
  }
  return { ok: true, pass: { claims, kid } };
}

export interface IssuePassOptions {
  workerId: string;
  issuer: string;
  expiresAt: Date;
  issuedAt?: Date;
  notBefore?: Date;
  /** The pass id (`cti`) as 16 hex digits (8 bytes); random when absent. The hub's registry passes its own. */
  passId?: string;
  /**
   * Makes a phone-bound pass: the phone's P-256 public key goes in the `cnf` claim, and the pass is
   * then valid only with a fresh proof signed by that key (see phone-pass.ts). Sign it with a
   * `phone-pass` key.
   */
  holderKey?: KeyObject | JsonWebKey;
}

/** A new random pass id (8 bytes, hex): what `cti` holds. */
export function newPassId(): string {
  return randomBytes(8).toString('hex');
}

function holderKeyCoordinates(holderKey: KeyObject | JsonWebKey): { x: Uint8Array; y: Uint8Array } {
  let key: KeyObject;
  try {
    key = holderKey instanceof KeyObject ? holderKey : createPublicKey({ key: holderKey, format: 'jwk' });
  } catch (err) {
    throw new Error(`the phone key is not a valid public key: ${(err as Error).message}`, { cause: err });
  }
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('the phone key must be a P-256 public key');
  }
  const jwk = key.export({ format: 'jwk' });
  return { x: new Uint8Array(Buffer.from(jwk.x!, 'base64url')), y: new Uint8Array(Buffer.from(jwk.y!, 'base64url')) };
}

/** Signs the pass's claims (the hub's side): the COSE_Sign1 bytes, before the QR text envelope. */
export function signPassClaims(privateKey: KeyObject | string, options: IssuePassOptions): Uint8Array {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const issuedAt = options.issuedAt ?? new Date();
  const claims = claimsSchema.parse({
    issuer: options.issuer,
    workerId: options.workerId,
    issuedAt: Math.floor(issuedAt.getTime() / 1000),
    expiresAt: Math.floor(options.expiresAt.getTime() / 1000),
    notBefore: options.notBefore ? Math.floor(options.notBefore.getTime() / 1000) : undefined,
  });
  if (claims.expiresAt <= claims.issuedAt) throw new Error('the expiry must be after the issue time');
  const map = new Map<number, unknown>([
    [CLAIM.iss, claims.issuer],
    [CLAIM.sub, claims.workerId],
    [CLAIM.iat, claims.issuedAt],
    [CLAIM.exp, claims.expiresAt],
  ]);
  if (options.passId !== undefined && !PASS_ID_PATTERN.test(options.passId)) throw new Error('a pass id is 16 lower-case hex digits');
  map.set(CLAIM.cti, new Uint8Array(Buffer.from(options.passId ?? newPassId(), 'hex')));
  if (claims.notBefore !== undefined) map.set(CLAIM.nbf, claims.notBefore);
  if (options.holderKey !== undefined) {
    const { x, y } = holderKeyCoordinates(options.holderKey);
    const coseKey = new Map<number, unknown>([
      [COSE_KEY.kty, KTY_EC2],
      [COSE_KEY.crv, CRV_P256],
      [COSE_KEY.x, x],
      [COSE_KEY.y, y],
    ]);
    map.set(CLAIM.cnf, new Map([[CNF_COSE_KEY, coseKey]]));
  }
  return signCoseSign1(encodeCbor(map), key, keyIdOf(key));
}

/**
 * Signs a pass (the hub's side; also `safegate pass issue`): its `SG1:` text. With `holderKey` the
 * text is a phone-bound pass in transport form (what the hub hands the phone page, which keeps the
 * COSE_Sign1 inside it): a kiosk refuses it shown as it is, without a fresh phone proof.
 */
export function issuePass(privateKey: KeyObject | string, options: IssuePassOptions): string {
  return sealEnvelope(signPassClaims(privateKey, options), PASS_PREFIX);
}
