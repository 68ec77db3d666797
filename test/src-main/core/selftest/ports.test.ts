import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runSelftest, selftestExitCode, fail as failOutcome, pass as passOutcome } from '../../../../src-main/core/selftest/check.js';
import { scannerCheck, type ScanRequest } from '../../../../src-main/core/selftest/scanner.js';
import { gpioCheck, TEST_PULSE_MS, type GpioPorts } from '../../../../src-main/core/selftest/gpio.js';
import { dataAgesCheck } from '../../../../src-main/core/selftest/data-ages.js';
import { commandChecks, runLiveSelftest } from '../../../../src-main/core/selftest/index.js';
import { loadSettings, parseSettings } from '../../../../src-main/core/config.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { DownlinkState } from '../../../../src-main/core/store/downlink-state.js';
import { SimulatedOutput } from '../../../../device/gpio/simulated-output.js';
import type { Transition } from '../../../../device/gpio/output.js';
import { hubKeys, tempDir, writeKioskConfig } from '../../../helpers/fixtures.js';
import { PtyPair } from '../../../helpers/pty.js';
import { SELFTEST_CHECKS } from '../../../../base/common/selftest.js';

const settings = (over: Record<string, unknown> = {}) =>
  parseSettings({ device: { id: 'k-1' }, checkpoint: { id: 'gate-a', name: 'A', kind: 'gate' }, scanner: { source: 'none' }, ...over });

describe('the self-test runner', () => {
  it('keeps the order, turns a throw or an overrun into a fail with the reason, and exits 1 on any fail', async () => {
    const seen: string[] = [];
    const results = await runSelftest(
      [
        { name: 'settings', run: () => passOutcome('fine') },
        {
          name: 'scanner',
          run: () => {
            throw new Error('the port exploded');
          },
        },
        { name: 'gpio', timeoutMs: 100, run: (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve(passOutcome('too late')))) },
        { name: 'camera', run: () => failOutcome('no', 'do this') },
      ],
      (r) => seen.push(r.check),
    );
    expect(seen).toEqual(['settings', 'scanner', 'gpio', 'camera']);
    expect(results[1]).toEqual({ check: 'scanner', status: 'fail', detail: 'the check failed: the port exploded' });
    expect(results[2]).toMatchObject({ check: 'gpio', status: 'fail', detail: 'no answer within 0.1 s' });
    expect(results[3]).toEqual({ check: 'camera', status: 'fail', detail: 'no', action: 'do this' });
    expect(selftestExitCode(results)).toBe(1);
    expect(selftestExitCode(results.slice(0, 1))).toBe(0);
  });
});

describe('the live self-test (supervisor screen)', () => {
  it('one run at a time per kiosk: a second call while one runs gets the same results; the next call runs again', async () => {
    const dir = tempDir('safegate-selftest-live-');
    try {
      const loaded = loadSettings(writeKioskConfig(dir.path));
      let runs = 0;
      const parts = {
        loaded,
        headless: true,
        scannerState: () => undefined,
        gpioMode: 'simulated' as const,
        link: () => 'standalone' as const,
        disk: () => ((runs += 1), { freeBytes: null, reserveBytes: 0, reserveInUse: false, level: 'ok' as const }),
        dataAges: () => ({ rosterCheckedAtMs: null, policyCheckedAtMs: null, maxAgeS: 3600 }),
      };
      const first = runLiveSelftest(parts);
      const second = runLiveSelftest({ ...parts });
      expect(second).toBe(first);
      expect((await first).map((r) => r.check)).toEqual([...SELFTEST_CHECKS]);
      expect(runs).toBe(1);
      await runLiveSelftest(parts);
      expect(runs).toBe(2);
    } finally {
      dir.remove();
    }
  });
});

