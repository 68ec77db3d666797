import type { CredentialKind } from '../../../base/common/types.js';
import type { HubKeyring } from '../../../base/node/keys.js';
import { PASS_PREFIX, checkPass } from '../../../base/node/pass.js';
import { PHONE_PASS_PREFIX, checkPhonePass, type PhonePassFailure, type ProofTimeRules } from '../../../base/node/phone-pass.js';

/** What a scanned text turned out to be, before the roster and the policy are consulted. */
export type CredentialReading =
  | {
      status: 'valid';
      kind: CredentialKind;
      workerId: string;
      expiresAt?: number;
      /** The signed pass id: the repeat window keys on it, not on the text (a phone code changes every 30 s). */
      passId?: string;
      /** A phone-bound pass shown with a valid fresh proof. */
      phoneBound?: boolean;
      /** Accepted while the kiosk clock was unverified, without judging the proof's age (policy 'accept-with-flag'). */
      proofAgeUnchecked?: boolean;
    }
  | { status: 'invalid'; kind: CredentialKind | 'unknown'; failure: PhonePassFailure; detail: string };

export interface CredentialReaderOptions {
  keyring: HubKeyring;
  badgePattern: RegExp;
  /** Pass ids the hub has revoked. */
  isRevoked?: (passId: string) => boolean;
  /**
   * How phone codes' proof times are judged: the policy's `params.passes` and the kiosk clock's state
   * (the gate always passes them). Absent: the built-in policy's limits, on a clock taken as verified.
   */
  proofTime?: ProofTimeRules;
}

const DEFAULT_PROOF_TIME: ProofTimeRules = { maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, kioskClockSynced: true, unverifiedKioskClock: 'check' };

/**
 * Reads a scanned text. A signed pass is recognised by its prefix (a printed pass `SG1:`, a phone
 * code `SGP1:`); anything else that looks like an employee number is a badge (a weaker credential
 * the policy may refuse); the rest is malformed. Never throws on bad input.
 */
export function readCredential(text: string, nowMs: number, options: CredentialReaderOptions): CredentialReading {
  if (text.startsWith(PASS_PREFIX)) {
    const check = checkPass(text, options.keyring, nowMs, options.isRevoked);
    if (check.ok) {
      const { claims } = check.pass;
      return { status: 'valid', kind: 'pass', workerId: claims.workerId, expiresAt: claims.expiresAt, ...(claims.passId ? { passId: claims.passId } : {}), phoneBound: false };
    }
    return { status: 'invalid', kind: 'pass', failure: check.failure, detail: check.detail };
  }
  if (text.startsWith(PHONE_PASS_PREFIX)) {
    const check = checkPhonePass(text, options.keyring, nowMs, options.proofTime ?? DEFAULT_PROOF_TIME, options.isRevoked);
    if (check.ok) {
      const { claims } = check.pass;
      return {
        status: 'valid',
        kind: 'pass',
        workerId: claims.workerId,
        expiresAt: claims.expiresAt,
        passId: claims.passId,
        phoneBound: true,
        ...(check.proofAgeUnchecked ? { proofAgeUnchecked: true } : {}),
      };
    }
    return { status: 'invalid', kind: 'pass', failure: check.failure, detail: check.detail };
  }
  if (options.badgePattern.test(text)) return { status: 'valid', kind: 'badge', workerId: text };
  return { status: 'invalid', kind: 'unknown', failure: 'MALFORMED_CODE', detail: 'neither a SafeGate pass nor a badge number' };
}
