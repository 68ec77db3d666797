import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SettingsError } from '../../../src-main/core/config.js';
import { z } from 'zod';
import { directoryTarget, hubSettingsSchema, loadHubSettings } from '../../../sync/hub/settings.js';
import { objectsAcceptingUnknownKeys } from '../../helpers/json-schema.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('hub settings', () => {
  it('the example hub settings file in the repository is valid', () => {
    const loaded = loadHubSettings(new URL('../../../config/hub.example.yaml', import.meta.url).pathname);
    expect(loaded.settings.id).toBe('hub.1');
    expect(loaded.signingKeyPath).toBe('/etc/safegate/hub-keys/hub-downlink.key.pem');
    expect(loaded.passKeyPath).toBe('/etc/safegate/hub-keys/hub-pass.key.pem');
    expect(loaded.phonePassKeyPath).toBe('/etc/safegate/hub-keys/hub-phone-pass.key.pem');
  });

  it('lists every problem and resolves paths beside the file', () => {
    const d = tempDir('safegate-hubsettings-');
    try {
      const bad = join(d.path, 'bad.yaml');
      writeFileSync(bad, 'id: "Hub One"\nbroker: { url: "http://x", cert: a.crt }\n');
      expect(() => loadHubSettings(bad)).toThrow(SettingsError);
      expect(() => loadHubSettings(bad)).toThrow(/id: .*broker\.url: .*broker\.key: cert and key go together/);
      const good = join(d.path, 'good.yaml');
      writeFileSync(good, 'broker: { url: "mqtts://127.0.0.1:8883", ca: pki/ca.crt }\n');
      const loaded = loadHubSettings(good);
      expect(loaded.broker.ca).toBe(join(d.path, 'pki/ca.crt'));
      expect(loaded.storePath).toBe(join(d.path, 'hub.db'));
      // The directory: that file unless DATABASE_URL names a PostgreSQL server (then the same database as the store).
      expect(directoryTarget(loaded, {})).toEqual({ kind: 'sqlite', path: join(d.path, 'hub-directory.db') });
      expect(directoryTarget(loaded, { DATABASE_URL: 'postgres://hub@127.0.0.1/safegate' })).toEqual({ kind: 'postgres', url: 'postgres://hub@127.0.0.1/safegate' });
    } finally {
      d.remove();
    }
  });

  it('refuses a misspelled key at any depth, naming the key it probably meant, and every object is strict', () => {
    // enrol.gpioProfiles maps names an operator chooses to partial kiosk gate settings, which `hub enrol create` checks against the kiosk schema.
    const open = objectsAcceptingUnknownKeys(z.toJSONSchema(hubSettingsSchema, { io: 'input' }));
    expect(open.filter((p) => p !== 'enrol.gpioProfiles' && p !== 'enrol.gpioProfiles.*')).toEqual([]);
    const d = tempDir('safegate-hubsettings-');
    try {
      const file = join(d.path, 'hub.yaml');
      writeFileSync(file, 'broker: { url: "mqtts://127.0.0.1:8883", protocolVersion: 3 }\nstore: { pth: hub.db }\nretentionDays: many\n');
      let problems: string[] = [];
      try {
        loadHubSettings(file);
      } catch (e) {
        problems = (e as SettingsError).problems.map((p) => `${p.path}: ${p.message}`);
      }
      expect(() => loadHubSettings(join(d.path, 'missing.yaml'))).toThrow(/: cannot read the file \(ENOENT\)$/);
      writeFileSync(join(d.path, 'broken.yaml'), 'broker: [unclosed');
      expect(() => loadHubSettings(join(d.path, 'broken.yaml'))).toThrow(/: not valid YAML\/JSON: /);
      expect(problems).toEqual([
        'broker.protocolVersion: must be 4 or 5, got 3',
        'store.pth: unknown setting; did you mean "path"?',
        'retentionDays: must be a whole number from 1 to 3650, got "many"',
      ]);
    } finally {
      d.remove();
    }
  });
});
