import { roleFor, type SignedArtifact } from '../common/key-roles.js';
import { CoseFormatError, decodeCoseSign1, verifyCoseSign1 } from './cose.js';
import { keyIdText, type HubKeyring, type TrustedKey } from './keys.js';

export type SignedFailure = 'MALFORMED' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE';

export type OpenedSigned =
  | { ok: true; payload: Uint8Array; signer: TrustedKey }
  | { ok: false; failure: SignedFailure; detail: string; kid?: string };

/**
 * The one check for everything the hub signs (worker passes, downlink parts, and what later roles
 * add): a COSE_Sign1 message whose key id names a key trusted for the role that signs this kind of
 * artifact (see key-roles.ts), with a valid signature. Nothing here throws for bad input.
 */
export function openSigned(bytes: Uint8Array, keyring: HubKeyring, artifact: SignedArtifact, nowMs: number): OpenedSigned {
  let cose;
  try {
    cose = decodeCoseSign1(bytes);
  } catch (err) {
    if (err instanceof CoseFormatError) return { ok: false, failure: 'MALFORMED', detail: `not signed: ${err.message}` };
    throw err;
  }
  if (!cose.kid) return { ok: false, failure: 'UNKNOWN_KEY', detail: 'no key id' };
  const kid = keyIdText(cose.kid);
  const role = roleFor(artifact);
  const signer = keyring.get(kid, role, nowMs);
  if (!signer) {
    const known = keyring.lookup(kid);
    const why = !known
      ? 'is not trusted here'
      : known.role !== role
        ? `is a ${known.role} key and may not sign a ${artifact}`
        : 'is no longer trusted (its lifetime is over or the key that vouched for it was removed)';
    return { ok: false, failure: 'UNKNOWN_KEY', detail: `key ${kid} ${why}`, kid };
  }
  if (!verifyCoseSign1(cose, signer.key)) return { ok: false, failure: 'BAD_SIGNATURE', detail: `signature does not verify with key ${kid}`, kid };
  return { ok: true, payload: cose.payload, signer };
}
