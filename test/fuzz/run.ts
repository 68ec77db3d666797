/**
 * `npm run fuzz`: a million generated inputs across every input door (see targets.ts), weighted
 * towards the cheap ones. FUZZ_SEED=<n> repeats a run; FUZZ_INPUTS=<n> changes its size;
 * FUZZ_GROUPS=framer,credential,... runs only those groups of targets (see targets.ts);
 * FUZZ_WATCHDOG_MS changes how long one stuck input may block the process before the run is ended.
 *
 * A crash is any exception other than the documented refusal, or a broken invariant; a hang is one
 * input taking over a second. Each failure is shrunk by fast-check and printed with its seed and
 * path (and written in full to test-output/fuzz/). Progress goes to stdout every few seconds; the
 * last line is one JSON object: inputs, crashes, hangs, max_ms, seed, seconds and per-target figures.
 * The exit status is 1 if anything crashed or hung.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { FUZZ_GROUPS, openFuzzSuite, type FuzzGroup } from './targets.js';

const HANG_MS = 1_000;
/** An input still running after this long is abandoned (counted as a hang) so the run can go on. */
const ABANDON_MS = 30_000;
/** A process stuck this long (a synchronous endless loop) is ended by the watchdog with a final line. */
const WATCHDOG_MS = Number(process.env.FUZZ_WATCHDOG_MS ?? 120_000);
const PROGRESS_MS = 5_000;
/** Time fast-check may spend shrinking one failure; after it, the smallest failing input so far is reported. */
const SHRINK_BUDGET_MS = 30_000;

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31 - 1);
if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, not ${process.env.FUZZ_SEED}`);
const total = Number(process.env.FUZZ_INPUTS ?? 1_000_000);
const groups = (process.env.FUZZ_GROUPS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const unknownGroup = groups.find((g) => !FUZZ_GROUPS.includes(g as FuzzGroup));
if (unknownGroup) throw new Error(`FUZZ_GROUPS: no group ${unknownGroup} (groups: ${FUZZ_GROUPS.join(', ')})`);
const started = Date.now();

console.log(`fuzz: seed ${seed} (run again with FUZZ_SEED=${seed}), ${total.toLocaleString('en')} inputs`);

interface TargetFigures {
  inputs: number;
  crashes: number;
  hangs: number;
  max_ms: number;
  seconds: number;
}
interface Failure {
  target: string;
  kind: 'crash' | 'hang';
  seed: number;
  path?: string;
  error: string;
  input: string;
  ms?: number;
}

const suite = await openFuzzSuite(groups.length ? (groups as FuzzGroup[]) : FUZZ_GROUPS);
const targets = suite.targets;
const figures: Record<string, TargetFigures> = Object.fromEntries(targets.map((t) => [t.name, { inputs: 0, crashes: 0, hangs: 0, max_ms: 0, seconds: 0 }]));
const failures: Failure[] = [];

// Quotas by weight, summing to exactly `total`.
const weightSum = targets.reduce((s, t) => s + t.weight, 0);
const quotas = targets.map((t) => Math.floor((total * t.weight) / weightSum));
for (let i = 0; quotas.reduce((a, b) => a + b, 0) < total; i = (i + 1) % quotas.length) quotas[i]!++;

console.log(`fuzz: ${targets.map((t, i) => `${t.name} ${quotas[i]!.toLocaleString('en')}`).join(', ')}`);

// Shared with the watchdog: [heartbeat ms, inputs, crashes, hangs, max ms, target index, chunk seed, input of the chunk].
const shared = new Float64Array(new SharedArrayBuffer(8 * 8));
const sync = () => {
  const all = Object.values(figures);
  shared[1] = all.reduce((s, f) => s + f.inputs, 0);
  shared[2] = all.reduce((s, f) => s + f.crashes, 0);
  shared[3] = all.reduce((s, f) => s + f.hangs, 0);
  shared[4] = Math.max(0, ...all.map((f) => f.max_ms));
};
shared[0] = Date.now();
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads');
   const { writeSync } = require('node:fs');
   const s = workerData.shared;
   setInterval(() => {
     if (Date.now() - s[0] < workerData.limitMs) return;
     const line = { inputs: s[1], crashes: s[2], hangs: s[3] + 1, max_ms: Math.max(s[4], Date.now() - s[0]), seed: workerData.seed,
       stuck: workerData.names[s[5]] + ': input ' + (s[7] + 1) + ' of the chunk with fast-check seed ' + s[6] + ' has run for ' + Math.round((Date.now() - s[0]) / 1000) + ' s (an endless loop?); run ended' };
     writeSync(1, JSON.stringify(line) + '\\n');
     process.kill(process.pid, 'SIGKILL');
   }, 1000);`,
  { eval: true, workerData: { shared, limitMs: WATCHDOG_MS, seed, names: targets.map((t) => t.name) } },
);
watchdog.unref();

