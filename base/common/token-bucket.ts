/**
 * Per-key token buckets: each key may act `burst` times at once and then once per `everyMs`. Keys
 * idle long enough to be full again are forgotten, so the map stays as small as the active keys.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    private readonly burst: number,
    private readonly everyMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes a token for `key` at `nowMs`; false when it has none left. */
  take(key: string, nowMs: number): boolean {
    const b = this.buckets.get(key);
    const elapsed = b ? Math.max(0, nowMs - b.atMs) : 0;
    const tokens = b ? Math.min(this.burst, b.tokens + elapsed / this.everyMs) : this.burst;
    if (tokens < 1) {
      b!.tokens = tokens;
      b!.atMs = nowMs;
      return false;
    }
    this.buckets.delete(key);
    this.buckets.set(key, { tokens: tokens - 1, atMs: nowMs });
    if (this.buckets.size > this.maxKeys) this.forgetFull(nowMs);
    return true;
  }

  private forgetFull(nowMs: number): void {
    const fullAfter = this.burst * this.everyMs;
    for (const [key, b] of this.buckets) {
      if (nowMs - b.atMs >= fullAfter) this.buckets.delete(key);
      else break; // Oldest first (keys are re-inserted on use): the rest are younger.
    }
    // Still too many active keys: drop the oldest (they start again with a full bucket).
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}
