import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { encode as base45Encode } from '@digitalbazaar/base45';
import { dccKidOf } from '../../base/node/dcc/index.js';
import { encodeCbor, signCoseSign1 } from '../../base/node/cose.js';

/**
 * Test HC1 material minted on the spot (the corpus certificates are expired at today's date): a
 * signer (a fresh EC P-256 key and a self-signed certificate, by openssl) and HC1 texts it signs.
 */

export interface TestDccSigner {
  privateKey: KeyObject;
  /** The certificate, DER. */
  der: Uint8Array;
  pem: string;
  /** base64 of the first 8 bytes of SHA-256(DER), as HC1 messages name their signer. */
  kid: string;
}

/** A fresh signer whose certificate is valid from now for `days` days (openssl on the PATH). */
export function mintDccSigner(commonName = 'SafeGate test DSC', days = 30): TestDccSigner {
  const dir = mkdtempSync(join(tmpdir(), 'dcc-signer-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], { stdio: 'pipe' });
    execFileSync(
      'openssl',
      ['req', '-new', '-x509', '-key', key, '-out', cert, '-days', String(days), '-subj', `/C=VN/O=SafeGate test/CN=${commonName}`],
      { stdio: 'pipe' },
    );
    const pem = readFileSync(cert, 'utf8');
    const der = new Uint8Array(new X509Certificate(pem).raw);
    return { privateKey: createPrivateKey(readFileSync(key)), der, pem, kid: dccKidOf(der) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A vaccination hcert (EU DCC schema 1.3) of a made-up person. */
export function vaccinationHcert(): Record<string, unknown> {
  return {
    ver: '1.3.0',
    nam: { fn: 'Thử', fnt: 'THU', gn: 'Nghiệm', gnt: 'NGHIEM' },
    dob: '1990-01-01',
    v: [{ tg: '840539006', vp: '1119349007', mp: 'EU/1/20/1528', ma: 'ORG-100030215', dn: 2, sd: 2, dt: '2026-06-01', co: 'VN', is: 'SafeGate test', ci: 'URN:UVCI:01:VN:TEST0001' }],
  };
}

/** An HC1 text signed by `signer`, issued an hour ago and valid `validDays` from now (claims iss/iat/exp, hcert at -260/1). */
export function mintHc1({ signer, payload = vaccinationHcert(), nowMs = Date.now(), validDays = 30 }: { signer: TestDccSigner; payload?: Record<string, unknown>; nowMs?: number; validDays?: number }): string {
  const iat = Math.floor(nowMs / 1000) - 3_600;
  const claims = new Map<number, unknown>([
    [1, 'VN'],
    [6, iat],
    [4, iat + 3_600 + validDays * 86_400],
    [-260, new Map([[1, payload]])],
  ]);
  const cose = signCoseSign1(encodeCbor(claims), signer.privateKey, Buffer.from(signer.kid, 'base64'));
  return 'HC1:' + base45Encode(new Uint8Array(deflateSync(cose, { level: 9 })));
}
