import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CertificateRenewer, enrolDevice, loadSettings, renewalDueAtMs } from '../../../../src-main/core/enrolment/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { LocalEnrolHub } from './est-local-hub.js';

const DAY = 86_400_000;

describe('renewalDueAtMs', () => {
  it('a third of the lifetime before expiry by default, renewBeforeDays when set, each device on its own day within a few days', () => {
    const cert = { notBeforeMs: 0, notAfterMs: 365 * DAY };
    const days = ['kiosk-a-0001', 'kiosk-a-0002', 'kiosk-a-0003', 'kiosk-b-0001', 'bus-0042'].map((id) => renewalDueAtMs(cert, id) / DAY);
    for (const d of days) expect(Math.abs(d - (365 - 365 / 3))).toBeLessThanOrEqual(3);
    expect(new Set(days.map((d) => d.toFixed(3))).size).toBe(days.length);
    expect(renewalDueAtMs(cert, 'kiosk-a-0001')).toBe(renewalDueAtMs(cert, 'kiosk-a-0001'));
    expect(Math.abs(renewalDueAtMs(cert, 'kiosk-a-0001', 30) / DAY - 335)).toBeLessThanOrEqual(3);
  });
});

describe('CertificateRenewer against a local HTTPS hub (simplereenroll with the current certificate)', () => {
  const root = tempDir('safegate-renew-');
  let hub: LocalEnrolHub;
  beforeAll(async () => {
    hub = await new LocalEnrolHub(join(root.path, 'hub')).start();
  });
  afterAll(async () => {
    await hub.stop();
    root.remove();
  });
  const enrolled = async (deviceId: string) => {
    const d = join(root.path, deviceId);
    mkdirSync(d, { recursive: true });
    const config = join(d, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    expect(await enrolDevice(hub.newCode(deviceId), { settingsFile: config })).toMatchObject({ ok: true });
    return { config, dir: join(d, 'enrolment') };
  };

  it('not due: nothing asked; due (25 of 30 days gone): a new key and certificate replace the pair, then a restart is asked for', async () => {
    const k = await enrolled('kiosk-r-0001');
    const restarts: string[] = [];
    const before = { key: readFileSync(join(k.dir, 'device.key'), 'utf8'), cert: readFileSync(join(k.dir, 'device.crt'), 'utf8') };
    const early = new CertificateRenewer({ settingsFile: k.config, requestRestart: (r) => restarts.push(r) });
    expect(await early.check()).toMatchObject({ kind: 'not-due' });
    expect(hub.renewals).toBe(0);

    const late = new CertificateRenewer({ settingsFile: k.config, requestRestart: (r) => restarts.push(r), now: () => Date.now() + 25 * DAY });
    const outcome = await late.check();
    expect(outcome).toMatchObject({ kind: 'renewed' });
    expect(restarts).toEqual(['device certificate renewed']);
    const after = { key: readFileSync(join(k.dir, 'device.key'), 'utf8'), cert: readFileSync(join(k.dir, 'device.crt'), 'utf8') };
    expect(after.key).not.toBe(before.key);
    const [oldCert, newCert] = [new X509Certificate(before.cert), new X509Certificate(after.cert)];
    expect(newCert.serialNumber).not.toBe(oldCert.serialNumber);
    expect(newCert.subject).toBe('CN=kiosk-r-0001');
    expect(newCert.publicKey.export({ format: 'pem', type: 'spki' })).not.toBe(oldCert.publicKey.export({ format: 'pem', type: 'spki' }));
    expect(existsSync(join(k.dir, 'device.key.next')) || existsSync(join(k.dir, 'device.crt.next'))).toBe(false);
    // Still enrolled as the same device, with the new pair.
    const loaded = loadSettings(k.config);
    expect(loaded.settings.device.id).toBe('kiosk-r-0001');
    expect(JSON.parse(readFileSync(join(k.dir, 'state.json'), 'utf8')).certNotAfterMs).toBe(Date.parse(newCert.validTo));
  });

  it('a revoked device is refused (DEVICE_REVOKED): the pair stays, no restart', async () => {
    const k = await enrolled('kiosk-r-0002');
    hub.revoked.add('kiosk-r-0002');
    const cert = readFileSync(join(k.dir, 'device.crt'), 'utf8');
    const restarts: string[] = [];
    const r = new CertificateRenewer({ settingsFile: k.config, requestRestart: (x) => restarts.push(x), now: () => Date.now() + 29 * DAY });
    expect(await r.check()).toMatchObject({ kind: 'failed', reason: 'DEVICE_REVOKED' });
    expect(readFileSync(join(k.dir, 'device.crt'), 'utf8')).toBe(cert);
    expect(restarts).toEqual([]);
    expect(loadSettings(k.config).settings.device.id).toBe('kiosk-r-0002');
  });

  it('start() checks at once and, when due, renews by itself; stop() ends the timer', async () => {
    const k = await enrolled('kiosk-r-0003');
    let resolveRestart!: (reason: string) => void;
    const restarted = new Promise<string>((r) => (resolveRestart = r));
    const renewer = new CertificateRenewer({ settingsFile: k.config, requestRestart: (x) => resolveRestart(x), now: () => Date.now() + 28 * DAY });
    renewer.start();
    try {
      expect(await restarted).toBe('device certificate renewed');
    } finally {
      renewer.stop();
    }
  });

  it('a renewal cut off between the key and the certificate is finished at the next load', async () => {
    const k = await enrolled('kiosk-r-0004');
    const restarts: string[] = [];
    const r = new CertificateRenewer({ settingsFile: k.config, requestRestart: (x) => restarts.push(x), now: () => Date.now() + 25 * DAY });
    const cert = readFileSync(join(k.dir, 'device.crt'), 'utf8');
    const key = readFileSync(join(k.dir, 'device.key'), 'utf8');
    expect(await r.check()).toMatchObject({ kind: 'renewed' });
    const renewed = { cert: readFileSync(join(k.dir, 'device.crt'), 'utf8'), key: readFileSync(join(k.dir, 'device.key'), 'utf8') };
    // The state a power cut between the two renames leaves: the new key in place, the new certificate still beside the old one.
    writeFileSync(join(k.dir, 'device.crt'), cert);
    writeFileSync(join(k.dir, 'device.crt.next'), renewed.cert, { mode: 0o600 });
    expect(key).not.toBe(renewed.key);
    expect(loadSettings(k.config).settings.device.id).toBe('kiosk-r-0004');
    expect(readFileSync(join(k.dir, 'device.crt'), 'utf8')).toBe(renewed.cert);
    expect(existsSync(join(k.dir, 'device.crt.next'))).toBe(false);
  });
});
