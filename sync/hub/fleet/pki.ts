import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, constants, existsSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { HUB_ID_PATTERN, HUB_ID_RULE } from '../../../base/common/ids.js';
import {
  P256_SIGNING_ALGORITHM,
  X509Error,
  certificateFingerprint,
  generateDeviceKey,
  importP256KeyPair,
  normaliseSerialHex,
  pemToDer,
  peculiarX509,
  readCertificate,
  readCsr,
  type CertificateInfo,
} from '../../../base/node/x509.js';

/**
 * The hub CA (the "device CA") in `pki.dir`: one ECDSA P-256 CA that signs the broker's and the
 * enrolment endpoint's server certificate, each hub process's client certificate (CN hub.1, ...)
 * and every device certificate (CN = the device id, at enrolment), and the CRL Mosquitto reads at
 * start (`crlfile`).
 *
 * Files: ca.crt, ca.key (0600), server.crt, server.key (0600), hub.N.crt, hub.N.key (0600), crl.pem.
 * Every file is written whole and atomically (a temporary file, then a rename), private keys 0600,
 * certificates and crl.pem 0644 (public). The folder is made 0750 and stays the hub user's: Mosquitto
 * (another user) reads copies in /etc/mosquitto/safegate (the shipped safegate.conf's paths), the
 * server key copied with `install -o mosquitto -m 0600`; `brokerInstallLines` says how, including
 * refreshing the CRL copy before each broker start (the hub rewrites only pki.dir/crl.pem).
 */

export class PkiError extends Error {
  override name = 'PkiError';
}

export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  crl: 'crl.pem',
} as const;

const DAY_MS = 86_400_000;
/** The CA outlives every certificate it signs. */
const CA_DAYS = 20 * 365;
/** The broker's and enrolment endpoint's server certificate, and the hub processes' client certificates. */
const SERVICE_DAYS = 5 * 365;
/** Mosquitto reads the CRL only at start, and OpenSSL refuses every client once nextUpdate passes: far ahead. */
const CRL_DAYS = 5 * 365;
/** A device certificate's notAfter is spread by up to this many days (a week's enrolments do not expire together). */
const DEVICE_SPREAD_DAYS = 7;
/** notBefore a little in the past: a kiosk whose clock runs slightly behind still accepts a fresh certificate. */
const BACKDATE_MS = 5 * 60_000;
const CRL_NUMBER_OID = '2.5.29.20';

export interface PkiInitOptions {
  /** DNS names and IP addresses for the broker's and the enrolment endpoint's server certificate (the first is its CN). */
  hosts: string[];
  /** Hub process ids (hub.1, ...) that get a client certificate. */
  hubIds: string[];
  nowMs?: number;
}

export interface SignedDevice {
  certificatePem: string;
  info: CertificateInfo;
}

export interface CrlEntry {
  serialHex: string;
  revokedAtMs: number;
}

export class HubPki {
  private readonly caCertPem: string;
  private readonly caKeyPem: string;

  private constructor(
    readonly dir: string,
    private readonly deviceCertDays: number,
  ) {
    this.caCertPem = readText(join(dir, PKI_FILES.caCert), 'the CA certificate');
    this.caKeyPem = readText(join(dir, PKI_FILES.caKey), 'the CA private key');
    try {
      readCertificate(this.caCertPem);
    } catch (err) {
      throw new PkiError(`${join(dir, PKI_FILES.caCert)}: ${(err as Error).message}`);
    }
  }

  /** The CA of an initialised folder (`safegate hub pki init`). */
  static open(dir: string, options: { deviceCertDays?: number } = {}): HubPki {
    const abs = resolve(dir);
    if (!existsSync(join(abs, PKI_FILES.caCert))) throw new PkiError(`no hub CA in ${abs} (make it with \`safegate hub pki init\`)`);
    const days = options.deviceCertDays ?? 365;
    if (!Number.isInteger(days) || days < 1 || days > 3_650) throw new PkiError('deviceCertDays: 1 to 3650');
    return new HubPki(abs, days);
  }

