import { randomBytes } from 'node:crypto';
import { DECLARE_TOKEN_TTL_MS } from '../../../base/common/declaration.js';
import { RequestRefusal } from '../../../base/common/refusal.js';
import type { ScanSource } from '../../../base/common/types.js';
import type { CredentialReading } from '../credential/read.js';
import type { EntryDecision } from '../decide.js';

/**
 * What a scan showed that a declaration made on the screen afterwards is decided again with: the
 * text (its reading, already verified at the scan), where it came from and whom it named. Memory only.
 */
export interface HeldCredential {
  text: string;
  source: ScanSource;
  /** The reading at the scan: a phone code's proof is not fresh minutes later, so it is not read again. */
  reading: CredentialReading & { status: 'valid' };
  /** The roster worker it named. */
  workerId: string;
  /** Their name on the screen (the answer to a declaration that decides nothing again still names them). */
  displayName: string;
  /**
   * What the scan was decided (and logged) as: a scan let through, or refused as already inside, is
   * not decided again after the declaration (KioskDeclarationDesk.submit).
   */
  decision: Exclude<EntryDecision, { outcome: 'repeat' }>;
}

/** How many tokens are kept at most; the oldest goes first (a gate issues one per named scan). */
export const DECLARE_TOKENS_MAX = 256;

interface Entry {
  held: HeldCredential;
  expiresAt: number;
  used: boolean;
}

/**
 * The tokens a result gives for a declaration on the screen (PassageView.declareToken): random, in
 * memory only, each valid DECLARE_TOKEN_TTL_MS and used once. A used token is remembered until it
 * would have expired, so a second submit says "used" rather than "unknown".
 *
 * `now` is a monotonic clock in milliseconds (elapsed time: a wall clock set back must not stretch a
 * token's life).
 */
export class DeclareTokens {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: { now?: () => number; ttlMs?: number; max?: number } = {},
  ) {}

  issue(held: HeldCredential): string {
    const now = this.now();
    this.prune(now);
    const max = this.options.max ?? DECLARE_TOKENS_MAX;
    while (this.entries.size >= max) this.entries.delete(this.entries.keys().next().value!);
    const token = randomBytes(18).toString('base64url');
    this.entries.set(token, { held, expiresAt: now + (this.options.ttlMs ?? DECLARE_TOKEN_TTL_MS), used: false });
    return token;
  }

  /** What the token holds, if it may be used now; throws RequestRefusal (token-unknown, token-expired, token-used) otherwise. */
  peek(token: string): HeldCredential {
    const entry = this.entries.get(token);
    if (!entry) throw new RequestRefusal('token-unknown', 'this declaration is not known here (scan again)');
    if (entry.used) throw new RequestRefusal('token-used', 'this declaration was already made');
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(token);
      throw new RequestRefusal('token-expired', 'the time to declare after the scan has run out (scan again)');
    }
    return entry.held;
  }

  /** Marks the token used (after its declaration was recorded). */
  use(token: string): void {
    const entry = this.entries.get(token);
    if (entry) entry.used = true;
  }

  get size(): number {
    return this.entries.size;
  }

  private now(): number {
    return this.options.now ? this.options.now() : performance.now();
  }

  private prune(now: number): void {
    for (const [token, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(token);
    }
  }
}
