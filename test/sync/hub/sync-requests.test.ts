import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { silentLogger } from '../../../base/node/logger.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { Hub } from '../../../sync/hub/hub.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { PROTOCOL_VERSION, topics } from '../../../sync/protocol.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { healthyWorker, tempDir } from '../../helpers/fixtures.js';

/**
 * A sync request is a hundred bytes; its answer can be a roster snapshot of megabytes, signed part by
 * part. One kiosk certificate asking in a loop must not keep the hub busy (and every other kiosk's
 * acknowledgements waiting): answers are limited per device and stream. Real SQLite stores; the
 * hub's `handle` is called directly, its replies counted.
 */
describe.each(directoryBackends)('hub: sync requests, directory on $name', (backend) => {
  const dir = tempDir('safegate-hub-req-');
  const store = new SqliteHubStore(join(dir.path, 'hub.db'));
  const pair = generateSigningKeyPair();
  let directory: HubDirectory;
  let hub: Hub;
  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    hub = new Hub(
      { broker: { url: 'mqtts://127.0.0.1:1' } as never, clientId: 'hub.1', downlink: { directory, signingKey: createPrivateKey(pair.privatePem) } },
      store,
      silentLogger,
    );
  });
  afterAll(async () => {
    await store.close();
    await directory.close();
    dir.remove();
  });

  it('answers a few at once, then refuses a device that keeps asking, without affecting another device', async () => {
    await directory.importRoster(Array.from({ length: 50 }, (_, i) => healthyWorker(`W${i}`)), true);
    const replies: string[] = [];
    const reply = async (topic: string) => void replies.push(topic);
    const ask = (device: string) =>
      hub.handle(topics.syncRequest(device), Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, stream: 'roster', cursor: 0 })), reply);
    for (let i = 0; i < 50; i++) await ask('kiosk-flood');
    const flood = replies.filter((t) => t === topics.downlink('kiosk-flood')).length;
    expect(flood).toBeGreaterThan(0);
    // Four answers (one part each here), then nothing until the bucket refills.
    expect(flood).toBeLessThanOrEqual(4);
    await ask('kiosk-calm');
    expect(replies.filter((t) => t === topics.downlink('kiosk-calm')).length).toBeGreaterThan(0);
  });
});
