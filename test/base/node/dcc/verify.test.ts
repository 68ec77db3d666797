import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { encode as base45Encode } from '@digitalbazaar/base45';
import { encode as cborEncode } from 'cborg';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDccReason } from '../../../../base/common/dcc.js';
import {
  DccRuleError,
  DccTrustError,
  MAX_DCC_INFLATED,
  dccKidOf,
  evaluateDccRules,
  parseDccRules,
  parseTrustList,
  verifyDcc,
  type DccResult,
  type TrustList,
} from '../../../../base/node/dcc/index.js';
import { corpus } from '../../../helpers/corpora.js';

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
    // A list that names a signer by a kid other than the message's does not vouch for it.
    const wrongKid = parseTrustList(JSON.stringify([{ ...ENTRIES[0], kid: 'AAAAAAAAAAA=' }]));
    expect(verifyDcc(CO3.PREFIX, wrongKid, { at: CO3.at }).reasons).toContain('DCC_UNKNOWN_SIGNER');
    // Two signers under one kid (8 bytes can collide): each is tried; a wrong one alone is a bad signature.
    const kid = dccKidOf(CO3.der);
    const impostor = { ...ENTRIES[2], kid };
    expect(verifyDcc(CO3.PREFIX, parseTrustList(JSON.stringify([impostor, ENTRIES[0]])), { at: CO3.at })).toMatchObject({ valid: true });
    expect(verifyDcc(CO3.PREFIX, parseTrustList(JSON.stringify([impostor])), { at: CO3.at })).toMatchObject({ valid: false, reasons: ['DCC_BAD_SIGNATURE'], steps: { signature: 'fail', keyUsage: 'skipped' } });
  });

  it('reads the signed form; with the publisher key the signature is checked, a changed list is refused', () => {
    const publisher = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const body = JSON.stringify({ certificates: ENTRIES });
    const signed = `${sign('sha256', Buffer.from(body), publisher.privateKey).toString('base64')}\n${body}`;
    expect(allVerify(parseTrustList(signed, { listKey: publisher.publicKey }))).toEqual([true, true, true]);
    expect(allVerify(parseTrustList(signed))).toEqual([true, true, true]);
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
    expect(verifyDcc(CO3.PREFIX, trust, { at: (ok.iat! - 1) * 1000 }).reasons).toContain('DCC_NOT_YET_VALID');
    // At exactly exp the certificate is still valid (the ES corpus cases sit on that second).
    expect(verifyDcc(CO3.PREFIX, trust, { at: ok.exp! * 1000 }).steps.expiry).toBe('ok');
    // No usable verification time fails closed.
    expect(verifyDcc(CO3.PREFIX, trust, { at: Number.NaN })).toMatchObject({ valid: false, steps: { expiry: 'fail' } });
    // A signer certificate outside its own validity.
    const signer = trust.signers[0]!;
    expect(verifyDcc(CO3.PREFIX, { signers: [{ ...signer, notAfter: CO3.at - 1 }] }, { at: CO3.at }).reasons).toContain('DCC_SIGNER_NOT_VALID');
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
