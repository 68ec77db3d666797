import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { encode as base45Encode } from '@digitalbazaar/base45';
import { encode as cborEncode } from 'cborg';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDccReason } from '../../../../base/common/dcc.js';
import {
  DCC_IAT_SKEW_SECONDS,
  DccRuleError,
  DccTrustError,
  MAX_DCC_INFLATED,
  dccKidOf,
  signerFromDer,
  evaluateDccRules,
  parseDccRules,
  parseTrustList,
  verifyDcc,
  type DccResult,
  type TrustList,
} from '../../../../base/node/dcc/index.js';
import { corpus } from '../../../helpers/corpora.js';
import { mintDccSigner, mintHc1, vaccinationHcert, type TestDccSigner } from '../../../helpers/dcc.js';

/** Library behaviour beyond the corpus: trust-list formats, the zlib cap, rules, and never a throw. */

const ROOT = corpus('dcc');
interface Case {
  PREFIX: string;
  TESTCTX: { CERTIFICATE: string; VALIDATIONCLOCK: string };
}
function loadCase(path: string): Case & { der: Buffer; at: number } {
  const c = JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as Case;
  return { ...c, der: Buffer.from(c.TESTCTX.CERTIFICATE, 'base64'), at: Date.parse(c.TESTCTX.VALIDATIONCLOCK) };
}
// Three signers of three countries and algorithms: EC P-256 (CO3, DE), RSA-PSS (CO1).
const CO3 = loadCase('common/2DCode/raw/CO3.json');
const CO1 = loadCase('common/2DCode/raw/CO1.json');
const DE1 = loadCase('DE/2DCode/raw/1.json');
const CASES = [CO3, CO1, DE1];

function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
}
function dgcgEntry(der: Buffer, country: string, certificateType = 'DSC') {
  return { kid: dccKidOf(der), country, certificateType, rawData: der.toString('base64'), thumbprint: 'x'.repeat(64), timestamp: '2021-05-01T00:00:00Z' };
}
const ENTRIES = [dgcgEntry(CO3.der, 'AT'), dgcgEntry(CO1.der, 'AT'), dgcgEntry(DE1.der, 'DE')];

function allVerify(trust: TrustList): boolean[] {
  return CASES.map((c) => verifyDcc(c.PREFIX, trust, { at: c.at }).valid);
}

