import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processHoldingFile } from '../../../../src-main/core/selftest/holder.js';
import { commandChecks, runSelftest } from '../../../../src-main/core/selftest/index.js';
import { loadSettings } from '../../../../src-main/core/config.js';
import { hubKeys, tempDir, writeKioskConfig } from '../../../helpers/fixtures.js';

/**
 * A kiosk running as another user (the packaged service user) leaves no runtime file this user can
 * read; the self-test still finds it by the store it holds open, and leaves its scanner, GPIO lines
 * and broker session alone.
 */
describe('a kiosk found by the store it holds open', () => {
  it('finds the process that has the file open (a real child process), and none once it is gone', async () => {
    const dir = tempDir('safegate-selftest-holder-');
    try {
      const file = join(dir.path, 'safegate.db');
      writeFileSync(file, '');
      expect(processHoldingFile(file)).toBeNull();
      const fd = openSync(file, 'r');
      const child = spawn('sleep', ['30'], { stdio: [fd, 'ignore', 'ignore'] });
      closeSync(fd);
      try {
        expect(processHoldingFile(file)).toBe(child.pid);
      } finally {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      expect(processHoldingFile(file)).toBeNull();
      expect(processHoldingFile(join(dir.path, 'missing.db'))).toBeNull();
    } finally {
      dir.remove();
    }
  });

  it('the scanner and GPIO checks say "held by the running kiosk" (a warn: its state is not known here), the broker is not probed', async () => {
    const dir = tempDir('safegate-selftest-holder-');
    try {
      hubKeys(dir.path);
      const config = writeKioskConfig(dir.path, { scannerPath: '/dev/safegate-test-scanner', hub: { broker: { url: 'mqtts://127.0.0.1:9', cert: 'c.crt', key: 'c.key' } } });
      const loaded = loadSettings(config);
      let probed = false;
      const checks = commandChecks({
        loadSettings: () => ({ kind: 'ready' as const, loaded }),
        brokerProbe: async () => ((probed = true), { ok: true as const }),
        scan: { timeoutMs: 1_000, prompt: () => {} },
        env: { SAFEGATE_RUNTIME_DIR: join(dir.path, 'run') },
        holderOf: (file) => (file === loaded.paths.store ? 4321 : null),
      });
      const by = Object.fromEntries((await runSelftest(checks)).map((r) => [r.check, r]));
      expect(by.scanner).toMatchObject({ status: 'warn', detail: expect.stringContaining('held by the running kiosk (pid 4321), not taken') });
      expect(by.gpio).toMatchObject({ status: 'warn', detail: expect.stringContaining('held by the running kiosk (pid 4321), not taken') });
      expect(by.broker).toMatchObject({ status: 'warn', detail: expect.stringContaining('the link of the running kiosk (pid 4321) is not known here') });
      expect(probed).toBe(false);
    } finally {
      dir.remove();
    }
  });
});
