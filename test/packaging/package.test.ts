import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { settingsSchema } from '../../src-main/core/config.js';
import {
  CONFFILES,
  MAINTAINER_SCRIPTS,
  UNITS,
  controlText,
  debianVersion,
  dropModuleFile,
  keepBuildFile,
  nativeModules,
  parseControl,
  stageTree,
} from '../../tools/package/layout.mjs';
import { tempDir } from '../helpers/fixtures.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const template = readFileSync(join(repo, 'packaging', 'debian', 'control.in'), 'utf8');

describe('control file', () => {
  it('is filled from the template for each architecture, depending on the system Node.js 20.19 or later', () => {
    for (const arch of ['amd64', 'arm64']) {
      const fields = parseControl(controlText(template, { version: '1.2.3', arch, installedSizeKiB: 1234.2 }));
      expect(fields.Package).toBe('safegate');
      expect(fields.Version).toBe('1.2.3');
      expect(fields.Architecture).toBe(arch);
      expect(fields['Installed-Size']).toBe('1235');
      expect(fields.Depends?.split(/,\s*/)).toEqual(expect.arrayContaining(['nodejs (>= 20.19)', 'adduser', 'libc6 (>= 2.36)']));
      expect(fields.Description).toMatch(/^SafeGate/);
    }
  });

  it('refuses an unknown architecture, a version dpkg would refuse, and an unfilled placeholder', () => {
    expect(() => controlText(template, { version: '1.0.0', arch: 'i386', installedSizeKiB: 1 })).toThrow(/architecture/);
    expect(() => controlText(template, { version: 'v 1', arch: 'amd64', installedSizeKiB: 1 })).toThrow(/version/);
    expect(() => controlText(template + 'X-Extra: @NOPE@\n', { version: '1.0.0', arch: 'amd64', installedSizeKiB: 1 })).toThrow(/@NOPE@/);
  });

  it('turns a pre-release into a version that sorts before its release', () => {
    expect(debianVersion('0.2.0-rc.1')).toBe('0.2.0~rc.1');
    expect(debianVersion('0.2.0')).toBe('0.2.0');
    if (spawnSync('dpkg', ['--version']).status === 0) {
      expect(spawnSync('dpkg', ['--compare-versions', debianVersion('0.2.0-rc.1'), 'lt', debianVersion('0.2.0')]).status).toBe(0);
    }
  });
});

describe('maintainer scripts', () => {
  it.each(MAINTAINER_SCRIPTS)('%s is valid POSIX sh (sh -n), executable, and stops on errors', (name) => {
    const file = join(repo, 'packaging', 'debian', name);
    const r = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(statSync(file).mode & 0o111).not.toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toMatch(/^set -e$/m);
    // systemctl only where systemd runs: a chroot or container without it installs cleanly.
    for (const line of text.split('\n').filter((l) => /^\s*systemctl /.test(l))) expect(line).toMatch(/\|\| true$/);
    if (text.includes('systemctl ')) expect(text).toContain('[ -d /run/systemd/system ]');
  });

  it('postrm deletes the kiosk data only on purge; remove keeps /var/lib/safegate', () => {
    const text = readFileSync(join(repo, 'packaging', 'debian', 'postrm'), 'utf8')
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n');
    const purge = text.slice(text.indexOf('if [ "$1" = "purge" ]'));
    expect(purge).toContain('rm -rf /var/lib/safegate');
    expect(text.slice(0, text.indexOf('if [ "$1" = "purge" ]'))).not.toContain('/var/lib/safegate');
  });
});

