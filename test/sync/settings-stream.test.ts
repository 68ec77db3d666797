import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { HubKeyring } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import { acceptRemoteSettings, fleetFigures, loadSettings } from '../../src-main/core/enrolment/index.js';
import { overlayProblems } from '../../src-main/core/settings-overlay.js';
import { RemoteSettingsReceiver } from '../../src-main/core/remote-settings-receiver.js';
import type { Settings } from '../../src-main/core/config.js';
import { openStore, type SqliteDatabase } from '../../src-main/core/store/database.js';
import { DownlinkState } from '../../src-main/core/store/downlink-state.js';
import { EventLog } from '../../src-main/core/store/event-log.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../src-main/core/store/hub-data.js';
import { Notices } from '../../src-main/core/store/notices.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { Downlink } from '../../sync/downlink.js';
import { sealDownlink } from '../../sync/downlink-codec.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { DeviceSettingsBook, type DeviceSettingsReport } from '../../sync/hub/fleet/device-settings.js';
import { Hub } from '../../sync/hub/hub.js';
import { SqliteHubStore } from '../../sync/hub/store.js';
import { topics } from '../../sync/protocol.js';
import { Uplink } from '../../sync/uplink.js';
import { sqliteBackend } from '../helpers/directory-db.js';
import { tempDir } from '../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';
import { makeEnrolledFolder, type EnrolledFixture } from '../src-main/core/enrolment/enrolled-folder.js';

const DEVICE = 'kiosk-e-0001';

/** Polls an async probe until it gives a value (bounded). */
async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Remote settings end to end through the real Mosquitto: the hub's book signs a version and sends
 * it on the device's settings stream; an enrolled kiosk (its enrolment folder, its settings file)
 * hands it to acceptRemoteSettings, applies it or refuses it, and says so in a heartbeat sent at
 * once; the hub records what the heartbeat says.
 */
