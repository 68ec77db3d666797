import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeCoseSign1, encodeCbor, signCoseSign1, verifyCoseSign1 } from '../../../base/node/cose.js';

/** The COSE_Sign1 envelope of SafeGate passes and hub parts: which header parameters are trusted. */

describe('COSE_Sign1 headers', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const payload = encodeCbor(new Map<number, unknown>([[1, 'hub'], [2, 'W1']]));
  const kid = new Uint8Array(8).fill(7);
  /** A message correctly signed over `protectedBytes` (the signature never covers the unprotected header). */
  function signed(protectedMap: Map<number, unknown> | null, unprotectedMap: Map<number, unknown>): Uint8Array {
    const protectedBytes = protectedMap ? encodeCbor(protectedMap) : new Uint8Array(0);
    const sig = sign('sha256', encodeCbor(['Signature1', protectedBytes, new Uint8Array(0), payload]), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    return encodeCbor([protectedBytes, unprotectedMap, payload, new Uint8Array(sig)]);
  }

  it('takes alg from the protected header and verifies; the same signature with alg only unprotected does not', () => {
    expect(verifyCoseSign1(decodeCoseSign1(signCoseSign1(payload, key.privateKey, kid)), key.publicKey)).toBe(true);
    const protectedAlg = decodeCoseSign1(signed(new Map<number, unknown>([[1, -7], [4, kid]]), new Map()));
    expect(protectedAlg.alg).toBe(-7);
    expect(verifyCoseSign1(protectedAlg, key.publicKey)).toBe(true);
    const unprotectedAlg = decodeCoseSign1(signed(null, new Map<number, unknown>([[1, -7], [4, kid]])));
    expect(unprotectedAlg.alg).toBeUndefined();
    expect(unprotectedAlg.kid).toEqual(kid);
    expect(verifyCoseSign1(unprotectedAlg, key.publicKey)).toBe(false);
  });

  it('takes the kid from either header, the protected one first', () => {
    const other = new Uint8Array(8).fill(9);
    expect(decodeCoseSign1(signed(new Map<number, unknown>([[1, -7], [4, kid]]), new Map([[4, other]]))).kid).toEqual(kid);
    expect(decodeCoseSign1(signed(new Map([[1, -7]]), new Map([[4, other]]))).kid).toEqual(other);
  });
});
