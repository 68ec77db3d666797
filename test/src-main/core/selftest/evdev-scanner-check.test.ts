import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { liveScannerCheck, openEvdevScanner, scannerCheck } from '../../../../src-main/core/selftest/scanner.js';
import { parseSettings } from '../../../../src-main/core/config.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { typeCode } from '../../../fixtures/evdev/hid-typist.js';

const evdevSettings = (evdevPath: string) =>
  parseSettings({ device: { id: 'bus-1' }, checkpoint: { id: 'bus-a', name: 'Bus A', kind: 'bus' }, bus: { plate: '51B-123.45' }, scanner: { source: 'evdev', evdevPath } }).scanner;

/** A FIFO standing in for the scanner's input device (no uinput here); see the evdev scanner's tests. */
function fifo(): { path: string; type(text: string): void } {
  const dir = tempDir('safegate-selftest-evdev-');
  cleanups.push(() => dir.remove());
  const path = join(dir.path, 'event-kbd');
  execFileSync('mkfifo', ['-m', '0600', path]);
  return {
    path,
    type(text) {
      // The check has the FIFO open for reading when it prompts.
      const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      writeSync(fd, typeCode(text, { recordSize: 24 }));
      cleanups.push(() => closeSync(fd));
    },
  };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe('self-test scanner check: a keyboard-mode scanner on its input device (scanner.source: evdev)', () => {
  it("grabs the device as the kiosk does: a path that is not an input device fails, saying so and what to set", async () => {
    const dev = fifo();
    const r = await scannerCheck({ settings: evdevSettings(dev.path), running: null, ask: null });
    expect(r).toMatchObject({
      status: 'fail',
      detail: `${dev.path}: cannot open (cannot grab ${dev.path}: not an input device (EVIOCGRAB refused: ENOTTY); set scanner.evdevPath to the scanner's /dev/input/by-id/...-event-kbd)`,
      action: expect.stringContaining('scanner.evdevPath'),
    });
  });

  it('an absent device fails with "does not exist"', async () => {
    const r = await scannerCheck({ settings: evdevSettings('/dev/input/by-id/usb-none-event-kbd'), running: null, ask: null });
    expect(r).toMatchObject({ status: 'fail', detail: '/dev/input/by-id/usb-none-event-kbd: cannot open (/dev/input/by-id/usb-none-event-kbd does not exist (scanner unplugged?))' });
  });

  it('asks, reads one code through the kiosk decoder and reports its length only, never its text', async () => {
    const dev = fifo();
    const prompts: string[] = [];
    const r = await scannerCheck({
      settings: evdevSettings(dev.path),
      running: null,
      ask: { timeoutMs: 20_000, prompt: (t) => (prompts.push(t), dev.type('SG1:SECRET-TEXT-12345')) },
      // A FIFO cannot be grabbed: the same reader, grab off.
      open: (s) => openEvdevScanner(s, { grab: false }),
    });
    expect(prompts).toEqual(['scan any code now (within 20 s)']);
    expect(r).toEqual({ status: 'pass', detail: `${dev.path}: read a code of 21 characters` });
    expect(JSON.stringify(r)).not.toContain('SECRET');
  });

  it('a code the decoder refuses fails with the layout hint', async () => {
    const dev = fifo();
    const r = await scannerCheck({
      settings: evdevSettings(dev.path),
      running: null,
      ask: { timeoutMs: 20_000, prompt: () => dev.type('SG1:\u0007BELL') },
      open: (s) => openEvdevScanner(s, { grab: false }),
    });
    expect(r).toMatchObject({ status: 'fail', detail: expect.stringContaining('control-byte'), action: expect.stringContaining('US keyboard layout') });
  });

  it("inside the running kiosk: the evdev scanner's own state, by its path", () => {
    const s = evdevSettings('/dev/input/by-id/usb-scanner-event-kbd');
    expect(liveScannerCheck(s, 'ready')).toMatchObject({ status: 'pass', detail: '/dev/input/by-id/usb-scanner-event-kbd: connected; scan a code to see it work' });
    expect(liveScannerCheck(s, 'disconnected')).toMatchObject({ status: 'fail' });
  });
});
