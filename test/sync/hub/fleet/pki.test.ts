import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFingerprint, certificateSignedBy, createCsr, generateDeviceKey, readCertificate } from '../../../../base/node/x509.js';
import { HubPki, PkiError } from '../../../../sync/hub/fleet/pki.js';
import { tempDir } from '../../../helpers/fixtures.js';

const DAY = 86_400_000;
const dir = tempDir('safegate-pki-');
const pkiDir = join(dir.path, 'pki');
let pki: HubPki;

afterAll(() => dir.remove());

function openssl(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

async function deviceCert(deviceId: string, nowMs = Date.now()): Promise<{ pem: string; file: string; serial: string }> {
  const key = generateDeviceKey();
  const signed = await pki.signDevice(await createCsr(key.privateKeyPem, deviceId), deviceId, nowMs);
  const file = join(dir.path, `${deviceId}.crt`);
  writeFileSync(file, signed.certificatePem);
  return { pem: signed.certificatePem, file, serial: signed.info.serialHex };
}

describe('the hub PKI', () => {
  beforeAll(async () => {
    pki = await HubPki.init(pkiDir, { hosts: ['hub.example.vn', '127.0.0.1'], hubIds: ['hub.1', 'hub.2'] });
  });

  it('makes the CA, the server certificate and the hub certificates, keys 0600, each verified by openssl against the CA', () => {
    const ca = join(pkiDir, 'ca.crt');
    for (const f of ['ca.key', 'server.key', 'hub.1.key', 'hub.2.key']) expect(statSync(join(pkiDir, f)).mode & 0o777).toBe(0o600);
    for (const f of ['server.crt', 'hub.1.crt', 'hub.2.crt']) {
      const v = openssl(['verify', '-CAfile', ca, join(pkiDir, f)]);
      expect(v.out).toContain(': OK');
      expect(v.ok).toBe(true);
    }
    const caText = openssl(['x509', '-in', ca, '-noout', '-text']).out;
    expect(caText).toMatch(/CA:TRUE/);
    expect(caText).toMatch(/ASN1 OID: prime256v1/);
    const server = openssl(['x509', '-in', join(pkiDir, 'server.crt'), '-noout', '-text']).out;
    expect(server).toMatch(/DNS:hub\.example\.vn, IP Address:127\.0\.0\.1/);
    expect(server).toMatch(/TLS Web Server Authentication/);
    expect(server).toMatch(/CA:FALSE/);
    const hub = readCertificate(readFileSync(join(pkiDir, 'hub.1.crt'), 'utf8'));
    expect(hub.commonName).toBe('hub.1');
    expect(openssl(['x509', '-in', join(pkiDir, 'hub.2.crt'), '-noout', '-text']).out).toMatch(/TLS Web Client Authentication/);
    // The fingerprint codes carry is the CA certificate's, as openssl computes it.
    const fp = openssl(['x509', '-in', ca, '-noout', '-fingerprint', '-sha256']).out.trim().split('=')[1]!;
    expect(pki.caFingerprint()).toBe(fp.replace(/:/g, '').toLowerCase());
    expect(pki.caPem()).toBe(readFileSync(ca, 'utf8'));
  });

  it('refuses to replace an existing CA, and bad hosts or hub ids', async () => {
    const before = readFileSync(join(pkiDir, 'ca.key'), 'utf8');
    await expect(HubPki.init(pkiDir, { hosts: ['x.example'], hubIds: [] })).rejects.toThrow(/already holds a hub CA/);
    expect(readFileSync(join(pkiDir, 'ca.key'), 'utf8')).toBe(before);
    await expect(HubPki.init(join(dir.path, 'other'), { hosts: ['bad host!'], hubIds: [] })).rejects.toBeInstanceOf(PkiError);
    await expect(HubPki.init(join(dir.path, 'other'), { hosts: ['h'], hubIds: ['hub1'] })).rejects.toThrow(/hub id/);
    await expect(HubPki.init(join(dir.path, 'other'), { hosts: [], hubIds: [] })).rejects.toThrow(/at least one host/);
    expect(() => HubPki.open(join(dir.path, 'nothing-here'))).toThrow(/pki init/);
  });

  it('signs a device certificate: CN = device id, 16-byte serial, clientAuth, not a CA, 365 to 372 days; openssl verifies it', async () => {
    const now = Date.now();
    const { pem, file, serial } = await deviceCert('site-a-gate-0001', now);
    const info = readCertificate(pem);
    expect(info.commonName).toBe('site-a-gate-0001');
    expect(serial).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(info.notAfterMs - now).toBeGreaterThanOrEqual(365 * DAY);
    expect(info.notAfterMs - now).toBeLessThanOrEqual(372 * DAY);
    expect(certificateSignedBy(pem, pki.caPem())).toBe(true);
    const v = openssl(['verify', '-CAfile', join(pkiDir, 'ca.crt'), '-purpose', 'sslclient', file]);
    expect(v.out).toContain(': OK');
    const text = openssl(['x509', '-in', file, '-noout', '-text']).out;
    expect(text).toMatch(/CA:FALSE/);
    expect(text).toMatch(/TLS Web Client Authentication/);
    expect(text).not.toMatch(/TLS Web Server Authentication/);
    // A server-purpose check fails: a device certificate cannot pose as the broker.
    expect(openssl(['verify', '-CAfile', join(pkiDir, 'ca.crt'), '-purpose', 'sslserver', file]).ok).toBe(false);
  });

  it('spreads notAfter over days, honours deviceCertDays, and refuses a CSR for another device', async () => {
    const short = HubPki.open(pkiDir, { deviceCertDays: 30 });
    const key = generateDeviceKey();
    const afters = new Set<number>();
    const now = Date.now();
    for (let i = 0; i < 6; i++) {
      const s = await short.signDevice(await createCsr(key.privateKeyPem, 'k-1'), 'k-1', now);
      expect(s.info.notAfterMs - now).toBeGreaterThanOrEqual(30 * DAY);
      expect(s.info.notAfterMs - now).toBeLessThanOrEqual(37 * DAY);
      afters.add(s.info.notAfterMs);
    }
    expect(afters.size).toBeGreaterThan(1);
    await expect(short.signDevice(await createCsr(key.privateKeyPem, 'k-2'), 'k-1')).rejects.toThrow(/names "k-2", not k-1/);
    await expect(short.signDevice('garbage', 'k-1')).rejects.toThrow(/not a PEM/);
  });

  it('writes the CRL: signed by the CA, 5 years ahead, numbers increasing, and openssl then refuses the revoked certificate only', async () => {
    const ca = join(pkiDir, 'ca.crt');
    const crl = pki.paths.crl;
    const empty = openssl(['crl', '-in', crl, '-CAfile', ca, '-noout', '-text']);
    expect(empty.out).toMatch(/verify OK/);
    expect(empty.out).toMatch(/No Revoked Certificates/);
    const first = pki.crlNumber();
    expect(first).toBe(1);

    const bad = await deviceCert('site-a-gate-0002');
    const good = await deviceCert('site-a-gate-0003');
    const revokedAt = Date.parse('2026-11-20T10:00:00Z');
    expect(await pki.writeCrl([{ serialHex: bad.serial, revokedAtMs: revokedAt }])).toBe(crl);
    expect(statSync(crl).mode & 0o777).toBe(0o644);
    const text = openssl(['crl', '-in', crl, '-CAfile', ca, '-noout', '-text']);
    expect(text.out).toMatch(/verify OK/);
    expect(text.out).toContain(`Serial Number: ${bad.serial.toUpperCase()}`);
    expect(text.out).toMatch(/Nov 20 10:00:00 2026 GMT/);
    expect(pki.crlNumber()).toBe(first + 1);
    const nextUpdate = /Next Update: (.+)/.exec(text.out)?.[1];
    expect(Date.parse(nextUpdate ?? '') - Date.now()).toBeGreaterThan(4.9 * 365 * DAY);

    const check = (file: string) => openssl(['verify', '-crl_check', '-CRLfile', crl, '-CAfile', ca, file]);
    expect(check(bad.file).ok).toBe(false);
    expect(check(bad.file).out).toMatch(/certificate revoked/);
    expect(check(good.file).ok).toBe(true);

    await pki.writeCrl([]);
    expect(pki.crlNumber()).toBe(first + 2);
    expect(check(bad.file).ok).toBe(true);
    await expect(pki.writeCrl([{ serialHex: 'zz', revokedAtMs: 1 }])).rejects.toThrow(/hex/);
  });

  it('the CRL is public (0644) and the keys private (0600) whatever the umask (a service with UMask=0077)', async () => {
    const before = process.umask(0o077);
    try {
      await pki.writeCrl([]);
      const other = await HubPki.init(join(dir.path, 'umask'), { hosts: ['hub.example.vn'], hubIds: ['hub.1'] });
      expect(statSync(other.paths.crl).mode & 0o777).toBe(0o644);
      expect(statSync(other.paths.caCert).mode & 0o777).toBe(0o644);
      expect(statSync(other.paths.serverKey).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(before);
    }
    expect(statSync(pki.paths.crl).mode & 0o777).toBe(0o644);
  });

  it('a second opener sees the same CA (the hub process and a command share the folder)', () => {
    const again = HubPki.open(pkiDir);
    expect(again.caFingerprint()).toBe(pki.caFingerprint());
    expect(certificateFingerprint(readFileSync(join(pkiDir, 'ca.crt'), 'utf8'))).toBe(pki.caFingerprint());
    expect(execFileSync('openssl', ['ec', '-in', join(pkiDir, 'ca.key'), '-noout', '-check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('');
  });
});
