import { describe, expect, it } from 'vitest';
import { DECLARE_TOKEN_TTL_MS } from '../../../../base/common/declaration.js';
import { RequestRefusal } from '../../../../base/common/refusal.js';
import { DECLARE_TOKENS_MAX, DeclareTokens, type HeldCredential } from '../../../../src-main/core/declarations/declare-tokens.js';

const held = (workerId: string): HeldCredential => ({
  text: `badge ${workerId}`,
  source: 'camera',
  reading: { status: 'valid', kind: 'badge', workerId },
  workerId,
  displayName: `Worker ${workerId}`,
  decision: { outcome: 'deny', direction: 'entry', reasons: ['DECLARATION_MISSING'] },
});
const code = (f: () => unknown): string => {
  try {
    f();
    return 'none';
  } catch (err) {
    return err instanceof RequestRefusal ? err.code : 'other';
  }
};

/** The declaration tokens in memory: bounded, timed by elapsed time, used once. */
describe('declare tokens', () => {
  it('keeps at most DECLARE_TOKENS_MAX: the oldest goes first, the newer stay usable', () => {
    let now = 0;
    const tokens = new DeclareTokens({ now: () => now });
    const issued = Array.from({ length: DECLARE_TOKENS_MAX + 10 }, (_, i) => {
      now += 10;
      return tokens.issue(held(`W${i}`));
    });
    expect(tokens.size).toBe(DECLARE_TOKENS_MAX);
    expect(new Set(issued).size).toBe(issued.length);
    for (const t of issued.slice(0, 10)) expect(code(() => tokens.peek(t))).toBe('token-unknown');
    expect(tokens.peek(issued[10]!).workerId).toBe('W10');
    expect(tokens.peek(issued.at(-1)!).workerId).toBe(`W${DECLARE_TOKENS_MAX + 9}`);
  });

  it('expires after DECLARE_TOKEN_TTL_MS of elapsed time, and forgets expired ones as new ones come', () => {
    let now = 1_000;
    const tokens = new DeclareTokens({ now: () => now });
    const a = tokens.issue(held('W1'));
    now += DECLARE_TOKEN_TTL_MS - 1;
    expect(tokens.peek(a).workerId).toBe('W1');
    const b = tokens.issue(held('W2'));
    now += 1;
    expect(code(() => tokens.peek(a))).toBe('token-expired');
    expect(tokens.peek(b).workerId).toBe('W2');
    now += DECLARE_TOKEN_TTL_MS;
    tokens.issue(held('W3'));
    expect(tokens.size).toBe(1);
  });

  it('a used token says so until it would have expired; peeking does not use it', () => {
    let now = 0;
    const tokens = new DeclareTokens({ now: () => now });
    const t = tokens.issue(held('W1'));
    tokens.peek(t);
    tokens.peek(t);
    tokens.use(t);
    expect(code(() => tokens.peek(t))).toBe('token-used');
    now += DECLARE_TOKEN_TTL_MS + 1;
    tokens.issue(held('W2'));
    expect(code(() => tokens.peek(t))).toBe('token-unknown');
  });
});
