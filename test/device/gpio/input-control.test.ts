import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InputControlWatcher, readInputControl, setInputControl } from '../../../device/gpio/input-control.js';
import { SimulatedInput } from '../../../device/gpio/simulated-input.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('input control file (driving simulated inputs from outside the kiosk)', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const file = (): string => {
    const d = tempDir();
    dirs.push(d);
    return join(d.path, 'run', 'kiosk.inputs.json');
  };

  it('writes states privately (0600 in a 0700 folder) and keeps the other inputs', () => {
    const f = file();
    expect(readInputControl(f)).toEqual({});
    setInputControl(f, 'emergency', true);
    expect(setInputControl(f, 'passage', false)).toEqual({ emergency: true, passage: false });
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(statSync(join(f, '..')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(f, 'utf8'))).toEqual({ emergency: true, passage: false });
  });

  it('refuses a file that is not JSON, names that are not input names, values that are not booleans, and a file others may write', () => {
    const f = file();
    setInputControl(f, 'emergency', true);
    writeFileSync(f, '{"emergency": tru');
    expect(() => readInputControl(f)).toThrow(/not JSON/);
    writeFileSync(f, JSON.stringify({ Emergency: true }));
    expect(() => readInputControl(f)).toThrow(/Emergency.*input name/);
    writeFileSync(f, JSON.stringify({ emergency: 'on' }));
    expect(() => readInputControl(f)).toThrow(/emergency/);
    writeFileSync(f, JSON.stringify({ emergency: true }));
    chmodSync(f, 0o666);
    expect(() => readInputControl(f)).toThrow(/writable by other users/);
    expect(() => setInputControl(f, '../x', true)).toThrow(/not an input name/);
  });

  it('believes nothing in a folder others could have made or written, and writes through no link', () => {
    // A folder open to others (as /dev/shm/safegate-<uid> would be if another user made it first).
    const open = file();
    mkdirSync(join(open, '..'), { mode: 0o777 });
    chmodSync(join(open, '..'), 0o777);
    writeFileSync(open, JSON.stringify({ emergency: true }), { mode: 0o600 });
    expect(() => readInputControl(open)).toThrow(/open to other users/);
    expect(() => setInputControl(open, 'emergency', false)).toThrow(/open to other users/);
    // A link planted in place of the file: not followed when reading, and replaced (not written through) when writing.
    const linked = file();
    setInputControl(linked, 'emergency', false);
    const target = join(linked, '..', 'elsewhere.json');
    writeFileSync(target, JSON.stringify({ emergency: true }), { mode: 0o600 });
    const planted = join(linked, '..', 'planted.json');
    symlinkSync(target, planted);
    expect(() => readInputControl(planted)).toThrow(/cannot read/);
    setInputControl(planted, 'passage', true);
    expect(JSON.parse(readFileSync(target, 'utf8'))).toEqual({ emergency: true });
    expect(existsSync(planted)).toBe(true);
  });

  it('the watcher drives the inputs it knows, at start and on each change, and names what it refuses once', async () => {
    const f = file();
    const emergency = new SimulatedInput('emergency', true, 0);
    const refusals: string[] = [];
    setInputControl(f, 'emergency', true);
    const w = new InputControlWatcher(f, new Map([['emergency', emergency]]), (r) => refusals.push(r));
    w.start();
    try {
      expect(emergency.isActive()).toBe(true);
      setInputControl(f, 'emergency', false);
      await expect.poll(() => emergency.isActive(), { timeout: 5_000 }).toBe(false);
      setInputControl(f, 'door', true);
      await expect.poll(() => refusals.length, { timeout: 5_000 }).toBe(1);
      w.apply();
      expect(refusals).toHaveLength(1);
      expect(refusals[0]).toMatch(/no simulated input named door \(this kiosk has: emergency\)/);
    } finally {
      w.stop();
    }
  });
});
