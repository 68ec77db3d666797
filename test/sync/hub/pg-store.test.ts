import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { tempDir } from '../../helpers/fixtures.js';
import { typicalEvents } from '../../helpers/events.js';
import { TestPostgres } from '../../helpers/postgres.js';
import { hubStoreContract } from './store.contract.js';

const dir = tempDir('safegate-pg-');
const server = new TestPostgres(dir.path);
let n = 0;

beforeAll(async () => {
  await server.start();
}, 60_000);
afterAll(async () => {
  await server.stop();
  dir.remove();
});

hubStoreContract('PostgreSQL', async () => {
  const url = await server.createDatabase(`hub_contract_${++n}`);
  return { store: await PgHubStore.open(url), dispose: async () => {} };
});

describe('hub store on PostgreSQL, several hub processes', () => {
  it("one device's batches stored at once by two processes: the later of each pair counts both in the watermark", async () => {
    const url = await server.createDatabase('hub_concurrent');
    const [a, b] = [await PgHubStore.open(url), await PgHubStore.open(url)];
    try {
      const events = typicalEvents(400);
      for (let k = 0; k < 40; k++) {
        // Two consecutive batches, each at its own process, committed in either order.
        const first = events.slice(10 * k, 10 * k + 5);
        const second = events.slice(10 * k + 5, 10 * k + 10);
        const [ra, rb] = await Promise.all([a.ingest('kiosk-a', first, k), b.ingest('kiosk-a', second, k)]);
        expect(ra.inserted + rb.inserted).toBe(10);
        expect(Math.max(ra.contiguousSeq, rb.contiguousSeq)).toBe(10 * k + 10);
      }
      // The same batches again, at both processes at once: nothing stored twice.
      const again = await Promise.all([a.ingest('kiosk-a', events.slice(0, 200), 99), b.ingest('kiosk-a', events.slice(100, 400), 99)]);
      expect(again.map((r) => [r.inserted, r.contiguousSeq, r.gaps])).toEqual([[0, 400, []], [0, 400, []]]);
      const seqs: number[] = [];
      for await (const e of a.events({ deviceId: 'kiosk-a' })) seqs.push(e.seq);
      expect(seqs).toEqual(events.map((e) => e.seq));
    } finally {
      await a.close();
      await b.close();
    }
  });
});
