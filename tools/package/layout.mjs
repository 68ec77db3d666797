// The safegate Debian package's contents: pure functions over folders, used by tools/package/package.mjs
// (npm run package) and checked on a tiny fixture by test/packaging/package.test.ts.
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** Debian architecture -> what Node calls it (npm --cpu, node-gyp --arch, process.arch). */
export const NODE_ARCH = Object.freeze({ amd64: 'x64', arm64: 'arm64' });

/** ELF e_machine of each Debian architecture (native modules are checked against it). */
export const ELF_MACHINE = Object.freeze({ amd64: 0x3e, arm64: 0xb7 });

/** Where things go in the installed system. */
export const INSTALL = Object.freeze({
  lib: 'usr/lib/safegate',
  command: 'usr/bin/safegate',
  units: 'usr/lib/systemd/system',
  udev: 'usr/lib/udev/rules.d',
  etc: 'etc/safegate',
});

/** The conffiles: dpkg keeps an administrator's edits on upgrade and removes them only on purge. */
export const CONFFILES = Object.freeze(['/etc/safegate/kiosk.yaml']);

export const UNITS = Object.freeze(['safegate.service', 'safegate-kiosk.service', 'safegate-hub.service']);
export const MAINTAINER_SCRIPTS = Object.freeze(['postinst', 'prerm', 'postrm']);

/** Runtime libraries the compiled modules link to, beyond Node itself. */
export const NATIVE_DEPENDS = 'libc6 (>= 2.36), libstdc++6 (>= 12)';

const VERSION_PATTERN = /^[0-9][A-Za-z0-9.+~-]*$/;

/** A Debian version from package.json's semver (`0.1.0-rc.1` -> `0.1.0~rc.1`, so a release sorts after its candidates). */
export function debianVersion(semver) {
  const v = String(semver).replace(/-/, '~');
  if (!VERSION_PATTERN.test(v)) throw new Error(`not a usable package version: ${JSON.stringify(semver)}`);
  return v;
}

/** DEBIAN/control from packaging/debian/control.in; every placeholder must be filled. */
export function controlText(template, { version, arch, installedSizeKiB }) {
  if (!(arch in NODE_ARCH)) throw new Error(`unsupported architecture: ${arch}`);
  const text = template
    .replaceAll('@VERSION@', debianVersion(version))
    .replaceAll('@ARCH@', arch)
    .replaceAll('@INSTALLED_SIZE@', String(Math.max(1, Math.ceil(installedSizeKiB))))
    .replaceAll('@DEPENDS@', NATIVE_DEPENDS);
  const left = text.match(/@[A-Z_]+@/);
  if (left) throw new Error(`control template: ${left[0]} not filled`);
  return text.endsWith('\n') ? text : text + '\n';
}

/** Parses control-file fields (one level; continuation lines joined with newlines). */
export function parseControl(text) {
  const fields = {};
  let last;
  for (const line of text.split('\n')) {
    if (!line) continue;
    if (/^\s/.test(line) && last) fields[last] += '\n' + line.trim();
    else {
      const m = line.match(/^([A-Za-z0-9-]+):\s*(.*)$/);
      if (!m) throw new Error(`control: bad line ${JSON.stringify(line)}`);
      last = m[1];
      fields[last] = m[2];
    }
  }
  return fields;
}

/** What of build/ goes into the package: compiled code and the built screens, no type declarations or build caches. */
export function keepBuildFile(rel) {
  return !/\.d\.ts(\.map)?$/.test(rel) && !rel.endsWith('.tsbuildinfo');
}

/**
 * Files in production node_modules that are not needed at run time: native build intermediates and
 * sources, other platforms' prebuilt binaries (the arch's own are kept), type declarations and source
 * maps, and TypeScript itself (an optional peer of i18next for its types; nothing loads it at run time).
 */
