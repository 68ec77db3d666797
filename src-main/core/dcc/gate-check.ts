import type { Policy } from '../../../base/common/policy/policy.js';
import { evaluateDccRules, parseDccRules, verifyDcc, type DccRule, type TrustList } from '../../../base/node/dcc/index.js';
import type { DccCheck, DccCheckResult } from '../visitors/dcc-port.js';

/**
 * The kiosk's HC1 check (issue 14 part G): part A's offline verifier (base/node/dcc) against the
 * trust list this kiosk holds, then the policy's certificate rules (params.certificateRules:
 * EU-gateway CertLogic rules; absent or [] = every valid certificate is accepted). Never throws and
 * never logs: the result carries the holder's name for the visitor's screen only.
 */

export interface DccGateDeps {
  /** The trust list in force now (the one the hub sent, verified); null: none yet (every certificate is refused). */
  trust: () => TrustList | null;
  /** The policy in force now; read on every check so a new one applies from the next scan. */
  policy: () => Policy;
}

/** Whether `text` is an HC1 certificate at all: the spec's context identifier `HC1:` (upper case, as QR alphanumeric mode carries it). */
export function claimsHc1(text: string): boolean {
  return typeof text === 'string' && text.trimStart().startsWith('HC1:');
}

type ParsedRules = { ok: true; rules: DccRule[] } | { ok: false; detail: string };

/** The policy's certificate rules, parsed once per params object (a new policy document parses again). */
function rulesCache(): (policy: Policy) => ParsedRules {
  let seen: unknown = Symbol('none');
  let parsed: ParsedRules = { ok: true, rules: [] };
  return (policy) => {
    const raw = (policy.params as Record<string, unknown>).certificateRules;
    if (raw === seen) return parsed;
    seen = raw;
    if (raw === undefined || raw === null) parsed = { ok: true, rules: [] };
    else {
      try {
        parsed = { ok: true, rules: parseDccRules(raw) };
      } catch (err) {
        // Fail closed: rules the kiosk cannot read accept no certificate (the verifier's message names the rule, not a person).
        parsed = { ok: false, detail: `policy certificateRules unusable: ${err instanceof Error ? err.message : 'invalid'}` };
      }
    }
    return parsed;
  };
}

export function createDccCheck(deps: DccGateDeps): DccCheck {
  const rulesOf = rulesCache();
  return {
    claims: claimsHc1,
    check(text: string, atMs: number): DccCheckResult {
      try {
        const trust = deps.trust();
        if (!trust || trust.signers.length === 0) return { ok: false, detail: 'no DCC trust list on this kiosk (the hub has not sent one)' };
        const result = verifyDcc(text, trust, { at: atMs });
        if (!result.valid || !result.type) {
          const reasons = result.reasons.join(',') || 'DCC_INVALID';
          return { ok: false, detail: result.detail ? `${reasons}: ${result.detail}` : reasons };
        }
        const entry = result.entries ?? {};
        const ci = typeof entry.ci === 'string' ? entry.ci.trim() : '';
        if (!ci) return { ok: false, detail: 'DCC_SCHEMA: no certificate identifier (ci)' };
        const name = result.holder?.name ?? '';
        if (!name) return { ok: false, detail: 'DCC_SCHEMA: no holder name' };
        const parsed = rulesOf(deps.policy());
        const accepted = parsed.ok && evaluateDccRules(parsed.rules, result, atMs).passed;
        return { ok: true, name, certificateId: ci, type: result.type, accepted };
      } catch {
        return { ok: false, detail: 'certificate check failed' };
      }
    },
  };
}
