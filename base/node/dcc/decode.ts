import { inflateSync } from 'node:zlib';
import { decode as base45Decode } from '@digitalbazaar/base45';
import { decode as cborDecode, encode as cborEncode, type TagDecoder } from 'cborg';
import type { DccFixedReason } from '../../common/dcc.js';

/**
 * The HC1 decoding chain, one function per step, each throwing DccStepError with the step's
 * reason: `HC1:` prefix -> Base45 -> zlib (capped) -> COSE_Sign1 (tagged or not, optionally inside a
 * CWT tag 61) -> CWT claims with the hcert. Written for untrusted input: bounded sizes, no tags but
 * the ones named, duplicate map keys refused.
 */

export class DccStepError extends Error {
  override name = 'DccStepError';
  constructor(
    readonly reason: DccFixedReason,
    message: string,
  ) {
    super(message);
  }
}

/** Longest text accepted (a QR code holds at most 4296 alphanumeric characters). */
export const MAX_DCC_TEXT = 8 * 1024;
/** Largest inflated COSE message: a certificate is a few hundred bytes; anything beyond is refused. */
export const MAX_DCC_INFLATED = 64 * 1024;
export const HC1_PREFIX = 'HC1:';

/** The Base45 text after `HC1:` (surrounding whitespace from a scanner is ignored). */
export function unprefixHc1(text: unknown): string {
  if (typeof text !== 'string') throw new DccStepError('DCC_PREFIX', 'not text');
  if (text.length > MAX_DCC_TEXT) throw new DccStepError('DCC_PREFIX', `longer than ${MAX_DCC_TEXT} characters`);
  const t = text.trim();
  if (!t.startsWith(HC1_PREFIX)) throw new DccStepError('DCC_PREFIX', 'does not start with HC1:');
  return t.slice(HC1_PREFIX.length);
}

export function decodeBase45(text: string): Uint8Array {
  if (text.length === 0) throw new DccStepError('DCC_BASE45', 'empty');
  try {
    return base45Decode(text);
  } catch (err) {
    throw new DccStepError('DCC_BASE45', `not Base45 (${(err as Error).message})`);
  }
}

/** zlib inflate with a hard output cap (a zip bomb is refused, not inflated). */
export function inflateCapped(bytes: Uint8Array, cap = MAX_DCC_INFLATED): Uint8Array {
  try {
    return new Uint8Array(inflateSync(bytes, { maxOutputLength: cap }));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw new DccStepError('DCC_COMPRESSION', `inflates beyond ${cap} bytes`);
    throw new DccStepError('DCC_COMPRESSION', 'not zlib data');
  }
}

class Tagged {
  constructor(
    readonly tag: number,
    readonly value: unknown,
  ) {}
}

const COSE_SIGN1_TAG = 18;
const CWT_TAG = 61;
const envelopeTags: TagDecoder[] = [];
envelopeTags[COSE_SIGN1_TAG] = (decode) => new Tagged(COSE_SIGN1_TAG, decode());
envelopeTags[CWT_TAG] = (decode) => new Tagged(CWT_TAG, decode());
// Issuers use indefinite-length maps; tags other than these are refused.
const ENVELOPE_OPTIONS = { useMaps: true, rejectDuplicateMapKeys: true, allowIndefinite: true, allowUndefined: false, tags: envelopeTags };

const payloadTags: TagDecoder[] = [];
// Date/time string (0) and epoch (1): some issuers tag dates.
payloadTags[0] = (decode) => decode();
payloadTags[1] = (decode) => decode();
const PAYLOAD_OPTIONS = { useMaps: true, rejectDuplicateMapKeys: true, allowIndefinite: true, allowUndefined: false, tags: payloadTags };

export interface DccCose {
  protectedBytes: Uint8Array;
  /**
   * From the protected header (RFC 9052 section 3.1, the DCC specification); only when the protected
   * header names none, from the unprotected one, which the signature does not cover: the EU's test
   * data expects such a certificate to verify (common/2DCode/raw/CO20), so verifyCoseSignature then
   * takes the algorithm only if it is the one the signer's key itself fixes (no algorithm is chosen
   * by an attacker).
   */
  alg: number | undefined;
  /** True when `alg` came from the unprotected header (the protected one names none). */
  algOnlyUnprotected: boolean;
  /** From the protected header when present there, else from the unprotected one (the DCC specification allows both). */
  kid: Uint8Array | undefined;
  payload: Uint8Array;
  signature: Uint8Array;
}

function bytesOf(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  throw new DccStepError('DCC_COSE', `${what} is not a byte string`);
}

