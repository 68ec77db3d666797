import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import type { NewGateEvent } from '../../base/common/types.js';
import { openStore, type SqliteDatabase } from '../../src-main/core/store/database.js';
import { EventLog } from '../../src-main/core/store/event-log.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { Hub } from '../../sync/hub/hub.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import type { ListedWorker } from '../../sync/hub/registry-upload.js';
import { parseSiteStream, topics } from '../../sync/protocol.js';
import { Uplink } from '../../sync/uplink.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const DAY = 86_400_000;

function listed(workerId: string): ListedWorker {
  return { line: 2, workerId, fullName: 'Nguyễn Thị Thử', team: 'Tổ May 1', birthYear: 1990, sex: 'female', idNumber: '079190000001', phone: '0912345601', residence: '1 Lê Lợi', siteId: null, testResult: 'negative', testedAtMs: Date.now() - DAY, vaccineDoses: 2 };
}

/** Kiosk screen declaration -> outbox -> real Mosquitto -> hub -> declarations + roster -> the site's other kiosk over the live site stream. */
describe('a declaration taken on a kiosk screen reaches the hub and the other kiosks of the site (real Mosquitto)', () => {
  const dir = tempDir('safegate-kdecl-broker-');
  let certs: TestCertificates;
  let broker: TestBroker;
  let directory: HubDirectory;
  let hubStore: SqliteHubStore;
  let hub: Hub;
  let db: SqliteDatabase;
  let uplink: Uplink;
  let listener: mqtt.MqttClient;
  const heard: unknown[] = [];

  const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const });

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    for (const name of ['hub.1', 'kiosk-x1', 'kiosk-x2']) certs.issue(name);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    directory = await HubDirectory.open(await directoryBackends[0]!.target());
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, Date.now());
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.uploadWorkers('may-a', [listed('a1')], { nowMs: Date.now() });
    await directory.assignSite('xuong-1', ['kiosk-x1', 'kiosk-x2']);
    // At a gate serving may-a: a1 is on these kiosks' roster (the hub records only such a worker's declaration).
    await directory.addCheckpoint({ id: 'gate-x', siteId: 'xuong-1', kind: 'gate', orgIds: ['may-a'] });
    await directory.placeDevices('gate-x', ['kiosk-x1', 'kiosk-x2']);
    hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
    const key = generateSigningKeyPair('EdDSA');
    hub = new Hub(
      { broker: tls('hub.1'), clientId: 'hub.1', downlink: { directory, signingKey: createPrivateKey(key.privatePem) }, siteStream: { sites: directory, beatMs: 60_000, maxAgeMs: DAY } },
      hubStore,
      silentLogger,
    );
    await hub.start();
    // The site's other kiosk, listening on its own site stream with its own certificate.
    const x2 = tls('kiosk-x2');
    listener = mqtt.connect(x2.url, { ca: [readFileSync(x2.ca)], cert: readFileSync(x2.cert), key: readFileSync(x2.key), clientId: 'kiosk-x2', protocolVersion: 5, rejectUnauthorized: true });
    await new Promise<void>((resolve, reject) => {
      listener.once('connect', () => listener.subscribe(topics.site('kiosk-x2'), { qos: 1 }, (err) => (err ? reject(err) : resolve())));
      listener.once('error', reject);
    });
    listener.on('message', (_t, payload) => {
      for (const item of parseSiteStream(payload).items) if ((item as { kind: string }).kind === 'declaration') heard.push(item);
    });
    db = openStore(join(dir.path, 'kiosk-x1.db'));
    uplink = new Uplink(
      { deviceId: 'kiosk-x1', broker: tls('kiosk-x1'), batch: { maxEvents: 500, maxBytes: 256 * 1024, maxAgeMs: 200 }, ackTimeoutMs: 2_000, reconnect: { initialMs: 100, maxMs: 1_000 }, authRetryMs: 60_000 },
      new EventLog(db),
      silentLogger,
    );
  }, 60_000);
  afterAll(async () => {
    await uplink?.stop();
    listener?.end(true);
    db?.close();
    await hub?.stop();
    await hubStore?.close();
    await directory?.close();
    await broker?.stop();
    dir.remove();
  });

  it('a flagged declaration: stored at the hub with its answers, kept once in the declarations table, the roster updated, and the other kiosk told (time and flag only)', async () => {
    const log = new EventLog(db);
    const atMs = Date.now() - 30_000;
    const event: NewGateEvent = {
      wallMs: atMs, monoUs: 5_000_000, bootId: 'boot-1', clockSynced: true, checkpointId: 'gate-x1', zoneId: 'xuong', direction: 'entry',
      credentialKind: 'pass', workerId: 'a1', codeHash: null, decision: 'deny', reasons: ['DECLARATION_FLAGGED'], source: 'declaration', policyVersion: 1,
      declaration: { answers: 1 << 1 },
    };
    const { declaration: _d, ...scan } = event;
    log.append({ ...scan, source: 'serial', reasons: ['DECLARATION_MISSING'] });
    log.append(event);
    uplink.start();
    await waitFor(() => (log.outboxDepth().count === 0 ? true : undefined), 'outbox drained', 60_000);
    const stored = [];
    for await (const e of hubStore.events({ deviceId: 'kiosk-x1' })) stored.push(e);
    expect(stored.map((e) => e.source)).toEqual(['serial', 'declaration']);
    expect(stored[1]).toMatchObject({ declaration: { answers: 2 }, workerId: 'a1' });
    const rows = await directory.sql.all<{ worker_id: string; flagged: number; answers: string | null; pass_id: string }>(sql`SELECT worker_id, flagged, answers, pass_id FROM declarations`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ worker_id: 'a1', flagged: 1, pass_id: 'kiosk:kiosk-x1' });
    expect(JSON.parse(rows[0]!.answers!)).toMatchObject({ fever: true, travel: false });
    const record = await directory.sql.get<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'roster' AND key = 'a1' AND deleted = 0`);
    expect(JSON.parse(record!.value)).toMatchObject({ declaredAt: atMs, declarationFlagged: true });
    await waitFor(() => (heard.length > 0 ? true : undefined), 'the declaration on kiosk-x2\'s site stream', 30_000);
    expect(heard).toEqual([{ kind: 'declaration', workerId: 'a1', declaredAtMs: atMs, flagged: true }]);
  }, 120_000);
});
