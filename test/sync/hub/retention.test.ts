import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../base/node/logger.js';
import { HubRetention } from '../../../sync/hub/retention.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir } from '../../helpers/fixtures.js';

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