export function parseDccCose(bytes: Uint8Array): DccCose {
  let value: unknown;
  try {
    value = cborDecode(bytes, ENVELOPE_OPTIONS);
  } catch (err) {
    throw new DccStepError('DCC_COSE', `not CBOR (${(err as Error).message.slice(0, 80)})`);
  }
  if (value instanceof Tagged && value.tag === CWT_TAG) value = value.value;
  if (value instanceof Tagged && value.tag === COSE_SIGN1_TAG) value = value.value;
  if (value instanceof Tagged) throw new DccStepError('DCC_COSE', `unexpected CBOR tag ${value.tag}`);
  if (!Array.isArray(value) || value.length !== 4) throw new DccStepError('DCC_COSE', 'COSE_Sign1 must be an array of 4');
  const [p, u, payload, signature] = value as unknown[];
  const protectedBytes = bytesOf(p, 'protected header');
  let protectedMap: unknown = new Map();
  if (protectedBytes.length > 0) {
    try {
      protectedMap = cborDecode(protectedBytes, ENVELOPE_OPTIONS);
    } catch {
      throw new DccStepError('DCC_COSE', 'protected header is not CBOR');
    }
  }
  if (!(protectedMap instanceof Map)) throw new DccStepError('DCC_COSE', 'protected header is not a map');
  if (!(u instanceof Map)) throw new DccStepError('DCC_COSE', 'unprotected header is not a map');
  const algOnlyUnprotected = protectedMap.get(1) === undefined && u.get(1) !== undefined;
  const alg: unknown = algOnlyUnprotected ? u.get(1) : protectedMap.get(1);
  const kid: unknown = protectedMap.get(4) ?? u.get(4);
  if (alg !== undefined && typeof alg !== 'number') throw new DccStepError('DCC_COSE', 'alg is not a number');
  if (kid !== undefined && !(kid instanceof Uint8Array)) throw new DccStepError('DCC_COSE', 'kid is not a byte string');
  return { protectedBytes, alg, algOnlyUnprotected, kid, payload: bytesOf(payload, 'payload'), signature: bytesOf(signature, 'signature') };
}

/** The bytes a COSE_Sign1 signature covers (RFC 9052 section 4.4), with an empty external_aad. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return cborEncode(['Signature1', protectedBytes, new Uint8Array(0), payload]);
}

export interface DccClaims {
  iss?: string;
  iat?: number;
  exp?: number;
  /** The hcert (claim -260, key 1) as plain JSON values. */
  hcert: Record<string, unknown>;
}

/** Map -> object with string keys only, recursively; anything else than JSON-like values is refused. */
function toJson(v: unknown, depth: number): unknown {
  if (depth > 16) throw new DccStepError('DCC_CBOR', 'hcert nested too deeply');
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of v) {
      if (typeof k !== 'string') throw new DccStepError('DCC_CBOR', 'hcert map key is not a string');
      if (k === '__proto__') throw new DccStepError('DCC_CBOR', 'hcert map key not allowed');
      out[k] = toJson(val, depth + 1);
    }
    return out;
  }
  if (Array.isArray(v)) return v.map((x) => toJson(x, depth + 1));
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new DccStepError('DCC_CBOR', 'hcert holds a value that is not JSON-like');
}

function numericDate(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new DccStepError('DCC_CBOR', `${what} is not a number`);
}

export function parseCwtClaims(payload: Uint8Array): DccClaims {
  let value: unknown;
  try {
    value = cborDecode(payload, PAYLOAD_OPTIONS);
  } catch (err) {
    throw new DccStepError('DCC_CBOR', `payload is not CBOR (${(err as Error).message.slice(0, 80)})`);
  }
  if (!(value instanceof Map)) throw new DccStepError('DCC_CBOR', 'payload is not a CWT claims map');
  const hcertClaim: unknown = value.get(-260);
  if (!(hcertClaim instanceof Map)) throw new DccStepError('DCC_CBOR', 'no hcert claim (-260)');
  const dgc: unknown = hcertClaim.get(1);
  if (!(dgc instanceof Map)) throw new DccStepError('DCC_CBOR', 'no certificate in the hcert claim');
  const hcert = toJson(dgc, 0) as Record<string, unknown>;
  const iss: unknown = value.get(1);
  if (iss !== undefined && typeof iss !== 'string') throw new DccStepError('DCC_CBOR', 'iss is not text');
  const iat = numericDate(value.get(6), 'iat');
  const exp = numericDate(value.get(4), 'exp');
  return { ...(iss !== undefined ? { iss } : {}), ...(iat !== undefined ? { iat } : {}), ...(exp !== undefined ? { exp } : {}), hcert };
}
