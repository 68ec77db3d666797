import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../base/node/logger.js';
import { HubRetention } from '../../../sync/hub/retention.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir } from '../../helpers/fixtures.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import type { HubStore } from '../../../sync/hub/store.js';
import type { WireEvent } from '../../../sync/batch-codec.js';

const DAY = 86_400_000;

/** The hub's retention against a real SQLite hub store: what is older than the retention goes, the rest stays, and a failing store does not stop it. */
describe('hub retention', () => {
  const dir = tempDir('safegate-hub-retention-');
  const store = new SqliteHubStore(join(dir.path, 'hub.db'));
  afterAll(async () => {
    await store.close();
    dir.remove();
  });

  it('purges at start what is older than the retention, keeps the rest, and carries on after a failed purge', async () => {
    const now = Date.parse('2026-11-27T08:00:00Z');
    await store.ingest('kiosk-a', typicalEvents(10, 1, now - 40 * DAY), now - 40 * DAY);
    await store.ingest('kiosk-a', typicalEvents(5, 11, now - DAY), now - DAY);
    const retention = new HubRetention({ store, retentionDays: 30, log: silentLogger, now: () => now });
    await retention.start();
    await retention.stop();
    let left = 0;
    for await (const _e of store.events()) left++;
    expect(left).toBe(5);

    let calls = 0;
    const failing = new HubRetention({
      store: { purgeBefore: async () => { calls++; throw new Error('disk I/O error'); } },
      retentionDays: 30,
      log: silentLogger,
      everyMs: 20,
    });
    await failing.start();
    await new Promise((r) => setTimeout(r, 100));
    await failing.stop();
    expect(calls).toBeGreaterThan(1);
  });
});

describe.each(directoryBackends)('hub retention of kiosk declaration answers on $name', (backend) => {
  it("erases the answer bits of kiosk declarations older than 14 days, keeping the events (decision, reasons); younger ones keep theirs; other events untouched", async () => {
    const target = await backend.target();
    const store: HubStore = target.kind === 'sqlite' ? new SqliteHubStore(target.path) : await PgHubStore.open(target.url);
    try {
      const now = Date.parse('2026-11-27T08:00:00Z');
      const declared = (seq: number, wallMs: number, answers: number): WireEvent => ({
        seq, wallMs, monoUs: seq * 1_000, bootId: 'b', clockSynced: true, checkpointId: 'gate-a', zoneId: 'factory-1', direction: 'entry', credentialKind: 'pass',
        workerId: 'W1', codeHash: null, decision: answers ? 'deny' : 'allow', reasons: answers ? ['DECLARATION_FLAGGED'] : [], source: 'declaration', policyVersion: 1, declaration: { answers },
      });
      await store.ingest('kiosk-a', [declared(1, now - 20 * DAY, 0b100), declared(2, now - 15 * DAY, 0), declared(3, now - 13 * DAY, 0b11)], now - 20 * DAY);
      await store.ingest('kiosk-a', typicalEvents(3, 4, now - 16 * DAY), now - 16 * DAY);
      const retention = new HubRetention({ store, retentionDays: 30, log: silentLogger, now: () => now });
      await retention.purge();
      const events = (await store.personData('W1')).events;
      expect(events.map((e) => [e.seq, e.source, e.decision, e.reasons, e.declaration])).toEqual([
        [1, 'declaration', 'deny', ['DECLARATION_FLAGGED'], undefined],
        [2, 'declaration', 'allow', [], undefined],
        [3, 'declaration', 'deny', ['DECLARATION_FLAGGED'], { answers: 0b11 }],
      ]);
      let all = 0;
      for await (const _e of store.events()) all++;
      expect(all).toBe(6);
      // A second pass has nothing left to erase.
      expect(await store.clearDeclarationBitsBefore(now - 14 * DAY)).toBe(0);
    } finally {
      await store.close();
    }
  });
});