describe('scanner check on a real pseudo-terminal', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function plugged(): Promise<PtyPair> {
    const dir = tempDir('safegate-selftest-pty-');
    cleanups.push(() => dir.remove());
    const pty = new PtyPair(dir.path);
    await pty.plug();
    cleanups.push(() => pty.unplug());
    return pty;
  }

  it('asks, reads one framed code and reports its length only, never its text', async () => {
    const pty = await plugged();
    const s = settings({ scanner: { source: 'serial', path: pty.devicePath, suffix: 'CR', baudRate: 115200 } }).scanner;
    const prompts: string[] = [];
    const ask: ScanRequest = { timeoutMs: 5_000, prompt: (t) => (prompts.push(t), void pty.write('SG1:SECRET-TEXT-12345\r')) };
    const r = await scannerCheck({ settings: s, running: null, ask });
    expect(prompts).toEqual(['scan any code now (within 5 s)']);
    expect(r).toEqual({ status: 'pass', detail: `${pty.devicePath}: read a code of 21 characters` });
    expect(JSON.stringify(r)).not.toContain('SECRET');
  });

  it('nothing scanned in time fails with the suffix hint; a line the framer refuses fails; no ask warns "not tried"', async () => {
    const pty = await plugged();
    const s = settings({ scanner: { source: 'serial', path: pty.devicePath, suffix: 'CR', baudRate: 115200 } }).scanner;
    const quiet = await scannerCheck({ settings: s, running: null, ask: { timeoutMs: 1_000, prompt: () => {} } });
    expect(quiet).toMatchObject({ status: 'fail', detail: expect.stringContaining('nothing was read in 1 s'), action: expect.stringContaining('scanner.suffix: CR') });
    const refused = await scannerCheck({ settings: s, running: null, ask: { timeoutMs: 5_000, prompt: () => void pty.write('abc\x07def\r') } });
    expect(refused).toMatchObject({ status: 'fail', detail: expect.stringContaining('control-byte') });
    expect(await scannerCheck({ settings: s, running: null, ask: null })).toMatchObject({ status: 'warn', detail: expect.stringContaining('reading not tried') });
  });

  it('an absent port fails; a running kiosk holds it (its own word reported, not fought for); stdin and none warn', async () => {
    const s = settings({ scanner: { source: 'serial', path: '/dev/safegate-no-such-scanner' } }).scanner;
    expect(await scannerCheck({ settings: s, running: null, ask: null })).toMatchObject({ status: 'fail', detail: expect.stringContaining('cannot open (no such device)') });
    const open = async () => {
      throw new Error('the port of a running kiosk was opened');
    };
    const status = (scanner: string | null) => ({ pid: 4242, atMs: 0, link: 'online', heldEvents: 0, disk: null, scanner });
    expect(await scannerCheck({ settings: s, running: { pid: 4242, status: status('ready') }, ask: null, open })).toEqual({ status: 'pass', detail: '/dev/safegate-no-such-scanner: held by the running kiosk (pid 4242), connected; scan a code at the gate to see it work' });
    expect(await scannerCheck({ settings: s, running: { pid: 4242, status: status('disconnected') }, ask: null, open })).toMatchObject({ status: 'fail', detail: '/dev/safegate-no-such-scanner: the running kiosk (pid 4242) says disconnected' });
    expect(await scannerCheck({ settings: s, running: { pid: 4242, status: status('connecting') }, ask: null, open })).toMatchObject({ status: 'warn' });
    // Its state not readable here (another user, or a kiosk waiting for enrolment): not a pass.
    expect(await scannerCheck({ settings: s, running: { pid: 4242, status: null }, ask: null, open })).toMatchObject({ status: 'warn', detail: expect.stringContaining('held by the running kiosk (pid 4242), not taken; its scanner state is not known here'), action: expect.stringContaining('SAFEGATE_RUNTIME_DIR=/run/safegate') });
    expect((await scannerCheck({ settings: settings({ scanner: { source: 'stdin' } }).scanner, running: null, ask: null })).status).toBe('warn');
    expect((await scannerCheck({ settings: settings().scanner, running: null, ask: null })).status).toBe('warn');
  });
});

