import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate as NodeX509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';

/**
 * X.509 for fleet enrolment: the kiosk's key pair and certificate request, and reading the
 * certificates and requests the hub and the kiosk exchange. ECDSA P-256 everywhere. @peculiar/x509
 * builds and parses the ASN.1 (over Node's WebCrypto); node:crypto does what it can do alone (key
 * generation, fingerprints, checking a signature chain link).
 *
 * Everything read here is untrusted input: a malformed text throws X509Error with a reason.
 */

export class X509Error extends Error {
  override name = 'X509Error';
}

/** ECDSA P-256, PKCS#8 / SPKI PEM. */
export interface DeviceKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

export interface CsrInfo {
  commonName: string;
  publicKeyPem: string;
}

export interface CertificateInfo {
  commonName: string;
  issuerCommonName: string;
  /** Lower-case hex, no leading zero bytes. */
  serialHex: string;
  notBeforeMs: number;
  notAfterMs: number;
  /** SHA-256 of the DER, lower-case hex. */
  fingerprint: string;
  publicKeyPem: string;
}

/** The ECDSA P-256 parameters WebCrypto wants, for keys and signatures. */
export const P256_KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const P256_SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

let providerSet = false;
/** @peculiar/x509 over Node's own WebCrypto (set once, process-wide). */
export function peculiarX509(): typeof x509 {
  if (!providerSet) {
    // Node's webcrypto is the DOM Crypto the library types name (absent from the Node lib, present in the test config's).
    x509.cryptoProvider.set(webcrypto as never);
    providerSet = true;
  }
  return x509;
}

export function generateDeviceKey(): DeviceKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** A P-256 private key (PEM, PKCS#8 or SEC1) as a WebCrypto key pair, for signing with @peculiar/x509. */
export async function importP256KeyPair(privateKeyPem: string): Promise<webcrypto.CryptoKeyPair> {
  let privateKey;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch {
    throw new X509Error('the private key is not a PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new X509Error('the private key is not an ECDSA P-256 key');
  }
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const subtle = webcrypto.subtle;
  return {
    privateKey: (await subtle.importKey('pkcs8', pkcs8, P256_KEY_ALGORITHM, false, ['sign'])),
    publicKey: (await subtle.importKey('spki', spki, P256_KEY_ALGORITHM, true, ['verify'])),
  };
}

/** PEM CSR for `commonName` (the subject is that CN alone), signed by the key. */
export async function createCsr(privateKeyPem: string, commonName: string): Promise<string> {
  if (commonName.length === 0 || commonName.length > 64) throw new X509Error('the common name must be 1 to 64 characters');
  const lib = peculiarX509();
  const keys = await importP256KeyPair(privateKeyPem);
  const csr = await lib.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: P256_SIGNING_ALGORITHM,
  });
  return csr.toString('pem') + '\n';
}

/** Reads a PEM CSR: well formed, self-signature valid, a P-256 key, a subject that is one CN only. */
export async function readCsr(pem: string): Promise<CsrInfo> {
  const der = pemToDer(pem, 'CERTIFICATE REQUEST');
  const lib = peculiarX509();
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new lib.Pkcs10CertificateRequest(toArrayBuffer(der));
  } catch {
    throw new X509Error('the certificate request is malformed');
  }
  if (csr.rawData.byteLength !== der.byteLength || !outerLengthFits(der)) throw new X509Error('the certificate request is malformed (its length is wrong)');
  const publicKeyPem = p256PublicKeyPem(csr.publicKey.rawData, 'the certificate request');
  let valid: boolean;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new X509Error('the certificate request is not signed by its own key');
  const commonName = soleCommonName(csr.subjectName, 'the certificate request');
  return { commonName, publicKeyPem };
}

