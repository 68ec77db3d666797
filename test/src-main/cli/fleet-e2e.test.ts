import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { safegate, safegateProcess, type RunningProcess } from '../../helpers/cli.js';
import { healthyWorker, passFor, tempDir, waitFor } from '../../helpers/fixtures.js';
import { listedWorker } from '../../helpers/listed-worker.js';
import { brokerPkiFilesIn, freePort, TestBroker } from '../../helpers/mosquitto.js';
import { PtyPair } from '../../helpers/pty.js';

/** The kiosk settings file the package installs (/etc/safegate/kiosk.yaml). */
const PACKAGED_KIOSK_YAML = fileURLToPath(new URL('../../../packaging/etc/kiosk.yaml', import.meta.url));

const WORKER = 'W-F1';

interface Box {
  dir: string;
  config: string;
  pty: PtyPair;
}

/**
 * A new kiosk from a fresh install to enrolled, syncing and running a settings push from the hub,
 * with no file edited by hand, every part a real process: the hub (`safegate hub run` with its
 * enrolment endpoint), Mosquitto on the hub's own CA, and `safegate run --headless` on a pty scanner
 * with the very settings file the package installs (its /var/lib/safegate and scanner paths moved
 * into the test's folder). IT staff do only what the README's "Installing a kiosk" says: make the
 * hub's CA once, make an enrolment code, show it to the kiosk's scanner.
 */