  /**
   * Makes the CA and everything it signs at start in `dir`. Refuses a folder that already holds a CA:
   * a new CA would cut every enrolled device off (their certificates and codes name the old one).
   */
  static async init(dir: string, options: PkiInitOptions & { deviceCertDays?: number }): Promise<HubPki> {
    const abs = resolve(dir);
    const nowMs = options.nowMs ?? Date.now();
    if (options.hosts.length === 0) throw new PkiError('name at least one host (DNS name or IP address) kiosks reach the broker and the enrolment endpoint by');
    for (const h of options.hosts) {
      if (isIP(h) === 0 && !/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(h)) {
        throw new PkiError(`host ${JSON.stringify(h)}: a DNS name or an IP address`);
      }
    }
    for (const id of options.hubIds) if (!HUB_ID_PATTERN.test(id)) throw new PkiError(`hub id ${JSON.stringify(id)}: ${HUB_ID_RULE}`);
    if (existsSync(join(abs, PKI_FILES.caKey)) || existsSync(join(abs, PKI_FILES.caCert))) {
      throw new PkiError(`${abs} already holds a hub CA; refusing to replace it (every enrolled device trusts it)`);
    }
    mkdirSync(abs, { recursive: true, mode: 0o750 });
    if (!lstatSync(abs).isDirectory()) throw new PkiError(`${abs} is not a folder`);
    const lib = peculiarX509();

    const caKey = generateDeviceKey();
    const caKeys = await importP256KeyPair(caKey.privateKeyPem);
    const ca = await lib.X509CertificateGenerator.createSelfSigned({
      serialNumber: newSerialHex(),
      name: [{ CN: [`SafeGate hub CA ${randomBytes(4).toString('hex')}`] }, { O: ['SafeGate'] }],
      notBefore: new Date(nowMs - BACKDATE_MS),
      notAfter: new Date(nowMs + CA_DAYS * DAY_MS),
      keys: caKeys,
      signingAlgorithm: P256_SIGNING_ALGORITHM,
      extensions: [
        new lib.BasicConstraintsExtension(true, 0, true),
        new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign | lib.KeyUsageFlags.digitalSignature, true),
        await lib.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    });
    // The key first: a crash in between leaves a key without a certificate, which init may replace.
    writeAtomically(join(abs, PKI_FILES.caKey), caKey.privateKeyPem, 0o600);
    const caPem = ca.toString('pem') + '\n';

    const pki: Signer = { caPem, caKeys, caName: ca.subjectName, lib };
    const server = generateDeviceKey();
    const serverCert = await issue(pki, {
      subject: [{ CN: [options.hosts[0]!] }],
      publicKeyPem: server.publicKeyPem,
      days: SERVICE_DAYS,
      nowMs,
      usage: 'serverAuth',
      sans: options.hosts.map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h })),
    });
    writeAtomically(join(abs, PKI_FILES.serverKey), server.privateKeyPem, 0o600);
    writeAtomically(join(abs, PKI_FILES.serverCert), serverCert, 0o644);
    for (const id of options.hubIds) {
      const k = generateDeviceKey();
      const c = await issue(pki, { subject: [{ CN: [id] }], publicKeyPem: k.publicKeyPem, days: SERVICE_DAYS, nowMs, usage: 'clientAuth' });
      writeAtomically(join(abs, `${id}.key`), k.privateKeyPem, 0o600);
      writeAtomically(join(abs, `${id}.crt`), c, 0o644);
    }
    writeAtomically(join(abs, PKI_FILES.crl), await makeCrl(pki, caKeys.privateKey, [], 1, nowMs), 0o644);
    // Last: a folder with ca.crt is a finished one.
    writeAtomically(join(abs, PKI_FILES.caCert), caPem, 0o644);
    return HubPki.open(abs, options.deviceCertDays === undefined ? {} : { deviceCertDays: options.deviceCertDays });
  }

  get paths() {
    const at = (f: string) => join(this.dir, f);
    return { caCert: at(PKI_FILES.caCert), caKey: at(PKI_FILES.caKey), serverCert: at(PKI_FILES.serverCert), serverKey: at(PKI_FILES.serverKey), crl: at(PKI_FILES.crl) };
  }

  caPem(): string {
    return this.caCertPem;
  }

  /** SHA-256 of the CA certificate's DER, lower-case hex: what enrolment codes carry. */
  caFingerprint(): string {
    return certificateFingerprint(this.caCertPem);
  }

  /** The server certificate and key (the enrolment endpoint serves them; so does the broker). */
  serverCredentials(): { certPem: string; keyPem: string } {
    return { certPem: readText(this.paths.serverCert, 'the server certificate'), keyPem: readText(this.paths.serverKey, 'the server private key') };
  }

  /**
   * Signs a device certificate for a CSR whose CN is `deviceId`: serial 16 random bytes, clientAuth,
   * not a CA, valid `deviceCertDays` plus a random 0-7 days. Throws X509Error for a bad CSR, PkiError
   * for a CSR naming another device.
   */
  async signDevice(csrPem: string, deviceId: string, nowMs = Date.now()): Promise<SignedDevice> {
    const csr = await readCsr(csrPem);
    if (csr.commonName !== deviceId) throw new PkiError(`the certificate request names ${JSON.stringify(csr.commonName)}, not ${deviceId}`);
    const lib = peculiarX509();
    const caKeys = await importP256KeyPair(this.caKeyPem);
    const caName = new lib.X509Certificate(this.caCertPem).subjectName;
    const spreadMs = randomInt(0, DEVICE_SPREAD_DAYS * DAY_MS + 1);
    const certificatePem = await issue(
      { caPem: this.caCertPem, caKeys, caName, lib },
      { subject: [{ CN: [deviceId] }], publicKeyPem: csr.publicKeyPem, days: this.deviceCertDays, extraMs: spreadMs, nowMs, usage: 'clientAuth' },
    );
    return { certificatePem, info: readCertificate(certificatePem) };
  }

  /**
   * Writes crl.pem listing these serials (atomically; its CRL number one above the current file's),
   * nextUpdate 5 years ahead. Resolves to the file's path.
   */
  async writeCrl(revoked: readonly CrlEntry[], nowMs = Date.now()): Promise<string> {
    const lib = peculiarX509();
    const caKeys = await importP256KeyPair(this.caKeyPem);
    const caName = new lib.X509Certificate(this.caCertPem).subjectName;
    for (const r of revoked) if (!/^[0-9a-f]{1,40}$/i.test(r.serialHex)) throw new PkiError(`serial ${JSON.stringify(r.serialHex)}: hex digits expected`);
    const number = currentCrlNumber(this.paths.crl) + 1;
    const pem = await makeCrl({ caPem: this.caCertPem, caKeys, caName, lib }, caKeys.privateKey, revoked, number, nowMs);
    writeAtomically(this.paths.crl, pem, 0o644);
    return this.paths.crl;
  }

  /** The CRL number of crl.pem (0 when there is none). */
  crlNumber(): number {
    return currentCrlNumber(this.paths.crl);
  }
}

