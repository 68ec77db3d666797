import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EvdevScanner, grabInputDevice } from '../../../device/scanner/evdev-scanner.js';
import { createLogger } from '../../../base/node/logger.js';
import { tempDir } from '../../helpers/fixtures.js';
import { FIXTURE_DIR, FIXTURES, fixtureFile, SIZES } from '../../fixtures/evdev/make-fixtures.js';
import { typeCode } from '../../fixtures/evdev/hid-typist.js';
import { END, scannerContract, type Token } from './scanner.contract.js';

const MAX = 64;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const silent = () => createLogger({ level: 'silent' });

/**
 * The writing end of a FIFO standing in for the kernel's side of /dev/input/eventN (no uinput here).
 * Opened only while the scanner reads (a FIFO's writer cannot open without a reader) and kept open, since
 * closing it is the FIFO's "unplug": the reader sees end of input. Bytes written while no reader has the
 * FIFO open are lost, as a device's keys are while nobody reads it.
 */
class FifoDevice {
  private fd: number | undefined;
  constructor(readonly path: string) {
    execFileSync('mkfifo', ['-m', '0600', path]);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENXIO') return; // no reader
        throw err;
      }
    }
    let off = 0;
    while (off < bytes.length) {
      try {
        off += writeSync(this.fd, bytes, off, bytes.length - off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') return; // the reader closed: nobody hears it
        if (code !== 'EAGAIN') throw err;
        await sleep(2); // the pipe is full: let the scanner read
      }
    }
  }

  unplug(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function recorder(scanner: EvdevScanner) {
  const seen: string[] = [];
  scanner.on('line', (l) => seen.push(l.text));
  scanner.on('rejected', (r) => seen.push(`!${r.reason}`));
  const states: { state: string; detail?: string }[] = [];
  scanner.on('state', (state, detail) => states.push({ state, detail }));
  return {
    seen,
    states,
    async until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify({ seen, states })}`);
        await sleep(5);
      }
    },
  };
}

/** The evdev scanner reading a FIFO fed with the kernel's input-event bytes, grab off (a FIFO cannot be grabbed). */
scannerContract('evdev scanner on a FIFO', async () => {
  const dir = tempDir('safegate-evdev-');
  const device = new FifoDevice(join(dir.path, 'event-kbd'));
  const scanner = new EvdevScanner({ path: device.path, grab: false, maxLineLength: MAX, layout: 'us' }, silent());
  const recordSize = 24;
  return {
    scanner,
    maxLength: MAX,
    capabilities: { bytes: false, restart: true, queuesWhileStopped: false, unicode: false },
    settleMs: 150,
    async send(...chunks: Token[][]) {
      for (const chunk of chunks) {
        const parts = chunk.map((t) => {
          if (t === END) return typeCode('', { recordSize });
          if (typeof t !== 'string') throw new Error('a keyboard types characters, not bytes');
          return typeCode(t, { recordSize, enter: 'none' });
        });
        await device.write(Buffer.concat(parts));
        await sleep(30);
      }
    },
    async close() {
      await scanner.stop();
      device.unplug();
      dir.remove();
    },
  };
});

describe('evdev scanner on a FIFO', () => {
  for (const size of SIZES) {
    it(`reads every recorded fixture, ${size}-byte records, fed through the device file`, async () => {
      const dir = tempDir('safegate-evdev-');
      const device = new FifoDevice(join(dir.path, 'event-kbd'));
      const scanner = new EvdevScanner({ path: device.path, grab: false, maxLineLength: 4096, layout: 'us', recordSize: size }, silent());
      const r = recorder(scanner);
      try {
        scanner.start();
        await r.until(() => scanner.state === 'ready', 'ready');
        const expected: string[] = [];
        for (const f of FIXTURES) {
          await device.write(readFileSync(join(FIXTURE_DIR, fixtureFile(f.name, size))));
          expected.push(...f.expected.map((e) => ('line' in e ? e.line : `!${e.rejected}`)));
        }
        await r.until(() => r.seen.length >= expected.length, `${expected.length} scans`);
        expect(r.seen).toEqual(expected);
      } finally {
        await scanner.stop();
        device.unplug();
        dir.remove();
      }
    });
  }

  it('when the device goes away mid-code it drops that code, reports disconnected, reopens by path and reads on', async () => {
    const dir = tempDir('safegate-evdev-');
    const device = new FifoDevice(join(dir.path, 'event-kbd'));
    const scanner = new EvdevScanner({ path: device.path, grab: false, maxLineLength: MAX, layout: 'us', reconnect: { initialMs: 20, maxMs: 100 } }, silent());
    const r = recorder(scanner);
    try {
      scanner.start();
      await r.until(() => scanner.state === 'ready', 'ready');
      await device.write(typeCode('SG1:BEFORE-UNPLUG', { recordSize: 24 }));
      await device.write(typeCode('SG1:HALF-', { recordSize: 24, enter: 'none' }));
      await r.until(() => r.seen.length === 1, 'the first code');
      device.unplug();
      await r.until(() => r.states.some((s) => s.state === 'disconnected'), 'disconnected');
      expect(r.states.find((s) => s.state === 'disconnected')?.detail).toMatch(/end of input/);
      await r.until(() => r.states.filter((s) => s.state === 'ready').length === 2, 'ready again');
      await device.write(typeCode('DONE-AFTER', { recordSize: 24 }));
      await r.until(() => r.seen.length === 2, 'the code after the replug');
      expect(r.seen).toEqual(['SG1:BEFORE-UNPLUG', 'DONE-AFTER']);
    } finally {
      await scanner.stop();
      device.unplug();
      dir.remove();
    }
  });

  it('a listener that stops the scanner on the first code of a burst hears nothing more', async () => {
    const dir = tempDir('safegate-evdev-');
    const device = new FifoDevice(join(dir.path, 'event-kbd'));
    const scanner = new EvdevScanner({ path: device.path, grab: false, maxLineLength: MAX, layout: 'us' }, silent());
    const r = recorder(scanner);
    scanner.once('line', () => void scanner.stop());
    try {
      scanner.start();
      await r.until(() => scanner.state === 'ready', 'ready');
      await device.write(Buffer.concat(['W-0011', 'W-0012', 'W-0013'].map((c) => typeCode(c, { recordSize: 24 }))));
      await r.until(() => scanner.state === 'stopped', 'stopped');
      await sleep(150);
      expect(r.seen).toEqual(['W-0011']);
    } finally {
      await scanner.stop();
      device.unplug();
      dir.remove();
    }
  });

  it('keeps trying a device that is not there yet, saying so, and reads it once it appears', async () => {
    const dir = tempDir('safegate-evdev-');
    const path = join(dir.path, 'event-kbd');
    const scanner = new EvdevScanner({ path, grab: false, maxLineLength: MAX, layout: 'us', reconnect: { initialMs: 20, maxMs: 100 } }, silent());
    const r = recorder(scanner);
    try {
      scanner.start();
      await r.until(() => r.states.some((s) => s.state === 'disconnected'), 'disconnected');
      expect(r.states.find((s) => s.state === 'disconnected')?.detail).toBe(`${path} does not exist (scanner unplugged?)`);
      const device = new FifoDevice(path);
      await r.until(() => scanner.state === 'ready', 'ready');
      await device.write(typeCode('W-0009', { recordSize: 24 }));
      await r.until(() => r.seen.length === 1, 'a code');
      expect(r.seen).toEqual(['W-0009']);
      device.unplug();
    } finally {
      await scanner.stop();
      dir.remove();
    }
  });

  it('refuses a path that is a regular file, as not an input device', async () => {
    const dir = tempDir('safegate-evdev-');
    const path = join(dir.path, 'not-a-device');
    writeFileSync(path, typeCode('W-0010', { recordSize: 24 }));
    const scanner = new EvdevScanner({ path, grab: false, maxLineLength: MAX, layout: 'us' }, silent());
    const r = recorder(scanner);
    try {
      scanner.start();
      await r.until(() => r.states.some((s) => s.state === 'disconnected'), 'disconnected');
      expect(r.states.find((s) => s.state === 'disconnected')?.detail).toBe(`${path} is not an input device (not a character device)`);
      expect(r.seen).toEqual([]);
    } finally {
      await scanner.stop();
      rmSync(path);
      dir.remove();
    }
  });
});

describe('evdev scanner: the exclusive grab (EVIOCGRAB through koffi)', () => {
  it('a grab of a FIFO fails with a clear message, the scanner never reports ready, and logs why', async () => {
    const dir = tempDir('safegate-evdev-');
    const device = new FifoDevice(join(dir.path, 'event-kbd'));
    const logged: { msg: string; why?: string }[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void logged.push(JSON.parse(s) as { msg: string; why?: string }) });
    const scanner = new EvdevScanner({ path: device.path, grab: true, maxLineLength: MAX, layout: 'us', reconnect: { initialMs: 20, maxMs: 50 } }, log);
    const r = recorder(scanner);
    try {
      scanner.start();
      await r.until(() => r.states.some((s) => s.state === 'disconnected'), 'disconnected');
      const why = `cannot grab ${device.path}: not an input device (EVIOCGRAB refused: ENOTTY); set scanner.evdevPath to the scanner's /dev/input/by-id/...-event-kbd`;
      expect(r.states.find((s) => s.state === 'disconnected')?.detail).toBe(why);
      // It keeps trying (the device may be replaced), and never reads the ungrabbed device.
      await sleep(300);
      expect(r.states.map((s) => s.state)).not.toContain('ready');
      expect(logged.find((l) => l.msg === 'scanner unavailable')?.why).toBe(why);
    } finally {
      await scanner.stop();
      device.unplug();
      dir.remove();
    }
  });

  it('grabInputDevice refuses a character device that is not an input device (/dev/null)', async () => {
    const fd = openSync('/dev/null', constants.O_RDONLY);
    try {
      await expect(grabInputDevice(fd, '/dev/null')).rejects.toThrow(/^cannot grab \/dev\/null: not an input device \(EVIOCGRAB refused: ENOTTY\)/);
    } finally {
      closeSync(fd);
    }
  });
});
