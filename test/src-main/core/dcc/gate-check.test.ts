import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPolicy, type Policy } from '../../../../base/common/policy/policy.js';
import { parseTrustList, type TrustList } from '../../../../base/node/dcc/index.js';
import { createDccCheck } from '../../../../src-main/core/dcc/index.js';
import { corpus } from '../../../helpers/corpora.js';

/**
 * The kiosk's HC1 check (issue 14 part G) on EU test cases from ../shared/corpora/dcc: part A's
 * verifier against the kiosk's trust list, then the policy's certificateRules.
 */

interface Case {
  PREFIX: string;
  TESTCTX: { CERTIFICATE: string; VALIDATIONCLOCK: string };
}
const ROOT = join(corpus('dcc'), 'common', '2DCode', 'raw');
const load = (name: string) => JSON.parse(readFileSync(join(ROOT, name), 'utf8')) as Case;
const trustOf = (c: Case): TrustList => parseTrustList(Buffer.from(c.TESTCTX.CERTIFICATE, 'base64'));
const at = (c: Case) => Date.parse(c.TESTCTX.VALIDATIONCLOCK);

function policyWith(certificateRules?: unknown): Policy {
  const p = defaultPolicy();
  return certificateRules === undefined ? p : { ...p, params: { ...p.params, certificateRules } as Policy['params'] };
}

/** An EU-gateway-format rule: the certificate must be a COVID-19 vaccination (a test or recovery fails it). */
const VACCINATION_REQUIRED = {
  Identifier: 'GR-VN-0001',
  Type: 'Acceptance',
  Country: 'VN',
  Version: '1.0.0',
  SchemaVersion: '1.0.0',
  Engine: 'CERTLOGIC',
  EngineVersion: '0.7.5',
  CertificateType: 'General',
  ValidFrom: '2021-01-01T00:00:00Z',
  ValidTo: '2030-01-01T00:00:00Z',
  AffectedFields: ['v.0.tg'],
  Logic: { '===': [{ var: 'payload.v.0.tg' }, '840539006'] },
  Description: [{ lang: 'en', desc: 'a vaccination certificate is required' }],
};

describe('DccCheck on the kiosk (issue 14 part G)', () => {
  it('claims HC1: texts only', () => {
    const check = createDccCheck({ trust: () => null, policy: () => policyWith() });
    expect(check.claims(load('CO28.json').PREFIX)).toBe(true);
    expect(check.claims('HC2:ABC')).toBe(false);
    expect(check.claims('079203001234|123456789|Nguyen Van A|01011990|Nam|Ha Noi|01012021')).toBe(false);
    expect(check.claims('')).toBe(false);
  });

  it('a valid vaccination certificate is accepted with its type, name and certificate id (no rules: any valid one)', () => {
    const c = load('CO28.json');
    const check = createDccCheck({ trust: () => trustOf(c), policy: () => policyWith() });
    const r = check.check(c.PREFIX, at(c));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.type).toBe('vaccination');
    expect(r.accepted).toBe(true);
    expect(r.name.length).toBeGreaterThan(0);
    expect(r.certificateId).toMatch(/^URN:UVCI:/i);
  });

  it('an expired certificate is refused with a detail naming the step', () => {
    const c = load('CO17.json');
    const check = createDccCheck({ trust: () => trustOf(c), policy: () => policyWith() });
    const r = check.check(c.PREFIX, at(c));
    expect(r).toMatchObject({ ok: false });
    if (r.ok) return;
    expect(r.detail).toContain('DCC_EXPIRED');
  });

  it('a certificate signed by a key not on the trust list is refused (unknown signer)', () => {
    const valid = load('CO28.json');
    const other = load('CO3.json');
    const check = createDccCheck({ trust: () => trustOf(other), policy: () => policyWith() });
    const r = check.check(valid.PREFIX, at(valid));
    expect(r).toMatchObject({ ok: false });
    if (r.ok) return;
    expect(r.detail).toContain('DCC_UNKNOWN_SIGNER');
    // The same text with its own signer is fine: the refusal is the trust list's doing.
    expect(createDccCheck({ trust: () => trustOf(valid), policy: () => policyWith() }).check(valid.PREFIX, at(valid)).ok).toBe(true);
  });

  it('without a trust list every certificate is refused, and garbage never throws', () => {
    const c = load('CO28.json');
    expect(createDccCheck({ trust: () => null, policy: () => policyWith() }).check(c.PREFIX, at(c))).toMatchObject({ ok: false });
    const check = createDccCheck({ trust: () => trustOf(c), policy: () => policyWith() });
    for (const junk of ['HC1:', 'HC1:!!!!', 'HC1:' + 'A'.repeat(20_000), 'hello', '\u0000']) expect(check.check(junk, at(c)).ok).toBe(false);
  });

  it("certificateRules asking for a vaccination refuse a test certificate and accept a vaccination one", () => {
    const test = load('CO12.json');
    const vacc = load('CO28.json');
    let policy = policyWith([VACCINATION_REQUIRED]);
    const trust = { signers: [...trustOf(test).signers, ...trustOf(vacc).signers] };
    const check = createDccCheck({ trust: () => trust, policy: () => policy });
    const t = check.check(test.PREFIX, at(test));
    expect(t).toMatchObject({ ok: true, type: 'test', accepted: false });
    expect(check.check(vacc.PREFIX, at(vacc))).toMatchObject({ ok: true, type: 'vaccination', accepted: true });
    // A new policy without rules applies from the next check.
    policy = policyWith([]);
    expect(check.check(test.PREFIX, at(test))).toMatchObject({ ok: true, type: 'test', accepted: true });
    // Rules the kiosk cannot read accept nothing (fail closed), still without throwing.
    policy = policyWith([{ Identifier: 'bad rule!' }]);
    expect(check.check(vacc.PREFIX, at(vacc))).toMatchObject({ ok: true, accepted: false });
  });
});
