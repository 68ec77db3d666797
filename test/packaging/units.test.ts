import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { tempDir } from '../helpers/fixtures.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const UNITS = ['safegate.service', 'safegate-kiosk.service', 'safegate-hub.service'];
const unitText = (name: string) => readFileSync(join(repo, 'packaging', 'systemd', name), 'utf8');

/** `Key=value` lines of a unit's [Service] (or other) section; repeated keys keep every value. */
function section(text: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const head = line.match(/^\[(.+)\]$/);
    if (head) {
      current = head[1]!;
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const systemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
/** The system's own units (sysinit.target, ...), which a unit's default dependencies name. */
const systemUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'sysinit.target')));

/**
 * The packaged units pass `systemd-analyze verify` (against a scratch root holding the system's units
 * and stand-ins for the commands the units start, as the package installs them), and say what the
 * fleet issue asks of them. Skipped only where systemd-analyze is absent (no systemd package).
 */
if (!systemdAnalyze || !systemUnits) {
  describe('systemd units (systemd-analyze verify)', () => {
    it.skip('skipped: systemd-analyze or the system units are not installed here (apt-get install systemd)', () => undefined);
  });
}

describe.skipIf(!systemdAnalyze || !systemUnits)('systemd units (systemd-analyze verify)', () => {
  let root: ReturnType<typeof tempDir>;
  beforeAll(() => {
    root = tempDir('safegate-units-');
    cpSync(realpathSync(systemUnits!), join(root.path, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
    for (const cmd of ['usr/bin/safegate', 'usr/bin/cage', 'usr/lib/safegate/libexec/safegate-screens']) {
      mkdirSync(dirname(join(root.path, cmd)), { recursive: true });
      writeFileSync(join(root.path, cmd), '#!/bin/sh\n');
      chmodSync(join(root.path, cmd), 0o755);
    }
    mkdirSync(join(root.path, 'etc', 'systemd', 'system'), { recursive: true });
  });
  afterAll(() => root.remove());

  const verify = (name: string, text: string) => {
    writeFileSync(join(root.path, 'etc', 'systemd', 'system', name), text);
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root.path}`, `/etc/systemd/system/${name}`], { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
  };

  it.each(UNITS)('%s verifies with no warning', (name) => {
    expect(verify(name, unitText(name))).toEqual({ status: 0, output: '' });
  });

  it('the check is real: a misspelt setting and a bad value are reported', () => {
    const broken = unitText('safegate.service').replace('Type=notify', 'Type=notfy').replace('WatchdogSec=30', 'WatchdogSecs=30');
    const { output } = verify('safegate-broken.service', broken);
    expect(output).toMatch(/notfy/);
    expect(output).toMatch(/WatchdogSecs/);
  });
});

describe('what the units say', () => {
  it('the core: notify with the watchdog, restarted always, as safegate, sandboxed, writing only its state (and sysfs GPIO)', () => {
    const s = section(unitText('safegate.service'), 'Service');
    const one = (k: string) => s.get(k)?.join(' ');
    expect(one('Type')).toBe('notify');
    // base/node/sd-notify.ts sends through systemd-notify, a child process.
    expect(one('NotifyAccess')).toBe('all');
    expect(one('WatchdogSec')).toBe('30');
    expect(one('Restart')).toBe('always');
    expect(one('RestartSec')).toBe('2');
    expect([one('User'), one('Group')]).toEqual(['safegate', 'safegate']);
    expect(one('SupplementaryGroups')?.split(' ').sort()).toEqual(['dialout', 'gpio', 'input', 'video']);
    expect(one('ExecStart')).toBe('/usr/bin/safegate run --config /etc/safegate/kiosk.yaml --screens address');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ReadWritePaths')?.split(' ')).toEqual(['/var/lib/safegate', '-/sys/class/gpio']);
    // It would make /sys read-only, and sysfs GPIO writes there.
    expect(s.has('ProtectKernelTunables')).toBe(false);
    for (const k of ['ProtectHome', 'PrivateTmp', 'NoNewPrivileges']) expect(one(k), k).toBe('yes');
    expect(one('StateDirectory')).toBe('safegate');
    expect(one('RuntimeDirectory')).toBe('safegate');
    expect(one('RuntimeDirectoryMode')).toBe('0700');
    expect(s.get('Environment')).toEqual(expect.arrayContaining(['SAFEGATE_RUNTIME_DIR=/run/safegate', 'SAFEGATE_SCREENS_PUBLISH=/run/safegate']));
    expect(one('StandardOutput')).toBe('journal');
    expect(one('DevicePolicy')).toBe('closed');
    expect(s.get('DeviceAllow')).toEqual(expect.arrayContaining(['char-ttyACM rw', 'char-ttyUSB rw', 'char-input r']));
    expect(section(unitText('safegate.service'), 'Install').get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('the screens unit runs cage on tty1 as safegate, reading the address the core publishes', () => {
    const s = section(unitText('safegate-kiosk.service'), 'Service');
    expect(s.get('ExecStart')).toEqual(['/usr/bin/cage -s -- /usr/lib/safegate/libexec/safegate-screens']);
    expect(s.get('User')).toEqual(['safegate']);
    expect(s.get('TTYPath')).toEqual(['/dev/tty1']);
    expect(s.get('Environment')).toContain('SAFEGATE_SCREENS_PUBLISH=/run/safegate');
    expect(section(unitText('safegate-kiosk.service'), 'Unit').get('Conflicts')).toEqual(['getty@tty1.service']);
  });

  it('the hub unit runs `safegate hub run` with its own state folder', () => {
    const s = section(unitText('safegate-hub.service'), 'Service');
    expect(s.get('ExecStart')).toEqual(['/usr/bin/safegate hub run --config /etc/safegate/hub.yaml']);
    expect(s.get('Type')).toEqual(['notify']);
    expect(s.get('StateDirectory')).toEqual(['safegate-hub']);
  });
});

describe('udev rule for the scanner', () => {
  const rules = readFileSync(join(repo, 'packaging', 'udev', '60-safegate-scanner.rules'), 'utf8');
  const lines = rules.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));

  it('every matching line gives /dev/safegate-scanner, group dialout, 0660, for a tty of a known USB vendor id', () => {
    const matches = lines.filter((l) => l.includes('SYMLINK'));
    expect(matches.length).toBeGreaterThanOrEqual(5);
    for (const l of matches) {
      expect(l).toMatch(/^ATTRS\{idVendor\}=="[0-9a-f]{4}"(, ATTRS\{idProduct\}=="[0-9a-f]{4}")?, SYMLINK\+="safegate-scanner", GROUP="dialout", MODE="0660"$/);
    }
    // Only ttys reach the matching lines; nothing is done on removal.
    expect(lines.slice(0, 2)).toEqual(['ACTION=="remove", GOTO="safegate_scanner_end"', 'SUBSYSTEM!="tty", GOTO="safegate_scanner_end"']);
    expect(lines.at(-1)).toBe('LABEL="safegate_scanner_end"');
    // Generic USB-serial chips are left to a local rule (relay boards use them too).
    for (const generic of ['0403', '1a86', '10c4', '067b']) expect(rules).not.toMatch(new RegExp(`^ATTRS\\{idVendor\\}=="${generic}"`, 'm'));
  });

  it("is the scanner path of the packaged kiosk's settings", () => {
    const kiosk = parseYaml(readFileSync(join(repo, 'packaging', 'etc', 'kiosk.yaml'), 'utf8')) as { scanner: { path: string } };
    expect(kiosk.scanner.path).toBe('/dev/safegate-scanner');
  });
});
