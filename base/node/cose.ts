import { sign, verify, type KeyObject } from 'node:crypto';
import { decode as cborDecode, encode as cborEncode, type TagDecoder } from 'cborg';
import { COSE_ALG, algorithmOfKey, type SigningAlgorithm } from './keys.js';

/**
 * COSE_Sign1 (RFC 9052 section 4.2), the envelope the EU Digital COVID Certificate uses. CBOR
 * encoding/decoding is cborg and the signature maths is node:crypto; this module is only the
 * message structure and the Sig_structure that is signed, so the same code verifies SafeGate
 * passes and, later, EU health certificates.
 */

const COSE_SIGN1_TAG = 18;
/** Major type 6 (tag) with value 18, in one byte. */
const COSE_SIGN1_TAG_BYTE = 0xc0 | COSE_SIGN1_TAG;

class TaggedSign1 {
  constructor(readonly value: unknown) {}
}

const tags: TagDecoder[] = [];
tags[COSE_SIGN1_TAG] = (decode) => new TaggedSign1(decode());

/** Untrusted input: maps keep their integer keys, duplicates and indefinite lengths are refused,
 * and any tag other than COSE_Sign1's is an error. */
const DECODE_OPTIONS = { useMaps: true, rejectDuplicateMapKeys: true, allowIndefinite: false, allowUndefined: false, tags };
const HEADER_ALG = 1;
const HEADER_KID = 4;

export class CoseFormatError extends Error {
  override name = 'CoseFormatError';
}

export interface CoseSign1 {
  /** The protected header exactly as received: the signature covers these bytes. */
  protectedBytes: Uint8Array;
  /** From the protected header only (an alg in the unprotected header is not taken). */
  alg: number | undefined;
  kid: Uint8Array | undefined;
  payload: Uint8Array;
  signature: Uint8Array;
}

function asBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  throw new CoseFormatError(`${what} is not a byte string`);
}

function headerMap(v: unknown, what: string): Map<unknown, unknown> {
  if (v instanceof Map) return v;
  throw new CoseFormatError(`${what} is not a map`);
}

export function decodeCbor(bytes: Uint8Array): unknown {
  return cborDecode(bytes, DECODE_OPTIONS);
}

export function encodeCbor(value: unknown): Uint8Array {
  return cborEncode(value);
}

export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
  let value: unknown;
  try {
    value = decodeCbor(bytes);
  } catch (err) {
    throw new CoseFormatError(`not CBOR: ${(err as Error).message}`);
  }
  // The tag is optional (the EU DCC allows both forms).
  if (value instanceof TaggedSign1) value = value.value;
  if (!Array.isArray(value) || value.length !== 4) throw new CoseFormatError('COSE_Sign1 must be an array of 4');
  const [p, u, payload, signature] = value as unknown[];
  const protectedBytes = asBytes(p, 'protected header');
  const protectedMap = protectedBytes.length === 0 ? new Map() : headerMap(safeDecode(protectedBytes), 'protected header');
  const unprotectedMap = headerMap(u, 'unprotected header');
  // alg only from the protected header: the unprotected one is not covered by the signature (RFC 9052 section 3.1).
  const alg = protectedMap.get(HEADER_ALG);
  // The DCC specification allows the kid in either header; the protected one wins.
  const kid = protectedMap.get(HEADER_KID) ?? unprotectedMap.get(HEADER_KID);
  if (alg !== undefined && typeof alg !== 'number') throw new CoseFormatError('alg is not a number');
  if (kid !== undefined && !(kid instanceof Uint8Array)) throw new CoseFormatError('kid is not a byte string');
  return {
    protectedBytes,
    alg,
    kid,
    payload: asBytes(payload, 'payload'),
    signature: asBytes(signature, 'signature'),
  };
}

function safeDecode(bytes: Uint8Array): unknown {
  try {
    return decodeCbor(bytes);
  } catch (err) {
    throw new CoseFormatError(`protected header is not CBOR: ${(err as Error).message}`);
  }
}

function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return cborEncode(['Signature1', protectedBytes, new Uint8Array(0), payload]);
}

function nodeSignOptions(algorithm: SigningAlgorithm) {
  return algorithm === 'EdDSA'
    ? { algo: null, dsaEncoding: undefined }
    : { algo: 'sha256', dsaEncoding: 'ieee-p1363' as const };
}

/** True only when the signature is valid for this key and the message names the key's algorithm. */
export function verifyCoseSign1(msg: CoseSign1, publicKey: KeyObject): boolean {
  const algorithm = algorithmOfKey(publicKey);
  if (msg.alg !== COSE_ALG[algorithm]) return false;
  const { algo, dsaEncoding } = nodeSignOptions(algorithm);
  try {
    return verify(
      algo,
      sigStructure(msg.protectedBytes, msg.payload),
      dsaEncoding ? { key: publicKey, dsaEncoding } : publicKey,
      msg.signature,
    );
  } catch {
    return false;
  }
}

export function signCoseSign1(payload: Uint8Array, privateKey: KeyObject, kid: Uint8Array): Uint8Array {
  const algorithm = algorithmOfKey(privateKey);
  const protectedBytes = cborEncode(
    new Map<number, unknown>([
      [HEADER_ALG, COSE_ALG[algorithm]],
      [HEADER_KID, kid],
    ]),
  );
  const { algo, dsaEncoding } = nodeSignOptions(algorithm);
  const signature = sign(
    algo,
    sigStructure(protectedBytes, payload),
    dsaEncoding ? { key: privateKey, dsaEncoding } : privateKey,
  );
  const body = cborEncode([protectedBytes, new Map(), payload, new Uint8Array(signature)]);
  const tagged = new Uint8Array(body.length + 1);
  tagged[0] = COSE_SIGN1_TAG_BYTE;
  tagged.set(body, 1);
  return tagged;
}
