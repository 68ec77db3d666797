/**
 * HC1 (EU Digital COVID Certificate) verification, offline: the public API other parts import
 * (the hub's trust import, the kiosk's visitor path, the CLI). Result shapes and reason codes are
 * in base/common/dcc.ts.
 */
export { verifyDcc, verifyCoseSignature, keyUsageAllows, DCC_IAT_SKEW_SECONDS, type VerifyDccOptions } from './verify.js';
export { parseTrustList, signerFromDer, signerPublicKey, dccKidOf, listKeyFromPem, DccTrustError, DCC_EKU, MAX_TRUST_BYTES, type DccSigner, type TrustList, type ParsedTrustList, type RefusedSigner, type TrustListSignature, type ParseTrustOptions } from './trust.js';
export { parseDccRules, evaluateDccRules, dccRuleSchema, DccRuleError, type DccRule, type DccRulesResult, type DccRuleOutcome } from './rules.js';
export { DccStepError, unprefixHc1, decodeBase45, inflateCapped, parseDccCose, parseCwtClaims, MAX_DCC_TEXT, MAX_DCC_INFLATED, HC1_PREFIX, type DccCose, type DccClaims } from './decode.js';
export { dccTypeOf, hcertSchemaProblem } from './schema.js';
export type { DccResult, DccReason, DccSteps, DccType, DccEntry, DccStepOutcome } from '../../common/dcc.js';
export { DCC_REASONS, isDccReason } from '../../common/dcc.js';
