import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../base/node/logger.js';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import { KioskRunLoop } from '../../../src-main/app/run-loop.js';
import { acceptRemoteSettings, fleetFigures } from '../../../src-main/core/enrolment/index.js';
import { tempDir, waitFor } from '../../helpers/fixtures.js';
import { makeEnrolledFolder } from '../core/enrolment/enrolled-folder.js';

/**
 * The run loop when a composition fails: settings that pass the schema but that this box cannot run
 * with (here: real GPIO on a sysfs folder with no chip) never stop the gate for good.
 */
describe('the run loop survives settings the hardware cannot take', () => {
  const dirs: { remove(): void }[] = [];
  const loops: KioskRunLoop[] = [];
  afterEach(async () => {
    for (const loop of loops.splice(0)) {
      loop.stop('test over');
      await loop.done().catch(() => undefined);
    }
    for (const d of dirs.splice(0)) d.remove();
  });

  const setUp = () => {
    const d = tempDir('safegate-run-fail-');
    dirs.push(d);
    const config = join(d.path, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    const f = makeEnrolledFolder(join(d.path, 'enrolment'), { brokerUrl: 'mqtts://127.0.0.1:1' });
    // Real GPIO on a chip no box has: passes the schema, cannot be composed (no such chip, or no sysfs GPIO at all).
    const bad = { gate: { gpio: 'real', chipLabel: 'no-such-chip-f3' } };
    const logs: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', destination: { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) } });
    const loop = new KioskRunLoop(config, { headless: true, log });
    loops.push(loop);
    return { config, f, bad, loop, logs };
  };

  it('a remote document that makes composition throw: refused with the error, the kiosk runs again on the settings that ran before', async () => {
    const { config, f, bad, loop, logs } = setUp();
    const now = Date.now();
    const first = (await loop.start()) as Kiosk;
    expect(first).toBeInstanceOf(Kiosk);
    // Version 2 is good and needs a restart: the kiosk runs with it.
    const v2 = acceptRemoteSettings(config, f.sign({ version: 2, source: 'remote', settings: { gate: { relay: { pulseMs: 1500 } } } }), now);
    expect(v2).toMatchObject({ ok: true, restartNeeded: true });
    first.requestRestart('remote settings 2');
    const second = await waitFor(() => (loop.current instanceof Kiosk && loop.current !== first ? loop.current : undefined), 'the kiosk on version 2');
    expect(second.settings.gate.relay.pulseMs).toBe(1500);

    // Version 3 passes the schema, but this box has no such GPIO chip.
    const signed3 = f.sign({ version: 3, source: 'remote', settings: { ...bad, gate: { ...bad.gate, relay: { pulseMs: 1500 } } } });
    expect(acceptRemoteSettings(config, signed3, now)).toMatchObject({ ok: true, version: 3, restartNeeded: true });
    second.requestRestart('remote settings 3');
    const third = await waitFor(() => (loop.current instanceof Kiosk && loop.current !== second ? loop.current : undefined), 'the kiosk after version 3');
    // Still a gate: simulated GPIO and version 2's pulse (the last settings that ran), the store open.
    expect(third.gpioMode).toBe('simulated');
    expect(third.settings.gate.relay.pulseMs).toBe(1500);
    expect(third.db.open).toBe(true);
    expect(second.db.open).toBe(false);
    // The refusal is recorded for the heartbeat, with the error as the problem; the document is set aside.
    const figures = fleetFigures(config, Date.now());
    expect(figures.settingsRefused?.version).toBe(3);
    expect(figures.settingsRefused?.problems[0]).toMatch(/^\(composition\): (no GPIO chip labelled no-such-chip-f3|cannot read \/sys\/class\/gpio)/);
    expect(existsSync(join(f.dir, 'remote-settings.cose'))).toBe(false);
    expect(logs.some((l) => l.version === 3 && typeof l.msg === 'string' && l.msg.startsWith('the kiosk cannot run with the remote settings'))).toBe(true);
    // The same document delivered again is refused again (no second failing restart).
    expect(acceptRemoteSettings(config, signed3, now)).toMatchObject({ ok: false, version: 3 });
    // A fix from the hub is taken as usual.
    expect(acceptRemoteSettings(config, f.sign({ version: 4, source: 'remote', settings: { gate: { relay: { pulseMs: 1200 } } } }), now)).toMatchObject({ ok: true, version: 4 });
    expect(fleetFigures(config, Date.now())).toMatchObject({ settingsVersion: 4, settingsRefused: null });
  });

  it('a process that starts with such a document kept: it runs without it and says why', async () => {
    const { config, f, bad, loop } = setUp();
    writeFileSync(join(f.dir, 'remote-settings.cose'), f.sign({ version: 2, source: 'remote', settings: bad }), { mode: 0o600 });
    const kiosk = (await loop.start()) as Kiosk;
    expect(kiosk).toBeInstanceOf(Kiosk);
    expect(kiosk.gpioMode).toBe('simulated');
    expect(kiosk.settings.checkpoint.id).toBe('gate-e');
    expect(fleetFigures(config, Date.now())).toMatchObject({ settingsVersion: 1, settingsRefused: { version: 2 } });
  });

  it('a failure with no remote document to drop still ends the run', async () => {
    const { config, bad, loop } = setUp();
    writeFileSync(config, stringify({ scanner: { source: 'none' }, clock: { syncedWhen: 'always' }, ...bad }));
    await expect(loop.start()).rejects.toThrow(/no GPIO chip labelled no-such-chip-f3|cannot read \/sys\/class\/gpio/);
  });
});
