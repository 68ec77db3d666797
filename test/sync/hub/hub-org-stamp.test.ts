import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import { encodeBatch } from '../../../sync/batch-codec.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { Hub } from '../../../sync/hub/hub.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { topics } from '../../../sync/protocol.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir } from '../../helpers/fixtures.js';
import { listedWorker } from '../../helpers/listed-worker.js';

const NOW = Date.parse('2026-11-27T07:00:00Z');

/**
 * The hub stamps each event with its worker's organisation at receipt, looked up once for every
 * batch stored together (a group commit), not once per batch: events of listed workers carry their
 * own organisation, events of workers on no list none; a worker's later move does not restamp them.
 */
describe.each(directoryBackends)('events stamped with their organisation at receipt, directory on $name', (backend) => {
  it("stamps each event of a group with its worker's organisation of the moment", async () => {
    const dir = tempDir('safegate-stamp-');
    const directory = await HubDirectory.open(await backend.target());
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      const a = typicalEvents(30, 1).filter((e) => e.workerId);
      const b = typicalEvents(30, 1, NOW).filter((e) => e.workerId);
      const [wa, wb] = [a[0]!.workerId!, b[1]!.workerId!];
      await directory.addOrganisation({ id: 'ORG-A', name: 'A', kind: 'company' });
      await directory.addOrganisation({ id: 'ORG-B', name: 'B', kind: 'company' });
      await directory.addSite({ id: 'xuong-a', orgId: 'ORG-A' });
      await directory.addSite({ id: 'xuong-b', orgId: 'ORG-B' });
      await directory.uploadWorkers('ORG-A', [listedWorker(wa, NOW, 'xuong-a')], { nowMs: NOW });
      await directory.uploadWorkers('ORG-B', [listedWorker(wb, NOW, 'xuong-b')], { nowMs: NOW });
      const hub = new Hub(
        { broker: { url: 'mqtt://127.0.0.1:1' } as never, clientId: 'hub.1', downlink: { directory, signingKey: generateKeyPairSync('ed25519').privateKey } },
        store,
        createLogger({ level: 'fatal' }),
      );
      const acks: string[] = [];
      const reply = async (topic: string) => void acks.push(topic);
      // Two devices' batches handed over in one turn: stored (and looked up) together.
      const renumber = (events: typeof a) => events.map((e, i) => ({ ...e, seq: i + 1 }));
      const [ea, eb] = [renumber(a), renumber(b)];
      await Promise.all([
        hub.handle(topics.events('kiosk-a'), encodeBatch({ deviceId: 'kiosk-a', batchId: 'a1', events: ea, anchor: null }), reply),
        hub.handle(topics.events('kiosk-b'), encodeBatch({ deviceId: 'kiosk-b', batchId: 'b1', events: eb, anchor: null }), reply),
      ]);
      expect(acks).toHaveLength(2);
      const stored = new Map<string, string | undefined>();
      for await (const e of store.events()) stored.set(`${e.deviceId}/${e.seq}`, e.orgId);
      for (const [device, events] of [['kiosk-a', ea], ['kiosk-b', eb]] as const) {
        for (const e of events) {
          const want = e.workerId === wa ? 'ORG-A' : e.workerId === wb ? 'ORG-B' : undefined;
          expect(stored.get(`${device}/${e.seq}`), `${device} ${e.seq} ${e.workerId}`).toBe(want);
        }
      }
      expect([...stored.values()].filter(Boolean).length).toBeGreaterThanOrEqual(2);
    } finally {
      await store.close();
      await directory.close();
      dir.remove();
    }
  });
});
