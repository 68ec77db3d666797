import { X509Certificate, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * Trust material for HC1 verification: the signer certificates (DSCs) that sign health
 * certificates, each found by its key id (the first 8 bytes of the SHA-256 of the certificate DER,
 * base64). Read from a single certificate (PEM, several PEMs, or DER) or from the EU gateway's
 * published trust-list formats:
 *  - the DGCG trustList JSON array `[{kid, country, certificateType, rawData, signature?, thumbprint, timestamp}]`;
 *  - the `{ certificates: [...] }` wrapper (the German DSC list), optionally in its signed form
 *    `<base64 signature>\n{json}` (the signature is verified when a list key is given, else ignored;
 *    TrustList.signature says which).
 * Everything is untrusted input: a bad file throws DccTrustError with a reason naming the entry.
 *
 * What a list entry must satisfy (parseTrustList):
 *  - its `kid`, when given, is the certificate's own (dccKidOf: the first 8 bytes of SHA-256 of the
 *    DER, as the EU gateway computes it); a list naming a certificate by another kid is refused whole;
 *  - a signer (DSC) of a country for which the list also carries root certificates (certificateType
 *    'CSCA') must be issued by one of them (issuer name and signature); one that is not is left out and
 *    reported in TrustList.refused, the rest of the list is kept. A country without a CSCA in the list
 *    (a DSC-only list, PEM files, a single DER certificate) gets no chain check: its signers are
 *    trusted because the list is (whoever imported it at the hub, and the hub's signature on the way
 *    down to the kiosks). The DSC's own validity dates are checked when a certificate is verified,
 *    not here.
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
  /** base64 of the first 8 bytes of SHA-256(certificateDer) (a list's kid must be this one). */
  kid: string;
  country?: string;
  certificateDer: Uint8Array;
  /** Milliseconds since the epoch. */
  notBefore: number;
  notAfter: number;
  /** Extended key usage OIDs ([] when the certificate has none). */
  extendedKeyUsage: string[];
}

/** A signer certificate the list carries but parseTrustList left out, with a reason a person can read. */
export interface RefusedSigner {
  kid: string;
  country: string;
  reason: string;
}

/**
 * Whether the list's own signature was checked: 'verified' (the signed form, checked with the list
 * key), 'unchecked' (the signed form read without a list key: the signature line was ignored),
 * 'absent' (no signature: PEM, DER, or plain JSON).
 */
export type TrustListSignature = 'verified' | 'unchecked' | 'absent';

export interface TrustList {
  signers: DccSigner[];
  /** Signers left out because they are not issued by their country's CSCA (set by parseTrustList). */
  refused?: RefusedSigner[];
  /** Set by parseTrustList. */
  signature?: TrustListSignature;
}

/** What parseTrustList returns: a TrustList that always says what was refused and how the list was signed. */
export type ParsedTrustList = TrustList & Required<Pick<TrustList, 'refused' | 'signature'>>;

/** Trust files are small (the whole EU list is a few MB): refuse anything bigger than this. */
export const MAX_TRUST_BYTES = 32 * 1024 * 1024;

export function dccKidOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest().subarray(0, 8).toString('base64');
}

/** A kid as given in a list, in standard base64 without padding (lists may pad or use the URL alphabet). */
function kidKey(kid: string): string {
  return kid.trim().replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
}

function certificateOf(der: Uint8Array, what: string, kid: string | undefined): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(der));
  } catch {
    throw new DccTrustError(`${what}: not an X.509 certificate`);
  }
  if (kid !== undefined && kidKey(kid) !== kidKey(dccKidOf(der))) throw new DccTrustError(`${what}: the kid is not the certificate's (its SHA-256 gives ${dccKidOf(der)})`);
  return cert;
}

/**
 * A signer from one certificate (DER bytes); throws DccTrustError naming `what`, also when
 * `extra.kid` is given and is not the certificate's own kid (dccKidOf).
 */
