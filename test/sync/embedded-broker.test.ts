import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../base/node/logger.js';
import { openStore } from '../../src-main/core/store/database.js';
import { EventLog } from '../../src-main/core/store/event-log.js';
import { EmbeddedBroker } from '../../sync/embedded-broker.js';
import { Hub } from '../../sync/hub/hub.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { Uplink } from '../../sync/uplink.js';
import { typicalEvents } from '../helpers/events.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';

/** The embedded default (aedes, MQTT 3.1.1, loopback): the same uplink and hub work over it. */
describe('embedded broker (aedes, MQTT 3.1.1)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('carries a kiosk backlog to the hub, acknowledged at the application level', async () => {
    const dir = tempDir('safegate-embedded-');
    cleanups.push(() => dir.remove());
    const broker = new EmbeddedBroker();
    await broker.start();
    cleanups.push(() => broker.stop());
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    cleanups.push(() => store.close());
    const hub = new Hub({ broker: { url: broker.url, protocolVersion: 4 }, clientId: 'hub.1', sharedSubscription: false }, store, silentLogger);
    await hub.start();
    cleanups.push(() => hub.stop());

    const db = openStore(join(dir.path, 'kiosk.db'));
    cleanups.push(() => void db.close());
    const log = new EventLog(db);
    for (const { seq: _seq, ...e } of typicalEvents(1_000)) log.append(e);
    const uplink = new Uplink(
      {
        deviceId: 'kiosk-demo',
        broker: { url: broker.url, protocolVersion: 4 },
        batch: { maxEvents: 500, maxBytes: 256 * 1024, maxAgeMs: 100 },
        ackTimeoutMs: 2_000,
        reconnect: { initialMs: 100, maxMs: 1_000 },
        authRetryMs: 60_000,
      },
      log,
      silentLogger,
    );
    uplink.start();
    cleanups.push(() => uplink.stop());
    await waitFor(() => (log.outboxDepth().count === 0 ? true : undefined), 'outbox drained');
    let n = 0;
    for await (const _e of store.events({ deviceId: 'kiosk-demo' })) n++;
    expect(n).toBe(1_000);
  });
});
