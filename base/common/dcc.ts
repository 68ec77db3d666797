/**
 * EU Digital COVID Certificate (HC1) verification results (issue 14): the shapes and stable reason
 * codes the Node verifier (base/node/dcc/) returns, here so the kiosk, the renderer and the hub can
 * name them without Node. Nothing here holds personal data except `holder`, which is for showing to
 * the visitor only (never logged, never kept beyond the name).
 */

/** Stable reason codes, in the order of the verification chain. */
export const DCC_REASONS = [
  /** Input is not text, too long, or does not start with `HC1:`. */
  'DCC_PREFIX',
  /** Not valid Base45 (RFC 9285). */
  'DCC_BASE45',
  /** Not zlib data, broken, or inflates beyond the cap (a zip bomb). */
  'DCC_COMPRESSION',
  /** Not a COSE_Sign1 message (tagged or untagged, optionally in a CWT tag). */
  'DCC_COSE',
  /** The payload is not a CWT claims map holding an hcert (claim -260 {1: ...}). */
  'DCC_CBOR',
  /** No signer certificate in the trust list has the message's key id. */
  'DCC_UNKNOWN_SIGNER',
  /** The signature does not verify with the signer's key (or the algorithm does not match the key). */
  'DCC_BAD_SIGNATURE',
  /** The signer certificate is outside its validity period at the verification time. */
  'DCC_SIGNER_NOT_VALID',
  /** The CWT expiry (claim 4) is before the verification time (valid through the exp second itself). */
  'DCC_EXPIRED',
  /** The CWT issue time (claim 6) is more than DCC_IAT_SKEW_SECONDS (5 minutes: a slow kiosk clock) after the verification time. */
  'DCC_NOT_YET_VALID',
  /** The hcert does not follow the DCC schema (exactly one v/t/r entry, required fields). */
  'DCC_SCHEMA',
  /** The signer certificate's extended key usage does not allow this certificate type. */
  'DCC_KEY_USAGE',
] as const;

export type DccFixedReason = (typeof DCC_REASONS)[number];
/** A failing business rule: `DCC_RULE:` + the rule's Identifier (e.g. `DCC_RULE:VR-EU-0001`). */
export type DccRuleReason = `DCC_RULE:${string}`;
export type DccReason = DccFixedReason | DccRuleReason;

export function isDccReason(value: unknown): value is DccReason {
  return typeof value === 'string' && ((DCC_REASONS as readonly string[]).includes(value) || /^DCC_RULE:[\w.-]{1,64}$/.test(value));
}

export type DccType = 'vaccination' | 'test' | 'recovery';
export type DccStepOutcome = 'ok' | 'fail' | 'skipped';

/** Each step of the chain; a step after a failed one is 'skipped'. */
export interface DccSteps {
  unprefix: DccStepOutcome;
  base45: DccStepOutcome;
  decompress: DccStepOutcome;
  /** COSE_Sign1 and the CWT claims decoded. */
  cose: DccStepOutcome;
  signature: DccStepOutcome;
  /** CWT iat/exp and the signer certificate's validity against the verification time. */
  expiry: DccStepOutcome;
  schema: DccStepOutcome;
  keyUsage: DccStepOutcome;
  /** Only when the input was a picture (the verifier itself reads text). */
  picture?: DccStepOutcome;
}

/** The fields of the certificate's one v/t/r entry that business rules and the screen need. */
export type DccEntry = Record<string, string | number>;

export interface DccResult {
  /** True only when every step of the chain is 'ok' (business rules are separate: evaluateDccRules). */
  valid: boolean;
  reasons: DccReason[];
  type: DccType | null;
  steps: DccSteps;
  /** For showing to the visitor only: never log, never keep beyond the name. */
  holder?: { name: string; dob?: string };
  /** The entry (v[0], t[0] or r[0]) when the payload decoded. */
  entries?: DccEntry;
  /** The full hcert payload (for business rules); personal data: never log. */
  payload?: Record<string, unknown>;
  /** Claim 1 (issuing country), when present. */
  issuer?: string;
  /** Seconds since the epoch (claims 6 and 4). */
  iat?: number;
  exp?: number;
  /** The message's key id, base64. */
  kid?: string;
  /** A short reason for the first failure, without personal data (for logs and operators). */
  detail?: string;
}
