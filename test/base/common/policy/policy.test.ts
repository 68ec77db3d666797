import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicyError, defaultPolicy, parsePolicy } from '../../../../base/common/policy/policy.js';
import { loadPolicyFile } from '../../../../src-main/core/policy/policy-file.js';

describe('policy documents', () => {
  it('the built-in policy is valid and versioned', () => {
    const p = defaultPolicy();
    expect(p.version).toBeGreaterThanOrEqual(1);
    expect(p.rules.map((r) => r.reason)).toContain('ANTI_PASSBACK');
  });

  it('refuses a rule with an unknown JsonLogic operator when loaded, not at the gate', () => {
    const doc = { ...defaultPolicy(), rules: [{ id: 'x', reason: 'CASE_F0', directions: ['entry'], logic: { frobnicate: [1] } }] };
    expect(() => parsePolicy(doc)).toThrow(/rule x: Unrecognized operation frobnicate/);
  });

  it('refuses an unknown reason code and a duplicate rule id, naming the field', () => {
    const base = defaultPolicy();
    expect(() => parsePolicy({ ...base, rules: [{ ...base.rules[0], reason: 'NOPE' }] })).toThrow(/rules\.0\.reason/);
    expect(() => parsePolicy({ ...base, rules: [base.rules[0], base.rules[0]] })).toThrow(/appears twice/);
  });

  it('loads a policy file and reports a broken one with its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ ...defaultPolicy(), version: 9 }));
    expect(loadPolicyFile(good).version).toBe(9);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "format": ');
    expect(() => loadPolicyFile(bad)).toThrow(PolicyError);
    expect(() => loadPolicyFile(bad)).toThrow(/bad\.json/);
  });
});
