#!/usr/bin/env node
// Runs electronegativity over what the Electron shell is made of (src-main/shell and the page it
// loads, src-renderer/index.html with its CSP) and fails on any HIGH or MEDIUM finding. The tool's
// exit code is 0 whatever it finds, and its CSV report is written by two racing writes (header and
// rows may interleave), so its runner is called directly and the findings are read as data.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const toolDir = join(root, 'tools/electronegativity/node_modules/@doyensec/electronegativity');
if (!existsSync(toolDir)) {
  console.error('electronegativity is not installed: run  npm ci --prefix tools/electronegativity --ignore-scripts  (scripts/setup.sh test does)');
  process.exit(2);
}
const stage = mkdtempSync(join(tmpdir(), 'safegate-eneg-'));
try {
  for (const f of readdirSync(join(root, 'src-main/shell'))) if (f.endsWith('.ts')) cpSync(join(root, 'src-main/shell', f), join(stage, f));
  cpSync(join(root, 'src-renderer/index.html'), join(stage, 'index.html'));
  const electron = JSON.parse(readFileSync(join(root, 'node_modules/electron/package.json'), 'utf8')).version;
  const run = createRequire(join(toolDir, 'package.json'))('./dist/runner.js');
  const result = await run({
    input: stage,
    isSarif: false,
    customScan: [],
    excludeFromScan: [],
    isRelative: true,
    isVerbose: false,
    electronVersionOverride: electron,
    parserPlugins: [],
  });
  const findings = result.issues.map((i) => ({ id: i.id, severity: i.severity.name, confidence: i.confidence.name, file: i.file, at: `${i.location.line}:${i.location.column}`, description: i.description }));
  console.log(`electronegativity: ${result.globalChecks} global and ${result.atomicChecks} atomic checks for Electron ${electron} over ${readdirSync(stage).join(', ')}`);
  for (const e of result.errors ?? []) console.log(`  could not scan: ${e.file ?? ''} ${e.message ?? e}`);
  for (const f of findings) console.log(`  ${f.severity.padEnd(13)} ${f.id}  ${f.file}:${f.at}  ${f.description}`);
  const bad = findings.filter((f) => f.severity === 'HIGH' || f.severity === 'MEDIUM');
  console.log(`${findings.length} finding(s), ${bad.length} HIGH or MEDIUM`);
  if ((result.errors ?? []).length || result.atomicChecks < 30) {
    console.log('the scan did not run completely');
    process.exitCode = 1;
  } else process.exitCode = bad.length ? 1 : 0;
} finally {
  rmSync(stage, { recursive: true, force: true });
}
