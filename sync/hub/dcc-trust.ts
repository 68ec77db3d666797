import { parseTrustList, type ParseTrustOptions, type TrustList } from '../../base/node/dcc/index.js';

/**
 * The hub's check of an HC1 trust list file (issue 14 part G): the EU gateway's published formats,
 * via base/node/dcc's parser. What it accepts goes to the kiosks as the `dcc` downlink stream, one
 * record per signer, signed like every downlink part (`safegate hub dcc trust import`).
 */

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
