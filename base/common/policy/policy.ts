import jsonLogic from 'json-logic-js';
import { z } from 'zod';
import { DENY_REASON_CODES, type DenyReason } from '../reasons.js';
import { issuesText } from '../validation.js';
import type { CredentialKind, Direction } from '../types.js';
import builtInPolicy from './default-policy.json' with { type: 'json' };

/**
 * The entry policy is data, not code: a versioned document of parameters and CertLogic-style rules.
 * Each rule is a JsonLogic expression over the decision facts (see `DecisionFacts`) that must be
 * truthy for the person to pass; when it is not, the rule's reason is given.
 */

const jsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

const ruleSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]{1,64}$/),
  reason: z.enum(DENY_REASON_CODES as [DenyReason, ...DenyReason[]]),
  directions: z.array(z.enum(['entry', 'exit'])).min(1).default(['entry']),
  description: z.string().optional(),
  logic: z.record(z.string(), jsonValue),
});

const CHECKPOINT_KINDS = ['gate', 'zone', 'team', 'canteen', 'dormitory', 'bus'] as const;

/**
 * Phone-bound rotating passes and printed ones (docs/worker-pass.md). Absent from older documents:
 * then printed passes are accepted everywhere and a phone proof may be 60 s old.
 */
const passesParamsSchema = z
  .object({
    printedAllowedAt: z
      .array(z.enum(CHECKPOINT_KINDS))
      .describe('checkpoint kinds that accept a printed (static) pass; elsewhere only a phone-bound pass (rule reason PHONE_PASS_REQUIRED)')
      .default([...CHECKPOINT_KINDS]),
    maxProofAgeSeconds: z.number().int().min(5).max(600).describe('a phone code older than this by the kiosk clock is PASS_STALE').default(60),
    phoneClockSkewSeconds: z.number().int().min(0).max(600).describe('a phone code dated ahead of the kiosk clock by more than this is PHONE_CLOCK_AHEAD').default(30),
    unverifiedKioskClock: z
      .enum(['check', 'accept-with-flag', 'deny'])
      .describe(
        "while the kiosk's own clock is not verified: judge phone codes by it anyway, accept them without judging their age (the event is marked clock unsynced), or refuse them (CLOCK_UNVERIFIED)",
      )
      // 'check' by default: a kiosk that booted without its network (no hardware clock, the time
      // restored from the last shutdown) must not take any old screenshot as fresh.
      .default('check'),
  })
  .strict()
  .default({ printedAllowedAt: [...CHECKPOINT_KINDS], maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, unverifiedKioskClock: 'check' });

/** Highest policy version a document may claim. */
export const MAX_POLICY_VERSION = 999_999_999;

export const policySchema = z.object({
  format: z.literal('safegate-policy/1'),
  /** Bounded, so a document claiming a huge version cannot outrank every later one forever. */
  version: z.number().int().nonnegative().max(MAX_POLICY_VERSION),
  description: z.string().optional(),
  params: z
    .object({
      repeatScanSeconds: z.number().min(0).max(300).describe('a second scan of the same code within this is the same event'),
      antiPassback: z.enum(['off', 'checkpoint', 'zone']).describe('no second entry without an exit, in this scope'),
      antiPassbackResetHours: z.number().positive().max(24 * 7).describe('an entry older than this no longer blocks'),
      passes: passesParamsSchema,
    })
    .catchall(jsonValue),
  rules: z.array(ruleSchema),
  /**
   * What a supervisor may do at the gate. Absent from older documents: then the built-in rule holds
   * (a confirmed case and an active quarantine are never overridden at the gate).
   */
  overrides: z
    .object({
      neverAtGate: z
        .array(z.enum(DENY_REASON_CODES as [DenyReason, ...DenyReason[]]))
        .describe('refusals a supervisor may never override at the gate'),
    })
    .strict()
    .default({ neverAtGate: ['CASE_F0', 'QUARANTINE_ACTIVE'] }),
});

export type Policy = z.infer<typeof policySchema>;
/** A policy document as written (the override section may be absent). */
export type PolicyDocument = z.input<typeof policySchema>;
export type PolicyRule = z.infer<typeof ruleSchema>;

