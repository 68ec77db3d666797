/**
 * What the visitor path needs of the HC1 (EU Digital COVID Certificate format) verifier on the
 * kiosk: the composition root hands the visitor desk an implementation over the trust list the hub
 * sent (src-main/core/dcc/), or none (certificates are then refused as not verifiable here).
 */
export type DccCheckResult =
  | {
      ok: true;
      /** The holder's name as the certificate gives it (shown to the visitor; kept as the visitor's name). */
      name: string;
      /** The certificate identifier (the entry's `ci`): the visitor's pseudonym is a keyed hash of 'dcc:' + this. */
      certificateId: string;
      type: 'vaccination' | 'test' | 'recovery';
      /** Whether the policy's certificate rules accept it (policy fact certificate.accepted). */
      accepted: boolean;
    }
  /** Not valid (format, signer, signature or expiry): `detail` names which, without personal data. */
  | { ok: false; detail: string };

export interface DccCheck {
  /** True when the text is an HC1 certificate at all (starts with `HC1:`), whatever its validity. */
  claims(text: string): boolean;
  /** Verifies offline at `atMs`; never throws. */
  check(text: string, atMs: number): DccCheckResult;
}