type Lib = ReturnType<typeof peculiarX509>;
interface Signer {
  caPem: string;
  caKeys: CryptoKeyPairLike;
  /** The CA's subject exactly as encoded in its certificate: the issuer of what it signs. */
  caName: InstanceType<Lib['Name']>;
  lib: Lib;
}
type CryptoKeyPairLike = Awaited<ReturnType<typeof importP256KeyPair>>;

async function issue(
  signer: Signer,
  o: { subject: { CN: string[] }[]; publicKeyPem: string; days: number; extraMs?: number; nowMs: number; usage: 'serverAuth' | 'clientAuth'; sans?: { type: 'dns' | 'ip'; value: string }[] },
): Promise<string> {
  const { lib } = signer;
  const publicKey = new lib.PublicKey(pemBody(o.publicKeyPem));
  const extensions: InstanceType<Lib['Extension']>[] = [
    new lib.BasicConstraintsExtension(false, undefined, true),
    new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
    new lib.ExtendedKeyUsageExtension([o.usage === 'serverAuth' ? lib.ExtendedKeyUsage.serverAuth : lib.ExtendedKeyUsage.clientAuth], false),
    await lib.SubjectKeyIdentifierExtension.create(await publicKey.export()),
    await lib.AuthorityKeyIdentifierExtension.create(signer.caKeys.publicKey),
  ];
  if (o.sans?.length) extensions.push(new lib.SubjectAlternativeNameExtension(o.sans, false));
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: newSerialHex(),
    subject: o.subject,
    issuer: signer.caName,
    notBefore: new Date(o.nowMs - BACKDATE_MS),
    notAfter: new Date(o.nowMs + o.days * DAY_MS + (o.extraMs ?? 0)),
    publicKey,
    signingKey: signer.caKeys.privateKey,
    signingAlgorithm: P256_SIGNING_ALGORITHM,
    extensions,
  });
  return cert.toString('pem') + '\n';
}

