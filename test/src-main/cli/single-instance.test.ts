import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { safegate } from '../../helpers/cli.js';
import { KioskProcessRig } from '../../helpers/kiosk-process.js';

/** Two `safegate run` on one store would drive one relay twice and write one event sequence from two processes. */
describe('one kiosk per store', () => {
  let rig: KioskProcessRig | undefined;
  afterEach(async () => {
    await rig?.dispose();
  });

  it('a second safegate run on the same settings is refused with the reason; once the first is killed, a new one starts', async () => {
    rig = await KioskProcessRig.create();
    const first = await rig.startKiosk();

    const second = safegate(['run', '--config', rig.config, '--headless'], { input: '' });
    expect(second.status, second.stderr).not.toBe(0);
    expect(second.stderr).toMatch(/another SafeGate process is already running with \S+safegate\.db/);
    expect(second.stderr).not.toMatch(/at \S+\.js:\d+/); // a sentence, not a stack trace
    // The first one is undisturbed: still running.
    expect(first.child.exitCode).toBeNull();
    // Status beside the running kiosk still works (it reads, it does not run a kiosk).
    expect(safegate(['status', '--config', rig.config]).status).toBe(0);

    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    const third = await rig.startKiosk();
    expect(third.child.exitCode).toBeNull();
  });
});
