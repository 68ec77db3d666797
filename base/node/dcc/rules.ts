import { evaluate, isCertLogicExpression, type CertLogicExpression } from 'certlogic-js';
import { validate as validateCertLogic } from 'certlogic-js/dist/validation/index.js';
import { z } from 'zod';
import type { DccResult, DccRuleReason } from '../../common/dcc.js';

/**
 * Business rules in the EU gateway's format (CertLogic, evaluated by the EU's own certlogic-js),
 * applied to a verified certificate. A rule that does not hold, or cannot be evaluated, adds
 * `DCC_RULE:<Identifier>` (fail closed).
 */

export class DccRuleError extends Error {
  override name = 'DccRuleError';
}

const isoDateTime = z.string().max(40).refine((s) => Number.isFinite(Date.parse(s)), 'not a date-time');
export const dccRuleSchema = z.object({
  Identifier: z.string().regex(/^[\w.-]{1,64}$/),
  Type: z.string().max(32),
  Country: z.string().max(8),
  Version: z.string().max(20),
  SchemaVersion: z.string().max(20),
  Engine: z.literal('CERTLOGIC'),
  EngineVersion: z.string().max(20).optional(),
  CertificateType: z.enum(['General', 'Vaccination', 'Test', 'Recovery']),
  ValidFrom: isoDateTime,
  ValidTo: isoDateTime,
  AffectedFields: z.array(z.string().max(64)).max(64),
  Logic: z.unknown(),
  Description: z.array(z.object({ lang: z.string().max(16), desc: z.string().max(2000) })).max(64),
});
export type DccRule = z.infer<typeof dccRuleSchema> & { Logic: CertLogicExpression };

const MAX_RULES = 2000;

/** Reads rules: one rule, an array of rules, or their JSON text. Throws DccRuleError naming the rule. */
export function parseDccRules(input: unknown): DccRule[] {
  let value = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
    } catch {
      throw new DccRuleError('rules are not valid JSON');
    }
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length > MAX_RULES) throw new DccRuleError(`more than ${MAX_RULES} rules`);
  return list.map((raw, i) => {
    const r = dccRuleSchema.safeParse(raw);
    const id = raw && typeof raw === 'object' && typeof (raw as { Identifier?: unknown }).Identifier === 'string' ? ` (${(raw as { Identifier: string }).Identifier.slice(0, 64)})` : '';
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new DccRuleError(`rule [${i}]${id}: ${issue?.path.join('.') || 'rule'} ${issue?.message ?? 'invalid'}`);
    }
    if (!isCertLogicExpression(r.data.Logic) || validateCertLogic(r.data.Logic).length > 0) throw new DccRuleError(`rule [${i}]${id}: Logic is not a valid CertLogic expression`);
    return r.data as DccRule;
  });
}

export interface DccRuleOutcome {
  id: string;
  version: string;
  outcome: 'pass' | 'fail' | 'open';
}

export interface DccRulesResult {
  /** True when every applicable rule holds (also when none applies). */
  passed: boolean;
  reasons: DccRuleReason[];
  rules: DccRuleOutcome[];
}

const TYPE_OF = { vaccination: 'Vaccination', test: 'Test', recovery: 'Recovery' } as const;

function versionKey(v: string): number[] {
  return v.split('.').map((p) => Number(p) || 0);
}
function newer(a: string, b: string): boolean {
  const x = versionKey(a);
  const y = versionKey(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
}

/**
 * Evaluates the rules that apply at `at` (ms) to the result's certificate type (General ones
 * always; of several versions of one Identifier, the newest valid at `at`). A result without a
 * payload fails every applicable rule. Never throws.
 */
export function evaluateDccRules(rules: readonly DccRule[], result: DccResult, at: number, options: { countryCode?: string; valueSets?: Record<string, string[]> } = {}): DccRulesResult {
  const applicable = new Map<string, DccRule>();
  for (const rule of rules) {
    if (!(Date.parse(rule.ValidFrom) <= at && at < Date.parse(rule.ValidTo))) continue;
    if (rule.CertificateType !== 'General' && (!result.type || TYPE_OF[result.type] !== rule.CertificateType)) continue;
    const seen = applicable.get(rule.Identifier);
    if (!seen || newer(rule.Version, seen.Version)) applicable.set(rule.Identifier, rule);
  }
  const data = {
    payload: result.payload,
    external: {
      validationClock: new Date(at).toISOString(),
      valueSets: options.valueSets ?? {},
      countryCode: options.countryCode ?? 'VN',
      ...(result.exp !== undefined ? { exp: new Date(result.exp * 1000).toISOString() } : {}),
      ...(result.iat !== undefined ? { iat: new Date(result.iat * 1000).toISOString() } : {}),
    },
  };
  const outcomes: DccRuleOutcome[] = [];
  const reasons: DccRuleReason[] = [];
  for (const rule of applicable.values()) {
    let outcome: DccRuleOutcome['outcome'];
    if (!result.payload) outcome = 'open';
    else {
      try {
        outcome = evaluate(rule.Logic, data) === true ? 'pass' : 'fail';
      } catch {
        outcome = 'open';
      }
    }
    outcomes.push({ id: rule.Identifier, version: rule.Version, outcome });
    if (outcome !== 'pass') reasons.push(`DCC_RULE:${rule.Identifier}`);
  }
  return { passed: reasons.length === 0, reasons, rules: outcomes };
}
