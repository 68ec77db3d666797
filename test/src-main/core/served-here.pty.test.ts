import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../base/node/logger.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { Hub } from '../../../sync/hub/hub.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { healthyWorker, passFor, tempDir, waitFor } from '../../helpers/fixtures.js';
import { KioskUnderTest } from '../../helpers/kiosk.js';
import { listedWorker } from '../../helpers/listed-worker.js';
import { TestBroker, TestCertificates } from '../../helpers/mosquitto.js';

const DEVICE = 'test-kiosk-01';

/**
 * worker.servedHere at a real kiosk (pty scanner, simulated GPIO) fed by a real hub through a real
 * Mosquitto: a shuttle's kiosk admits a rider of the organisation its route serves, and refuses
 * them (WORKER_NOT_SERVED, nothing else) once they are on another organisation's list while the
 * route's rider list still names them.
 */
describe.each(directoryBackends)('worker.servedHere at a kiosk placed by the hub (hub directory on $name)', (backend) => {
  const dir = tempDir('safegate-served-');
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    dir.remove();
  });

  it("admits a rider of the route's organisation, and refuses them once another organisation's list holds them (the bus kiosk no longer holds their record)", async () => {
    const certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    certs.issue(DEVICE);
    const broker = new TestBroker(dir.path, certs);
    await broker.start();
    cleanups.push(() => broker.stop());
    const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) });

    const now = Date.now();
    const directory = await HubDirectory.open(await backend.target());
    const hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
    cleanups.push(async () => {
      await hubStore.close();
      await directory.close();
    });
    await directory.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' }, now);
    await directory.addOrganisation({ id: 'org-c', name: 'Công ty C', kind: 'company' }, now);
    await directory.addSite({ id: 'site-a', orgId: 'org-a' }, now);
    await directory.addSite({ id: 'site-c', orgId: 'org-c' }, now);
    await directory.uploadWorkers('org-a', [listedWorker('A1', now), listedWorker('A2', now)], { nowMs: now });
    await directory.importRoster([healthyWorker('A1', now)], false); // the health side: a fresh declaration
    await directory.addCheckpoint({ id: 'xe-buyt-1', siteId: 'site-a', kind: 'bus' }, now);
    await directory.addRoute({ id: 'tuyen-1', orgIds: ['org-a'] }, now);
    await directory.setRouteRiders('tuyen-1', ['A1']);
    await directory.setCheckpointRoutes('xe-buyt-1', ['tuyen-1']);
    await directory.placeDevices('xe-buyt-1', [DEVICE], now);

    const k = new KioskUnderTest();
    const hub = new Hub({ broker: { ...tls('hub.1'), protocolVersion: 5 }, clientId: 'hub.1', downlink: { directory, signingKey: createPrivateKey(k.keys.downlink.privatePem) } }, hubStore, silentLogger);
    await hub.start();
    cleanups.push(() => hub.stop());
    await k.start({ hub: { broker: tls(DEVICE) } });
    cleanups.push(() => k.stop());
    const placed = () => {
      const db = new Database(join(k.dir.path, 'safegate.db'), { readonly: true });
      try {
        return db.prepare('SELECT org_ids FROM placement').get() as { org_ids: string } | undefined;
      } finally {
        db.close();
      }
    };
    await waitFor(() => (k.kiosk.roster.get('A1') && placed() ? true : undefined), "the rider and the kiosk's placement arrive", 20_000);
    expect(k.kiosk.roster.get('A2')).toBeUndefined(); // not a rider
    expect(placed()).toEqual({ org_ids: '["org-a"]' });
    expect((await k.scan(passFor(k.keys, 'A1'))).decision).toMatchObject({ outcome: 'allow' });

    // A1 leaves org A for org C: leaving org A's list takes them off the route, and the bus kiosk gets a fresh roster without them.
    await directory.uploadWorkers('org-a', [listedWorker('A2', now)], { nowMs: now });
    await directory.uploadWorkers('org-c', [listedWorker('A1', now)], { nowMs: now });
    await directory.importRoster([healthyWorker('A1', now)], false);
    // The kiosk asks for news every 5 minutes, and at once when its link comes back: the broker restarts.
    await broker.stop();
    await broker.start();
    await waitFor(() => (k.kiosk.roster.get('A1') === undefined ? true : undefined), 'the former rider leaves the bus kiosk', 20_000);
    expect((await directory.routes()).find((r) => r.id === 'tuyen-1')!.riders).toBe(0);
    const refused = await k.scan(passFor(k.keys, 'A1'));
    expect(refused.decision).toMatchObject({ outcome: 'deny', reasons: ['UNKNOWN_WORKER'] });
    expect(k.relayOpenings()).toBe(1);
  }, 90_000);
});
