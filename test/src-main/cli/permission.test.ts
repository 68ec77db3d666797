import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SAFEGATE_BIN, safegate } from '../../helpers/cli.js';
import { hubKeys, tempDir, writeKioskConfig } from '../../helpers/fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

// The packaged service's data is the safegate user's (a 0700 folder): an IT person who runs a command
// as themselves must be told they may not read it, not that there is no kiosk.
describe.skipIf(process.getuid?.() !== 0)('a user who may not read the kiosk database', () => {
  it('status and log say permission denied and how to run them, not "no kiosk database yet"', (ctx) => {
    // The checkout itself must be readable by that user (a clone under /root is not): else nothing to prove here.
    const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(join(SAFEGATE_BIN, '..', '..', 'build'))})`], { uid: 65534, gid: 65534, timeout: 20_000 });
    if (probe.status !== 0) ctx.skip();
    const dir = tempDir('safegate-perm-');
    cleanups.push(() => dir.remove());
    chmodSync(dir.path, 0o755);
    hubKeys(dir.path);
    const config = writeKioskConfig(dir.path, { scannerSource: 'none', store: { path: 'data/safegate.db' } });
    chmodSync(config, 0o644);
    const roster = join(dir.path, 'roster.csv');
    writeFileSync(roster, 'worker_id,display_name,company,team\nW1,A,C,T\n');
    expect(safegate(['roster', 'import', roster, '--config', config]).status).toBe(0);
    for (const command of ['status', 'log']) {
      const r = spawnSync(process.execPath, [SAFEGATE_BIN, command, '--config', config], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`safegate: cannot read ${join(dir.path, 'data', 'safegate.db')} (permission denied): run this as the kiosk's user, e.g. \`sudo -u safegate safegate ...\`\n`);
    }
  }, 60_000);
});