/** What the rules can see. Times are pre-computed ages so rules need no date arithmetic. */
export interface DecisionFacts {
  direction: Direction;
  /** phoneBound: a phone-bound pass shown with a valid fresh proof (false for printed passes and badges). */
  credential: { kind: CredentialKind; phoneBound: boolean };
  checkpoint: { id: string; kind: string; zone: string };
  worker: {
    caseStatus: 'none' | 'F0' | 'F1';
    vaccineDoses: number;
    declarationFlagged: boolean;
    hoursSinceDeclaration: number | null;
    testResult: 'negative' | 'positive' | null;
    hoursSinceTest: number | null;
    quarantineActive: boolean;
    /**
     * Whether the worker's organisation is one this checkpoint serves; null when unknown (the kiosk
     * has no placement from a hub, or the worker is on no organisation's list).
     */
    servedHere: boolean | null;
    /** Whether the worker's site is this kiosk's site; null when unknown (as servedHere). */
    atOwnSite: boolean | null;
  };
  recent: { alreadyInside: boolean };
  /**
   * On a bus unit with a trip open (base/common/bus.ts): riders aboard now (before this scan), the
   * bus's capacity, and whether the rider is on the trip's route list (null: the route has no list,
   * or no route was chosen). Null on every other checkpoint.
   */
  trip: { aboard: number; capacity: number; onRoute: boolean | null } | null;
  /** How long ago the hub last confirmed the roster current; null when unknown (standalone kiosk). */
  data: { rosterAgeHours: number | null };
  /**
   * A visitor's scan (credential cccd or dcc: base/common/visitor.ts): whether a named supervisor
   * approved the visit (null: not decided yet). `worker` then holds the visitor's own declaration
   * (the rest at its defaults: a visitor is no case, no contact, not in quarantine as far as the
   * kiosk knows). Null for roster workers.
   */
  visitor: { approved: boolean | null } | null;
  /**
   * An HC1 health certificate the person showed, verified: its type, and whether the policy's
   * certificate rules (CertLogic, EU gateway format) accept it. Null when none was shown.
   */
  certificate: { type: 'vaccination' | 'test' | 'recovery'; accepted: boolean } | null;
  params: Policy['params'];
}

export class PolicyError extends Error {
  override name = 'PolicyError';
}

const SAMPLE_FACTS: Omit<DecisionFacts, 'params'> = {
  direction: 'entry',
  credential: { kind: 'pass', phoneBound: false },
  checkpoint: { id: 'sample', kind: 'gate', zone: 'sample' },
  worker: {
    caseStatus: 'none',
    vaccineDoses: 0,
    declarationFlagged: false,
    hoursSinceDeclaration: null,
    testResult: null,
    hoursSinceTest: null,
    quarantineActive: false,
    servedHere: null,
    atOwnSite: null,
  },
  recent: { alreadyInside: false },
  trip: { aboard: 0, capacity: 45, onRoute: null },
  data: { rosterAgeHours: null },
  visitor: { approved: null },
  certificate: { type: 'vaccination', accepted: true },
};

/** Parses and dry-runs a policy document, so an unknown operator is refused now, not at the gate. */
export function parsePolicy(raw: unknown, source = 'policy'): Policy {
  const result = policySchema.safeParse(raw);
  if (!result.success) {
    throw new PolicyError(`${source}: ${issuesText(result.error)}`);
  }
  const policy = result.data;
  const ids = new Set<string>();
  for (const rule of policy.rules) {
    if (ids.has(rule.id)) throw new PolicyError(`${source}: rule id ${rule.id} appears twice`);
    ids.add(rule.id);
    try {
      jsonLogic.apply(rule.logic, { ...SAMPLE_FACTS, params: policy.params });
    } catch (err) {
      throw new PolicyError(`${source}: rule ${rule.id}: ${(err as Error).message}`);
    }
  }
  return policy;
}

export function defaultPolicy(): Policy {
  return parsePolicy(builtInPolicy, 'built-in policy');
}

/**
 * Reasons of every rule that applies to this direction and does not hold, in rule order. With
 * `only`, just the rules whose reason is of that category (the gate asks the credential rules first).
 */
export function failingReasons(policy: Policy, facts: DecisionFacts, only?: (reason: DenyReason) => boolean): DenyReason[] {
  const reasons: DenyReason[] = [];
  for (const rule of policy.rules) {
    if (!rule.directions.includes(facts.direction)) continue;
    if (only && !only(rule.reason)) continue;
    if (!jsonLogic.truthy(jsonLogic.apply(rule.logic, facts))) {
      if (!reasons.includes(rule.reason)) reasons.push(rule.reason);
    }
  }
  return reasons;
}
