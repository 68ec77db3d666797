import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SettingsError, loadSettings, parseSettings } from '../../../src-main/core/config.js';
import { tempDir } from '../../helpers/fixtures.js';

const minimal = { device: { id: 'kiosk-1' }, checkpoint: { id: 'g', name: 'Gate', kind: 'gate' }, scanner: { source: 'none' } };

describe('settings', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

  it('the example settings file in the repository is valid', () => {
    const loaded = loadSettings(new URL('../../../config/kiosk.example.yaml', import.meta.url).pathname);
    expect(loaded.settings.checkpoint.kind).toBe('gate');
    expect(loaded.settings.gate.relay.activeLow).toBe(true);
  });

  it('fills defaults and derives the zone from the checkpoint', () => {
    const s = parseSettings(minimal);
    expect(s.checkpoint).toMatchObject({ zone: 'g', direction: 'entry' });
    expect(s.gate.relay).toEqual({ pin: 17, activeLow: false, pulseMs: 3000, maxOnMs: 15000 });
    expect(s.scanner.suffix).toBe('CR');
  });

  it('lists every problem with its field path, not just the first', () => {
    const bad = {
      device: { id: 'Bad Id!' },
      checkpoint: { id: 'g', name: 'Gate', kind: 'spaceship', direction: 'sideways' },
      scanner: { source: 'serial', suffix: 'TAB' },
      gate: { relay: { pin: 99, pulseMs: 5000, maxOnMs: 1000 } },
      surprise: true,
    };
    let err: SettingsError | undefined;
    try {
      parseSettings(bad, 'kiosk.yaml');
    } catch (e) {
      err = e as SettingsError;
    }
    expect(err).toBeInstanceOf(SettingsError);
    const paths = err!.problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(['device.id', 'checkpoint.kind', 'checkpoint.direction', 'scanner.suffix', 'gate.relay.pin', '']),
    );
    expect(err!.problems.find((p) => p.path === '')?.message).toMatch(/surprise/);
  });

  it('needs exactly one of a serial path or USB ids', () => {
    expect(() => parseSettings({ ...minimal, scanner: { source: 'serial' } })).toThrow(/scanner.path: a serial scanner needs exactly one/);
    expect(() => parseSettings({ ...minimal, scanner: { source: 'serial', path: '/dev/x', usb: { vendorId: '0483', productId: '5740' } } })).toThrow(
      SettingsError,
    );
    expect(parseSettings({ ...minimal, scanner: { source: 'serial', usb: { vendorId: '0483', productId: '5740' } } }).scanner.usb).toEqual({
      vendorId: '0483',
      productId: '5740',
    });
  });

  it('refuses an unreadable or non-YAML file with a clear reason, and resolves paths beside the file', () => {
    const d = tempDir();
    dirs.push(d);
    expect(() => loadSettings(join(d.path, 'missing.yaml'))).toThrow(/cannot read the file \(ENOENT\)/);
    const broken = join(d.path, 'broken.yaml');
    writeFileSync(broken, 'device: [unclosed');
    expect(() => loadSettings(broken)).toThrow(/not valid YAML/);
    const ok = join(d.path, 'ok.json');
    writeFileSync(ok, JSON.stringify({ ...minimal, store: { path: 'data/s.db' } }));
    expect(loadSettings(ok).paths.store).toBe(join(d.path, 'data/s.db'));
  });
});
