import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { SettingsError, loadSettings, parseSettings, settingsJsonSchema } from '../../../src-main/core/config.js';
import { objectsAcceptingUnknownKeys } from '../../helpers/json-schema.js';
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
      expect.arrayContaining(['device.id', 'checkpoint.kind', 'checkpoint.direction', 'scanner.suffix', 'gate.relay.pin', 'surprise']),
    );
    expect(err!.problems.find((p) => p.path === 'surprise')?.message).toMatch(/^unknown setting; expected one of: device, checkpoint, /);
  });

  function problemsIn(raw: unknown): string[] {
    try {
      parseSettings(raw, 'kiosk.yaml');
    } catch (e) {
      if (e instanceof SettingsError) return e.problems.map((p) => `${p.path}: ${p.message}`);
      throw e;
    }
    return [];
  }

  it('refuses a misspelled key at any depth, naming the key it probably meant', () => {
    expect(problemsIn({ ...minimal, checkpoint: { ...minimal.checkpoint, direciton: 'exit' } })).toEqual([
      'checkpoint.direciton: unknown setting; did you mean "direction"?',
    ]);
    expect(problemsIn({ ...minimal, hub: { batch: { maxEvent: 10 } } })).toEqual(['hub.batch.maxEvent: unknown setting; did you mean "maxEvents"?']);
    expect(problemsIn({ ...minimal, gate: { relay: { activelow: true } } })).toEqual(['gate.relay.activelow: unknown setting; did you mean "activeLow"?']);
    expect(problemsIn({ ...minimal, screens: { camera: { enabled: true, colour: 'red' } } })).toEqual([
      'screens.camera.colour: unknown setting; expected one of: enabled, decoder, width, height',
    ]);
    expect(problemsIn({ ...minimal, hub: { broker: { url: 'mqtts://127.0.0.1:8883', cafile: 'ca.pem' } } })).toEqual([
      'hub.broker.cafile: unknown setting; expected one of: url, ca, cert, key, protocolVersion',
    ]);
  });

  it('every object in the settings schema refuses unknown keys (a new setting group cannot forget to)', () => {
    expect(objectsAcceptingUnknownKeys(settingsJsonSchema())).toEqual([]);
  });

  it('says in plain words what is wrong and what is expected, with the value found', () => {
    expect(
      problemsIn({
        ...minimal,
        checkpoint: { id: 'g', kind: 'gate', direction: 'entri' },
        hub: { batch: { maxEvents: 'lots', maxAgeMs: 1.5 }, heartbeatSeconds: 1 },
        gate: { relay: { activeLow: 'yes' } },
        screens: { resultSeconds: 60, language: 'fr' },
        time: { zone: 'Mars/Olympus' },
      }),
    ).toEqual([
      'checkpoint.name: missing; must be text of 1 to 120 characters',
      'checkpoint.direction: must be one of "entry", "exit", "both", got "entri"; did you mean "entry"?',
      'gate.relay.activeLow: must be true or false, got "yes"',
      'hub.batch.maxEvents: must be a whole number from 1 to 5000, got "lots"',
      'hub.batch.maxAgeMs: must be a whole number from 0 to 600000, got 1.5',
      'hub.heartbeatSeconds: must be a whole number from 5 to 3600, got 1',
      'time.zone: not a time zone this system knows (an IANA name such as Asia/Ho_Chi_Minh), got "Mars/Olympus"',
      'screens.language: must be one of "vi", "en", got "fr"',
      'screens.resultSeconds: must be a number from 1 to 30, got 60',
    ]);
    expect(problemsIn({ ...minimal, device: 'kiosk-1' })).toEqual(['device: must be a group of settings, got "kiosk-1"']);
    expect(problemsIn({ ...minimal, checkpoint: { id: 'g', name: 'G' }, device: { id: 'kiosk-1', 'i d': 1 } })).toEqual([
      'device["i d"]: unknown setting; did you mean "id"?',
      'checkpoint.kind: missing; must be one of "gate", "zone", "team", "canteen", "dormitory", "bus"',
    ]);
  });

  it('any value is either accepted or refused with problems in words, never a crash (generated settings)', () => {
    // Settings-shaped values: the real keys (and near-misses) at each level, with values of any kind.
    const keys = ['device', 'checkpoint', 'scanner', 'gate', 'hub', 'batch', 'maxEvents', 'relay', 'pin', 'id', 'name', 'kind', 'direction', 'direciton', 'zone', '__proto__', 'constructor', ''];
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, fc.anything(), fc.dictionary(fc.constantFrom(...keys), tie('tree'), { maxKeys: 5 })),
    }));
    const settingsLike = fc.record({ device: tree, checkpoint: tree, scanner: tree, hub: tree, gate: tree }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(settingsLike, tree), (raw) => {
        try {
          parseSettings(raw, 'kiosk.yaml');
        } catch (e) {
          expect(e).toBeInstanceOf(SettingsError);
          const problems = (e as SettingsError).problems;
          expect(problems.length).toBeGreaterThan(0);
          for (const p of problems) {
            expect(typeof p.path).toBe('string');
            expect(p.message).toMatch(/\S/);
            expect(p.message).not.toMatch(/^Invalid input/);
          }
        }
      }),
      { numRuns: 300, seed: 9 },
    );
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