describe('trust material', () => {
  it('reads one signer from DER and from PEM; a certificate verifies only its own messages', () => {
    for (const trust of [parseTrustList(CO3.der), parseTrustList(pem(CO3.der))]) {
      expect(trust.signers).toHaveLength(1);
      expect(trust.signers[0]!.kid).toBe(dccKidOf(CO3.der));
      expect(allVerify(trust)).toEqual([true, false, false]);
      const other = verifyDcc(DE1.PREFIX, trust, { at: DE1.at });
      expect(other.reasons).toContain('DCC_UNKNOWN_SIGNER');
      expect(other.steps.signature).toBe('fail');
    }
    expect(allVerify(parseTrustList(pem(CO3.der) + pem(CO1.der) + pem(DE1.der)))).toEqual([true, true, true]);
  });

  it('reads the DGCG trustList array and the {certificates} list, leaving out entries that are not DSCs', () => {
    const csca = dgcgEntry(CO1.der, 'XX', 'CSCA');
    const array = parseTrustList(JSON.stringify([...ENTRIES, csca]));
    expect(array.signers.map((s) => s.country)).toEqual(['AT', 'AT', 'DE']);
    expect(allVerify(array)).toEqual([true, true, true]);
    const wrapped = parseTrustList(JSON.stringify({ certificates: ENTRIES }));
    expect(allVerify(wrapped)).toEqual([true, true, true]);
    // Two signers under one kid (8 bytes can collide): each is tried; a wrong one alone is a bad signature.
    // (A list cannot say so any more, its kids must be the certificates' own: built directly.)
    const kid = dccKidOf(CO3.der);
    const impostor = { ...signerFromDer(DE1.der, 'DE1'), kid };
    const genuine = signerFromDer(CO3.der, 'CO3');
    expect(verifyDcc(CO3.PREFIX, { signers: [impostor, genuine] }, { at: CO3.at })).toMatchObject({ valid: true });
    expect(verifyDcc(CO3.PREFIX, { signers: [impostor] }, { at: CO3.at })).toMatchObject({ valid: false, reasons: ['DCC_BAD_SIGNATURE'], steps: { signature: 'fail', keyUsage: 'skipped' } });
  });

  it("refuses a list whose kid is not the certificate's own (first 8 bytes of its SHA-256), naming the entry", () => {
    // A list naming CO3's certificate by another kid would make it vouch for messages of that kid.
    expect(() => parseTrustList(JSON.stringify([ENTRIES[0], { ...ENTRIES[1], kid: 'AAAAAAAAAAA=' }]))).toThrow(
      new DccTrustError(`trust list entry [1] (kid AAAAAAAAAAA=): the kid is not the certificate's (its SHA-256 gives ${dccKidOf(CO1.der)})`),
    );
    expect(() => parseTrustList(JSON.stringify({ certificates: [{ ...ENTRIES[0], kid: ENTRIES[2]!.kid }] }))).toThrow(/certificates\[0\] \(kid [^)]+\): the kid is not the certificate's/);
    // A root (CSCA) entry's kid is checked the same way.
    expect(() => parseTrustList(JSON.stringify([ENTRIES[0], { ...dgcgEntry(CO1.der, 'AT', 'CSCA'), kid: ENTRIES[0]!.kid }]))).toThrow(/entry \[1\] .*the kid is not the certificate's/);
    // The same kid without padding or in the URL alphabet is the same kid; the signer keeps the canonical form.
    const bare = parseTrustList(JSON.stringify([{ ...ENTRIES[0], kid: ENTRIES[0]!.kid.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_') }]));
    expect(bare.signers.map((s) => s.kid)).toEqual([dccKidOf(CO3.der)]);
    expect(allVerify(bare)).toEqual([true, false, false]);
    // signerFromDer with a given kid checks it too (the downlink's records use it).
    expect(() => signerFromDer(CO3.der, 'record', { kid: ENTRIES[2]!.kid })).toThrow(DccTrustError);
  });

  it('reads the signed form; with the publisher key the signature is checked, a changed list is refused', () => {
    const publisher = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const body = JSON.stringify({ certificates: ENTRIES });
    const signed = `${sign('sha256', Buffer.from(body), publisher.privateKey).toString('base64')}\n${body}`;
    expect(allVerify(parseTrustList(signed, { listKey: publisher.publicKey }))).toEqual([true, true, true]);
    expect(allVerify(parseTrustList(signed))).toEqual([true, true, true]);
    // The result says whether the signature was checked, for the hub import to show.
    expect(parseTrustList(signed, { listKey: publisher.publicKey }).signature).toBe('verified');
    expect(parseTrustList(signed).signature).toBe('unchecked');
    expect(parseTrustList(body).signature).toBe('absent');
    expect(parseTrustList(body, { listKey: publisher.publicKey }).signature).toBe('absent');
    expect([parseTrustList(CO3.der).signature, parseTrustList(pem(CO3.der)).signature]).toEqual(['absent', 'absent']);
    const tampered = signed.replace('"DE"', '"FR"');
    expect(() => parseTrustList(tampered, { listKey: publisher.publicKey })).toThrow(/signature does not verify/);
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => parseTrustList(signed, { listKey: stranger.publicKey })).toThrow(DccTrustError);
    expect(() => parseTrustList(body, { listKey: publisher.publicKey, requireSignature: true })).toThrow(/not signed/);
  });

  it('refuses bad files with a reason naming the entry', () => {
    const bad = [ENTRIES[0], { ...ENTRIES[1], rawData: Buffer.from('not a certificate').toString('base64') }];
    expect(() => parseTrustList(JSON.stringify({ certificates: bad }))).toThrow(/certificates\[1\] \(kid [^)]+\): not an X.509 certificate/);
    expect(() => parseTrustList(JSON.stringify([{ kid: 'x' }]))).toThrow(/entry \[0\]: rawData/);
    expect(() => parseTrustList('')).toThrow(DccTrustError);
    expect(() => parseTrustList('{"certificates": 3}')).toThrow(/expected a JSON array/);
    expect(() => parseTrustList('hello world')).toThrow(/not a certificate/);
    expect(() => parseTrustList('-----BEGIN CERTIFICATE-----\nAAAA')).toThrow(/PEM without a complete certificate/);
    expect(() => parseTrustList(new Uint8Array([0x30, 0x82, 0, 4, 1, 2, 3, 4]))).toThrow(/certificate: not an X.509/);
  });
});

function hc1(cose: Uint8Array): string {
  return 'HC1:' + base45Encode(new Uint8Array(deflateSync(cose)));
}

/** A certificate minted by openssl: `issuer` absent makes it self-signed. */
interface Minted {
  der: Buffer;
  key: KeyObject;
  /** Files for openssl to sign with. */
  files: { cert: string; key: string };
}

describe('signers checked against their country root (CSCA)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcc-csca-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  let n = 0;
  function mint(subject: string, issuer?: Minted, rootOptions: string[] = []): Minted {
    n += 1;
    const key = join(dir, `${n}.key`);
    const cert = join(dir, `${n}.pem`);
    const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-subj', subject];
    if (!issuer) {
      openssl('req', '-x509', ...newKey, '-out', cert, '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', ...rootOptions);
    } else {
      const csr = join(dir, `${n}.csr`);
      const ext = join(dir, `${n}.cnf`);
      writeFileSync(ext, 'keyUsage=critical,digitalSignature\n');
      openssl('req', '-new', ...newKey, '-out', csr);
      openssl('x509', '-req', '-in', csr, '-CA', issuer.files.cert, '-CAkey', issuer.files.key, '-set_serial', String(n), '-days', '365', '-extfile', ext, '-out', cert);
    }
    return { der: Buffer.from(new X509Certificate(readFileSync(cert)).raw), key: createPrivateKey(readFileSync(key)), files: { cert, key } };
  }
  const root = mint('/C=VN/CN=SafeGate test CSCA');
  // Same name as the root, another key (and no key identifier, so only the signature tells them apart).
  const lookalike = mint('/C=VN/CN=SafeGate test CSCA', undefined, ['-addext', 'subjectKeyIdentifier=none']);
  const stranger = mint('/C=VN/CN=Someone else CA');
  const dsc = mint('/C=VN/CN=SafeGate test DSC 1', root);
  const rogue = mint('/C=VN/CN=SafeGate test DSC 2', stranger);
  const forged = mint('/C=VN/CN=SafeGate test DSC 3', lookalike);
  rmSync(dir, { recursive: true, force: true });
  const asSigner = (m: Minted): TestDccSigner => ({ der: new Uint8Array(m.der), privateKey: m.key, pem: '', kid: dccKidOf(m.der) });
  const now = Date.now();
  const hc1By = (m: Minted) => mintHc1({ signer: asSigner(m), nowMs: now });

  it('keeps a DSC its country root issued; leaves out, with a reason, one it did not, and keeps the rest of the list', () => {
    expect(verifyDcc(hc1By(dsc), parseTrustList(dsc.der), { at: now }).valid).toBe(true);
    const list = parseTrustList(JSON.stringify([dgcgEntry(root.der, 'VN', 'CSCA'), dgcgEntry(dsc.der, 'VN'), dgcgEntry(rogue.der, 'VN'), dgcgEntry(forged.der, 'vn'), ENTRIES[2]]));
    expect(list.signers.map((s) => s.kid)).toEqual([dccKidOf(dsc.der), dccKidOf(DE1.der)]);
    expect(list.refused).toEqual([
      { kid: dccKidOf(rogue.der), country: 'VN', reason: "not issued by any of the country's 1 CSCA certificate(s) in the list" },
      // Issued by a root of the same name that the list does not carry (the key identifiers differ).
      { kid: dccKidOf(forged.der), country: 'vn', reason: "not issued by any of the country's 1 CSCA certificate(s) in the list" },
    ]);
    expect(verifyDcc(hc1By(dsc), list, { at: now }).valid).toBe(true);
    expect(verifyDcc(hc1By(rogue), list, { at: now }).reasons).toEqual(['DCC_UNKNOWN_SIGNER']);
    expect(verifyDcc(hc1By(forged), list, { at: now }).reasons).toEqual(['DCC_UNKNOWN_SIGNER']);
    // Another country's signers are not checked against VN's root; the CSCA itself signs no HC1.
    expect(verifyDcc(DE1.PREFIX, list, { at: DE1.at }).valid).toBe(true);
    expect(list.signers.some((s) => s.kid === dccKidOf(root.der))).toBe(false);
  });

  it('a root of the same name but another key does not vouch for the DSC', () => {
    const list = parseTrustList(JSON.stringify({ certificates: [dgcgEntry(lookalike.der, 'VN', 'CSCA'), dgcgEntry(dsc.der, 'VN')] }));
    expect(list.signers).toEqual([]);
    expect(list.refused).toEqual([{ kid: dccKidOf(dsc.der), country: 'VN', reason: "its signature does not verify with the country's CSCA that it names as issuer" }]);
    // Any of the country's roots may have issued it.
    const two = parseTrustList(JSON.stringify([dgcgEntry(lookalike.der, 'VN', 'CSCA'), dgcgEntry(root.der, 'VN', 'CSCA'), dgcgEntry(dsc.der, 'VN')]));
    expect(two).toMatchObject({ refused: [], signers: [{ kid: dccKidOf(dsc.der), country: 'VN' }] });
  });

  it('without a CSCA for the country (DSC-only lists, PEM, DER) every DSC is kept as before', () => {
    const dscOnly = parseTrustList(JSON.stringify([dgcgEntry(dsc.der, 'VN'), dgcgEntry(rogue.der, 'VN'), dgcgEntry(forged.der, 'VN')]));
    expect(dscOnly).toMatchObject({ refused: [], signature: 'absent' });
    expect(dscOnly.signers).toHaveLength(3);
    // A root of another country does not apply.
    expect(parseTrustList(JSON.stringify([dgcgEntry(root.der, 'DE', 'CSCA'), dgcgEntry(rogue.der, 'VN')])).signers).toHaveLength(1);
    expect(parseTrustList(pem(rogue.der) + pem(root.der)).signers).toHaveLength(2);
    expect(parseTrustList(rogue.der)).toMatchObject({ refused: [], signers: [{ kid: dccKidOf(rogue.der) }] });
  });
});

describe('verifyDcc', () => {
  const trust = parseTrustList(CO3.der);

  it('a zip bomb is refused at the inflate cap, not inflated', () => {
    const bomb = 'HC1:' + base45Encode(new Uint8Array(deflateSync(Buffer.alloc(4 * 1024 * 1024))));
    expect(bomb.length).toBeLessThan(8 * 1024);
    const r = verifyDcc(bomb, trust);
    expect(r).toMatchObject({ valid: false, reasons: ['DCC_COMPRESSION'], steps: { unprefix: 'ok', base45: 'ok', decompress: 'fail', cose: 'skipped' } });
    expect(r.detail).toContain(String(MAX_DCC_INFLATED));
    // Just under the cap inflates (and then is not COSE).
    expect(verifyDcc(hc1(new Uint8Array(MAX_DCC_INFLATED - 1)), trust).reasons).toEqual(['DCC_COSE']);
  });

  it('names each failing step with a stable reason, and checks expiry against the given time', () => {
    expect(verifyDcc('HC2:6BF', trust)).toMatchObject({ reasons: ['DCC_PREFIX'], steps: { unprefix: 'fail', base45: 'skipped' } });
    expect(verifyDcc('x'.repeat(9000), trust).reasons).toEqual(['DCC_PREFIX']);
    expect(verifyDcc('HC1:~~~', trust).reasons).toEqual(['DCC_BASE45']);
    expect(verifyDcc('HC1:' + base45Encode(new Uint8Array([1, 2, 3])), trust).reasons).toEqual(['DCC_COMPRESSION']);
    expect(verifyDcc(hc1(cborEncode([new Uint8Array(0), new Map(), cborEncode(new Map([[1, 'AT']])), new Uint8Array(64)])), trust).reasons).toEqual(['DCC_CBOR']);
    const ok = verifyDcc(CO3.PREFIX, trust, { at: CO3.at });
    expect(ok).toMatchObject({ valid: true, reasons: [], type: 'vaccination', issuer: 'AT', kid: dccKidOf(CO3.der) });
    expect(ok.entries).toMatchObject({ dn: expect.any(Number), co: expect.any(String) });
    expect(ok.holder?.name).toBeTruthy();
    const late = verifyDcc(CO3.PREFIX, trust, { at: (ok.exp! + 1) * 1000 });
    expect(late).toMatchObject({ valid: false, steps: { signature: 'ok', expiry: 'fail' } });
    expect(late.reasons).toContain('DCC_EXPIRED');
    // iat may be up to DCC_IAT_SKEW_SECONDS in the verifier's future (a slow kiosk clock), no more.
    // (CO3's signer certificate starts at the very second of its iat: widened here so only iat is at play.)
    expect(DCC_IAT_SKEW_SECONDS).toBe(300);
    const wide = { signers: [{ ...trust.signers[0]!, notBefore: 0 }] };
    expect(verifyDcc(CO3.PREFIX, wide, { at: (ok.iat! - 1) * 1000 })).toMatchObject({ valid: true, steps: { expiry: 'ok' } });
    expect(verifyDcc(CO3.PREFIX, wide, { at: (ok.iat! - DCC_IAT_SKEW_SECONDS) * 1000 })).toMatchObject({ valid: true, steps: { expiry: 'ok' } });
    expect(verifyDcc(CO3.PREFIX, wide, { at: (ok.iat! - DCC_IAT_SKEW_SECONDS - 1) * 1000 })).toMatchObject({ valid: false, reasons: ['DCC_NOT_YET_VALID'], steps: { expiry: 'fail' } });
    // The signer certificate's own start gets no tolerance (its validity is its issuer's statement).
    expect(verifyDcc(CO3.PREFIX, trust, { at: (ok.iat! - 1) * 1000 }).reasons).toEqual(['DCC_SIGNER_NOT_VALID']);
    // exp has no tolerance: one second past it is expired.
    expect(verifyDcc(CO3.PREFIX, trust, { at: (ok.exp! + 1) * 1000 }).reasons).toEqual(['DCC_EXPIRED']);
    // At exactly exp the certificate is still valid (the ES corpus cases sit on that second).
    expect(verifyDcc(CO3.PREFIX, trust, { at: ok.exp! * 1000 }).steps.expiry).toBe('ok');
    // No usable verification time fails closed.
    expect(verifyDcc(CO3.PREFIX, trust, { at: Number.NaN })).toMatchObject({ valid: false, steps: { expiry: 'fail' } });
    // A signer certificate outside its own validity.
    const signer = trust.signers[0]!;
    expect(verifyDcc(CO3.PREFIX, { signers: [{ ...signer, notAfter: CO3.at - 1 }] }, { at: CO3.at }).reasons).toContain('DCC_SIGNER_NOT_VALID');
  });

  it('takes the signature algorithm from the protected header, from the unprotected one only when the key fixes it; the kid from either', () => {
    const signer = mintDccSigner('SafeGate test DSC alg');
    const kid = Buffer.from(signer.kid, 'base64');
    const now = Date.now();
    const payload = cborEncode(
      new Map<number, unknown>([
        [1, 'VN'],
        [6, Math.floor(now / 1000) - 60],
        [4, Math.floor(now / 1000) + 86_400],
        [-260, new Map([[1, vaccinationHcert()]])],
      ]),
    );
    /** A correctly signed message with these headers (the signature covers the protected one only). */
    const message = (protectedMap: Map<number, unknown>, unprotectedMap: Map<number, unknown>) => {
      const protectedBytes = protectedMap.size === 0 ? new Uint8Array(0) : cborEncode(protectedMap);
      const signature = sign('sha256', cborEncode(['Signature1', protectedBytes, new Uint8Array(0), payload]), { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
      return hc1(cborEncode([protectedBytes, unprotectedMap, payload, new Uint8Array(signature)]));
    };
    const trustSigner = parseTrustList(signer.der);
    const check = (text: string) => verifyDcc(text, trustSigner, { at: now });
    // alg protected: valid whether the kid is protected or not.
    expect(check(message(new Map<number, unknown>([[1, -7], [4, kid]]), new Map())).valid).toBe(true);
    expect(check(message(new Map([[1, -7]]), new Map([[4, kid]]))).valid).toBe(true);
    // The protected kid wins over an unprotected one.
    expect(check(message(new Map<number, unknown>([[1, -7], [4, kid]]), new Map([[4, new Uint8Array(8)]]))).valid).toBe(true);
    // alg only in the unprotected header (the protected one names none): taken when it is the one the
    // P-256 key fixes (ES256), as the EU test data expects (common CO20)...
    expect(check(message(new Map(), new Map<number, unknown>([[1, -7], [4, kid]]))).valid).toBe(true);
    const co20 = loadCase('common/2DCode/raw/CO20.json');
    expect(verifyDcc(co20.PREFIX, parseTrustList(co20.der), { at: co20.at })).toMatchObject({ steps: { signature: 'ok' } });
    // ... and never another one named there (an attacker's choice): ES384 over the same key is refused,
    // even when the signature was made with that hash.
    const es384 = (() => {
      const signature = sign('sha384', cborEncode(['Signature1', new Uint8Array(0), new Uint8Array(0), payload]), { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
      return hc1(cborEncode([new Uint8Array(0), new Map<number, unknown>([[1, -35], [4, kid]]), payload, new Uint8Array(signature)]));
    })();
    const substituted = check(es384);
    expect(substituted).toMatchObject({ valid: false, reasons: ['DCC_BAD_SIGNATURE'], steps: { signature: 'fail' } });
    expect(substituted.detail).toMatch(/only in the unprotected header/);
    // A protected alg is never overridden by an unprotected one.
    expect(check(message(new Map([[1, -7]]), new Map<number, unknown>([[1, -35], [4, kid]]))).valid).toBe(true);
    const noAlg = check(message(new Map([[4, kid]]), new Map()));
    expect(noAlg).toMatchObject({ valid: false, reasons: ['DCC_BAD_SIGNATURE'] });
    expect(noAlg.detail).toMatch(/no signature algorithm \(alg\) in either header/);
  });

  it('never throws: any text or bytes give a result whose reasons are stable codes', () => {
    const check = (r: DccResult) => {
      expect(typeof r.valid).toBe('boolean');
      expect(r.valid).toBe(r.reasons.length === 0);
      for (const reason of r.reasons) expect(isDccReason(reason)).toBe(true);
    };
    const anyTrust = parseTrustList(JSON.stringify(ENTRIES));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array(), fc.anything()), (input) => {
        const r = verifyDcc(input, anyTrust);
        check(r);
        expect(r.valid).toBe(false);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, compress) => {
        const r = verifyDcc('HC1:' + base45Encode(compress ? new Uint8Array(deflateSync(bytes)) : bytes), anyTrust);
        check(r);
        expect(r.valid).toBe(false);
      }),
      { numRuns: 300 },
    );
    // Random CBOR structures inside a well-formed envelope.
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        check(verifyDcc(hc1(cborEncode([cborEncode(a), new Map(), cborEncode(new Map<number, unknown>([[-260, new Map([[1, b]])]])), new Uint8Array(64)])), anyTrust));
      }),
      { numRuns: 200 },
    );
    // One changed character of a valid certificate.
    fc.assert(
      fc.property(fc.nat({ max: CO3.PREFIX.length - 1 }), fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:~'), (i, ch) => {
        check(verifyDcc(CO3.PREFIX.slice(0, i) + ch + CO3.PREFIX.slice(i + 1), anyTrust, { at: CO3.at }));
      }),
      { numRuns: 300 },
    );
  });
});

