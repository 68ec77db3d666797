import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IngestGroups } from '../../../sync/hub/ingest-groups.js';
import { SqliteHubStore, type IngestRequest } from '../../../sync/hub/store.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir } from '../../helpers/fixtures.js';

const dir = tempDir('safegate-groups-');
afterAll(() => dir.remove());

describe('group commit', () => {
  it("stores the batches handed over in one turn as one group, settles each after its commit, and when the group fails tries each alone so only the bad one fails", async () => {
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    const calls: string[][] = [];
    const groups = new IngestGroups({
      // The real store, refusing any call that holds kiosk-bad's batch (as a store refuses a batch it cannot take).
      ingestMany: async (batches: readonly IngestRequest[]) => {
        calls.push(batches.map((b) => b.deviceId));
        if (batches.some((b) => b.deviceId === 'kiosk-bad')) throw new Error('refused');
        return store.ingestMany(batches);
      },
      maxInFlight: 2,
      maxBatches: 8,
    });
    try {
      const ids = ['kiosk-a', 'kiosk-b', 'kiosk-c'];
      const results = await Promise.all(ids.map((deviceId) => groups.ingest({ deviceId, events: typicalEvents(5), receivedMs: 1 })));
      expect(calls).toEqual([ids]);
      expect(results.map((r) => r.contiguousSeq)).toEqual([5, 5, 5]);

      calls.length = 0;
      const settled = await Promise.allSettled(
        ['kiosk-d', 'kiosk-bad', 'kiosk-e'].map((deviceId) => groups.ingest({ deviceId, events: typicalEvents(3), receivedMs: 2 })),
      );
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(calls).toEqual([['kiosk-d', 'kiosk-bad', 'kiosk-e'], ['kiosk-d'], ['kiosk-bad'], ['kiosk-e']]);
      const held = [];
      for await (const e of store.events()) held.push(e.deviceId);
      expect(new Set(held)).toEqual(new Set(['kiosk-a', 'kiosk-b', 'kiosk-c', 'kiosk-d', 'kiosk-e']));
      expect(held).toHaveLength(3 * 5 + 2 * 3);
    } finally {
      await store.close();
    }
  });
});