describe('GPIO check', () => {
  it('simulated: warn; held by a running kiosk: its own word; real lines: each claimed, the relay pulsed once only when asked, all released', async () => {
    expect(await gpioCheck({ gate: settings({ gate: { gpio: 'simulated' } }).gate, running: null, clickRelay: true })).toEqual({
      status: 'warn',
      detail: 'simulated GPIO: no relay here',
      action: expect.stringContaining('gate.gpio: real'),
    });
    const gate = settings({ gate: { gpio: 'real' } }).gate;

    // The real adapter cannot run here (no sysfs GPIO): outputs that record what the real ones would be driven to.
    const transitions: Transition[] = [];
    const claimed: { name: string; line: number; output: SimulatedOutput }[] = [];
    const ports: GpioPorts = {
      accessible: () => true,
      findChip: () => ({ name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 }),
      claim: (name, line, activeLow) => {
        const output = new SimulatedOutput(name, activeLow, (t) => transitions.push(t));
        claimed.push({ name, line, output });
        return output;
      },
    };
    const held = { pid: 77, atMs: 0, link: 'online', heldEvents: 0, disk: null };
    expect(await gpioCheck({ gate, running: { pid: 77, status: { ...held, gpio: 'real' } }, clickRelay: true, ports })).toMatchObject({ status: 'pass', detail: expect.stringContaining('lines held by the running kiosk (pid 77), real GPIO; not claimed or pulsed here') });
    expect(await gpioCheck({ gate, running: { pid: 77, status: { ...held, gpio: 'simulated' } }, clickRelay: true, ports })).toMatchObject({ status: 'warn', detail: 'simulated GPIO: no relay here' });
    expect(await gpioCheck({ gate, running: { pid: 77, status: null }, clickRelay: true, ports })).toMatchObject({ status: 'warn', detail: expect.stringContaining('held by the running kiosk (pid 77), not taken') });
    expect(claimed).toEqual([]);

    // Not asked to click (an unattended run): every line claimed and let go, the relay never driven.
    const quiet = await gpioCheck({ gate, running: null, clickRelay: false, ports });
    expect(quiet).toEqual({ status: 'pass', detail: 'lines 17, 27, 22, 23 claimed (pinctrl-bcm2711); relay not pulsed (--click-relay, with someone at the gate, to hear it click)' });
    expect(claimed.map((c) => c.name)).toEqual(['relay', 'greenLight', 'redLight', 'buzzer']);
    expect(transitions.filter((t) => t.active)).toEqual([]);
    for (const c of claimed) expect(() => c.output.set(true)).toThrow(/released/);
    claimed.length = 0;

    const r = await gpioCheck({ gate, running: null, clickRelay: true, ports });
    expect(r.status).toBe('pass');
    expect(r.detail).toContain(`relay pulsed ${TEST_PULSE_MS} ms`);
    expect(claimed.map((c) => [c.name, c.line])).toEqual([['relay', 529], ['greenLight', 539], ['redLight', 534], ['buzzer', 535]]);
    const relay = transitions.filter((t) => t.output === 'relay').map((t) => t.active);
    expect(relay).toEqual([true, false]);
    const on = transitions.find((t) => t.output === 'relay' && t.active)!.atNs;
    const off = transitions.find((t) => t.output === 'relay' && !t.active)!.atNs;
    expect(Number(off - on) / 1e6).toBeGreaterThanOrEqual(TEST_PULSE_MS - 5);
    // Every line let go, inactive.
    for (const c of claimed) expect(() => c.output.set(true)).toThrow(/released/);

    const busy: GpioPorts = { ...ports, claim: (name) => (name === 'redLight' ? (() => { throw new Error('EBUSY: resource busy'); })() : new SimulatedOutput(name, false)) };
    expect(await gpioCheck({ gate, running: null, clickRelay: false, ports: busy })).toMatchObject({ status: 'fail', detail: 'line 22 (redLight) cannot be claimed: EBUSY: resource busy' });
  });
});