function rule(over: Record<string, unknown>) {
  return {
    Identifier: 'VR-VN-0001',
    Type: 'Acceptance',
    Country: 'VN',
    Version: '1.0.0',
    SchemaVersion: '1.3.0',
    Engine: 'CERTLOGIC',
    EngineVersion: '0.7.5',
    CertificateType: 'Vaccination',
    ValidFrom: '2021-01-01T00:00:00Z',
    ValidTo: '2030-01-01T00:00:00Z',
    AffectedFields: ['v.0.dn', 'v.0.sd'],
    Logic: { '>=': [{ var: 'payload.v.0.dn' }, { var: 'payload.v.0.sd' }] },
    Description: [{ lang: 'en', desc: 'The vaccination course must be complete.' }],
    ...over,
  };
}

describe('business rules (CertLogic)', () => {
  const r = verifyDcc(CO3.PREFIX, parseTrustList(CO3.der), { at: CO3.at });
  const doses = { dn: r.entries!.dn as number, sd: r.entries!.sd as number };

  it('a rule that holds passes; one that does not adds DCC_RULE:<Identifier>', () => {
    const complete = parseDccRules(JSON.stringify([rule({})]));
    const atLeastMore = parseDccRules([rule({ Identifier: 'VR-VN-0002', Logic: { '>': [{ var: 'payload.v.0.dn' }, doses.dn] } })]);
    expect(evaluateDccRules(complete, r, CO3.at)).toEqual({
      passed: doses.dn >= doses.sd,
      reasons: doses.dn >= doses.sd ? [] : ['DCC_RULE:VR-VN-0001'],
      rules: [{ id: 'VR-VN-0001', version: '1.0.0', outcome: doses.dn >= doses.sd ? 'pass' : 'fail' }],
    });
    expect(evaluateDccRules(atLeastMore, r, CO3.at)).toMatchObject({ passed: false, reasons: ['DCC_RULE:VR-VN-0002'] });
  });

  it('uses the external data: the validation clock and exp', () => {
    const notExpired = parseDccRules([rule({ Identifier: 'GR-VN-0001', CertificateType: 'General', Logic: { 'not-after': [{ plusTime: [{ var: 'external.validationClock' }, 0, 'day'] }, { plusTime: [{ var: 'external.exp' }, 0, 'day'] }] } })]);
    expect(evaluateDccRules(notExpired, r, CO3.at).passed).toBe(true);
    expect(evaluateDccRules(notExpired, r, (r.exp! + 3 * 86_400) * 1000).reasons).toEqual(['DCC_RULE:GR-VN-0001']);
  });

  it('applies only the rules for this type and time, the newest version of each', () => {
    const failing = { '===': [1, 2] };
    const rules = parseDccRules([
      rule({ Identifier: 'TR-VN-0001', CertificateType: 'Test', Logic: failing }),
      rule({ Identifier: 'VR-VN-0003', ValidTo: '2021-01-02T00:00:00Z', Logic: failing }),
      rule({ Identifier: 'VR-VN-0004', Version: '1.0.0', Logic: failing }),
      rule({ Identifier: 'VR-VN-0004', Version: '1.10.0', Logic: true }),
    ]);
    expect(evaluateDccRules(rules, r, CO3.at)).toEqual({ passed: true, reasons: [], rules: [{ id: 'VR-VN-0004', version: '1.10.0', outcome: 'pass' }] });
    // Without a decoded payload every applicable rule fails closed.
    const undecoded = verifyDcc('HC1:~~', parseTrustList(CO3.der));
    expect(evaluateDccRules(parseDccRules([rule({ Logic: true })]), undecoded, CO3.at).rules).toEqual([]);
    expect(evaluateDccRules(parseDccRules([rule({ CertificateType: 'General', Logic: true })]), undecoded, CO3.at)).toMatchObject({ passed: false, rules: [{ outcome: 'open' }] });
  });

  it('refuses malformed rules, naming the rule', () => {
    expect(() => parseDccRules('{')).toThrow(DccRuleError);
    expect(() => parseDccRules([rule({}), rule({ Identifier: 'VR-VN-0009', Engine: 'JSONLOGIC' })])).toThrow(/rule \[1\] \(VR-VN-0009\): Engine/);
    expect(() => parseDccRules([rule({ Logic: { nope: [1] } })])).toThrow(/VR-VN-0001\): Logic is not a valid CertLogic expression/);
    expect(() => parseDccRules([rule({ ValidFrom: 'soon' })])).toThrow(/ValidFrom/);
  });
});
