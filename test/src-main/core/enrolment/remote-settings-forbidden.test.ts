import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { HUB_FORBIDDEN_SETTINGS } from '../../../../base/common/enrolment.js';
import { acceptRemoteSettings, loadSettings, loadSettingsForRun } from '../../../../src-main/core/enrolment/index.js';
import { tempDir } from '../../../helpers/fixtures.js';
import { makeEnrolledFolder } from './enrolled-folder.js';

/**
 * What the hub may not set on a kiosk (review r1, finding 5): the broker (any part of it), the console
 * URL, every path the kiosk reads or writes, and the badge regular expression. Each document that sets
 * one is refused by the kiosk with the path named, and nothing of it takes effect; a document that
 * already sits in the folder is left out at load.
 */
describe('remote settings the hub may not set', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const setUp = () => {
    const d = tempDir('safegate-remote-forbidden-');
    dirs.push(d);
    const config = join(d.path, 'kiosk.yaml');
    writeFileSync(config, stringify({ scanner: { source: 'none' }, gate: { gpio: 'simulated' }, clock: { syncedWhen: 'always' } }));
    const f = makeEnrolledFolder(join(d.path, 'enrolment'));
    return { config, f };
  };
  const now = Date.now();

  /** Each setting the review names, with a value the schema would otherwise take. */
  const cases: [path: string, settings: Record<string, unknown>][] = [
    ['hub.broker', { hub: { broker: { url: 'mqtt://evil.example:1883' } } }],
    ['hub.broker', { hub: { broker: { clientId: 'x' } } }],
    ['hub.consoleUrl', { hub: { consoleUrl: 'http://evil.example/' } }],
    ['policy.file', { policy: { file: '/etc/shadow' } }],
    ['gate.sysfsRoot', { gate: { sysfsRoot: '/var/lib/safegate' } }],
    ['scanner.path', { scanner: { path: '/dev/ttyS0' } }],
    ['scanner.usb', { scanner: { usb: { vendorId: '0483', productId: '5740' } } }],
    ['screens.supervisor.drivesFolder', { screens: { supervisor: { drivesFolder: '/var/lib/safegate' } } }],
    ['badge.pattern', { badge: { pattern: '^(a+)+$' } }],
  ];

  it('every one is in HUB_FORBIDDEN_SETTINGS (the list the hub checks too)', () => {
    for (const [path] of cases) expect(HUB_FORBIDDEN_SETTINGS as readonly string[]).toContain(path);
  });

  it.each(cases)('a document setting %s is refused, names it, and changes nothing', (path, settings) => {
    const { config, f } = setUp();
    const before = loadSettings(config).settings;
    // A harmless change beside it: the document is refused as a whole.
    const r = acceptRemoteSettings(config, f.sign({ version: 2, source: 'remote', settings: { ...settings, log: { level: 'debug' } } }), now);
    expect(r).toEqual({ ok: false, version: 2, problems: [`${path}: the hub may not set this (it is the kiosk's own)`] });
    expect(loadSettings(config).settings).toEqual(before);
  });

  it('a remote document with a plain-text broker URL already in the folder is left out at load: the kiosk keeps its enrolled mqtts:// broker', () => {
    const { config, f } = setUp();
    writeFileSync(join(f.dir, 'remote-settings.cose'), f.sign({ version: 2, source: 'remote', settings: { hub: { broker: { url: 'mqtt://evil.example:1883' } }, log: { level: 'debug' } } }));
    const run = loadSettingsForRun(config);
    expect(run.kind).toBe('ready');
    expect(run.loaded.broker?.url).toBe('mqtts://127.0.0.1:8883');
    expect(run.loaded.settings.log.level).toBe('info');
    expect(run.loaded.layers?.ignored.join('\n')).toMatch(/hub\.broker: the hub may not set this/);
  });
});
