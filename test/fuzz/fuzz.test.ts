import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { openFuzzSuite } from './targets.js';

/**
 * The small fuzz run of the normal test command: every target of `npm run fuzz`, with a fixed seed
 * and a few hundred inputs each, so a regression in any input door fails `npm test` the same way
 * every time. A failure prints the shrunk input: keep it as a named test in regressions.test.ts.
 */
const SEED = 20_261_127;
/** Far above any input's normal time: a slow machine must not fail it, a hang must. */
const INPUT_LIMIT_MS = 5_000;

const suite = await openFuzzSuite();
afterAll(() => suite.close());

describe('fuzzing every input door (fixed seed, small run)', () => {
  for (const [i, t] of suite.targets.entries()) {
    it(`${t.name}: nothing crashes, hangs or gets in unrefused`, async () => {
      await fc.assert(
        fc.asyncProperty(t.arbitrary, async (input) => {
          const started = performance.now();
          await t.run(input);
          const ms = performance.now() - started;
          if (ms > INPUT_LIMIT_MS) throw new Error(`one input took ${Math.round(ms)} ms`);
        }),
        { seed: SEED + i, numRuns: t.smallRuns },
      );
    });
  }

  it('the loopback server still answers a correct connection after the fuzzing', async () => {
    await suite.stillServes();
  });
});
