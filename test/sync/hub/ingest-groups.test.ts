import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../base/node/logger.js';
import { encodeBatch } from '../../../sync/batch-codec.js';
import { Hub } from '../../../sync/hub/hub.js';
import { IngestGroups } from '../../../sync/hub/ingest-groups.js';
import { topics } from '../../../sync/protocol.js';
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

describe('group commit in the hub', () => {
  it('a group holds at most a quarter of the devices the hub handles at once, so the next group is ready while three are being stored', async () => {
    const store = new SqliteHubStore(join(dir.path, 'hub-groups.db'));
    const groupSizes: number[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    // The real store, held back until the test lets it go, as a database that takes a while to commit.
    const slow = Object.create(store) as SqliteHubStore;
    slow.ingestMany = async (batches) => {
      groupSizes.push(batches.length);
      await held;
      return store.ingestMany(batches);
    };
    const hub = new Hub({ broker: { url: 'mqtts://127.0.0.1:1' } as never, clientId: 'hub.1', concurrency: 8 }, slow, silentLogger);
    const acks: string[] = [];
    try {
      const ids = Array.from({ length: 8 }, (_, i) => `kiosk-${i}`);
      const handled = Promise.all(
        ids.map((deviceId) =>
          hub.handle(topics.events(deviceId), encodeBatch({ deviceId, batchId: '1-3', events: typicalEvents(3), anchor: null }), async (topic) => void acks.push(topic)),
        ),
      );
      await new Promise((r) => setTimeout(r, 50));
      // Three groups of two at the store; the fourth formed, waiting for a slot.
      expect(groupSizes).toEqual([2, 2, 2]);
      expect(acks).toEqual([]);
      release();
      await handled;
      expect(groupSizes).toEqual([2, 2, 2, 2]);
      expect(acks.sort()).toEqual(ids.map((id) => topics.acks(id)).sort());
    } finally {
      await store.close();
    }
  });
});
