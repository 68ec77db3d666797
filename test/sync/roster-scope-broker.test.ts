import { createPrivateKey, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubKeyring, generateSigningKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import type { SqliteDatabase } from '../../base/node/sqlite.js';
import { openStore } from '../../src-main/core/store/database.js';
import { DownlinkState } from '../../src-main/core/store/downlink-state.js';
import { EventLog } from '../../src-main/core/store/event-log.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../src-main/core/store/hub-data.js';
import { Notices } from '../../src-main/core/store/notices.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { DownloadedPlacement } from '../../src-main/core/store/placement.js';
import { decide } from '../../src-main/core/decide.js';
import { defaultPolicy } from '../../base/common/policy/policy.js';
import { PROTOCOL_VERSION } from '../../sync/protocol.js';
import { Downlink } from '../../sync/downlink.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { Hub } from '../../sync/hub/hub.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { Uplink } from '../../sync/uplink.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { healthyWorker, tempDir, waitFor } from '../helpers/fixtures.js';
import { listedWorker } from '../helpers/listed-worker.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';

interface Kiosk {
  db: SqliteDatabase;
  roster: Roster;
  state: DownlinkState;
  placement: DownloadedPlacement;
  downlink: Downlink;
  uplink: Uplink;
  ids(): string[];
}

/**
 * Each kiosk receives its checkpoint's workers: organisations upload to the hub, the hub answers each
 * kiosk's signed download through a real Mosquitto, and the kiosks' stores hold what their gates serve.
 */
describe.each(directoryBackends)('roster scoped per checkpoint, hub to kiosk through a real broker (hub directory on $name)', (backend) => {
  const dir = tempDir('safegate-scope-dl-');
  let broker: TestBroker;
  let certs: TestCertificates;
  let hub: Hub | undefined;
  let hubStore: SqliteHubStore;
  let directory: HubDirectory;
  const pair = generateSigningKeyPair();
  const kiosks: Kiosk[] = [];

  const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const });

  /** A hub process (a fresh one per step: the hub answers a device a few times at once, then once per 15 s). */
  async function startHub(): Promise<void> {
    await hub?.stop();
    hub = new Hub({ broker: tls('hub.1'), clientId: 'hub.1', downlink: { directory, signingKey: createPrivateKey(pair.privatePem) } }, hubStore, silentLogger);
    await hub.start();
  }

  function startKiosk(deviceId: string): Kiosk {
    const db = openStore(join(dir.path, `${deviceId}.db`));
    const roster = new Roster(db);
    const state = new DownlinkState(db);
    const placement = new DownloadedPlacement(db, deviceId);
    const ring = new HubKeyring();
    ring.add(createPublicKey(pair.publicPem), { role: 'downlink', source: 'test' });
    const downlink = new Downlink(
      deviceId,
      state,
      () => ring,
      {
        roster: (k, c) => roster.applyChanges(k, c),
        notices: (k, c) => new Notices(db).applyChanges(k, c),
        revocations: (k, c) => new Revocations(db).applyChanges(k, c),
        policy: (k, c) => new DownloadedPolicy(db).applyChanges(k, c),
        keys: (k, c) => new DownloadedKeys(db).applyChanges(k, c, ring),
        placement: (k, c) => placement.applyChanges(k, c),
      },
      silentLogger,
      { refreshMs: 400 },
    );
    const uplink = new Uplink(
      { deviceId, broker: tls(deviceId), batch: { maxEvents: 50, maxBytes: 64 * 1024, maxAgeMs: 200 }, ackTimeoutMs: 5_000, reconnect: { initialMs: 100, maxMs: 1_000 }, authRetryMs: 60_000, extensions: [downlink] },
      new EventLog(db),
      silentLogger,
    );
    uplink.start();
    const ids = () => (db.prepare('SELECT worker_id FROM workers ORDER BY worker_id').all() as { worker_id: string }[]).map((r) => r.worker_id);
    const k = { db, roster, state, placement, downlink, uplink, ids };
    kiosks.push(k);
    return k;
  }

  const holds = (k: Kiosk, ids: string[], what: string) => waitFor(() => (JSON.stringify(k.ids()) === JSON.stringify(ids) ? true : undefined), what, 20_000);

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    for (const n of ['hub.1', 'kiosk-a', 'kiosk-kcn', 'kiosk-legacy', 'kiosk-d']) certs.issue(n);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
    directory = await HubDirectory.open(await backend.target());
  });
  afterAll(async () => {
    for (const k of kiosks) {
      await k.uplink.stop();
      k.db.close();
    }
    await hub?.stop();
    await hubStore.close();
    await directory.close();
    await broker.stop();
    dir.remove();
  });

  it("gives org A's gate A's workers, the shared gate A's and B's; a worker moved out and an organisation taken off reach the kiosks as removals", async () => {
    const now = Date.now();
    const listed = (id: string) => listedWorker(id, now);
    await directory.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' }, now);
    await directory.addOrganisation({ id: 'org-b', name: 'Công ty B', kind: 'company' }, now);
    await directory.addSite({ id: 'site-a', orgId: 'org-a' }, now);
    await directory.addSite({ id: 'kcn', orgId: 'org-b' }, now);
    await directory.addCheckpoint({ id: 'gate-a', siteId: 'site-a', kind: 'gate' }, now);
    await directory.addCheckpoint({ id: 'gate-kcn', siteId: 'kcn', kind: 'gate', orgIds: ['org-a', 'org-b'] }, now);
    await directory.placeDevices('gate-a', ['kiosk-a'], now);
    await directory.placeDevices('gate-kcn', ['kiosk-kcn'], now);
    await directory.uploadWorkers('org-a', [listed('A1'), listed('A2')], { nowMs: now });
    await directory.uploadWorkers('org-b', [listed('B1'), listed('B2')], { nowMs: now });
    await directory.importRoster([healthyWorker('P1', now)], false);
    await startHub();

    const a = startKiosk('kiosk-a');
    const kcn = startKiosk('kiosk-kcn');
    const legacy = startKiosk('kiosk-legacy');
    await holds(a, ['A1', 'A2'], "org A's gate holds A's workers");
    await holds(kcn, ['A1', 'A2', 'B1', 'B2'], 'the shared gate holds both');
    await holds(legacy, ['P1'], 'a kiosk at no checkpoint holds the province list only');
    expect(a.roster.get('A1')?.company).toBe('Công ty A');

    // A2 leaves org A's list: both kiosks that had them drop them.
    await directory.uploadWorkers('org-a', [listed('A1')], { nowMs: now });
    await startHub();
    await holds(a, ['A1'], 'A2 removed at the A gate');
    await holds(kcn, ['A1', 'B1', 'B2'], 'A2 removed at the shared gate');

    // The shared gate stops serving org A: A's workers leave it; org A's gate is untouched.
    await directory.setCheckpointOrganisations('gate-kcn', ['org-b']);
    await startHub();
    await holds(kcn, ['B1', 'B2'], "org A's workers removed at the shared gate");
    expect(a.ids()).toEqual(['A1']);
    expect(legacy.ids()).toEqual(['P1']);
  });

  it("decides by where the hub placed the kiosk: org B's worker is admitted at the shared gate, refused at org A's gate", async () => {
    const now = Date.now();
    await directory.addCheckpoint({ id: 'gate-kcn-2', siteId: 'kcn', kind: 'gate', orgIds: ['org-a', 'org-b'] }, now);
    await directory.placeDevices('gate-kcn-2', ['kiosk-d'], now);
    // The health side records B1's declaration; B1 stays on org B's list (organisation and site kept).
    await directory.importRoster([healthyWorker('B1', now)], false);
    await startHub();
    const d = startKiosk('kiosk-d');
    await waitFor(() => (d.roster.get('B1') && d.placement.current()?.checkpointId === 'gate-kcn-2' ? true : undefined), 'roster and placement at the shared gate', 20_000);
    const gate = { id: 'gate-kcn-2', name: 'Cổng KCN', kind: 'gate', zone: 'kcn', direction: 'entry' } as const;
    const atGate = () =>
      decide({
        reading: { status: 'valid', kind: 'pass', workerId: 'B1' },
        worker: d.roster.get('B1'),
        policy: defaultPolicy(),
        checkpoint: gate,
        recent: { sameCodeSecondsAgo: null, lastPassage: null },
        nowMs: Date.now(),
        placement: d.placement.current(),
      });
    expect(d.roster.get('B1')).toMatchObject({ orgId: 'org-b', siteId: 'kcn' });
    expect(d.placement.current()).toEqual({ deviceId: 'kiosk-d', checkpointId: 'gate-kcn-2', siteId: 'kcn', orgIds: ['org-a', 'org-b'] });
    expect(atGate()).toMatchObject({ outcome: 'allow' });

    // The kiosk is moved to org A's gate. Its new placement is signed and applied before its new
    // roster (given here directly, so the order is known): the worker it still holds is refused.
    await d.uplink.stop();
    await directory.placeDevices('gate-a', ['kiosk-d'], Date.now());
    const request = { v: PROTOCOL_VERSION, stream: 'placement', cursor: d.state.cursor('placement').cursor } as const;
    for await (const part of directory.respondSignedTo('kiosk-d', request, Date.now(), createPrivateKey(pair.privatePem))) expect(d.downlink.receive(part, Date.now()).status).toBe('applied');
    expect(d.placement.current()).toMatchObject({ checkpointId: 'gate-a', siteId: 'site-a', orgIds: ['org-a'] });
    expect(d.roster.get('B1')).toBeDefined();
    expect(atGate()).toEqual({ outcome: 'deny', direction: 'entry', reasons: ['WORKER_NOT_SERVED'] });

    // Then its roster comes through the broker: org A's workers only.
    d.uplink.start();
    await startHub();
    await holds(d, ['A1'], "the kiosk at org A's gate holds A's workers only");
    expect(atGate()).toEqual({ outcome: 'deny', direction: 'entry', reasons: ['UNKNOWN_WORKER'] });
  });
});
