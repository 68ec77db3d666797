import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../../base/node/keys.js';
import { hubDirectoryAt, safegate } from '../../../helpers/cli.js';
import { sqliteBackend } from '../../../helpers/directory-db.js';
import { tempDir } from '../../../helpers/fixtures.js';

/** `safegate hub device set|settings` as an operator runs them (the compiled build). */
describe('hub device set and settings commands', () => {
  const dir = tempDir('safegate-devset-');
  const config = join(dir.path, 'hub.yaml');
  let env: NodeJS.ProcessEnv = {};
  beforeAll(async () => {
    const at = hubDirectoryAt(await sqliteBackend.target());
    env = at.env;
    writeFileSync(join(dir.path, 'downlink.pem'), generateSigningKeyPair().privatePem, { mode: 0o600 });
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path }, signingKey: 'downlink.pem' }));
    // Kiosks provisioned by hand, placed at a site: the hub knows them.
    const placed = safegate(['hub', 'device', 'assign', '--site', 'xuong-1', 'kiosk-a', 'kiosk-b', '--config', config], { env });
    expect(placed.status, placed.stderr).toBe(0);
  });
  afterAll(() => dir.remove());

  it('sets values read as YAML scalars and from a file, unsets one, and shows the versions', () => {
    const set = safegate(['hub', 'device', 'set', 'kiosk-a', 'gate.relay.pulseMs=2500', 'screens.language=en', '--json', '--config', config], { env });
    expect(set.stderr).toBe('');
    expect(JSON.parse(set.stdout)).toMatchObject({ deviceId: 'kiosk-a', version: 2, overlay: { gate: { relay: { pulseMs: 2500 } }, screens: { language: 'en' } } });
    writeFileSync(join(dir.path, 'more.yaml'), stringify({ screens: { resultSeconds: 6 } }));
    expect(safegate(['hub', 'device', 'set', 'kiosk-a', '--file', join(dir.path, 'more.yaml'), '--unset', 'screens.language', '--config', config], { env }).stdout).toMatch(/^kiosk-a: remote settings version 3 signed and stored/);
    const shown = JSON.parse(safegate(['hub', 'device', 'settings', 'kiosk-a', '--json', '--config', config], { env }).stdout) as { version: number; overlay: unknown; state: string; versions: { version: number }[] };
    expect(shown).toMatchObject({ version: 3, overlay: { gate: { relay: { pulseMs: 2500 } }, screens: { resultSeconds: 6 } }, state: 'pending', reported: null });
    expect(shown.versions.map((v) => v.version)).toEqual([2, 3]);
    expect(safegate(['hub', 'device', 'settings', 'kiosk-a', '--config', config], { env }).stdout).toMatch(/^kiosk-a: remote settings version 3 \(pending\)\n {2}reported: nothing yet/);
  });

  it('refuses forbidden and unknown settings, bad pairs and values with a one-line reason, storing nothing', () => {
    const cases: [string[], number, RegExp][] = [
      [['hub.broker.key=/tmp/k'], 1, /^safegate: kiosk-b: refused: hub\.broker\.key: the hub may not set hub\.broker\.key/],
      [['screens.colour=red'], 1, /^safegate: kiosk-b: refused: screens\.colour: not a kiosk setting/],
      [['gate.relay.pulseMs=fast'], 1, /^safegate: kiosk-b: refused: gate\.relay\.pulseMs: Invalid input: expected number/],
      [['gate.relay.pulseMs'], 2, /expected key=value/],
      [[], 1, /nothing to change/],
    ];
    // A device the hub does not know (a typo) gets nothing stored.
    const unknown = safegate(['hub', 'device', 'set', 'kiosk-bb', 'screens.language=en', '--config', config], { env });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^safegate: kiosk-bb: refused: no such device here/);
    expect(JSON.parse(safegate(['hub', 'device', 'settings', 'kiosk-bb', '--json', '--config', config], { env }).stdout)).toMatchObject({ version: 1, state: 'none', versions: [] });
    for (const [args, status, message] of cases) {
      const r = safegate(['hub', 'device', 'set', 'kiosk-b', ...args, '--config', config], { env });
      expect(r.status).toBe(status);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    expect(JSON.parse(safegate(['hub', 'device', 'settings', 'kiosk-b', '--json', '--config', config], { env }).stdout)).toMatchObject({ version: 1, state: 'none', versions: [] });
  });
}, 120_000);
