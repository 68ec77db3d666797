import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { safegate, safegateProcess } from '../helpers/cli.js';
import { passFor, tempDir, waitFor } from '../helpers/fixtures.js';
import { KioskProcessRig } from '../helpers/kiosk-process.js';
import { TestBroker, TestCertificates } from '../helpers/mosquitto.js';

const DEVICE = 'test-kiosk-01';

/**
 * An alert raised while the hub is down reaches it when it comes back: kiosk, broker and hub as real
 * processes. (Alerts used to leave the kiosk's outbox as soon as the broker took them, so one raised
 * while no hub was subscribed was lost.)
 */
describe('alerts through a hub outage (real processes)', () => {
  let rig: KioskProcessRig | undefined;
  let broker: TestBroker | undefined;
  const pki = tempDir('safegate-alert-pki-');
  const hubs: ChildProcess[] = [];
  afterEach(async () => {
    for (const h of hubs.splice(0)) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    await broker?.stop();
    await rig?.dispose();
    pki.remove();
  });

  it('stop the hub, raise an alert, start the hub: the hub has it, and only then does the kiosk let it go', async () => {
    const certs = new TestCertificates(join(pki.path, 'pki'));
    certs.issue('hub.1');
    certs.issue(DEVICE);
    const tls = (name: string) => ({ url: '', ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) });
    broker = new TestBroker(pki.path, certs);
    await broker.start();
    rig = await KioskProcessRig.create({ hub: { broker: { ...tls(DEVICE), url: broker.url }, heartbeatSeconds: 5 } });
    const hubConfig = join(rig.dir.path, 'hub.yaml');
    writeFileSync(hubConfig, stringify({ id: 'hub.1', broker: { ...tls('hub.1'), url: broker.url }, store: { path: 'hub.db' }, console: { enabled: false }, log: { level: 'info' } }));
    const startHub = async () => {
      const hub = safegateProcess(['hub', 'run', '--config', hubConfig]);
      hubs.push(hub.child);
      await waitFor(() => (hub.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'hub online', 15_000);
      return hub;
    };
    const roster = join(rig.dir.path, 'roster.csv');
    writeFileSync(roster, `worker_id,display_name,declared_at,vaccine_doses,case_status\nW-F0,Nguyễn Văn Ốm,${new Date().toISOString()},2,F0\n`);
    expect(safegate(['roster', 'import', roster, '--config', rig.config]).status).toBe(0);

    // The hub runs, then stops: the kiosk is online with the broker, and no hub is there.
    const first = await startHub();
    const kiosk = await rig.startKiosk();
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'hub link online') ? true : undefined), 'kiosk online', 15_000);
    first.child.kill('SIGTERM');
    await new Promise<void>((resolve) => first.child.once('exit', () => resolve()));

    await rig.pty.write(`${passFor(rig.keys, 'W-F0')}\r`);
    // The log names a health reason by its category only (the store keeps CASE_F0, checked at the hub below).
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'scan' && l.outcome === 'deny' && (l.reasons as string[]).includes('health')) ? true : undefined), 'the scan decided');
    const kioskDb = join(rig.dir.path, 'safegate.db');
    const unsentAlerts = () => {
      const db = new Database(kioskDb, { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM alerts WHERE sent_at IS NULL').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    // The broker took the alert, but nobody stored it: it stays in the kiosk's outbox.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(unsentAlerts()).toBe(1);

    await startHub();
    await waitFor(() => (unsentAlerts() === 0 ? true : undefined), 'the kiosk hears the hub stored the alert', 20_000);
    const hubDb = new Database(join(rig.dir.path, 'hub.db'), { readonly: true });
    const alerts = hubDb.prepare('SELECT device_id, kind, worker_id, reasons FROM hub_alerts').all();
    hubDb.close();
    expect(alerts).toEqual([{ device_id: DEVICE, kind: 'confirmed-case-entry-attempt', worker_id: 'W-F0', reasons: 'CASE_F0' }]);
  }, 90_000);
});
