import { X509Certificate, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * Trust material for HC1 verification: the signer certificates (DSCs) that sign health
 * certificates, each found by its key id (the first 8 bytes of the SHA-256 of the certificate DER,
 * base64). Read from a single certificate (PEM, several PEMs, or DER) or from the EU gateway's
 * published trust-list formats:
 *  - the DGCG trustList JSON array `[{kid, country, certificateType, rawData, signature?, thumbprint, timestamp}]`;
 *  - the `{ certificates: [...] }` wrapper (the German DSC list), optionally in its signed form
 *    `<base64 signature>\n{json}` (the signature is verified when a list key is given, else ignored).
 * Everything is untrusted input: a bad file throws DccTrustError with a reason naming the entry.
 */

export class DccTrustError extends Error {
  override name = 'DccTrustError';
}

/** Extended key usage OIDs restricting a signer to test / vaccination / recovery certificates (and the older form with `.0.`). */
export const DCC_EKU = {
  test: ['1.3.6.1.4.1.1847.2021.1.1', '1.3.6.1.4.1.0.1847.2021.1.1'],
  vaccination: ['1.3.6.1.4.1.1847.2021.1.2', '1.3.6.1.4.1.0.1847.2021.1.2'],
  recovery: ['1.3.6.1.4.1.1847.2021.1.3', '1.3.6.1.4.1.0.1847.2021.1.3'],
} as const;

export interface DccSigner {
  /** base64 of the first 8 bytes of SHA-256(certificateDer), or the kid the list gives. */
  kid: string;
  country?: string;
  certificateDer: Uint8Array;
  /** Milliseconds since the epoch. */
  notBefore: number;
  notAfter: number;
  /** Extended key usage OIDs ([] when the certificate has none). */
  extendedKeyUsage: string[];
}

export interface TrustList {
  signers: DccSigner[];
}

/** Trust files are small (the whole EU list is a few MB): refuse anything bigger than this. */
export const MAX_TRUST_BYTES = 32 * 1024 * 1024;

export function dccKidOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest().subarray(0, 8).toString('base64');
}

/** A signer from one certificate (DER bytes); throws DccTrustError naming `what`. */
export function signerFromDer(der: Uint8Array, what: string, extra: { kid?: string; country?: string } = {}): DccSigner {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(der));
  } catch {
    throw new DccTrustError(`${what}: not an X.509 certificate`);
  }
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new DccTrustError(`${what}: unreadable validity dates`);
  const eku = cert.keyUsage;
  return {
    kid: extra.kid ?? dccKidOf(der),
    ...(extra.country ? { country: extra.country } : {}),
    certificateDer: new Uint8Array(der),
    notBefore,
    notAfter,
    extendedKeyUsage: Array.isArray(eku) ? [...eku] : [],
  };
}

const publicKeys = new WeakMap<Uint8Array, KeyObject>();

/** The signer's public key (throws DccTrustError when the certificate's key cannot be used); parsed once per certificate. */
export function signerPublicKey(signer: DccSigner): KeyObject {
  const known = publicKeys.get(signer.certificateDer);
  if (known) return known;
  let key: KeyObject;
  try {
    key = new X509Certificate(Buffer.from(signer.certificateDer)).publicKey;
  } catch {
    throw new DccTrustError(`signer ${signer.kid}: unusable public key`);
  }
  publicKeys.set(signer.certificateDer, key);
  return key;
}

const base64 = z.string().min(1).max(64 * 1024).regex(/^[A-Za-z0-9+/=\s_-]+$/, 'not base64');
const entrySchema = z.object({
  kid: z.string().min(1).max(64).optional(),
  country: z.string().max(8).optional(),
  certificateType: z.string().max(32).optional(),
  rawData: base64,
  signature: z.string().max(64 * 1024).optional(),
  thumbprint: z.string().max(256).optional(),
  timestamp: z.string().max(64).optional(),
});
const listSchema = z.union([z.array(z.unknown()), z.object({ certificates: z.array(z.unknown()) })]);

const PEM_RE = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

