import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteHubStore, sqliteLatestEvents } from '../../../sync/hub/store.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir } from '../../helpers/fixtures.js';
import { hubStoreContract } from './store.contract.js';

hubStoreContract('SQLite', async () => {
  const dir = tempDir('safegate-hubstore-');
  return { store: new SqliteHubStore(join(dir.path, 'hub.db')), dispose: async () => dir.remove() };
});

describe('hub store on SQLite at a province scale', () => {
  it("reads a day's events newest first through the time index, not by walking every event held", async () => {
    const dir = tempDir('safegate-hubstore-plan-');
    const path = join(dir.path, 'hub.db');
    const store = new SqliteHubStore(path);
    try {
      await store.ingest('kiosk-a', typicalEvents(200), 1);
      const db = new Database(path, { readonly: true });
      try {
        const plan = (filter: Parameters<typeof sqliteLatestEvents>[0]) => {
          const { sql, params } = sqliteLatestEvents(filter);
          return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail).join('\n');
        };
        const day = { sinceMs: Date.parse('2026-11-25T17:00:00Z'), untilMs: Date.parse('2026-11-26T17:00:00Z'), limit: 500 };
        const many = Array.from({ length: 5_000 }, (_, i) => `W${i}`);
        for (const filter of [day, { ...day, deviceIds: ['kiosk-a', 'kiosk-b'] }, { ...day, before: { timeMs: day.untilMs - 1, deviceId: 'kiosk-a', seq: 9 } }, { ...day, deviceIds: ['kiosk-a'], workerIds: many }]) {
          const p = plan(filter);
          expect(p).toMatch(/USING INDEX hub_events_time/);
          expect(p).not.toMatch(/SCAN hub_events(?! USING)|PRIMARY KEY/);
        }
        // A few workers (a search): their own events, by the worker index, even at a site's devices.
        expect(plan({ ...day, deviceIds: ['kiosk-a'], workerIds: ['W000001'] })).toMatch(/USING INDEX hub_events_worker/);
      } finally {
        db.close();
      }
    } finally {
      await store.close();
      dir.remove();
    }
  });
});
