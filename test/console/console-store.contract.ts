import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountError, tokenHash, type AuditEntry, type ConsoleStore } from '../../console/server/accounts.js';

const T0 = Date.parse('2026-11-27T08:00:00Z');
const entry = (n: number): AuditEntry => ({ at: new Date(T0 + n).toISOString(), account: `a${n}`, action: 'GET /api/me', target: '/api/me', outcome: 'ok', ip: '127.0.0.1' });

/**
 * What every console store must do (SQLite today, PostgreSQL later): run once per implementation,
 * as the hub store's contract suite is.
 */
export function consoleStoreContract(name: string, open: () => Promise<{ store: ConsoleStore; dispose(): Promise<void> | void }>): void {
  describe(`console store contract: ${name}`, () => {
    let store: ConsoleStore;
    let dispose: () => Promise<void> | void;
    beforeEach(async () => {
      ({ store, dispose } = await open());
    });
    afterEach(async () => {
      await store.close();
      await dispose();
    });

    it('keeps accounts with role and organisation, refuses a second account of the same name, and lists them by name', async () => {
      await store.addAccount({ name: 'op', role: 'operator', password: 'x'.repeat(12) }, 'hash-op', T0);
      await store.addAccount({ name: 'hr', role: 'manager', org: 'ORG-A', password: 'x'.repeat(12) }, 'hash-hr', T0);
      await expect(store.addAccount({ name: 'op', role: 'health', password: 'x'.repeat(12) }, 'other', T0)).rejects.toThrow(AccountError);
      expect(await store.account('hr')).toEqual({ name: 'hr', role: 'manager', org: 'ORG-A', createdAt: new Date(T0).toISOString(), passwordHash: 'hash-hr', failures: 0, lockedUntil: 0 });
      expect(await store.account('nobody')).toBeUndefined();
      expect((await store.accounts()).map((a) => [a.name, a.role, a.org])).toEqual([
        ['hr', 'manager', 'ORG-A'],
        ['op', 'operator', undefined],
      ]);
      expect(JSON.stringify(await store.accounts())).not.toContain('hash-');
    });

    it('counts wrong passwords and a lockout, and a sign-in clears both', async () => {
      await store.addAccount({ name: 'op', role: 'operator', password: 'x'.repeat(12) }, 'h', T0);
      await store.recordFailure('op', 5, T0 + 30_000);
      expect(await store.account('op')).toMatchObject({ failures: 5, lockedUntil: T0 + 30_000 });
      await store.recordSuccess('op');
      expect(await store.account('op')).toMatchObject({ failures: 0, lockedUntil: 0 });
    });

    it('finds a session by its token hash until it expires or ends', async () => {
      await store.addAccount({ name: 'hr', role: 'manager', org: 'ORG-A', password: 'x'.repeat(12) }, 'h', T0);
      const a = tokenHash('token-a');
      const b = tokenHash('token-b');
      await store.createSession(a, 'hr', T0 + 1_000);
      await store.createSession(b, 'hr', T0 + 1_000);
      expect(await store.session(a, T0)).toEqual({ account: { name: 'hr', role: 'manager', org: 'ORG-A', createdAt: new Date(T0).toISOString() }, expiresAt: T0 + 1_000 });
      expect(await store.session(tokenHash('token-c'), T0)).toBeUndefined();
      await store.endSession(a);
      expect(await store.session(a, T0)).toBeUndefined();
      expect(await store.session(b, T0 + 999)).toBeDefined();
      expect(await store.session(b, T0 + 1_000)).toBeUndefined();
    });

    it('keeps the audit trail in order and gives the latest entries, oldest first', async () => {
      for (let n = 0; n < 5; n++) await store.audit(entry(n));
      expect(await store.auditTrail(3)).toEqual([entry(2), entry(3), entry(4)]);
      expect(await store.auditTrail(100)).toHaveLength(5);
    });
  });
}