export interface ParseTrustOptions {
  /** Verifies the signed form's leading signature line with this key (the list publisher's). */
  listKey?: KeyObject;
  /** Refuse the signed form when it carries no signature line (only with listKey). */
  requireSignature?: boolean;
}

/**
 * Reads trust material: a PEM (one or more certificates), a DER certificate, a DGCG trustList JSON
 * array, a `{certificates: [...]}` list, or its signed form. Entries whose certificateType is
 * given and is not DSC (CSCA, UPLOAD, AUTHENTICATION) are left out.
 */
export function parseTrustList(input: Uint8Array | string, options: ParseTrustOptions = {}): TrustList {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  if (bytes.length === 0) throw new DccTrustError('empty trust file');
  if (bytes.length > MAX_TRUST_BYTES) throw new DccTrustError(`trust file larger than ${MAX_TRUST_BYTES} bytes`);
  // DER: a SEQUENCE with a long length.
  if (bytes[0] === 0x30 && (bytes[1] === 0x82 || bytes[1] === 0x81)) return { signers: [signerFromDer(bytes, 'certificate')] };
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const signers: DccSigner[] = [];
    let i = 0;
    for (const m of text.matchAll(PEM_RE)) {
      i += 1;
      const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
      signers.push(signerFromDer(der, `PEM certificate ${i}`));
    }
    if (signers.length === 0) throw new DccTrustError('PEM without a complete certificate');
    return { signers };
  }
  const trimmed = text.trimStart();
  let jsonText = trimmed;
  if (!trimmed.startsWith('[') && !trimmed.startsWith('{')) {
    // The signed form: `<base64 signature>\n{json}`.
    const nl = trimmed.indexOf('\n');
    const first = nl < 0 ? trimmed : trimmed.slice(0, nl).trim();
    if (nl < 0 || !/^[A-Za-z0-9+/=]+$/.test(first)) throw new DccTrustError('not a certificate (PEM or DER) nor a trust list (JSON)');
    jsonText = trimmed.slice(nl + 1);
    if (options.listKey && !verifyListSignature(first, jsonText, options.listKey)) throw new DccTrustError('the trust list signature does not verify with the given key');
  } else if (options.listKey && options.requireSignature) {
    throw new DccTrustError('the trust list is not signed');
  }
  let json: unknown;
  try {
    json = JSON.parse(jsonText);
  } catch {
    throw new DccTrustError('trust list is not valid JSON');
  }
  const list = listSchema.safeParse(json);
  if (!list.success) throw new DccTrustError('trust list: expected a JSON array of certificates or {"certificates": [...]}');
  const entries = Array.isArray(list.data) ? list.data : list.data.certificates;
  const where = Array.isArray(list.data) ? '' : 'certificates';
  const signers: DccSigner[] = [];
  entries.forEach((raw, i) => {
    const parsed = entrySchema.safeParse(raw);
    const name = `${where}[${i}]`;
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DccTrustError(`trust list entry ${name}: ${issue?.path.join('.') || 'entry'} ${issue?.message ?? 'invalid'}`);
    }
    const e = parsed.data;
    if (e.certificateType && e.certificateType.toUpperCase() !== 'DSC') return;
    const der = Buffer.from(e.rawData.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    signers.push(signerFromDer(der, `trust list entry ${name}${e.kid ? ` (kid ${e.kid})` : ''}`, { kid: e.kid, country: e.country }));
  });
  return { signers };
}

function verifyListSignature(sigB64: string, body: string, key: KeyObject): boolean {
  const sig = Buffer.from(sigB64, 'base64');
  const data = Buffer.from(body, 'utf8');
  for (const dsaEncoding of ['der', 'ieee-p1363'] as const) {
    try {
      if (verify('sha256', data, key.asymmetricKeyType === 'ec' ? { key, dsaEncoding } : key, sig)) return true;
    } catch {
      /* try the other encoding */
    }
  }
  return false;
}

/** A public key from a PEM (SPKI or certificate), for ParseTrustOptions.listKey. */
export function listKeyFromPem(pem: string): KeyObject {
  try {
    return pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  } catch {
    throw new DccTrustError('the trust list key is not a PEM public key or certificate');
  }
}
