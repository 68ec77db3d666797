import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../../../base/common/policy/policy.js';
import type { DataChange, DccSignerRecord } from '../../../../base/common/types.js';
import { createDccCheck, DccSigners } from '../../../../src-main/core/dcc/index.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { mintDccSigner, mintHc1, type TestDccSigner } from '../../../helpers/dcc.js';
import { tempDir } from '../../../helpers/fixtures.js';

/** The kiosk's HC1 signers from the `dcc` downlink stream, in a real store (migration 0023), used by the gate's check (issue 14 G2). */

const record = (s: TestDccSigner, country?: string): DataChange<DccSignerRecord> => ({
  deleted: false,
  key: s.kid,
  value: { kid: s.kid, ...(country ? { country } : {}), certificate: Buffer.from(s.der).toString('base64') },
});

describe('DccSigners', () => {
  const a = mintDccSigner('DSC A');
  const b = mintDccSigner('DSC B');
  const c = mintDccSigner('DSC C');

  it('a snapshot replaces every signer, a delta adds and removes; the gate check follows; a restart reads them back', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'kiosk.db');
      let db = openStore(file);
      const signers = new DccSigners(db);
      const check = createDccCheck({ trust: () => signers.list(), policy: defaultPolicy });
      const hc1 = mintHc1({ signer: a });
      expect(signers.list()).toBeNull();
      expect(check.check(hc1, Date.now())).toMatchObject({ ok: false, detail: expect.stringContaining('no DCC trust list') });

      expect(signers.applyChanges('snapshot', [record(a, 'VN'), record(b)])).toBe(2);
      expect(signers.list()!.signers.map((s) => [s.kid, s.country])).toEqual([[a.kid, 'VN'], [b.kid, undefined]].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)));
      expect(check.check(hc1, Date.now())).toMatchObject({ ok: true, type: 'vaccination', accepted: true });

      // A delta: c added, a removed. The list in force follows at once.
      signers.applyChanges('delta', [record(c), { deleted: true, key: a.kid }]);
      expect(signers.count()).toBe(2);
      expect(check.check(hc1, Date.now())).toMatchObject({ ok: false, detail: expect.stringContaining('DCC_UNKNOWN_SIGNER') });
      expect(check.check(mintHc1({ signer: c }), Date.now())).toMatchObject({ ok: true });

      // A snapshot of one replaces all.
      signers.applyChanges('snapshot', [record(a)]);
      expect(signers.list()!.signers.map((s) => s.kid)).toEqual([a.kid]);
      db.close();

      db = openStore(file);
      const restarted = new DccSigners(db);
      expect(createDccCheck({ trust: () => restarted.list(), policy: defaultPolicy }).check(hc1, Date.now())).toMatchObject({ ok: true });
      // An empty snapshot leaves none: every certificate is refused.
      restarted.applyChanges('snapshot', []);
      expect(restarted.list()).toBeNull();
      db.close();
    } finally {
      dir.remove();
    }
  });

  it('applied inside a transaction that rolls back, the list in force is the one before', () => {
    const dir = tempDir();
    try {
      const db = openStore(join(dir.path, 'kiosk.db'));
      const signers = new DccSigners(db);
      signers.applyChanges('snapshot', [record(a)]);
      expect(signers.list()!.signers).toHaveLength(1);
      expect(() =>
        db.transaction(() => {
          signers.applyChanges('snapshot', [record(b), record(c)]);
          throw new Error('the cursor could not be moved');
        })(),
      ).toThrow('cursor');
      expect(signers.list()!.signers.map((s) => s.kid)).toEqual([a.kid]);
      // The table keeps its types (STRICT) and one row per kid.
      expect(() => db.prepare("INSERT INTO dcc_signers (kid, country, der) VALUES (?, NULL, 'text')").run(a.kid + 'x')).toThrow();
      expect(() => db.prepare('INSERT INTO dcc_signers (kid, country, der) VALUES (?, NULL, ?)').run(a.kid, Buffer.from(a.der))).toThrow();
      db.close();
    } finally {
      dir.remove();
    }
  });
});
