import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { workerIdSchema } from '../common/ids.js';
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

const CLAIM = { iss: 1, sub: 2, exp: 4, nbf: 5, iat: 6, cti: 7 } as const;

/** A time claim in seconds since 1970, up to the end of year 9999 (what a date can show). */
const secondsSchema = z.number().int().positive().max(253_402_300_799);

const claimsSchema = z.object({
  issuer: z.string().min(1).max(128),
  workerId: workerIdSchema,
  issuedAt: secondsSchema,
  expiresAt: secondsSchema,
  notBefore: secondsSchema.optional(),
  passId: z.string().max(64).optional(),
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

function claimsFromCbor(payload: Uint8Array): PassClaims {
  const map = decodeCbor(payload);
  if (!(map instanceof Map)) throw new CoseFormatError('claims are not a CBOR map');
  const cti = map.get(CLAIM.cti);
  const parsed = claimsSchema.safeParse({
    issuer: map.get(CLAIM.iss),
    workerId: map.get(CLAIM.sub),
    issuedAt: map.get(CLAIM.iat),
    expiresAt: map.get(CLAIM.exp),
    notBefore: map.get(CLAIM.nbf),
    passId: cti instanceof Uint8Array ? Buffer.from(cti).toString('hex') : undefined,
  });
  if (!parsed.success) {
    throw new CoseFormatError(`claims: ${issuesText(parsed.error)}`);
  }
  return parsed.data;
}

/** A claim's time for a refusal's detail: a date when it is one (a signed claim may lie far beyond year 275760). */
function timeText(seconds: number): string {
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
}

/** Signs a pass (the hub's side; also `safegate pass issue`). */
export function issuePass(privateKey: KeyObject | string, options: IssuePassOptions): string {
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
    [CLAIM.cti, new Uint8Array(randomBytes(8))],
  ]);
  if (claims.notBefore !== undefined) map.set(CLAIM.nbf, claims.notBefore);
  const payload = encodeCbor(map);
  return sealEnvelope(signCoseSign1(payload, key, keyIdOf(key)), PASS_PREFIX);
}
