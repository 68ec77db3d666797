import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { EnrolmentBook } from '../../../sync/hub/fleet/enrolment-book.js';
import type { FleetDevice } from '../../../sync/hub/fleet/fleet-devices.js';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { PROTOCOL_VERSION, type Heartbeat } from '../../../sync/protocol.js';
import { SqliteHubStore, type HubStore } from '../../../sync/hub/store.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

const DAY_MS = 86_400_000;

function heartbeat(atMs: number, fleet: Heartbeat['fleet']): Heartbeat {
  return { v: PROTOCOL_VERSION, atMs, software: '1.4.2', outboxDepth: 7, oldestUnsyncedAgeS: 12, scanner: 'ready', gpio: 'real', clockOffsetMs: 40, rosterAgeS: 300, policyVersion: 3, heldEvents: 0, disk: null, fleet };
}

/**
 * `safegate hub devices` (the compiled build) over a real hub directory and store: every device the
 * hub knows, enrolled or only heard from, with its last heartbeat's figures; silent ones marked by
 * the settings' threshold or --silent-after; on SQLite and PostgreSQL.
 */
describe.each(directoryBackends)('hub devices command on $name', (backend) => {
  const dir = tempDir('safegate-hubdevices-');
  const config = join(dir.path, 'hub.yaml');
  let env: NodeJS.ProcessEnv = {};
  const now = Date.now();
  const run = (...args: string[]) => safegate(['hub', 'devices', ...args, '--config', config], { env });
  const devicesOf = (stdout: string) => new Map(stdout.trim().split('\n').map((l) => JSON.parse(l) as FleetDevice).map((d) => [d.deviceId, d]));

  beforeAll(async () => {
    const target = await backend.target();
    const where = hubDirectoryAt(target);
    env = where.env;
    const directory = await HubDirectory.open(target);
    const store: HubStore = target.kind === 'postgres' ? await PgHubStore.open(target.url) : new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      await directory.addOrganisation({ id: 'org-a', name: 'Công ty A', kind: 'company' });
      await directory.addSite({ id: 'site-a', orgId: 'org-a' });
      await directory.assignSite('site-a', ['kiosk-a']);
      const book = new EnrolmentBook(directory.sql);
      await book.recordCertificate('kiosk-a', { serialHex: '0a1b', notAfterMs: now + 100 * DAY_MS, fingerprint: 'aa'.repeat(32) }, new Uint8Array([1]), now - 30 * DAY_MS);
      await book.recordCertificate('kiosk-b', { serialHex: '0c2d', notAfterMs: now + 200 * DAY_MS, fingerprint: 'bb'.repeat(32) }, new Uint8Array([2]), now - 20 * DAY_MS);
      await book.markRevoked('kiosk-b', now - DAY_MS);
      // kiosk-a reports its fleet block (a refused remote settings document among it); kiosk-c, never
      // enrolled here (provisioned by hand), was last heard 20 minutes ago.
      await store.recordHeartbeat('kiosk-a', heartbeat(now - 1_000, { enrolled: true, certDaysLeft: 99.5, settingsVersion: 3, settingsRefused: { version: 4, problems: ['gate.relay.pulseMs: too long'] } }), now - 1_000);
      await store.recordHeartbeat('kiosk-c', heartbeat(now - 20 * 60_000, null), now - 20 * 60_000);
    } finally {
      await store.close();
      await directory.close();
    }
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: where.path }, store: { path: 'hub.db' } }));
  }, 60_000);
  afterAll(() => dir.remove());

  it('lists every device the hub knows as JSON, with its heartbeat figures, certificate, settings and revocation; silent after the default 10 minutes', () => {
    const r = run('--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const devices = devicesOf(r.stdout);
    expect([...devices.keys()]).toEqual(['kiosk-a', 'kiosk-b', 'kiosk-c']);
    expect(devices.get('kiosk-a')).toMatchObject({
      siteId: 'site-a',
      enrolled: true,
      revoked: false,
      version: '1.4.2',
      outboxDepth: 7,
      rosterAgeS: 300,
      certDaysLeft: 99.5,
      settingsVersion: 3,
      settingsRefused: { version: 4, problems: ['gate.relay.pulseMs: too long'] },
      silent: false,
      lastSeenMs: now - 1_000,
    });
    // Never heard from: silent; its certificate's days from what the hub issued.
    expect(devices.get('kiosk-b')).toMatchObject({ enrolled: true, revoked: true, revokedAtMs: now - DAY_MS, version: null, lastSeenMs: null, silent: true });
    expect(devices.get('kiosk-b')!.certDaysLeft).toBeGreaterThan(199);
    expect(devices.get('kiosk-b')!.certDaysLeft).toBeLessThanOrEqual(200);
    expect(devices.get('kiosk-c')).toMatchObject({ enrolled: false, revoked: false, siteId: null, certDaysLeft: null, settingsVersion: null, silent: true });
  });

  it('takes the silence threshold from --silent-after, and refuses one that is not a duration', () => {
    expect(devicesOf(run('--json', '--silent-after', '30m').stdout).get('kiosk-c')?.silent).toBe(false);
    expect(devicesOf(run('--json', '--silent-after', '5m').stdout).get('kiosk-a')?.silent).toBe(false);
    expect(devicesOf(run('--json', '--silent-after', '19m').stdout).get('kiosk-c')?.silent).toBe(true);
    const bad = run('--silent-after', 'soon');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--silent-after: a duration such as 90s, 10m, 2h or 1d/);
  });

  it('prints one line per device for people, revoked and silent ones marked', () => {
    const r = run();
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^kiosk-a {2}site-a\/- {2}1\.4\.2 {2}heard \d+s ago {2}outbox 7 {2}roster 5m {2}cert 99\.5d {2}settings v3 \(REFUSED v4\) {2}enrolled$/);
    expect(lines[1]).toMatch(/^kiosk-b .* never heard .* REVOKED {2}SILENT$/);
    expect(lines[2]).toMatch(/^kiosk-c .* not enrolled {2}SILENT$/);
  });
});