export function readCertificate(pem: string): CertificateInfo {
  const der = pemToDer(pem, 'CERTIFICATE');
  const lib = peculiarX509();
  let cert: x509.X509Certificate;
  try {
    cert = new lib.X509Certificate(toArrayBuffer(der));
  } catch {
    throw new X509Error('the certificate is malformed');
  }
  if (!outerLengthFits(der)) throw new X509Error('the certificate is malformed (its length is wrong)');
  const commonName = cert.subjectName.getField('CN')[0];
  const issuerCommonName = cert.issuerName.getField('CN')[0];
  if (commonName === undefined) throw new X509Error('the certificate has no common name');
  let publicKeyPem: string;
  try {
    publicKeyPem = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string;
  } catch {
    throw new X509Error('the certificate public key is unreadable');
  }
  return {
    commonName,
    issuerCommonName: issuerCommonName ?? '',
    serialHex: normaliseSerialHex(cert.serialNumber),
    notBeforeMs: cert.notBefore.getTime(),
    notAfterMs: cert.notAfter.getTime(),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    publicKeyPem,
  };
}

/** SHA-256 of the certificate's DER, lower-case hex (what `openssl x509 -fingerprint -sha256` shows, without colons). */
export function certificateFingerprint(pem: string): string {
  return createHash('sha256').update(pemToDer(pem, 'CERTIFICATE')).digest('hex');
}

/** True when `caPem`'s key signed `certPem` and the issuer name is the CA's subject. Never throws. */
export function certificateSignedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new NodeX509Certificate(pemToDer(certPem, 'CERTIFICATE'));
    const ca = new NodeX509Certificate(pemToDer(caPem, 'CERTIFICATE'));
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** Hex serial as lower case without leading zero bytes (`openssl` and CRL entries agree on it). */
export function normaliseSerialHex(hex: string): string {
  const clean = hex.toLowerCase().replace(/^(00)+/, '');
  return clean.length === 0 ? '00' : clean;
}

/** The DER inside exactly one PEM block with the given label (surrounding white space allowed). */
export function pemToDer(pem: string, label: string): Buffer {
  if (typeof pem !== 'string' || pem.length > 64 * 1024) throw new X509Error(`not a PEM ${label.toLowerCase()}`);
  const match = new RegExp(`^\\s*-----BEGIN ${label}-----\\r?\\n([A-Za-z0-9+/=\\r\\n]+)-----END ${label}-----\\s*$`).exec(pem);
  if (!match?.[1]) throw new X509Error(`not a PEM ${label.toLowerCase()}`);
  const body = match[1].replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new X509Error(`not a PEM ${label.toLowerCase()}`);
  const der = Buffer.from(body, 'base64');
  if (der.length === 0) throw new X509Error(`not a PEM ${label.toLowerCase()}`);
  return der;
}

/** The outer DER SEQUENCE's length is exactly the rest of the bytes (the parser tolerates a wrong one). */
function outerLengthFits(der: Buffer): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  const first = der[1]!;
  if (first < 0x80) return 2 + first === der.length;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n) return false;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
  return 2 + n + len === der.length;
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  const copy = new ArrayBuffer(buf.byteLength);
  new Uint8Array(copy).set(buf);
  return copy;
}

function p256PublicKeyPem(spki: ArrayBuffer, what: string): string {
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch {
    throw new X509Error(`${what} carries an unreadable public key`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new X509Error(`${what} does not carry an ECDSA P-256 key`);
  }
  return key.export({ type: 'spki', format: 'pem' }) as string;
}

function soleCommonName(name: x509.Name, what: string): string {
  const rdns = name.toJSON();
  const first = rdns[0];
  const keys = first ? Object.keys(first) : [];
  const values = first?.CN;
  if (rdns.length !== 1 || keys.length !== 1 || !values || values.length !== 1 || values[0] === undefined) {
    throw new X509Error(`${what} must name a common name (CN) and nothing else`);
  }
  const cn = values[0];
  if (cn.length === 0 || cn.length > 64) throw new X509Error(`${what}: the common name must be 1 to 64 characters`);
  return cn;
}
