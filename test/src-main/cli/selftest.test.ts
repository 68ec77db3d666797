import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SELFTEST_CHECKS } from '../../../base/common/selftest.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { readRuntimeStatus, runtimeFiles } from '../../../src-main/core/runtime.js';
import { SAFEGATE_BIN, safegate, safegateProcess } from '../../helpers/cli.js';
import { hubKeys, tempDir, waitFor, writeKioskConfig } from '../../helpers/fixtures.js';
import { TestBroker, TestCertificates } from '../../helpers/mosquitto.js';
import { PtyPair } from '../../helpers/pty.js';

const DEVICE = 'test-kiosk-01';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `safegate selftest`, the compiled command as IT staff run it, against real peers: a socat pty as the
 * scanner (the test scans when the command asks), the real Mosquitto with the shipped configuration
 * (this device's certificate, and one from another CA), a real kiosk process holding the port.
 */
describe('safegate selftest (the command)', () => {
  const dir = tempDir('safegate-selftest-cli-');
  const pty = new PtyPair(dir.path);
  const certs = new TestCertificates(join(dir.path, 'pki'));
  const rogue = new TestCertificates(join(dir.path, 'rogue-pki'));
  const broker = new TestBroker(dir.path, certs);
  const env = { SAFEGATE_RUNTIME_DIR: join(dir.path, 'run') };
  let config: string;
  let rogueConfig: string;

  beforeAll(async () => {
    certs.issue(DEVICE);
    rogue.issue(DEVICE);
    await pty.plug();
    await broker.start();
    hubKeys(dir.path);
    const brokerWith = (pki: TestCertificates) => ({ url: broker.url, ca: join(certs.dir, 'ca.crt'), cert: join(pki.dir, `${DEVICE}.crt`), key: join(pki.dir, `${DEVICE}.key`) });
    config = writeKioskConfig(dir.path, { scannerPath: pty.devicePath, hub: { broker: brokerWith(certs) } });
    const rogueDir = join(dir.path, 'rogue');
    const { mkdirSync, symlinkSync } = await import('node:fs');
    mkdirSync(rogueDir);
    symlinkSync(join(dir.path, 'keys'), join(rogueDir, 'keys'));
    rogueConfig = writeKioskConfig(rogueDir, { scannerPath: pty.devicePath, hub: { broker: brokerWith(rogue) } });
  }, 30_000);

  afterAll(async () => {
    await broker.stop();
    await pty.unplug();
    dir.remove();
  });

  /** Runs the command to its end; `onOutput` sees stdout and stderr as they come (to scan when asked). */
  async function selftest(args: string[], onOutput: (stdout: string, stderr: string) => void = () => {}): Promise<Run> {
    const child = spawn(SAFEGATE_BIN, ['selftest', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const run: Run = { status: null, stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (c: string) => ((run.stdout += c), onOutput(run.stdout, run.stderr)));
    child.stderr.setEncoding('utf8').on('data', (c: string) => ((run.stderr += c), onOutput(run.stdout, run.stderr)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    run.status = code;
    return run;
  }

  const jsonLines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

  it('--json: one object per check with exactly check, status, detail (what to do folded into detail); the scan asked for is read through the pty; the broker takes this device\'s certificate', async () => {
    let scanned = false;
    const run = await selftest(['--config', config, '--json', '--scan-timeout', '15s'], (_out, err) => {
      if (!scanned && err.includes('scan any code now')) {
        scanned = true;
        void pty.write('SG1:NOT-SHOWN-ANYWHERE\r');
      }
    });
    expect(scanned).toBe(true);
    const lines = jsonLines(run.stdout);
    expect(lines.map((l) => l.check)).toEqual([...SELFTEST_CHECKS]);
    for (const l of lines) {
      expect(Object.keys(l).sort()).toEqual(['check', 'detail', 'status']);
      expect(['pass', 'warn', 'fail']).toContain(l.status);
      expect(typeof l.detail).toBe('string');
    }
    const by = Object.fromEntries(lines.map((l) => [l.check, l]));
    expect(by.scanner).toEqual({ check: 'scanner', status: 'pass', detail: `${pty.devicePath}: read a code of 22 characters` });
    expect(run.stdout + run.stderr).not.toContain('NOT-SHOWN');
    expect(by.broker).toMatchObject({ status: 'pass', detail: `${broker.url}: connected as ${DEVICE} with this device's certificate` });
    expect(by['hub-keys']!.status).toBe('pass');
    // The test CA's certificates last two days.
    expect(by.certificate).toMatchObject({ status: 'warn', detail: expect.stringMatching(/expires in [12](\.\d)? days.* — what to do: \S/) });
    expect(by.database).toMatchObject({ status: 'warn', detail: expect.stringContaining('not created yet') });
    // Nothing failed: exit status 0.
    expect(lines.some((l) => l.status === 'fail')).toBe(false);
    expect(run.status).toBe(0);
  }, 60_000);

  it('a certificate from another CA: the broker check fails, one line per check, exit status 1; --no-scan does not ask', async () => {
    const run = await selftest(['--config', rogueConfig, '--no-scan']);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(SELFTEST_CHECKS.length);
    for (const [i, l] of lines.entries()) expect(l).toMatch(new RegExp(`^(PASS|WARN|FAIL)  ${SELFTEST_CHECKS[i]} *  \\S`));
    expect(run.stdout).not.toContain('scan any code');
    expect(lines.find((l) => / broker /.test(l))).toMatch(/^FAIL {2}broker +.*the broker refused this device .* — the certificate is wrong, expired or revoked/);
    expect(lines.find((l) => / scanner /.test(l))).toMatch(/^WARN {2}scanner +.*reading not tried/);
    expect(run.status).toBe(1);
  }, 60_000);

  it('bad usage exits 2 with one line; a settings file that does not load fails the settings check and exits 1', () => {
    const bad = safegate(['selftest', '--config', config, '--scan-timeout', 'forever'], { env });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^safegate: --scan-timeout: expected a time from 1s to 10m/);
    const missing = safegate(['selftest', '--config', join(dir.path, 'missing.yaml'), '--json'], { env });
    expect(missing.status).toBe(1);
    const first = JSON.parse(missing.stdout.split('\n')[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ check: 'settings', status: 'fail', detail: expect.stringContaining('cannot read the file') });
  }, 60_000);

  it('a kiosk running on these settings keeps its scanner port, GPIO lines and broker session: what it knows is reported (an unplugged scanner fails), nothing is fought for', async () => {
    const kiosk = safegateProcess(['run', '--config', config, '--headless'], undefined, { env });
    try {
      await waitFor(() => (kiosk.logs.some((l) => l.msg === 'scanner connected') ? true : undefined), 'the kiosk ready', 20_000);
      const pid = kiosk.child.pid!;
      await waitFor(() => (safegate(['status', '--config', config], { env }).stdout.includes('hub link: online') ? true : undefined), 'the kiosk online', 20_000);
      const run = await selftest(['--config', config, '--json', '--scan-timeout', '5s']);
      const by = Object.fromEntries(jsonLines(run.stdout).map((l) => [l.check, l]));
      expect(by.scanner).toMatchObject({ status: 'pass', detail: `${pty.devicePath}: held by the running kiosk (pid ${pid}), connected; scan a code at the gate to see it work` });
      // The test kiosk's outputs are simulated: the running kiosk says so (not a pass for lines nobody tested).
      expect(by.gpio).toMatchObject({ check: 'gpio', status: 'warn', detail: expect.stringMatching(/^simulated GPIO: no relay here — what to do: /) });
      expect(by.broker).toMatchObject({ status: 'pass', detail: `${broker.url}: the running kiosk (pid ${pid}) is connected` });
      expect(by.database).toMatchObject({ status: 'pass', detail: expect.stringContaining('quick_check ok') });
      expect(run.stderr).not.toContain('scan any code');
      // The kiosk was never kicked off the broker by a second connection as itself.
      expect(kiosk.logs.filter((l) => /offline|connection lost|closed/i.test(String(l.msg)))).toEqual([]);

      // The scanner unplugged: the running kiosk knows, and so does the self-test (a fail, exit status 1).
      await pty.unplug();
      await waitFor(() => (kiosk.logs.some((l) => l.msg === 'scanner state' && l.state === 'disconnected') ? true : undefined), 'the kiosk sees the scanner gone', 20_000);
      const files = runtimeFiles(loadSettings(config).paths.store, env);
      await waitFor(() => (readRuntimeStatus(files)?.scanner === 'disconnected' ? true : undefined), 'its runtime status says so', 10_000);
      const unplugged = await selftest(['--config', config, '--json', '--no-scan']);
      const after = Object.fromEntries(jsonLines(unplugged.stdout).map((l) => [l.check, l]));
      expect(after.scanner).toMatchObject({ status: 'fail', detail: expect.stringContaining(`the running kiosk (pid ${pid}) says disconnected — what to do: plug the scanner in`) });
      expect(unplugged.status).toBe(1);
    } finally {
      kiosk.child.kill('SIGTERM');
      await once(kiosk.child, 'exit');
    }
  }, 90_000);
});
