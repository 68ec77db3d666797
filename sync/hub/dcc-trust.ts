import type { KeyObject } from 'node:crypto';
import { encodeCbor, signCoseSign1 } from '../../base/node/cose.js';
import { parseTrustList, type ParseTrustOptions, type TrustList } from '../../base/node/dcc/index.js';
import { keyIdOf } from '../../base/node/keys.js';

/**
 * The hub's side of the HC1 trust list (issue 14 part G): check an imported file (the EU gateway's
 * published formats, via base/node/dcc's parser) and seal the document for the kiosks, signed by the
 * hub's downlink key exactly like a downlink part. The kiosk's DccTrustHolder
 * (src-main/core/dcc/trust-holder.ts) opens what this seals; the format name is shared by value.
 */

export const DCC_TRUST_DOCUMENT_FORMAT = 'safegate-dcc-trust/1';

export class DccTrustImportError extends Error {
  override name = 'DccTrustImportError';
}

/**
 * Reads an import file; refuses an empty or unreadable one with the parser's message (which names the
 * entry). With a list key, the signed form's signature must verify (see ParseTrustOptions).
 */
export function checkDccTrustImport(bytes: Uint8Array, options: ParseTrustOptions = {}): TrustList {
  let list: TrustList;
  try {
    list = parseTrustList(bytes, options);
  } catch (err) {
    throw new DccTrustImportError(`trust list refused: ${err instanceof Error ? err.message : 'unreadable'}`);
  }
  if (list.signers.length === 0) throw new DccTrustImportError('trust list refused: it holds no signer (DSC) certificate');
  return list;
}

/** The signed document a kiosk receives: COSE_Sign1 by `signingKey` (a downlink key) over CBOR { format, version, document }. */
export function sealDccTrust(document: Uint8Array, version: number, signingKey: KeyObject): Uint8Array {
  if (!Number.isSafeInteger(version) || version < 1) throw new RangeError('version must be a positive whole number');
  return signCoseSign1(encodeCbor({ format: DCC_TRUST_DOCUMENT_FORMAT, version, document: Uint8Array.from(document) }), signingKey, keyIdOf(signingKey));
}
