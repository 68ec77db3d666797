import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  X509Error,
  certificateFingerprint,
  certificateSignedBy,
  createCsr,
  generateDeviceKey,
  pemToDer,
  readCertificate,
  readCsr,
} from '../../../base/node/x509.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-x509-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A CA made by openssl itself, so these helpers are checked against an independent implementation. */
function opensslCa(name: string): { crt: string; key: string } {
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  openssl('req', '-new', '-x509', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-days', '30', '-out', `${name}.crt`);
  return { crt: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

function toPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

describe('x509 helpers', () => {
  it('a CSR round trips: our CN and key come back, and openssl accepts its self-signature', async () => {
    const key = generateDeviceKey();
    expect(key.privateKeyPem).toContain('BEGIN PRIVATE KEY');
    expect(key.publicKeyPem).toContain('BEGIN PUBLIC KEY');
    const csr = await createCsr(key.privateKeyPem, 'site-a-gate-0001');
    const info = await readCsr(csr);
    expect(info.commonName).toBe('site-a-gate-0001');
    expect(info.publicKeyPem).toBe(key.publicKeyPem);
    writeFileSync(join(dir, 'round.csr'), csr);
    const out = openssl('req', '-in', 'round.csr', '-noout', '-verify', '-subject');
    expect(out).toMatch(/subject=CN\s*=\s*site-a-gate-0001/);
  });

  it('reads a CSR openssl made', async () => {
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'o.key');
    openssl('req', '-new', '-key', 'o.key', '-subj', '/CN=kiosk-o-0001', '-out', 'o.csr');
    const info = await readCsr(readFileSync(join(dir, 'o.csr'), 'utf8'));
    expect(info.commonName).toBe('kiosk-o-0001');
  });

  it('refuses a tampered CSR (a byte of its name changed) and garbage', async () => {
    const key = generateDeviceKey();
    const csr = await createCsr(key.privateKeyPem, 'site-a-gate-0001');
    const der = pemToDer(csr, 'CERTIFICATE REQUEST');
    const at = der.indexOf(Buffer.from('site-a-gate-0001'));
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(der);
    tampered[at + 15] = '2'.charCodeAt(0); // site-a-gate-0002: same length, signature no longer matches
    await expect(readCsr(toPem(tampered, 'CERTIFICATE REQUEST'))).rejects.toThrow(/not signed by its own key/);
    await expect(readCsr('hello')).rejects.toBeInstanceOf(X509Error);
    await expect(readCsr(toPem(Buffer.from('not asn1 at all'), 'CERTIFICATE REQUEST'))).rejects.toBeInstanceOf(X509Error);
    await expect(readCsr(csr + csr)).rejects.toBeInstanceOf(X509Error);
    // The outer length changed (the signed part intact): still refused.
    const longer = Buffer.from(der);
    longer[2] = longer[2]! + 1;
    await expect(readCsr(toPem(longer, 'CERTIFICATE REQUEST'))).rejects.toThrow(/malformed/);
    await expect(readCsr(toPem(Buffer.concat([der, Buffer.from([0, 0])]), 'CERTIFICATE REQUEST'))).rejects.toThrow(/malformed/);
  });

  it('refuses a CSR with extra subject parts, or a key that is not P-256', async () => {
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'x.key');
    openssl('req', '-new', '-key', 'x.key', '-subj', '/O=Evil/CN=kiosk-x-0001', '-out', 'x.csr');
    await expect(readCsr(readFileSync(join(dir, 'x.csr'), 'utf8'))).rejects.toThrow(/common name \(CN\) and nothing else/);
    openssl('ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', 'p384.key');
    openssl('req', '-new', '-key', 'p384.key', '-subj', '/CN=kiosk-x-0001', '-out', 'p384.csr');
    await expect(readCsr(readFileSync(join(dir, 'p384.csr'), 'utf8'))).rejects.toThrow(/P-256/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    await expect(createCsr(rsa.privateKey, 'kiosk-x-0001')).rejects.toThrow(/P-256/);
  });

  it('reads a certificate; the fingerprint equals openssl x509 -fingerprint -sha256; certificateSignedBy checks the link', async () => {
    const ca = opensslCa('test-ca');
    const other = opensslCa('other-ca');
    const key = generateDeviceKey();
    writeFileSync(join(dir, 'dev.csr'), await createCsr(key.privateKeyPem, 'site-a-gate-0007'));
    openssl('x509', '-req', '-in', 'dev.csr', '-CA', ca.crt, '-CAkey', ca.key, '-set_serial', '0x7a0102030405060708090a0b0c0d0e0f', '-days', '10', '-out', 'dev.crt');
    const pem = readFileSync(join(dir, 'dev.crt'), 'utf8');
    const caPem = readFileSync(ca.crt, 'utf8');
    const info = readCertificate(pem);
    expect(info.commonName).toBe('site-a-gate-0007');
    expect(info.issuerCommonName).toBe('test-ca');
    expect(info.serialHex).toBe('7a0102030405060708090a0b0c0d0e0f');
    expect(info.publicKeyPem).toBe(key.publicKeyPem);
    expect(info.notAfterMs - info.notBeforeMs).toBe(10 * 86_400_000);
    const fromOpenssl = openssl('x509', '-in', 'dev.crt', '-noout', '-fingerprint', '-sha256').trim().split('=')[1] ?? '';
    expect(info.fingerprint).toBe(fromOpenssl.replace(/:/g, '').toLowerCase());
    expect(certificateFingerprint(pem)).toBe(info.fingerprint);
    expect(certificateSignedBy(pem, caPem)).toBe(true);
    expect(certificateSignedBy(pem, readFileSync(other.crt, 'utf8'))).toBe(false);
    expect(certificateSignedBy(caPem, caPem)).toBe(true);
    expect(certificateSignedBy('garbage', caPem)).toBe(false);
    expect(() => readCertificate('garbage')).toThrow(X509Error);
  });
});