let current = '';
let lastInput = '';
const record = (f: Failure) => {
  failures.push(f);
  const fig = figures[f.target]!;
  if (f.kind === 'crash') fig.crashes++;
  else fig.hangs++;
  sync();
  console.log(`  ${f.kind.toUpperCase()} in ${f.target} (seed ${f.seed}${f.path ? `, path "${f.path}"` : ''}): ${f.error.split('\n')[0]}\n    input: ${f.input.slice(0, 600)}`);
};
// An error escaping from a callback (a socket handler, a timer) would have crashed the kiosk.
process.on('uncaughtException', (err) => record({ target: current || 'set-up', kind: 'crash', seed, error: `uncaught: ${err.stack ?? String(err)}`, input: lastInput }));
process.on('unhandledRejection', (err) => record({ target: current || 'set-up', kind: 'crash', seed, error: `unhandled rejection: ${(err as Error)?.stack ?? String(err)}`, input: lastInput }));

let lastProgress = Date.now();
const progress = (force = false) => {
  if (!force && Date.now() - lastProgress < PROGRESS_MS) return;
  lastProgress = Date.now();
  sync();
  const done = shared[1]!;
  const fig = figures[current];
  const quota = quotas[targets.findIndex((t) => t.name === current)] ?? 0;
  console.log(
    `[${((100 * done) / total).toFixed(1).padStart(5)}%] ${done.toLocaleString('en')} inputs | ${current} ${fig?.inputs.toLocaleString('en')}/${quota.toLocaleString('en')}` +
      ` | crashes ${shared[2]} hangs ${shared[3]} max ${Math.round(shared[4]!)} ms | ${Math.round((Date.now() - started) / 1000)} s, ${Math.round(process.memoryUsage.rss() / 2 ** 20)} MiB`,
  );
};

/** A failure's kind: its message without the particular values, so one bug is shrunk and reported once. */
function signature(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown } | undefined;
  const line = String(e?.message ?? err).split('\n')[0]!;
  const general = line.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/\{[^}]*\}?|\[[^\]]*\]?/g, '…').replace(/\d+/g, '#');
  return `${String(e?.name ?? typeof err)}: ${general.slice(0, 100)}`;
}

/** Runs one input: how long it took, and what it threw. */
async function timedRun(run: (input: unknown) => void | Promise<void>, input: unknown): Promise<{ ms: number; failed: boolean; error?: unknown }> {
  shared[0] = Date.now();
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(() => run(input)),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`abandoned after ${ABANDON_MS} ms`)), ABANDON_MS))),
    ]);
    return { ms: performance.now() - t0, failed: false };
  } catch (error) {
    return { ms: performance.now() - t0, failed: true, error };
  } finally {
    clearTimeout(timer);
    shared[0] = Date.now();
  }
}

/** Inputs over HANG_MS once that were quick when run again (the machine was busy): reported, not counted. */
const slowOnce: { target: string; ms: number; again_ms: number }[] = [];

const nameHash = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 0);

