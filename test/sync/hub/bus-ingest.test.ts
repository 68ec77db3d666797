import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import { encodeBatch } from '../../../sync/batch-codec.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { Hub } from '../../../sync/hub/hub.js';
import { SqliteHubStore, type HubEvent } from '../../../sync/hub/store.js';
import { topics } from '../../../sync/protocol.js';
import { busTripEvents } from '../../helpers/bus-events.js';
import { sqliteBackend } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

/**
 * A bus unit's batch as the hub receives it off MQTT (format 3 bytes through Hub.handle, not the
 * store alone): acknowledged after the commit, stored once when delivered twice, every bus field kept.
 */
describe("a bus unit's batch through the hub's ingest", () => {
  it('is acknowledged, stored once though delivered twice, with its trips, routes, positions and GPS time', async () => {
    const dir = tempDir('safegate-bus-ingest-');
    const directory = await HubDirectory.open(await sqliteBackend.target());
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      const hub = new Hub(
        { broker: { url: 'mqtt://127.0.0.1:1' } as never, clientId: 'hub.1', downlink: { directory, signingKey: generateKeyPairSync('ed25519').privateKey } },
        store,
        createLogger({ level: 'fatal' }),
      );
      const first = busTripEvents({ routeId: 'route-2', riders: 12 });
      const second = busTripEvents({ firstSeq: first.length + 1, startMs: first.at(-1)!.wallMs + 600_000, tripId: 'Tmi0abcde-00ff11', gpsClock: true }).map((e) => ({ ...e, clockSynced: false }));
      const events = [...first, ...second];
      const wire = encodeBatch({ deviceId: 'bus-51b', batchId: `1-${events.length}`, events, anchor: null });
      expect(wire[0]).toBe(3);
      const acks: { topic: string; payload: unknown }[] = [];
      const reply = async (topic: string, payload: unknown) => void acks.push({ topic, payload });
      await hub.handle(topics.events('bus-51b'), wire, reply);
      await hub.handle(topics.events('bus-51b'), wire, reply);
      expect(acks.map((a) => a.topic)).toEqual([topics.acks('bus-51b'), topics.acks('bus-51b')]);
      for (const a of acks) expect(JSON.parse(String(a.payload))).toMatchObject({ batchId: `1-${events.length}`, firstSeq: 1, lastSeq: events.length, gaps: [] });

      const stored: HubEvent[] = [];
      for await (const e of store.events({ deviceId: 'bus-51b' })) stored.push(e);
      expect(stored.map(({ deviceId: _d, clock: _c, correctedWallMs: _w, ...e }) => e)).toEqual(events);
      expect(stored.filter((e) => e.clockSource === 'gps').every((e) => e.clock === 'synced')).toBe(true);
    } finally {
      await store.close();
      await directory.close();
      dir.remove();
    }
  });
});
