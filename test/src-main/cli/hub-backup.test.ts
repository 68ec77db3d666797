import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { safegate, safegateProcess, type RunningProcess } from '../../helpers/cli.js';
import { typicalEvents } from '../../helpers/events.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';
import { brokerPkiFilesIn, freePort, TestBroker } from '../../helpers/mosquitto.js';
import { HubPki } from '../../../sync/hub/fleet/pki.js';

const caFingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

async function storedEventCount(file: string): Promise<number> {
  const store = new SqliteHubStore(file);
  try {
    let n = 0;
    for await (const _ of store.events()) n++;
    return n;
  } finally {
    await store.close();
  }
}

async function stopProcess(p: RunningProcess): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  p.child.kill('SIGTERM');
  const [code] = (await once(p.child, 'exit')) as [number | null];
  return code;
}

/**
 * `safegate hub backup` and `hub restore`, once, end to end: a hub with data (events, an
 * organisation, a console account), a signing key and its TLS identity from the CA, backed up while it
 * runs; its whole folder deleted; restored; the hub starts again on the restored files, reaches the
 * broker with the restored certificate (same CA fingerprint) and holds the same data. The broker and
 * its CA are another machine's: they stay.
 */
describe('hub backup and restore (real hub and Mosquitto processes)', () => {
  const dir = tempDir('safegate-hub-backup-');
  const hubDir = join(dir.path, 'hub');
  const config = join(hubDir, 'hub.yaml');
  const archive = join(dir.path, 'offline', 'hub-backup.tar.gz');
  let broker: TestBroker;
  const running: RunningProcess[] = [];

  afterAll(async () => {
    for (const p of running) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await once(p.child, 'exit');
      }
    }
    await broker?.stop();
    dir.remove();
  });

  it('backs a running hub up, and a deleted hub comes back from the archive with the same CA and the same data', async () => {
    // The hub CA (H1's `hub pki init`) in the settings' pki.dir; the broker, another machine, runs on copies of its files.
    await HubPki.init(join(hubDir, 'pki'), { hosts: ['127.0.0.1'], hubIds: ['hub.1'] });
    const brokerPki = join(dir.path, 'broker-pki');
    mkdirSync(brokerPki, { mode: 0o700 });
    for (const f of ['ca.crt', 'server.crt', 'server.key', 'crl.pem']) copyFileSync(join(hubDir, 'pki', f), join(brokerPki, f));
    broker = new TestBroker(dir.path, brokerPkiFilesIn(brokerPki));
    await broker.start();
    expect(safegate(['keys', 'generate', '--out', join(hubDir, 'keys'), '--role', 'downlink']).status).toBe(0);
    const signingKey = readdirSync(join(hubDir, 'keys')).find((f) => f.endsWith('.key.pem'))!;
    const consolePort = await freePort();
    writeFileSync(
      config,
      stringify({
        id: 'hub.1',
        broker: { url: broker.url, ca: 'pki/ca.crt', cert: 'pki/hub.1.crt', key: 'pki/hub.1.key' },
        store: { path: 'data/hub.db' },
        directory: { path: 'data/hub-directory.db' },
        console: { enabled: true, port: consolePort, database: 'data/hub-console.db' },
        signingKey: `keys/${signingKey}`,
        pki: { dir: 'pki' },
      }),
    );
    const env = { DATABASE_URL: '' };
    // Data in each database: events in the store, an organisation in the directory, an account in the console's.
    mkdirSync(join(hubDir, 'data'), { mode: 0o700 });
    const store = new SqliteHubStore(join(hubDir, 'data', 'hub.db'));
    await store.ingest('kiosk-01', typicalEvents(25), Date.now());
    await store.close();
    expect(safegate(['hub', 'org', 'add', 'may-a', '--name', 'Công ty May A', '--config', config], { env }).status).toBe(0);
    expect(safegate(['hub', 'user', 'add', '--name', 'op1', '--role', 'operator', '--config', config], { env, input: 'a long enough password\n' }).status).toBe(0);

    // Backed up while the hub runs (and writes).
    const hub = safegateProcess(['hub', 'run', '--config', config], undefined, { env });
    running.push(hub);
    await waitFor(() => (hub.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'hub online', 20_000);
    mkdirSync(join(dir.path, 'offline'), { mode: 0o700 });
    const backup = safegate(['hub', 'backup', '--config', config, '--out', archive], { env });
    expect(backup.stderr).toBe('');
    expect(backup.status).toBe(0);
    expect(backup.stdout).toContain('keep it offline');
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    expect(await stopProcess(hub)).toBe(0);
    // A second backup to the same name is refused, not overwritten.
    const again = safegate(['hub', 'backup', '--config', config, '--out', archive], { env });
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/exists already/);

    const orgsBefore = safegate(['hub', 'org', 'list', '--config', config], { env }).stdout;
    const usersBefore = safegate(['hub', 'user', 'list', '--config', config], { env }).stdout;
    expect(orgsBefore).toContain('may-a');
    expect(usersBefore).toContain('op1');
    const fingerprint = caFingerprint(join(hubDir, 'pki', 'ca.crt'));
    const caKeyBefore = readFileSync(join(hubDir, 'pki', 'ca.key'), 'utf8');
    const pkiFingerprint = HubPki.open(join(hubDir, 'pki')).caFingerprint();
    const keyBefore = readFileSync(join(hubDir, 'keys', signingKey), 'utf8');

    // The archive: a manifest with a checksum per file; the keys and databases inside.
    const listed: string[] = [];
    await tar.list({ file: archive, onReadEntry: (e) => listed.push(e.path) });
    expect(listed).toContain('manifest.json');

    // A damaged archive is refused before anything is written.
    const damagedDir = join(dir.path, 'damaged');
    mkdirSync(damagedDir);
    await tar.extract({ file: archive, cwd: damagedDir });
    const manifest = JSON.parse(readFileSync(join(damagedDir, 'manifest.json'), 'utf8')) as { entries: { part: string; file: string }[] };
    // The broker files the settings name are in the PKI folder: there once, with it.
    expect(manifest.entries.map((e) => e.part).sort()).toEqual(
      ['console', 'directory', 'pki/ca.crt', 'pki/ca.key', 'pki/crl.pem', 'pki/hub.1.crt', 'pki/hub.1.key', 'pki/server.crt', 'pki/server.key', 'settings', 'signingKey', 'store'],
    );
    const keyEntry = manifest.entries.find((e) => e.part === 'signingKey')!;
    writeFileSync(join(damagedDir, keyEntry.file), 'not the key');
    const damaged = join(dir.path, 'damaged.tar.gz');
    await tar.create({ gzip: true, file: damaged, cwd: damagedDir }, ['manifest.json', 'files']);

    // The hub is lost: its whole folder.
    rmSync(hubDir, { recursive: true, force: true });
    const refused = safegate(['hub', 'restore', '--config', config, '--from', damaged], { env });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/signingKey does not match its checksum/);
    expect(existsSync(hubDir) ? readdirSync(hubDir).filter((f) => !f.startsWith('.')) : []).toEqual([]);

    const restore = safegate(['hub', 'restore', '--config', config, '--from', archive], { env });
    expect(restore.stderr).toBe('');
    expect(restore.status).toBe(0);
    // Restoring over what is there needs --force.
    const over = safegate(['hub', 'restore', '--config', config, '--from', archive], { env });
    expect(over.status).not.toBe(0);
    expect(over.stderr).toMatch(/refusing to overwrite .*--force/);
    expect(safegate(['hub', 'restore', '--config', config, '--from', archive, '--force'], { env }).status).toBe(0);

    // Same CA, same key (and its mode), same data.
    expect(caFingerprint(join(hubDir, 'pki', 'ca.crt'))).toBe(fingerprint);
    expect(readFileSync(join(hubDir, 'pki', 'ca.key'), 'utf8')).toBe(caKeyBefore);
    expect(statSync(join(hubDir, 'pki', 'ca.key')).mode & 0o777).toBe(0o600);
    expect(HubPki.open(join(hubDir, 'pki')).caFingerprint()).toBe(pkiFingerprint);
    expect(readFileSync(join(hubDir, 'keys', signingKey), 'utf8')).toBe(keyBefore);
    expect(statSync(join(hubDir, 'keys', signingKey)).mode & 0o777).toBe(0o600);
    expect(statSync(join(hubDir, 'pki', 'hub.1.key')).mode & 0o777).toBe(0o600);
    expect(await storedEventCount(join(hubDir, 'data', 'hub.db'))).toBe(25);
    expect(safegate(['hub', 'org', 'list', '--config', config], { env }).stdout).toBe(orgsBefore);
    expect(safegate(['hub', 'user', 'list', '--config', config], { env }).stdout).toBe(usersBefore);

    // And it runs: it reaches the broker with the restored certificate and says it is healthy.
    const restored = safegateProcess(['hub', 'run', '--config', config], undefined, { env });
    running.push(restored);
    await waitFor(() => (restored.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'restored hub online', 20_000);
    const health = await fetch(`http://127.0.0.1:${consolePort}/healthz`);
    expect(health.status).toBe(200);
    // Restoring under a running hub is refused even with --force: it would keep writing into the replaced files.
    const underRunning = safegate(['hub', 'restore', '--config', config, '--from', archive, '--force'], { env });
    expect(underRunning.status).not.toBe(0);
    expect(underRunning.stderr).toMatch(/is open in process \d+ \(a running hub\?\): stop it first/);
    expect(await storedEventCount(join(hubDir, 'data', 'hub.db'))).toBe(25);
    expect(await stopProcess(restored)).toBe(0);
  }, 180_000);
});
