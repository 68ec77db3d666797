import { createPrivateKey, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubKeyring, generateSigningKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import { openStore } from '../../src-main/core/store/database.js';
import { DownlinkState } from '../../src-main/core/store/downlink-state.js';
import { EventLog } from '../../src-main/core/store/event-log.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../src-main/core/store/hub-data.js';
import { Notices } from '../../src-main/core/store/notices.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { Downlink } from '../../sync/downlink.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { Hub } from '../../sync/hub/hub.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { Uplink } from '../../sync/uplink.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { healthyWorker, tempDir, waitFor } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';

/** A 100,000-worker roster from the hub's directory to a kiosk, signed, through a real broker. */
describe.each(directoryBackends)('roster download through a real broker (hub directory on $name)', (backend) => {
  const dir = tempDir('safegate-dl-');
  let broker: TestBroker;
  let certs: TestCertificates;
  let hub: Hub;
  let hubStore: SqliteHubStore;
  let directory: HubDirectory;
  const pair = generateSigningKeyPair();

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    certs.issue('kiosk-dl');
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
    directory = await HubDirectory.open(await backend.target());
    hub = new Hub(
      { broker: tls('hub.1'), clientId: 'hub.1', downlink: { directory, signingKey: createPrivateKey(pair.privatePem) } },
      hubStore,
      silentLogger,
    );
    await hub.start();
  });
  afterAll(async () => {
    await hub.stop();
    await hubStore.close();
    await directory.close();
    await broker.stop();
    dir.remove();
  });

  function tls(name: string) {
    return { url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const };
  }

  it('arrives whole and is applied at once; a later change arrives as a delta', async () => {
    const now = Date.now();
    await directory.importRoster(
      Array.from({ length: 100_000 }, (_, i) => healthyWorker(`W${String(i).padStart(6, '0')}`, now)),
      false,
    );
    const db = openStore(join(dir.path, 'kiosk.db'));
    const roster = new Roster(db);
    const state = new DownlinkState(db);
    const ring = new HubKeyring();
    ring.add(createPublicKey(pair.publicPem), { role: 'downlink', source: 'test' });
    const downlink = new Downlink('kiosk-dl', state, () => ring, { roster: (k, c) => roster.applyChanges(k, c), notices: (k, c) => new Notices(db).applyChanges(k, c), revocations: (k, c) => new Revocations(db).applyChanges(k, c), policy: (k, c) => new DownloadedPolicy(db).applyChanges(k, c), keys: (k, c) => new DownloadedKeys(db).applyChanges(k, c, ring) }, silentLogger, { refreshMs: 500 });
    const uplink = new Uplink(
      {
        deviceId: 'kiosk-dl',
        broker: tls('kiosk-dl'),
        batch: { maxEvents: 500, maxBytes: 256 * 1024, maxAgeMs: 200 },
        ackTimeoutMs: 5_000,
        reconnect: { initialMs: 100, maxMs: 1_000 },
        authRetryMs: 60_000,
        extensions: [downlink],
      },
      new EventLog(db),
      silentLogger,
    );
    try {
      uplink.start();
      await waitFor(() => (state.cursor('roster').cursor === 1 ? true : undefined), 'roster applied', 60_000);
      expect(roster.count()).toBe(100_000);
      expect(roster.get('W099999')?.displayName).toBe('Người lao động W099999');

      await directory.importRoster([healthyWorker('W000001', now, { caseStatus: 'F0' })], false);
      // The kiosk asks again every 500 ms here (every 5 minutes by default).
      await waitFor(() => (state.cursor('roster').cursor === 2 ? true : undefined), 'delta applied', 10_000);
      expect(roster.get('W000001')?.caseStatus).toBe('F0');
      expect(roster.count()).toBe(100_000);
    } finally {
      await uplink.stop();
      db.close();
    }
  });
});