for (const [ti, t] of targets.entries()) {
  current = t.name;
  shared[5] = ti;
  const fig = figures[t.name]!;
  const quota = quotas[ti]!;
  const chunk = Math.max(50, Math.min(2_000, Math.ceil(quota / 20)));
  const targetStarted = Date.now();
  // Kinds of failure already shrunk and reported for this target: later inputs failing the same way are counted only.
  const known = new Set<string>();
  for (let round = 0; fig.inputs < quota; round++) {
    const chunkSeed = (seed + nameHash(t.name) + round * 7_919) | 0;
    const numRuns = Math.min(chunk, quota - fig.inputs);
    let failure: string | undefined;
    let shrinkStarted = 0;
    shared[6] = chunkSeed;
    shared[7] = 0;
    const property = fc.asyncProperty(t.arbitrary, async (input) => {
      // After the first new failure of a chunk fast-check is shrinking: those runs are not new inputs,
      // and only a failure of the same kind reproduces it.
      const shrinking = failure !== undefined;
      if (shrinking && Date.now() - shrinkStarted > SHRINK_BUDGET_MS) return;
      const first = await timedRun(t.run, input);
      if (!shrinking) {
        fig.inputs++;
        shared[1] = shared[1]! + 1;
        shared[7] = shared[7]! + 1;
        fig.max_ms = Math.max(fig.max_ms, first.ms);
        if (first.ms > HANG_MS) {
          // A hang must happen again: on a busy machine one input can wait for the CPU that long.
          const again = await timedRun(t.run, input);
          if (again.ms > HANG_MS) {
            record({ target: t.name, kind: 'hang', seed: chunkSeed, ms: Math.round(first.ms), error: `one input took ${Math.round(first.ms)} ms, and ${Math.round(again.ms)} ms again`, input: fc.stringify(input) });
          } else {
            slowOnce.push({ target: t.name, ms: Math.round(first.ms), again_ms: Math.round(again.ms) });
          }
        }
        progress();
      }
      if (!first.failed) return;
      const kind = signature(first.error);
      if (shrinking) {
        if (kind === failure) throw first.error;
      } else if (known.has(kind)) {
        fig.crashes++;
      } else {
        failure = kind;
        shrinkStarted = Date.now();
        throw first.error;
      }
    });
    lastInput = '';
    const details = await fc.check(property, { seed: chunkSeed, numRuns });
    if (details.failed) {
      const input = fc.stringify(details.counterexample?.[0]);
      lastInput = input;
      const error = details.errorInstance instanceof Error ? (details.errorInstance.stack ?? details.errorInstance.message) : String(details.errorInstance);
      known.add(failure!);
      record({ target: t.name, kind: 'crash', seed: chunkSeed, path: details.counterexamplePath ?? undefined, error, input });
    }
    // A chunk that found a new failure ends there; the next chunk (another seed) carries on to the quota.
    // Let the event loop turn: native memory (zlib's, for one) is released by tasks that run only then,
    // and a chunk of synchronous targets runs entirely in microtasks (without this: 4 GB by the end).
    await new Promise((resolve) => setImmediate(resolve));
  }
  fig.seconds = Math.round((Date.now() - targetStarted) / 100) / 10;
  progress(true);
}

current = 'loopback server still serves';
figures[current] = { inputs: 0, crashes: 0, hangs: 0, max_ms: 0, seconds: 0 };
try {
  await suite.stillServes();
} catch (err) {
  record({ target: current, kind: 'crash', seed, error: (err as Error).stack ?? String(err), input: '(a correct connection after the run)' });
}
await suite.close();

sync();
const seconds = Math.round((Date.now() - started) / 1000);
if (failures.length) {
  const dir = join('test-output', 'fuzz');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `failures-${seed}.json`);
  writeFileSync(file, JSON.stringify(failures, null, 2));
  console.log(`${failures.length} failures, in full in ${file}`);
}
const summary = {
  inputs: shared[1],
  crashes: shared[2],
  hangs: shared[3],
  max_ms: Math.round(shared[4]!),
  seed,
  seconds,
  slow_once_not_again: slowOnce,
  targets: Object.fromEntries(Object.entries(figures).map(([k, f]) => [k, { ...f, max_ms: Math.round(f.max_ms) }])),
};
console.log(JSON.stringify(summary));
process.exitCode = summary.crashes || summary.hangs ? 1 : 0;
await watchdog.terminate();
