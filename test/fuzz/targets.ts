import { Closer, type AnyFuzzTarget } from './harness.js';
import { apiTargets } from './targets/api.js';
import { batchTargets } from './targets/batch.js';
import { credentialTargets, makeKeys } from './targets/credential.js';
import { downlinkTargets } from './targets/downlink.js';
import { exportUploadTargets } from './targets/exports.js';
import { framerTargets } from './targets/framer.js';
import { hubTargets } from './targets/hub.js';
import { phonePassTargets } from './targets/phone-pass.js';
import { phoneUploadTargets } from './targets/phone-uploads.js';

export type { AnyFuzzTarget, FuzzTarget } from './harness.js';

/** Every fuzz target, with what they opened (stores in a scratch folder, a kiosk serving its screens). */
export interface FuzzSuite {
  targets: AnyFuzzTarget[];
  /** After the run: a correct connection to the kiosk's loopback server still works (a no-op without the api group). */
  stillServes(): Promise<void>;
  close(): Promise<void>;
}

/** The targets by group: each input door, and what it needs opened. */
const GROUPS = {
  framer: async () => framerTargets(),
  credential: async (closer: Closer) => credentialTargets(makeKeys(), closer),
  phone: async (closer: Closer) => [...(await phonePassTargets(closer)), ...(await phoneUploadTargets(closer))],
  batch: async () => batchTargets(),
  downlink: async (closer: Closer) => downlinkTargets(closer),
  hub: async (closer: Closer) => [...hubTargets(closer), ...(await exportUploadTargets(closer))],
  api: async (closer: Closer) => apiTargets(closer),
} as const;
export type FuzzGroup = keyof typeof GROUPS;
export const FUZZ_GROUPS = Object.keys(GROUPS) as FuzzGroup[];

/** Builds the targets (of the given groups, or all): one definition for the small vitest run and for `npm run fuzz`. */
export async function openFuzzSuite(groups: readonly FuzzGroup[] = FUZZ_GROUPS): Promise<FuzzSuite> {
  const closer = new Closer();
  try {
    const targets: AnyFuzzTarget[] = [];
    let stillServes = async (): Promise<void> => {};
    for (const group of FUZZ_GROUPS.filter((g) => groups.includes(g))) {
      const built = await GROUPS[group](closer);
      if (Array.isArray(built)) targets.push(...built);
      else {
        targets.push(...built.targets);
        stillServes = built.stillServes;
      }
    }
    return { targets, stillServes, close: () => closer.close() };
  } catch (err) {
    await closer.close();
    throw err;
  }
}
