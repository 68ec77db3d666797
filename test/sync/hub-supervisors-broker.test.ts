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
import { SupervisorAccounts } from '../../src-main/core/supervisor/accounts.js';
import { HubSupervisors } from '../../src-main/core/supervisor/hub-supervisors.js';
import { hashPinForHub } from '../../src-main/core/supervisor/pin.js';
import { Downlink } from '../../sync/downlink.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { Hub } from '../../sync/hub/hub.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { Uplink } from '../../sync/uplink.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const RULES = { maxFailedLogins: 5, lockoutMinutes: 1, maxLockoutMinutes: 10 };

/**
 * A supervisor made at the hub signs in at the kiosks of their site, offline, with their PIN; removed
 * at the hub, they are gone from the kiosk at its next download. Real Mosquitto, hub and kiosk store.
 */
describe.each(directoryBackends)('hub supervisors, hub to kiosk through a real broker (hub directory on $name)', (backend) => {
  const dir = tempDir('safegate-hubsup-dl-');
  let broker: TestBroker;
  let certs: TestCertificates;
  let hub: Hub | undefined;
  let hubStore: SqliteHubStore;
  let directory: HubDirectory;
  const pair = generateSigningKeyPair();
  const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const });

  /** A fresh hub process per step (the hub answers a device a few times at once, then once per 15 s). */
  async function startHub(): Promise<void> {
    await hub?.stop();
    hub = new Hub({ broker: tls('hub.1'), clientId: 'hub.1', downlink: { directory, signingKey: createPrivateKey(pair.privatePem) } }, hubStore, silentLogger);
    await hub.start();
  }

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    for (const n of ['hub.1', 'kiosk-a']) certs.issue(n);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
    directory = await HubDirectory.open(await backend.target());
  });
  afterAll(async () => {
    await hub?.stop();
    await hubStore.close();
    await directory.close();
    await broker.stop();
    dir.remove();
  });

  it('signs a hub supervisor in at a kiosk of their site beside its own; removed at the hub, they are gone from it', async () => {
    await directory.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' });
    await directory.addSite({ id: 'site-a', orgId: 'org-a' });
    await directory.addSite({ id: 'site-b', orgId: 'org-a' });
    await directory.assignSite('site-a', ['kiosk-a']);
    const lan = await directory.addSupervisor({ siteId: 'site-a', name: 'Nguyễn Thị Lan', pinHash: await hashPinForHub('2468101214') });
    const other = await directory.addSupervisor({ siteId: 'site-b', name: 'Trần Văn Bình', pinHash: await hashPinForHub('1357902468') });
    await startHub();

    const db = openStore(join(dir.path, 'kiosk.db'));
    const pepper = Buffer.alloc(32, 9);
    const accounts = new SupervisorAccounts(db, pepper);
    await accounts.add({ id: 'bao-ve', name: 'Bảo vệ cổng', pin: '112233' }, Date.now());
    const ring = new HubKeyring();
    ring.add(createPublicKey(pair.publicPem), { role: 'downlink', source: 'test' });
    const hubSupervisors = new HubSupervisors(db, pepper);
    const downlink = new Downlink(
      'kiosk-a',
      new DownlinkState(db),
      () => ring,
      {
        roster: (k, c) => new Roster(db).applyChanges(k, c),
        notices: (k, c) => new Notices(db).applyChanges(k, c),
        revocations: (k, c) => new Revocations(db).applyChanges(k, c),
        policy: (k, c) => new DownloadedPolicy(db).applyChanges(k, c),
        keys: (k, c) => new DownloadedKeys(db).applyChanges(k, c, ring),
        supervisors: (k, c) => hubSupervisors.applyChanges(k, c),
      },
      silentLogger,
      { refreshMs: 400 },
    );
    const uplink = new Uplink(
      { deviceId: 'kiosk-a', broker: tls('kiosk-a'), batch: { maxEvents: 50, maxBytes: 64 * 1024, maxAgeMs: 200 }, ackTimeoutMs: 5_000, reconnect: { initialMs: 100, maxMs: 1_000 }, authRetryMs: 60_000, extensions: [downlink] },
      new EventLog(db),
      silentLogger,
    );
    try {
      uplink.start();
      await waitFor(() => (accounts.get(lan) ? true : undefined), "the site's hub supervisor arrives", 20_000);
      expect(accounts.list().map((s) => s.name)).toEqual(['Bảo vệ cổng', 'Nguyễn Thị Lan']);
      expect(accounts.get(other)).toBeNull();
      // Offline, with the PIN the hub never stored; the kiosk keeps the hash peppered with its own pepper.
      expect(await accounts.check(lan, '2468101214', RULES, Date.now)).toMatchObject({ ok: true, name: 'Nguyễn Thị Lan' });
      expect(await accounts.check(lan, '000000', RULES, Date.now)).toMatchObject({ ok: false, reason: 'wrong-pin' });
      const stored = db.prepare('SELECT hash, origin FROM supervisors WHERE id = ?').get(lan) as { hash: string; origin: string };
      expect(stored).toMatchObject({ origin: 'hub' });
      expect(stored.hash).toMatch(/^scrypt-pepper\$/);

      // Only the hub changes or removes them, and only the hub gives ids beginning with hub-.
      await expect(accounts.add({ id: 'hub-000000000000', name: 'X', pin: '123456' }, Date.now())).rejects.toThrow(/given by the hub/);
      expect(() => accounts.remove(lan, Date.now())).toThrow(/hub account of this kiosk's site/);
      await expect(accounts.setPin(lan, '999999', Date.now())).rejects.toThrow(/hub account/);

      await directory.removeSupervisor(lan);
      await startHub();
      await waitFor(() => (accounts.get(lan) === null ? true : undefined), 'the removed supervisor is gone from the kiosk', 20_000);
      expect(await accounts.check(lan, '2468101214', RULES, Date.now)).toEqual({ ok: false, reason: 'unknown-supervisor' });
      // The kiosk's own supervisor stays.
      expect(await accounts.check('bao-ve', '112233', RULES, Date.now)).toMatchObject({ ok: true });
    } finally {
      await uplink.stop();
      db.close();
    }
  });
});