export function signerFromDer(der: Uint8Array, what: string, extra: { kid?: string; country?: string } = {}): DccSigner {
  const cert = certificateOf(der, what, extra.kid);
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new DccTrustError(`${what}: unreadable validity dates`);
  const eku = cert.keyUsage;
  return {
    kid: dccKidOf(der),
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
 * given and is neither DSC nor CSCA (UPLOAD, AUTHENTICATION) are left out; CSCA entries are only
 * used to check their country's signers (see the module comment) and are not signers themselves.
 */
export function parseTrustList(input: Uint8Array | string, options: ParseTrustOptions = {}): ParsedTrustList {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  if (bytes.length === 0) throw new DccTrustError('empty trust file');
  if (bytes.length > MAX_TRUST_BYTES) throw new DccTrustError(`trust file larger than ${MAX_TRUST_BYTES} bytes`);
  // DER: a SEQUENCE with a long length.
  if (bytes[0] === 0x30 && (bytes[1] === 0x82 || bytes[1] === 0x81)) return { signers: [signerFromDer(bytes, 'certificate')], refused: [], signature: 'absent' };
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
    return { signers, refused: [], signature: 'absent' };
  }
  const trimmed = text.trimStart();
  let jsonText = trimmed;
  let signature: TrustListSignature = 'absent';
  if (!trimmed.startsWith('[') && !trimmed.startsWith('{')) {
    // The signed form: `<base64 signature>\n{json}`.
    const nl = trimmed.indexOf('\n');
    const first = nl < 0 ? trimmed : trimmed.slice(0, nl).trim();
    if (nl < 0 || !/^[A-Za-z0-9+/=]+$/.test(first)) throw new DccTrustError('not a certificate (PEM or DER) nor a trust list (JSON)');
    jsonText = trimmed.slice(nl + 1);
    if (options.listKey && !verifyListSignature(first, jsonText, options.listKey)) throw new DccTrustError('the trust list signature does not verify with the given key');
    signature = options.listKey ? 'verified' : 'unchecked';
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
  const candidates: { signer: DccSigner; cert: X509Certificate }[] = [];
  /** Country (upper case) -> its CSCA certificates. */
  const roots = new Map<string, X509Certificate[]>();
  entries.forEach((raw, i) => {
    const parsed = entrySchema.safeParse(raw);
    const name = `${where}[${i}]`;
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DccTrustError(`trust list entry ${name}: ${issue?.path.join('.') || 'entry'} ${issue?.message ?? 'invalid'}`);
    }
    const e = parsed.data;
    const type = (e.certificateType ?? 'DSC').toUpperCase();
    if (type !== 'DSC' && type !== 'CSCA') return;
    const der = Buffer.from(e.rawData.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    const what = `trust list entry ${name}${e.kid ? ` (kid ${e.kid})` : ''}`;
    if (type === 'CSCA') {
      const cert = certificateOf(der, what, e.kid);
      // A root without a country vouches for no one's signers: it is not used.
      if (e.country) roots.set(e.country.toUpperCase(), [...(roots.get(e.country.toUpperCase()) ?? []), cert]);
      return;
    }
    const signer = signerFromDer(der, what, { kid: e.kid, country: e.country });
    candidates.push({ signer, cert: new X509Certificate(der) });
  });
  const signers: DccSigner[] = [];
  const refused: RefusedSigner[] = [];
  for (const { signer, cert } of candidates) {
    const country = signer.country?.toUpperCase();
    const countryRoots = country ? roots.get(country) : undefined;
    const reason = countryRoots ? chainProblem(cert, countryRoots) : undefined;
    if (reason) refused.push({ kid: signer.kid, country: signer.country!, reason });
    else signers.push(signer);
  }
  return { signers, refused, signature };
}

/** Why `dsc` is not issued by any of `roots` (its country's CSCAs), or undefined when one issued it. */
function chainProblem(dsc: X509Certificate, roots: X509Certificate[]): string | undefined {
  const named = roots.filter((root) => {
    try {
      return dsc.checkIssued(root);
    } catch {
      return false;
    }
  });
  if (named.length === 0) return `not issued by any of the country's ${roots.length} CSCA certificate(s) in the list`;
  const signed = named.some((root) => {
    try {
      return dsc.verify(root.publicKey);
    } catch {
      return false;
    }
  });
  return signed ? undefined : `its signature does not verify with the country's CSCA that it names as issuer`;
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