describe('remote settings through a real broker', () => {
  const dir = tempDir('safegate-settings-stream-');
  let broker: TestBroker;
  let certs: TestCertificates;
  let hub: Hub;
  let hubStore: SqliteHubStore;
  let directory: HubDirectory;
  let book: DeviceSettingsBook;
  let folder: EnrolledFixture;
  let config: string;
  let db: SqliteDatabase;
  let downlink: Downlink;
  let uplink: Uplink;
  let running: Settings;
  const restarts: string[] = [];

  const tls = (name: string) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`), protocolVersion: 5 as const });
  const reported = (probe: (r: DeviceSettingsReport) => boolean, what: string) =>
    until(async () => {
      const r = await book.report(DEVICE);
      return r && probe(r) ? r : undefined;
    }, what);

  beforeAll(async () => {
    certs = new TestCertificates(join(dir.path, 'pki'));
    certs.issue('hub.1');
    certs.issue(DEVICE);
    broker = new TestBroker(dir.path, certs);
    await broker.start();
    // The kiosk: a settings file naming no device or hub, and the folder enrolment left beside its database.
    config = join(dir.path, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    folder = makeEnrolledFolder(join(dir.path, 'enrolment'), { deviceId: DEVICE });
    running = loadSettings(config).settings;
    // The hub signs with the downlink key the kiosk was given at enrolment.
    hubStore = new SqliteHubStore(join(dir.path, 'hub.db'));
    directory = await HubDirectory.open(await sqliteBackend.target());
    book = new DeviceSettingsBook(directory.sql, { signingKey: folder.downlinkKey, checkOverlay: overlayProblems });
    // The hub process looks for new settings every 200 ms here (2 s by default) and sends them at once.
    hub = new Hub({ broker: tls('hub.1'), clientId: 'hub.1', settingsPushMs: 200, downlink: { directory, signingKey: folder.downlinkKey } }, hubStore, silentLogger);
    await hub.start();

    db = openStore(join(dir.path, 'kiosk.db'));
    const state = new DownlinkState(db);
    const ring = new HubKeyring();
    ring.add(createPublicKey(folder.downlinkKey), { role: 'downlink', source: 'test' });
    const receiver = new RemoteSettingsReceiver({
      deviceId: DEVICE,
      accept: (signed, nowMs) => acceptRemoteSettings(config, signed, nowMs),
      reload: () => loadSettings(config).settings,
      running: () => running,
      setLogLevel: () => undefined,
      requestRestart: (reason) => restarts.push(reason),
      heartbeatNow: () => uplink.heartbeatNow(),
      log: silentLogger,
    });
    downlink = new Downlink(
      DEVICE,
      state,
      () => ring,
      {
        roster: (k, c) => new Roster(db).applyChanges(k, c),
        notices: (k, c) => new Notices(db).applyChanges(k, c),
        revocations: (k, c) => new Revocations(db).applyChanges(k, c),
        policy: (k, c) => new DownloadedPolicy(db).applyChanges(k, c),
        keys: (k, c) => new DownloadedKeys(db).applyChanges(k, c, ring),
        settings: (k, c) => receiver.applyChanges(k, c),
      },
      silentLogger,
    );
    uplink = new Uplink(
      {
        deviceId: DEVICE,
        broker: tls(DEVICE),
        batch: { maxEvents: 500, maxBytes: 256 * 1024, maxAgeMs: 200 },
        ackTimeoutMs: 5_000,
        reconnect: { initialMs: 100, maxMs: 1_000 },
        authRetryMs: 60_000,
        // A beat an hour: only the beat sent at once after a settings document can tell the hub in time.
        heartbeat: {
          everyMs: 3_600_000,
          figures: () => ({ software: 'test', outboxDepth: 0, oldestUnsyncedAgeS: null, scanner: 'ready', gpio: 'simulated', rosterAgeS: null, policyVersion: 1, heldEvents: 0, disk: null, fleet: fleetFigures(config, Date.now()) }),
        },
        extensions: [downlink],
      },
      new EventLog(db),
      silentLogger,
    );
    uplink.start();
    // The first heartbeat (on connecting): enrolled, at the enrolment document's version.
    await reported((r) => r.appliedVersion === 1, 'the first heartbeat');
  });

  afterAll(async () => {
    await uplink?.stop();
    db?.close();
    await hub?.stop();
    await hubStore?.close();
    await directory?.close();
    await broker?.stop();
    dir.remove();
  });

  it('applies a push live (language) and reports the version at once; a setting that needs a restart asks for one', async () => {
    expect((await book.set(DEVICE, { set: { 'screens.language': 'en' } }, 'it-alice')).version).toBe(2);
    await reported((r) => r.appliedVersion === 2, 'version 2 applied');
    expect(running.screens.language).toBe('en');
    expect(restarts).toEqual([]);
    expect((await hubStore.lastHeartbeat(DEVICE))?.fleet).toMatchObject({ enrolled: true, settingsVersion: 2, settingsRefused: null });
    expect((await book.view(DEVICE)).state).toBe('applied');

    expect((await book.set(DEVICE, { set: { 'gate.relay.pulseMs': 2500 } }, 'it-alice')).version).toBe(3);
    await reported((r) => r.appliedVersion === 3, 'version 3 applied');
    expect(restarts).toEqual(['remote settings version 3 changed gate.relay.pulseMs']);
    expect(loadSettings(config).settings.gate.relay.pulseMs).toBe(2500);
    expect(loadSettings(config).settings.screens.language).toBe('en');
  }, 60_000);

  it("a value the hub lets through but the kiosk's whole settings refuse (a relay pulse longer than its maxOnMs) reaches the hub as a refusal with the problem", async () => {
    // gate.relay.pulseMs 20 s is a valid pulse on its own; with the kiosk's maxOnMs (15 s by default) it is not.
    expect((await book.set(DEVICE, { set: { 'gate.relay.pulseMs': 20_000 } }, 'it-bob')).version).toBe(4);
    const r = await reported((x) => x.refused?.version === 4, 'version 4 refused');
    expect(r).toMatchObject({ appliedVersion: 3, refused: { version: 4, problems: ['gate.relay.maxOnMs: maxOnMs must be at least pulseMs'] } });
    expect((await book.view(DEVICE)).state).toBe('refused');
    expect(loadSettings(config).settings.gate.relay.pulseMs).toBe(2500);
    expect(restarts).toHaveLength(1);
  }, 60_000);

  it('ignores a replayed older part, and refuses a document made for another device', async () => {
    // The part that brought version 2, signed then, sent again now: older than what the kiosk holds.
    const before = readFileSync(join(folder.dir, 'remote-settings.cose'));
    const old = await book.versions(DEVICE);
    const replay = sealDownlink(
      { v: 1, stream: 'settings', kind: 'snapshot', from: 0, to: 1, part: 0, parts: 1, issuedAtMs: old[0]!.issuedAtMs - 1, body: [[0, DEVICE, { deviceId: DEVICE, version: 2, document: Buffer.from(old[0]!.signed).toString('base64') }]] },
      folder.downlinkKey,
    );
    expect(downlink.receive(replay, Date.now())).toMatchObject({ status: 'stale' });
    expect(readFileSync(join(folder.dir, 'remote-settings.cose')).equals(before)).toBe(true);
    expect(fleetFigures(config, Date.now()).settingsVersion).toBe(3);

    // A document signed by the right key for another kiosk, in a part for this one: refused, and the hub hears why.
    const foreign = folder.sign({ deviceId: 'kiosk-other', version: 9, source: 'remote', settings: { screens: { language: 'vi' } } });
    const rev = await directory.revision('settings');
    const part = sealDownlink(
      { v: 1, stream: 'settings', kind: 'snapshot', from: 0, to: rev + 1, part: 0, parts: 1, issuedAtMs: Date.now(), body: [[0, DEVICE, { deviceId: DEVICE, version: 9, document: Buffer.from(foreign).toString('base64') }]] },
      folder.downlinkKey,
    );
    downlink.onMessage(topics.downlink(DEVICE), Buffer.from(part));
    const r = await reported((x) => x.refused?.version === 9, 'the foreign document refused');
    expect(r.refused?.problems).toEqual([`deviceId: the document is for kiosk-other, this kiosk is ${DEVICE}`]);
    expect(r.appliedVersion).toBe(3);
    expect(loadSettings(config).settings.screens.language).toBe('en');
  }, 60_000);
});
