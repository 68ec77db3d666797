import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kioskProcessFor, runConfigArg } from '../../../../src-main/core/selftest/running-kiosk.js';
import { commandChecks, runSelftest } from '../../../../src-main/core/selftest/index.js';
import type { GpioPorts } from '../../../../src-main/core/selftest/gpio.js';
import { loadSettings, type LoadedSettings } from '../../../../src-main/core/config.js';
import { runtimeFiles, writeRuntimeStatus, type RuntimeStatus } from '../../../../src-main/core/runtime.js';
import { SimulatedOutput } from '../../../../device/gpio/simulated-output.js';
import type { Transition } from '../../../../device/gpio/output.js';
import { hubKeys, tempDir, waitFor, writeKioskConfig } from '../../../helpers/fixtures.js';

/** A process whose command line is the installed kiosk's (`node …/safegate.js run --config F`); it only waits. */
function fakeKiosk(dir: string, args: string[]): ChildProcess {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'safegate.js'), 'setTimeout(() => {}, 60_000);\n');
  return spawn(process.execPath, [join(bin, 'safegate.js'), ...args], { cwd: dir, stdio: 'ignore' });
}

async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

/** GPIO ports that record every line claimed and every level driven (no sysfs GPIO here). */
function recordingGpio(): { ports: GpioPorts; claimed: string[]; transitions: Transition[] } {
  const claimed: string[] = [];
  const transitions: Transition[] = [];
  return {
    claimed,
    transitions,
    ports: {
      accessible: () => true,
      findChip: () => ({ name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 }),
      claim: (name, _line, activeLow) => (claimed.push(name), new SimulatedOutput(name, activeLow, (t) => transitions.push(t))),
    },
  };
}