describe('data ages', () => {
  it('against the policy limit: within half passes, past half warns, past the limit or never confirmed fails; standalone passes', () => {
    const now = Date.now();
    const h = 3_600_000;
    const at = (rosterH: number | null, policyH: number | null) => dataAgesCheck({ syncs: true, nowMs: now, figures: () => ({ rosterCheckedAtMs: rosterH === null ? null : now - rosterH * h, policyCheckedAtMs: policyH === null ? null : now - policyH * h, maxAgeS: 72 * 3600 }) });
    expect(at(1, 2)).toEqual({ status: 'pass', detail: 'roster confirmed 1 h ago, policy confirmed 2 h ago (limit 72 h)' });
    expect(at(40, 2).status).toBe('warn');
    expect(at(1, 80)).toMatchObject({ status: 'fail', action: expect.stringContaining('DATA_TOO_OLD') });
    expect(at(null, 1)).toMatchObject({ status: 'fail', detail: expect.stringContaining('roster never confirmed by the hub') });
    expect(dataAgesCheck({ syncs: false, figures: null, nowMs: now }).status).toBe('pass');
    expect(dataAgesCheck({ syncs: true, figures: null, nowMs: now }).status).toBe('warn');
  });

  it('the command reads the cursors from the real store, read-only', async () => {
    const dir = tempDir('safegate-selftest-ages-');
    try {
      hubKeys(dir.path);
      const config = writeKioskConfig(dir.path, { hub: { broker: { url: 'mqtts://127.0.0.1:1', cert: 'c.crt', key: 'c.key' } } });
      const loaded = loadSettings(config);
      const db = openStore(loaded.paths.store);
      new DownlinkState(db).markChecked('roster', { hubMs: Date.now(), checkedAtMs: Date.now() - 3_600_000 });
      db.close();
      const checks = commandChecks({ loadSettings: () => ({ kind: 'ready' as const, loaded }), brokerProbe: async () => ({ ok: false, fault: 'network', detail: 'not here' }), scan: null, env: { SAFEGATE_RUNTIME_DIR: join(dir.path, 'run') } });
      expect(checks.map((c) => c.name)).toEqual([...SELFTEST_CHECKS]);
      const results = await runSelftest(checks);
      const ages = results.find((r) => r.check === 'data-ages')!;
      expect(ages).toMatchObject({ status: 'fail', detail: 'roster confirmed 1 h ago, policy never confirmed by the hub (limit 72 h)' });
      expect(results.find((r) => r.check === 'broker')).toMatchObject({ status: 'fail', detail: 'mqtts://127.0.0.1:1: cannot reach the broker (not here)' });
      expect(results.find((r) => r.check === 'hub-keys')!.status).toBe('pass');
    } finally {
      dir.remove();
    }
  });

  it('a kiosk not yet enrolled: the settings check says so (warn, with how to enrol), its broker and certificate fail, the rest still run', async () => {
    const dir = tempDir('safegate-selftest-fresh-');
    try {
      const config = writeKioskConfig(dir.path);
      const loaded = loadSettings(config);
      const checks = commandChecks({
        loadSettings: () => ({ kind: 'not-enrolled' as const, loaded, enrolmentDir: join(dir.path, 'enrolment'), reason: 'no enrolment yet' }),
        brokerProbe: () => Promise.reject(new Error('never probed')),
        scan: null,
        env: { SAFEGATE_RUNTIME_DIR: join(dir.path, 'run') },
      });
      const by = Object.fromEntries((await runSelftest(checks)).map((r) => [r.check, r]));
      expect(by.settings).toMatchObject({ status: 'warn', detail: expect.stringContaining('not enrolled (no enrolment yet)'), action: expect.stringContaining('safegate enrol') });
      expect(by.broker).toMatchObject({ status: 'fail', detail: 'not enrolled: no broker or device certificate yet' });
      expect(by.certificate).toMatchObject({ status: 'fail', detail: 'not enrolled: no device certificate' });
      expect(by['data-ages']!.status).toBe('warn');
      expect(by.disk!.status).toBe('pass');
      expect(by.gpio!.status).toBe('warn');

      // Enrolled once, the folder now damaged: a fail, with the one way out (--force at the shell).
      const damaged = Object.fromEntries(
        (
          await runSelftest(
            commandChecks({
              loadSettings: () => ({ kind: 'not-enrolled' as const, loaded, enrolmentDir: join(dir.path, 'enrolment'), reason: 'device.crt does not match device.key', damaged: 'device.crt does not match device.key' }),
              brokerProbe: () => Promise.reject(new Error('never probed')),
              scan: null,
              env: { SAFEGATE_RUNTIME_DIR: join(dir.path, 'run') },
            }),
          )
        ).map((r) => [r.check, r]),
      );
      expect(damaged.settings).toMatchObject({ status: 'fail', detail: expect.stringContaining('is damaged (device.crt does not match device.key)'), action: expect.stringContaining('safegate enrol --force') });
    } finally {
      dir.remove();
    }
  });
});