describe("the packaged kiosk's settings (/etc/safegate/kiosk.yaml)", () => {
  const kiosk = parseYaml(readFileSync(join(repo, 'packaging', 'etc', 'kiosk.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;

  it('names no device, checkpoint or broker (enrolment gives them) and keeps everything it writes in /var/lib/safegate', () => {
    expect(kiosk.device).toBeUndefined();
    expect(kiosk.checkpoint).toBeUndefined();
    expect(kiosk.hub?.broker).toBeUndefined();
    expect(kiosk.store?.path).toBe('/var/lib/safegate/safegate.db');
    // ProtectSystem=strict: /etc is read-only for the service, so the key file the kiosk makes lives with its data.
    expect(kiosk.store?.keyFile).toBe('/var/lib/safegate/safegate.key');
    expect(kiosk.gate?.gpio).toBe('auto');
  });

  it('is valid kiosk settings once enrolment adds a device and checkpoint', () => {
    const r = settingsSchema.safeParse({ ...kiosk, device: { id: 'kiosk-0001' }, checkpoint: { id: 'gate-a', name: 'Gate A', kind: 'gate', zone: 'z', direction: 'entry' } });
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
  });
});

describe('package layout (staged from a tiny fixture)', () => {
  let dir: ReturnType<typeof tempDir>;
  let out: string;
  const ELF = (machine: number) => {
    const b = Buffer.alloc(64);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1], 0);
    b.writeUInt16LE(machine, 18);
    return b;
  };
  const write = (file: string, text: string | Buffer, mode = 0o644) => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text, { mode });
  };

  beforeAll(() => {
    dir = tempDir('safegate-package-');
    const src = join(dir.path, 'repo');
    write(join(src, 'package.json'), JSON.stringify({ name: 'safegate', version: '0.1.0', type: 'module', dependencies: { x: '1' }, devDependencies: { vitest: '1' }, scripts: { build: 'tsc' } }));
    write(join(src, 'bin', 'safegate.js'), '#!/usr/bin/env node\n', 0o755);
    write(join(src, 'build', 'src-main', 'cli', 'main.js'), 'export {}\n');
    write(join(src, 'build', 'src-main', 'cli', 'main.d.ts'), 'export {}\n');
    write(join(src, 'build', 'tsconfig.node.tsbuildinfo'), '{}');
    write(join(src, 'build', 'renderer', 'index.html'), '<!doctype html>');
    write(join(src, 'config', 'kiosk.example.yaml'), 'a: 1\n');
    // The real packaging folder: what is checked is what ships.
    spawnSync('cp', ['-r', join(repo, 'packaging'), join(src, 'packaging')]);
    const nm = join(dir.path, 'modules', 'node_modules');
    write(join(nm, 'x', 'index.js'), 'module.exports = 1\n');
    write(join(nm, 'x', 'index.d.ts'), 'export {}\n');
    write(join(nm, 'typescript', 'lib', 'typescript.js'), '//\n');
    write(join(nm, 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'), ELF(0xb7));
    write(join(nm, 'better-sqlite3', 'build', 'Release', 'obj.target', 'better_sqlite3.node'), ELF(0xb7));
    write(join(nm, 'better-sqlite3', 'deps', 'sqlite3', 'sqlite3.c'), '/* */');
    write(join(nm, '@serialport', 'bindings-cpp', 'prebuilds', 'linux-arm64', 'b.armv8.glibc.node'), ELF(0xb7));
    write(join(nm, '@serialport', 'bindings-cpp', 'prebuilds', 'linux-x64', 'b.glibc.node'), ELF(0x3e));
    write(join(nm, '@serialport', 'bindings-cpp', 'prebuilds', 'win32-x64', 'b.node'), 'MZ');
    out = join(dir.path, 'stage');
    stageTree({ repoRoot: src, modulesDir: join(dir.path, 'modules'), out, version: '0.2.0', arch: 'arm64' });
  });
  afterAll(() => dir.remove());

  const has = (p: string) => existsSync(join(out, p));
  const mode = (p: string) => lstatSync(join(out, p)).mode & 0o777;

  it('puts the program in /usr/lib/safegate with this version, the command in /usr/bin, settings in /etc/safegate', () => {
    const pkg = JSON.parse(readFileSync(join(out, 'usr/lib/safegate/package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({ name: 'safegate', version: '0.2.0', type: 'module', dependencies: { x: '1' } });
    expect(pkg.devDependencies).toBeUndefined();
    expect(pkg.scripts).toBeUndefined();
    for (const p of ['usr/lib/safegate/bin/safegate.js', 'usr/lib/safegate/build/src-main/cli/main.js', 'usr/lib/safegate/build/renderer/index.html', 'usr/lib/safegate/config/kiosk.example.yaml', 'usr/lib/safegate/libexec/safegate-screens', 'usr/lib/udev/rules.d/60-safegate-scanner.rules']) {
      expect(has(p), p).toBe(true);
    }
    for (const u of UNITS) expect(mode(`usr/lib/systemd/system/${u}`), u).toBe(0o644);
    expect(mode('usr/bin/safegate')).toBe(0o755);
    expect(readFileSync(join(out, 'usr/bin/safegate'), 'utf8')).toContain('exec /usr/bin/node --max-semi-space-size=2 /usr/lib/safegate/bin/safegate.js "$@"');
    expect(mode('etc/safegate/kiosk.yaml')).toBe(0o640);
  });

  it('leaves out type declarations, build caches, native build leftovers, other platforms and TypeScript', () => {
    expect(has('usr/lib/safegate/build/src-main/cli/main.d.ts')).toBe(false);
    expect(has('usr/lib/safegate/build/tsconfig.node.tsbuildinfo')).toBe(false);
    const nm = 'usr/lib/safegate/node_modules';
    expect(has(`${nm}/x/index.js`)).toBe(true);
    expect(has(`${nm}/x/index.d.ts`)).toBe(false);
    expect(has(`${nm}/typescript`)).toBe(false);
    expect(has(`${nm}/better-sqlite3/build/Release/better_sqlite3.node`)).toBe(true);
    expect(has(`${nm}/better-sqlite3/build/Release/obj.target`)).toBe(false);
    expect(has(`${nm}/better-sqlite3/deps`)).toBe(false);
    expect(has(`${nm}/@serialport/bindings-cpp/prebuilds/linux-arm64/b.armv8.glibc.node`)).toBe(true);
    expect(has(`${nm}/@serialport/bindings-cpp/prebuilds/linux-x64`)).toBe(false);
    expect(has(`${nm}/@serialport/bindings-cpp/prebuilds/win32-x64`)).toBe(false);
    expect(nativeModules(join(out, nm), 'arm64').every((m) => m.ok)).toBe(true);
    // The check that guards a real build: an amd64 module in an arm64 tree is caught.
    expect(nativeModules(join(dir.path, 'modules', 'node_modules'), 'arm64').filter((m) => !m.ok).map((m) => m.file)).toEqual(['@serialport/bindings-cpp/prebuilds/linux-x64/b.glibc.node']);
    expect(keepBuildFile('renderer/assets/index.js')).toBe(true);
    expect(dropModuleFile('sharp/lib/index.js', 'amd64')).toBe(false);
  });

  it('has DEBIAN/ with the control file, the conffiles (each one in the tree) and the maintainer scripts', () => {
    expect(readFileSync(join(out, 'DEBIAN', 'conffiles'), 'utf8')).toBe(CONFFILES.join('\n') + '\n');
    for (const c of CONFFILES) expect(has(c.slice(1)), c).toBe(true);
    for (const s of MAINTAINER_SCRIPTS) expect(mode(`DEBIAN/${s}`), s).toBe(0o755);
    const fields = parseControl(readFileSync(join(out, 'DEBIAN', 'control'), 'utf8'));
    expect([fields.Version, fields.Architecture]).toEqual(['0.2.0', 'arm64']);
    expect(Number(fields['Installed-Size'])).toBeGreaterThan(0);
  });

  it.skipIf(spawnSync('dpkg-deb', ['--version']).status !== 0)('dpkg-deb builds it, and the package lists the files and fields dpkg will install', () => {
    const deb = join(dir.path, 'safegate_0.2.0_arm64.deb');
    const built = spawnSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', out, deb], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    const listing = spawnSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' }).stdout;
    expect(listing).toMatch(/^-rwxr-xr-x root\/root .* \.\/usr\/bin\/safegate$/m);
    expect(listing).toMatch(/^-rw-r----- root\/root .* \.\/etc\/safegate\/kiosk\.yaml$/m);
    expect(listing).toMatch(/\.\/usr\/lib\/systemd\/system\/safegate\.service$/m);
    expect(spawnSync('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Architecture'], { encoding: 'utf8' }).stdout).toBe('Package: safegate\nVersion: 0.2.0\nArchitecture: arm64\n');
    expect(spawnSync('dpkg-deb', ['-I', deb, 'conffiles'], { encoding: 'utf8' }).stdout).toBe('/etc/safegate/kiosk.yaml\n');
  });
});