describe('a fresh kiosk enrols by scanning its code, syncs, and applies a signed settings push (hub, Mosquitto and kiosk as real processes)', () => {
  const dir = tempDir('safegate-fleet-e2e-');
  const pkiDir = join(dir.path, 'pki');
  const hubConfig = join(dir.path, 'hub.yaml');
  const passKey = generateSigningKeyPair('EdDSA');
  let broker: TestBroker;
  let hub: RunningProcess | undefined;
  const children: ChildProcess[] = [];
  const boxes: PtyPair[] = [];

  beforeAll(async () => {
    const brokerPort = await freePort();
    const enrolPort = await freePort();
    const downlink = generateSigningKeyPair('EdDSA');
    writeFileSync(join(dir.path, 'downlink.key'), downlink.privatePem, { mode: 0o600 });
    writeFileSync(join(dir.path, 'pass.key'), passKey.privatePem, { mode: 0o600 });
    writeFileSync(join(dir.path, 'phone-pass.key'), generateSigningKeyPair('EdDSA').privatePem, { mode: 0o600 });
    writeFileSync(
      hubConfig,
      stringify({
        id: 'hub.1',
        broker: { url: `mqtts://127.0.0.1:${brokerPort}`, ca: join(pkiDir, 'ca.crt'), cert: join(pkiDir, 'hub.1.crt'), key: join(pkiDir, 'hub.1.key') },
        store: { path: join(dir.path, 'hub.db') },
        directory: { path: join(dir.path, 'directory.db') },
        signingKey: join(dir.path, 'downlink.key'),
        passKey: join(dir.path, 'pass.key'),
        phonePassKey: join(dir.path, 'phone-pass.key'),
        console: { enabled: false },
        pki: { dir: pkiDir },
        enrol: { enabled: true, host: '127.0.0.1', port: enrolPort, publicUrl: `https://127.0.0.1:${enrolPort}`, brokerUrl: `mqtts://127.0.0.1:${brokerPort}` },
        log: { level: 'info' },
      }),
    );
    // Once, at the hub: its CA, the broker's and the hub's certificates, an empty revocation list.
    const init = safegate(['hub', 'pki', 'init', '--config', hubConfig, '--host', '127.0.0.1', '--hub-id', 'hub.1'], { env: { DATABASE_URL: '' } });
    expect(init.status, init.stderr).toBe(0);
    mkdirSync(join(dir.path, 'broker'), { recursive: true });
    broker = new TestBroker(join(dir.path, 'broker'), brokerPkiFilesIn(pkiDir));
    broker.port = brokerPort;
    await broker.start();

    // The organisation, its site and its worker list, as the console or `hub org`/`hub roster upload` make them.
    const directory = await HubDirectory.open({ kind: 'sqlite', path: join(dir.path, 'directory.db') });
    try {
      await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' });
      await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
      await directory.addCheckpoint({ id: 'cong-1', siteId: 'xuong-1', name: 'Cổng 1', kind: 'gate' });
      await directory.uploadWorkers('may-a', [listedWorker(WORKER, Date.now(), 'xuong-1')], { nowMs: Date.now() });
      await directory.importRoster([healthyWorker(WORKER, Date.now())], false); // the health side: a fresh declaration
    } finally {
      await directory.close();
    }
    hub = safegateProcess(['hub', 'run', '--config', hubConfig], undefined, { env: { DATABASE_URL: '' } });
    children.push(hub.child);
    await waitFor(() => (hub!.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'hub online', 30_000);
  }, 90_000);

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    for (const pty of boxes) await pty.unplug();
    await broker?.stop();
    dir.remove();
  });

  /** A box as the package leaves it: the packaged settings file, its paths moved into the test's folder. */
  async function freshBox(name: string): Promise<Box> {
    const boxDir = join(dir.path, name);
    mkdirSync(boxDir, { recursive: true });
    const pty = new PtyPair(boxDir);
    await pty.plug();
    boxes.push(pty);
    const packaged = readFileSync(PACKAGED_KIOSK_YAML, 'utf8');
    expect(packaged).not.toMatch(/^device:|^checkpoint:|broker:/m);
    const relocated = packaged.replaceAll('/var/lib/safegate', join(boxDir, 'var-lib-safegate')).replaceAll('/dev/safegate-scanner', pty.devicePath);
    const config = join(boxDir, 'kiosk.yaml');
    writeFileSync(config, relocated);
    return { dir: boxDir, config, pty };
  }

  function enrolmentCodes(args: string[]): { deviceId: string; code: string }[] {
    const made = safegate(['hub', 'enrol', 'create', '--config', hubConfig, '--json', ...args], { env: { DATABASE_URL: '' } });
    expect(made.status, made.stderr).toBe(0);
    return JSON.parse(made.stdout) as { deviceId: string; code: string }[];
  }

  function devices(): Record<string, unknown>[] {
    const r = safegate(['hub', 'devices', '--config', hubConfig, '--json'], { env: { DATABASE_URL: '' } });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it('enrols by scan, refuses a replayed, expired, unknown or foreign-device token, syncs a scan, and applies a pushed setting', async () => {
    const [first, second] = enrolmentCodes(['--checkpoint-kind', 'gate', '--site', 'xuong-1', '--checkpoint-id', 'cong-1', '--name', 'Cổng 1', '--direction', 'entry', '--count', '2']);
    expect(first!.code).toMatch(/^SGE1:https:\/\/127\.0\.0\.1:\d+#d=/);

    // The fresh box starts in "enrol me": no store, no broker, no decisions. Its file is valid as it is.
    const box = await freshBox('box-1');
    const fresh = safegate(['config', 'check', '--config', box.config]);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(fresh.stdout).toMatch(/OK \(not enrolled yet/);
    const kiosk = safegateProcess(['run', '--config', box.config, '--headless']);
    children.push(kiosk.child);
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'scanner connected') ? true : undefined), 'the unenrolled kiosk listening to its scanner', 20_000);

    // IT shows the code to the scanner.
    await box.pty.write(`${first!.code}\r`);
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'enrolled with the hub') ? true : undefined), 'enrolled', 30_000);
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'hub link online') ? true : undefined), 'the kiosk online with its own certificate', 30_000);
    const folder = join(box.dir, 'var-lib-safegate', 'enrolment');
    expect(readFileSync(join(folder, 'device.key'), 'utf8')).toMatch(/PRIVATE KEY/);
    // The hub's keys came with the certificate: passes, phone-bound passes and what the hub sends down.
    for (const role of ['pass', 'phone-pass', 'downlink']) expect(readdirSync(join(folder, 'keys', role)).filter((f) => f.endsWith('.pub.pem')), role).toHaveLength(1);

    // The same code again, from another box: refused, and that box has no certificate to reach the broker with.
    const other = await freshBox('box-2');
    const replay = safegate(['enrol', '--config', other.config, '--token', first!.code]);
    expect(replay.status).toBe(1);
    expect(replay.stderr).toMatch(/TOKEN_USED/);
    // A token made for one device id, sent with a certificate request for another.
    const foreign = second!.code.replace(/#d=[^&]+/, `#d=${first!.deviceId}`);
    const wrongDevice = safegate(['enrol', '--config', other.config, '--token', foreign]);
    expect(wrongDevice.status).toBe(1);
    expect(wrongDevice.stderr).toMatch(/CSR_WRONG_DEVICE/);
    // An unknown token (right form, never issued).
    const unknown = second!.code.replace(/&t=[A-Za-z0-9_-]{43}/, `&t=${'A'.repeat(43)}`);
    const refusedUnknown = safegate(['enrol', '--config', other.config, '--token', unknown]);
    expect(refusedUnknown.status).toBe(1);
    expect(refusedUnknown.stderr).toMatch(/TOKEN_UNKNOWN/);
    // An expired token.
    const [shortLived] = enrolmentCodes(['--checkpoint-kind', 'gate', '--site', 'xuong-1', '--checkpoint-id', 'cong-2', '--name', 'Cổng 2', '--expires', '1m']);
    // A minute is long for a test: its expiry is moved into the past, as the clock would.
    const db = new Database(join(dir.path, 'directory.db'));
    try {
      expect(db.prepare('UPDATE fleet_enrolment_tokens SET expires_ms = ? WHERE device_id = ?').run(Date.now() - 1_000, shortLived!.deviceId).changes).toBe(1);
    } finally {
      db.close();
    }
    const expired = safegate(['enrol', '--config', other.config, '--token', shortLived!.code]);
    expect(expired.status).toBe(1);
    expect(expired.stderr).toMatch(/TOKEN_EXPIRED/);
    expect(existsSync(join(other.dir, 'var-lib-safegate', 'enrolment', 'device.crt'))).toBe(false);
    // Without a certificate the broker does not let a client in at all.
    await expect(mqtt.connectAsync(broker.url, { ca: readFileSync(join(pkiDir, 'ca.crt')), clientId: second!.deviceId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3_000 })).rejects.toThrow();

    // The enrolled kiosk syncs: its roster arrives, a pass is decided and the event reaches the hub.
    await waitFor(() => {
      const s = safegate(['status', '--config', box.config, '--json']);
      if (s.status !== 0) return undefined;
      const status = JSON.parse(s.stdout) as { roster: { workers: number } };
      return status.roster.workers >= 1 ? true : undefined;
    }, 'the roster downloaded', 30_000);
    await box.pty.write(`${passFor(passKey, WORKER)}\r`);
    const scan = await waitFor(() => kiosk.logs.find((l) => l.msg === 'scan'), 'the pass decided', 15_000);
    expect(scan, JSON.stringify(scan)).toMatchObject({ outcome: 'allow' });
    await waitFor(() => {
      const ev = safegate(['hub', 'events', '--config', hubConfig, '--json'], { env: { DATABASE_URL: '' } });
      return ev.status === 0 && ev.stdout.includes(first!.deviceId) && ev.stdout.includes(WORKER) ? true : undefined;
    }, 'the event at the hub', 30_000);

    // A settings push from the hub: signed, validated by the kiosk, applied, reported in the heartbeat.
    const set = safegate(['hub', 'device', 'set', first!.deviceId, 'gate.relay.pulseMs=40', 'screens.resultSeconds=9', '--config', hubConfig], { env: { DATABASE_URL: '' } });
    expect(set.status, set.stderr).toBe(0);
    await waitFor(() => {
      const d = devices().find((x) => x.deviceId === first!.deviceId);
      return d?.settingsVersion === 2 ? d : undefined;
    }, 'the hub hearing settings version 2', 60_000);
    const check = safegate(['config', 'check', '--config', box.config]);
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/remote/i);
    // The kiosk still decides after applying it (a relay pulse change needs the kiosk composed again).
    await waitFor(() => (kiosk.logs.filter((l) => l.msg === 'hub link online').length >= 2 ? true : undefined), 'the kiosk composed again and online', 30_000);
    const before = kiosk.logs.filter((l) => l.msg === 'scan').length;
    await box.pty.write(`${passFor(passKey, WORKER)}\r`);
    await waitFor(() => (kiosk.logs.filter((l) => l.msg === 'scan').length > before ? true : undefined), 'a scan after the push', 15_000);
    // Nothing was edited by hand: the box's settings file is the packaged one, relocated.
    expect(readFileSync(box.config, 'utf8')).not.toMatch(/^device:|^checkpoint:|broker:/m);
  }, 240_000);
});