export function dropModuleFile(rel, arch) {
  const p = rel.split('\\').join('/');
  if (/^(typescript|@types|\.bin)\//.test(p)) return true;
  if (/\.d\.[cm]?ts$/.test(p) || /\.(js|mjs|cjs|css)\.map$/.test(p)) return true;
  if (/(^|\/)build\/Release\/(obj\.target|obj|\.deps)(\/|$)/.test(p)) return true;
  if (/(^|\/)build\/(Makefile|config\.gypi|.*\.mk)$/.test(p)) return true;
  if (/^better-sqlite3\/(deps|src)(\/|$)/.test(p)) return true;
  const pre = p.match(/(^|\/)prebuilds\/([^/]+)(\/|$)/);
  if (pre && pre[2] !== `linux-${NODE_ARCH[arch]}`) return true;
  return false;
}

function copyTree(from, to, keep) {
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const st = lstatSync(src);
    if (st.isSymbolicLink()) {
      if (!keep(relative(from, src), src)) continue;
      mkdirSync(to, { recursive: true });
      cpSync(src, dst, { verbatimSymlinks: true });
    } else if (st.isDirectory()) {
      copyTree(src, dst, keep);
    } else if (keep(relative(from, src), src)) {
      mkdirSync(to, { recursive: true });
      copyFileSync(src, dst);
      chmodSync(dst, st.mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

/** Total size in KiB of a staged tree (files and links; Installed-Size). */
export function treeSizeKiB(dir) {
  let bytes = 0;
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else bytes += st.size;
    }
  };
  walk(dir);
  return bytes / 1024;
}

/**
 * Lays out the package tree in `out` (emptied first): /usr/lib/safegate (package.json with this
 * version, bin/, build/, production node_modules, config examples), the /usr/bin/safegate wrapper,
 * /etc/safegate/kiosk.yaml, the systemd units, the udev rule and DEBIAN/ (control, conffiles,
 * maintainer scripts).
 *  - repoRoot: the source tree (packaging/, bin/, build/, config/, package.json)
 *  - modulesDir: a folder holding the target arch's production node_modules (or undefined: none)
 *  - buildDir: the compiled program (default repoRoot/build; the package test stages a changed copy)
 */
export function stageTree({ repoRoot, modulesDir, out, version, arch, buildDir = join(repoRoot, 'build') }) {
  rmSync(out, { recursive: true, force: true });
  const lib = join(out, INSTALL.lib);
  mkdirSync(lib, { recursive: true });

  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const installedPkg = { name: pkg.name, version, private: true, description: pkg.description, license: pkg.license, type: pkg.type, engines: pkg.engines, bin: pkg.bin, dependencies: pkg.dependencies };
  writeFileSync(join(lib, 'package.json'), JSON.stringify(installedPkg, null, 2) + '\n');

  copyTree(join(repoRoot, 'bin'), join(lib, 'bin'), () => true);
  copyTree(buildDir, join(lib, 'build'), (rel) => keepBuildFile(rel));
  copyTree(join(repoRoot, 'config'), join(lib, 'config'), () => true);
  if (modulesDir) copyTree(join(modulesDir, 'node_modules'), join(lib, 'node_modules'), (rel, src) => !dropModuleFile(relative(join(modulesDir, 'node_modules'), src), arch));

  const packaging = join(repoRoot, 'packaging');
  const put = (from, to, mode) => {
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    chmodSync(to, mode);
  };
  put(join(packaging, 'bin', 'safegate'), join(out, INSTALL.command), 0o755);
  put(join(packaging, 'bin', 'safegate-screens'), join(lib, 'libexec', 'safegate-screens'), 0o755);
  put(join(packaging, 'etc', 'kiosk.yaml'), join(out, INSTALL.etc, 'kiosk.yaml'), 0o640);
  for (const unit of UNITS) put(join(packaging, 'systemd', unit), join(out, INSTALL.units, unit), 0o644);
  put(join(packaging, 'udev', '60-safegate-scanner.rules'), join(out, INSTALL.udev, '60-safegate-scanner.rules'), 0o644);

  const debian = join(out, 'DEBIAN');
  mkdirSync(debian, { recursive: true });
  for (const s of MAINTAINER_SCRIPTS) put(join(packaging, 'debian', s), join(debian, s), 0o755);
  writeFileSync(join(debian, 'conffiles'), CONFFILES.join('\n') + '\n');
  chmodSync(join(debian, 'conffiles'), 0o644);
  const control = controlText(readFileSync(join(packaging, 'debian', 'control.in'), 'utf8'), { version, arch, installedSizeKiB: treeSizeKiB(out) });
  writeFileSync(join(debian, 'control'), control);
  chmodSync(join(debian, 'control'), 0o644);
  return { out, control };
}

/** ELF e_machine of a file, or undefined when it is no ELF file. */
export function elfMachine(file) {
  const b = readFileSync(file);
  if (b.length < 20 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return undefined;
  return b[5] === 2 ? b.readUInt16BE(18) : b.readUInt16LE(18);
}

/** Every native module (.node) under `dir`, with whether it is built for `arch`. */
export function nativeModules(dir, arch) {
  const found = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && (name.endsWith('.node') || /\.so(\.\d+)*$/.test(name))) {
        const machine = elfMachine(p);
        found.push({ file: relative(dir, p), machine, ok: machine === undefined || machine === ELF_MACHINE[arch] });
      }
    }
  };
  if (existsSync(dir) && statSync(dir).isDirectory()) walk(dir);
  return found;
}

