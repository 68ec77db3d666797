import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { safegate, safegateProcess } from '../../helpers/cli.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';
import { KioskProcessRig } from '../../helpers/kiosk-process.js';
import { TestBroker, TestCertificates } from '../../helpers/mosquitto.js';

const DEVICE = 'test-kiosk-01';

function rows<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } catch {
    return [];
  } finally {
    db.close();
  }
}

/**
 * The emergency release end to end, as processes: `safegate gpio set emergency on` drives the running
 * kiosk's simulated input; the alert and the events reach the hub through a real Mosquitto, and the
 * kiosk lets the alerts go only once the hub has stored them.
 */
describe('emergency release reaches the hub (real processes)', () => {
  let rig: KioskProcessRig | undefined;
  let broker: TestBroker | undefined;
  const pki = tempDir('safegate-emergency-pki-');
  const hubs: ChildProcess[] = [];
  afterEach(async () => {
    for (const h of hubs.splice(0)) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    await broker?.stop();
    await rig?.dispose();
    pki.remove();
  });

  it('gpio set emergency on: the hub has the emergency-open alert and event; off: emergency-cleared', async () => {
    const certs = new TestCertificates(join(pki.path, 'pki'));
    certs.issue('hub.1');
    certs.issue(DEVICE);
    const tls = (name: string) => ({ url: '', ca: join(certs.dir, 'ca.crt'), cert: join(certs.dir, `${name}.crt`), key: join(certs.dir, `${name}.key`) });
    broker = new TestBroker(pki.path, certs);
    await broker.start();
    rig = await KioskProcessRig.create({ hub: { broker: { ...tls(DEVICE), url: broker.url }, heartbeatSeconds: 5, batch: { maxAgeMs: 100 } } });
    const doc = parse(readFileSync(rig.config, 'utf8')) as { gate: Record<string, unknown> };
    doc.gate.inputs = { debounceMs: 10, emergency: { pin: 5, activeLow: true } };
    writeFileSync(rig.config, stringify(doc));

    const hubConfig = join(rig.dir.path, 'hub.yaml');
    writeFileSync(hubConfig, stringify({ id: 'hub.1', broker: { ...tls('hub.1'), url: broker.url }, store: { path: 'hub.db' }, console: { enabled: false }, log: { level: 'info' } }));
    const hub = safegateProcess(['hub', 'run', '--config', hubConfig]);
    hubs.push(hub.child);
    await waitFor(() => (hub.logs.some((l) => l.msg === 'hub online') ? true : undefined), 'hub online', 15_000);
    const kiosk = await rig.startKiosk();
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'hub link online') ? true : undefined), 'kiosk online', 15_000);

    const hubDb = join(rig.dir.path, 'hub.db');
    const kioskDb = join(rig.dir.path, 'safegate.db');
    const hubAlerts = () => rows<{ device_id: string; kind: string; worker_id: string; reasons: string }>(hubDb, 'SELECT device_id, kind, worker_id, reasons FROM hub_alerts ORDER BY seq');
    const hubInputEvents = () => rows<{ reasons: string; decision: string; worker_id: string | null }>(hubDb, "SELECT reasons, decision, worker_id FROM hub_events WHERE source = 'input' ORDER BY seq");

    const on = safegate(['gpio', 'set', 'emergency', 'on', '--config', rig.config]);
    expect(on.stderr).toBe('');
    expect(on.stdout).toMatch(/^emergency: on \(the running kiosk, pid \d+, follows within a second\)/);
    await waitFor(() => (kiosk.logs.some((l) => l.msg === 'emergency release active: gate held open') ? true : undefined), 'the kiosk holds the gate open');
    await waitFor(() => (hubAlerts().length === 1 ? true : undefined), 'the hub stores the emergency-open alert', 20_000);
    expect(hubAlerts()).toEqual([{ device_id: DEVICE, kind: 'emergency-open', worker_id: '', reasons: 'EMERGENCY_OPEN' }]);

    expect(safegate(['gpio', 'set', 'emergency', 'off', '--config', rig.config]).status).toBe(0);
    await waitFor(() => (hubAlerts().length === 2 ? true : undefined), 'the hub stores the emergency-cleared alert', 20_000);
    expect(hubAlerts()[1]).toEqual({ device_id: DEVICE, kind: 'emergency-cleared', worker_id: '', reasons: 'EMERGENCY_CLEARED' });
    await waitFor(() => (hubInputEvents().length === 2 ? true : undefined), 'both events reach the hub in a batch', 20_000);
    expect(hubInputEvents()).toEqual([
      { reasons: 'EMERGENCY_OPEN', decision: 'allow', worker_id: null },
      { reasons: 'EMERGENCY_CLEARED', decision: 'deny', worker_id: null },
    ]);
    // Acknowledged: nothing left in the kiosk's alert outbox.
    await waitFor(() => (rows<{ n: number }>(kioskDb, 'SELECT count(*) AS n FROM alerts WHERE sent_at IS NULL')[0]?.n === 0 ? true : undefined), 'alerts acknowledged', 10_000);

    // A name the kiosk has no input for, and a kiosk without that input, are refused with a reason.
    const bad = safegate(['gpio', 'set', 'passage', 'on', '--config', rig.config]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/no gate.inputs.passage/);
  }, 90_000);
});
