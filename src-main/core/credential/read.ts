import type { CredentialKind } from '../../../base/common/types.js';
import type { HubKeyring } from '../../../base/node/keys.js';
import { PASS_PREFIX, checkPass, type PassFailure } from '../../../base/node/pass.js';

/** What a scanned text turned out to be, before the roster and the policy are consulted. */
export type CredentialReading =
  | { status: 'valid'; kind: CredentialKind; workerId: string; expiresAt?: number }
  | { status: 'invalid'; kind: CredentialKind | 'unknown'; failure: PassFailure; detail: string };

export interface CredentialReaderOptions {
  keyring: HubKeyring;
  badgePattern: RegExp;
  /** Pass ids the hub has revoked. */
  isRevoked?: (passId: string) => boolean;
}

/**
 * Reads a scanned text. A signed pass is recognised by its prefix; anything else that looks like an
 * employee number is a badge (a weaker credential the policy may refuse); the rest is malformed.
 * Never throws on bad input.
 */
export function readCredential(text: string, nowMs: number, options: CredentialReaderOptions): CredentialReading {
  if (text.startsWith(PASS_PREFIX)) {
    const check = checkPass(text, options.keyring, nowMs, options.isRevoked);
    if (check.ok) {
      return { status: 'valid', kind: 'pass', workerId: check.pass.claims.workerId, expiresAt: check.pass.claims.expiresAt };
    }
    return { status: 'invalid', kind: 'pass', failure: check.failure, detail: check.detail };
  }
  if (options.badgePattern.test(text)) return { status: 'valid', kind: 'badge', workerId: text };
  return { status: 'invalid', kind: 'unknown', failure: 'MALFORMED_CODE', detail: 'neither a SafeGate pass nor a badge number' };
}