async function makeCrl(signer: Signer, signingKey: CryptoKeyPairLike['privateKey'], revoked: readonly CrlEntry[], crlNumber: number, nowMs: number): Promise<string> {
  const { lib } = signer;
  const crl = await lib.X509CrlGenerator.create({
    issuer: signer.caName,
    thisUpdate: new Date(nowMs),
    nextUpdate: new Date(nowMs + CRL_DAYS * DAY_MS),
    signingKey,
    signingAlgorithm: P256_SIGNING_ALGORITHM,
    extensions: [new lib.Extension(CRL_NUMBER_OID, false, derInteger(crlNumber)), await lib.AuthorityKeyIdentifierExtension.create(signer.caKeys.publicKey)],
    // A reason on each entry (a stolen or lost kiosk): without one the library writes an empty entry-extensions list, which DER forbids.
    entries: revoked.map((r) => ({ serialNumber: normaliseSerialHex(r.serialHex), revocationDate: new Date(r.revokedAtMs), reason: lib.X509CrlReason.keyCompromise })),
  });
  // OpenSSL (and so Mosquitto) reads only the "X509 CRL" PEM label.
  return toPem(Buffer.from(crl.rawData), 'X509 CRL');
}

/** 16 random bytes, the top bit clear and the next set: a positive DER INTEGER of exactly 16 bytes. */
export function newSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex');
}

function currentCrlNumber(file: string): number {
  if (!existsSync(file)) return 0;
  const lib = peculiarX509();
  let crl;
  try {
    crl = new lib.X509Crl(new Uint8Array(pemToDer(readFileSync(file, 'utf8'), 'X509 CRL')).buffer);
  } catch {
    throw new PkiError(`${file} is not a readable CRL; move it away to start numbering again`);
  }
  const ext = crl.extensions.find((e) => e.type === CRL_NUMBER_OID);
  if (!ext) return 0;
  const v = new Uint8Array(ext.value);
  // DER INTEGER: 0x02, length, big-endian bytes.
  if (v[0] !== 0x02 || v.length !== 2 + (v[1] ?? 0) || v.length > 9) throw new PkiError(`${file}: unreadable CRL number`);
  let n = 0;
  for (const byte of v.subarray(2)) n = n * 256 + byte;
  return n;
}

function derInteger(n: number): ArrayBuffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]).buffer;
}

function toPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function pemBody(pem: string): ArrayBuffer {
  const b64 = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const buf = Buffer.from(b64, 'base64');
  return new Uint8Array(buf).buffer;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new PkiError(`cannot read ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Replaces a file whole and atomically (temporary file, fsync, rename), with this mode, never through a link. */
export function writeAtomically(file: string, text: string | Uint8Array, mode: number): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    // Exactly this mode, whatever the umask (a service's UMask=0077 would make the public crl.pem unreadable to Mosquitto).
    fchmodSync(fd, mode);
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export { X509Error };