describe('a kiosk found by its command line (every mode: running, waiting for its enrolment code, another user\'s)', () => {
  it('reads the --config of `safegate run` only (not hub run, not selftest), in both spellings', () => {
    expect(runConfigArg(['/usr/bin/node', '--max-semi-space-size=2', '/usr/lib/safegate/bin/safegate.js', 'run', '--config', '/etc/safegate/kiosk.yaml', '--screens', 'address', ''])).toBe('/etc/safegate/kiosk.yaml');
    expect(runConfigArg(['node', 'bin/safegate.js', 'run', '--headless', '--config=k.yaml'])).toBe('k.yaml');
    expect(runConfigArg(['safegate', 'run'])).toBeNull();
    expect(runConfigArg(['node', '/usr/lib/safegate/bin/safegate.js', 'hub', 'run', '--config', '/etc/safegate/hub.yaml'])).toBeUndefined();
    expect(runConfigArg(['node', '/usr/lib/safegate/bin/safegate.js', 'selftest', '--config', '/etc/safegate/kiosk.yaml'])).toBeUndefined();
    expect(runConfigArg(['node', 'vitest', 'run', '--config', 'x'])).toBeUndefined();
  });

  it('finds a real `safegate run --config` process on the same file (relative to its working folder), not one on another file, none once it ends', async () => {
    const dir = tempDir('safegate-selftest-proc-');
    const other = tempDir('safegate-selftest-proc-');
    try {
      const config = writeKioskConfig(dir.path);
      const otherConfig = writeKioskConfig(other.path);
      expect(kioskProcessFor(config)).toBeNull();
      const child = fakeKiosk(dir.path, ['run', '--config', 'kiosk.yaml']);
      try {
        await waitFor(() => (kioskProcessFor(config) === child.pid ? true : undefined), 'the process seen', 5_000);
        expect(kioskProcessFor(otherConfig)).toBeNull();
      } finally {
        await end(child);
      }
      expect(kioskProcessFor(config)).toBeNull();
    } finally {
      dir.remove();
      other.remove();
    }
  });

  it('beside a kiosk that publishes no status and holds no store (waiting for its enrolment code): the GPIO lines are never claimed nor the relay pulsed, the scanner port never opened', async () => {
    const dir = tempDir('safegate-selftest-proc-');
    const child = fakeKiosk(dir.path, ['run', '--config', join(dir.path, 'kiosk.yaml'), '--headless']);
    try {
      hubKeys(dir.path);
      const config = writeKioskConfig(dir.path, { scannerPath: '/dev/safegate-test-scanner' });
      const file = loadSettings(config);
      const loaded: LoadedSettings = { ...file, settings: { ...file.settings, gate: { ...file.settings.gate, gpio: 'real' } } };
      const gpio = recordingGpio();
      let opened = false;
      const checks = () =>
        commandChecks({
          loadSettings: () => ({ kind: 'ready' as const, loaded }),
          brokerProbe: async () => ({ ok: true as const }),
          scan: null,
          clickRelay: true,
          gpio: gpio.ports,
          openScanner: async () => ((opened = true), Promise.reject(new Error('opened'))),
          env: { SAFEGATE_RUNTIME_DIR: join(dir.path, 'run') },
        });
      await waitFor(() => (kioskProcessFor(config) === child.pid ? true : undefined), 'the process seen', 5_000);
      const by = Object.fromEntries((await runSelftest(checks())).map((r) => [r.check, r]));
      expect(by.gpio).toMatchObject({ status: 'warn', detail: expect.stringContaining(`held by the running kiosk (pid ${child.pid}), not taken`) });
      expect(by.scanner).toMatchObject({ status: 'warn', detail: expect.stringContaining(`held by the running kiosk (pid ${child.pid}), not taken`) });
      expect(gpio.claimed).toEqual([]);
      expect(opened).toBe(false);

      // Once it is gone, the same self-test takes the lines and (asked to) clicks the relay: the test above could fail.
      await end(child);
      const alone = Object.fromEntries((await runSelftest(checks())).map((r) => [r.check, r]));
      expect(alone.gpio).toMatchObject({ status: 'pass', detail: expect.stringContaining('relay pulsed') });
      expect(gpio.claimed).toEqual(['relay', 'greenLight', 'redLight', 'buzzer']);
      expect(gpio.transitions.some((t) => t.output === 'relay' && t.active)).toBe(true);
      expect(opened).toBe(true);
    } finally {
      await end(child);
      dir.remove();
    }
  });

  it('a status file left by a kiosk that died, whose pid now runs another program, is not trusted: the lines are the self-test\'s to check', async () => {
    const dir = tempDir('safegate-selftest-proc-');
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const config = writeKioskConfig(dir.path);
      const file = loadSettings(config);
      const loaded: LoadedSettings = { ...file, settings: { ...file.settings, gate: { ...file.settings.gate, gpio: 'real' } } };
      const env = { SAFEGATE_RUNTIME_DIR: join(dir.path, 'run') };
      writeRuntimeStatus(runtimeFiles(loaded.paths.store, env), { pid: other.pid!, atMs: Date.now(), link: 'standalone', heldEvents: 0, disk: null, scanner: null, gpio: 'real', linkState: null, certDaysLeft: null });
      const gpio = recordingGpio();
      const by = Object.fromEntries(
        (await runSelftest(commandChecks({ loadSettings: () => ({ kind: 'ready' as const, loaded }), brokerProbe: async () => ({ ok: true as const }), scan: null, gpio: gpio.ports, env }))).map((r) => [r.check, r]),
      );
      expect(by.gpio).toMatchObject({ status: 'pass', detail: expect.stringContaining('relay not pulsed') });
      expect(gpio.claimed).toEqual(['relay', 'greenLight', 'redLight', 'buzzer']);
      expect(gpio.transitions.filter((t) => t.active)).toEqual([]);
    } finally {
      await end(other);
      dir.remove();
    }
  });

  it('a running kiosk\'s published state decides: scanner disconnected fails, real GPIO passes untouched, a broker that refuses its certificate fails', async () => {
    const dir = tempDir('safegate-selftest-proc-');
    const child = fakeKiosk(dir.path, ['run', '--config', join(dir.path, 'kiosk.yaml')]);
    try {
      hubKeys(dir.path);
      const config = writeKioskConfig(dir.path, { scannerPath: '/dev/safegate-test-scanner', hub: { broker: { url: 'mqtts://127.0.0.1:9', cert: 'c.crt', key: 'c.key' } } });
      const loaded = loadSettings(config);
      const env = { SAFEGATE_RUNTIME_DIR: join(dir.path, 'run') };
      const status: RuntimeStatus = { pid: child.pid!, atMs: Date.now(), link: 'offline', heldEvents: 0, disk: null, scanner: 'disconnected', gpio: 'real', linkState: 'auth-failed', certDaysLeft: 200 };
      writeRuntimeStatus(runtimeFiles(loaded.paths.store, env), status);
      const gpio = recordingGpio();
      let probed = false;
      const by = Object.fromEntries(
        (
          await runSelftest(
            commandChecks({
              loadSettings: () => ({ kind: 'ready' as const, loaded }),
              brokerProbe: async () => ((probed = true), { ok: true as const }),
              scan: null,
              clickRelay: true,
              gpio: gpio.ports,
              env,
            }),
          )
        ).map((r) => [r.check, r]),
      );
      expect(by.scanner).toMatchObject({ status: 'fail', detail: `/dev/safegate-test-scanner: the running kiosk (pid ${child.pid}) says disconnected`, action: expect.stringContaining('plug the scanner in') });
      expect(by.gpio).toMatchObject({ status: 'pass', detail: expect.stringContaining(`lines held by the running kiosk (pid ${child.pid}), real GPIO`) });
      expect(by.broker).toMatchObject({ status: 'fail', detail: `mqtts://127.0.0.1:9: the broker refuses the running kiosk (pid ${child.pid})'s certificate`, action: expect.stringContaining('enrol again') });
      expect(gpio.claimed).toEqual([]);
      expect(probed).toBe(false);
    } finally {
      await end(child);
      dir.remove();
    }
  });
});
