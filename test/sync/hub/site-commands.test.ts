import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import type { HubSqlTarget } from '../../../sync/hub/hub-sql.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

/** `safegate hub device assign|unassign|list`: the hub's site map, as an operator sets it. */
describe.each(directoryBackends)('hub device commands on $name', (backend) => {
  const dir = tempDir('safegate-hubsites-');
  const config = join(dir.path, 'hub.yaml');
  let target: HubSqlTarget;
  let env: NodeJS.ProcessEnv = {};
  beforeAll(async () => {
    target = await backend.target();
    const at = hubDirectoryAt(target);
    env = at.env;
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path } }));
  });
  afterAll(() => dir.remove());

  it('puts devices in a site, moves one, lists them, and takes one out', async () => {
    const assigned = safegate(['hub', 'device', 'assign', '--site', 'site-1', 'kiosk-a', 'kiosk-b', '--config', config], { env });
    expect(assigned.stderr).toBe('');
    expect(assigned.stdout).toMatch(/2 device\(s\) moved into site site-1 \(2 in all\)/);
    expect(safegate(['hub', 'device', 'assign', '--site', 'site-2', 'kiosk-b', '--config', config], { env }).status).toBe(0);
    expect(safegate(['hub', 'device', 'list', '--config', config], { env }).stdout).toBe('site-1\tkiosk-a\nsite-2\tkiosk-b\n');
    expect(safegate(['hub', 'device', 'unassign', 'kiosk-b', '--config', config], { env }).stdout).toMatch(/^1 device/);
    const directory = await HubDirectory.open(target);
    try {
      expect([...(await directory.sites())]).toEqual([['site-1', ['kiosk-a']]]);
    } finally {
      await directory.close();
    }
  });

  it('refuses a bad site or device id with the rule, changing nothing', () => {
    const badDevice = safegate(['hub', 'device', 'assign', '--site', 'site-1', 'Kiosk_A', '--config', config], { env });
    expect(badDevice.status).toBe(2);
    expect(badDevice.stderr).toMatch(/device id "Kiosk_A": lower-case letters/);
    const badSite = safegate(['hub', 'device', 'assign', '--site', 'site one', 'kiosk-c', '--config', config], { env });
    expect(badSite.status).toBe(2);
    expect(badSite.stderr).toMatch(/site id "site one"/);
    expect(safegate(['hub', 'device', 'list', '--config', config], { env }).stdout).toBe('site-1\tkiosk-a\n');
  });
}, 120_000);
