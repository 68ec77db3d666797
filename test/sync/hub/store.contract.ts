import { describe, expect, it } from 'vitest';
import type { HubStore } from '../../../sync/hub/store.js';
import { typicalEvents } from '../../helpers/events.js';

/** What every hub store must do; run against SQLite here and PostgreSQL where a server runs. */
export function hubStoreContract(name: string, open: () => Promise<{ store: HubStore; dispose(): Promise<void> }>): void {
  describe(`hub store contract: ${name}`, () => {
    async function withStore(fn: (s: HubStore) => Promise<void>): Promise<void> {
      const { store, dispose } = await open();
      try {
        await fn(store);
      } finally {
        await store.close();
        await dispose();
      }
    }

    const collect = async (store: HubStore, deviceId?: string) => {
      const out = [];
      for await (const e of store.events(deviceId ? { deviceId } : {})) out.push(e);
      return out;
    };

    it('stores a batch and returns every field', async () => {
      await withStore(async (store) => {
        const events = typicalEvents(50);
        const r = await store.ingest('kiosk-a', events, Date.now());
        expect(r).toEqual({ inserted: 50, duplicates: 0, contiguousSeq: 50, gaps: [] });
        const stored = await collect(store);
        expect(stored.map(({ deviceId, ...e }) => ({ deviceId, e }))).toEqual(events.map((e) => ({ deviceId: 'kiosk-a', e })));
      });
    });

    it('is idempotent on (device, sequence number): a batch delivered twice is stored once', async () => {
      await withStore(async (store) => {
        const events = typicalEvents(20);
        await store.ingest('kiosk-a', events, 1);
        const again = await store.ingest('kiosk-a', events, 2);
        expect(again).toMatchObject({ inserted: 0, duplicates: 20, contiguousSeq: 20 });
        await store.ingest('kiosk-b', events, 3);
        expect(await collect(store, 'kiosk-a')).toHaveLength(20);
        expect(await collect(store)).toHaveLength(40);
      });
    });

    it('reports gaps in a device\'s sequence and closes them when the missing events arrive', async () => {
      await withStore(async (store) => {
        const all = typicalEvents(30);
        await store.ingest('kiosk-a', all.slice(0, 10), 1);
        const r = await store.ingest('kiosk-a', [...all.slice(14, 20), ...all.slice(25, 30)], 2);
        expect(r).toMatchObject({ contiguousSeq: 10, gaps: [[11, 14], [21, 25]] });
        const closed = await store.ingest('kiosk-a', [...all.slice(10, 14), ...all.slice(20, 25)], 3);
        expect(closed).toMatchObject({ contiguousSeq: 30, gaps: [] });
      });
    });
  });
}
