import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readBarcodes } from 'zxing-wasm/reader';
import {
  DEFAULT_BUDGET_MS,
  LADDER,
  STRATEGY_NAMES,
  budgetForFrameInterval,
  createCombinedDecoder,
  type CombinedDecoder,
  type CombinedOptions,
  type StrategyName,
} from '../../../device/camera/combined-decoder.js';
import type { Frame } from '../../../device/camera/decoder.js';
import { prepareZxingWasm } from '../../../device/camera/zxing-wasm-decoder.js';
import { createFrameDecode, type FrameReply } from '../../../device/camera/frame-decode.js';
import { decodeImages } from '../../../src-main/cli/commands.js';
import { nodeWasmSource } from '../../../src-main/core/decoders.js';
import { benchPasses, renderFrame, type Carrier, type Distortion, type Strength } from '../../bench/decode-hardset.js';

/**
 * The combined decoder's budget, gate and error handling, on a virtual clock: `now` is a counter
 * that only moves when a step "takes" time (onStep advances it), so nothing here depends on how fast
 * or loaded the machine is.
 */
let text: string;
const frameOf = (kind: Distortion | 'none', strength: Strength, carrier: Carrier, seed: number): Frame => renderFrame({ text, kind, strength, carrier, seed });
/** Seen by zxing-wasm (a finder-pattern triple it could not read), read by no step: goes up the whole ladder. */
let fullLadder: Frame;
/** Not seen by zxing-wasm, but with a patch of code-like texture: gets the first step only. */
let codeLike: Frame;
const flat: Frame = { data: new Uint8ClampedArray(640 * 480 * 4).fill(128), width: 640, height: 480 };

beforeAll(async () => {
  [text] = (await benchPasses(1)) as [string];
  await prepareZxingWasm(nodeWasmSource()); // the raw zxing-wasm calls below
  fullLadder = frameOf('glare', 2, 'phone', 1);
  codeLike = frameOf('glare', 2, 'paper', 1);
});

interface Rig {
  decoder: CombinedDecoder;
  /** The steps run on the last frame, in order. */
  trace: StrategyName[];
  /** When each of them started, ms after the frame's start. */
  startedAt: number[];
  decode(frame: Frame): Promise<string[]>;
}

/** A decoder on a virtual clock: `took(name, frameNo)` says how long a step "takes" on that frame. */
async function rig(took: (name: StrategyName, frameNo: number) => number, options: CombinedOptions = {}): Promise<Rig> {
  let t = 0;
  let frameNo = -1;
  let frameStart = 0;
  const r: Rig = {
    trace: [],
    startedAt: [],
    decoder: await createCombinedDecoder(nodeWasmSource(), {
      now: () => t,
      onStep: (name) => {
        r.trace.push(name);
        r.startedAt.push(t - frameStart);
        t += took(name, frameNo);
      },
      ...options,
    }),
    async decode(frame) {
      frameNo++;
      r.trace = [];
      r.startedAt = [];
      frameStart = t;
      return r.decoder.decode(frame);
    },
  };
  return r;
}

const ALL: StrategyName[] = [...STRATEGY_NAMES];

describe('combined decoder: the gate', () => {
  it('climbs the ladder, second engine included, only on a frame where zxing-wasm saw a finder pattern and read no code', async () => {
    // What zxing-wasm itself reports, independently of the combined decoder: a symbol it could not read.
    const unread = async (f: Frame) => (await readBarcodes(f as never, { formats: ['QRCode'], returnErrors: true, maxNumberOfSymbols: 0 })).some((x) => !x.isValid);
    expect(await unread(fullLadder)).toBe(true);
    expect(await unread(codeLike)).toBe(false);
    const r = await rig(() => 0, { budgetMs: Infinity });
    expect(await r.decode(fullLadder)).toEqual([]);
    expect(r.trace).toEqual(ALL);
    // Code-like texture without a finder pattern: the first step only, never the second engine.
    expect(await r.decode(codeLike)).toEqual([]);
    expect(r.trace).toEqual(['zxing-wasm', 'half-mean6']);
    // Nothing code-like: the first pass only.
    expect(await r.decode(flat)).toEqual([]);
    expect(r.trace).toEqual(['zxing-wasm']);
    // A code the first pass reads: nothing more.
    expect(await r.decode(frameOf('none', 1, 'paper', 5))).toEqual([text]);
    expect(r.trace).toEqual(['zxing-wasm']);
  });
});

describe('combined decoder: the budget', () => {
  it('starts no step after the first once what is left of the budget cannot hold it', async () => {
    const r = await rig(() => 5, { budgetMs: DEFAULT_BUDGET_MS });
    for (let i = 0; i < 30; i++) {
      await r.decode(fullLadder);
      // The first pass and the first step always run; a later step only while it still fits.
      expect(r.trace.slice(0, 2)).toEqual(['zxing-wasm', 'half-mean6']);
      for (const at of r.startedAt.slice(2)) expect(at).toBeLessThan(DEFAULT_BUDGET_MS);
    }
    // Once the estimates have learnt that every step takes 5 ms: 5 + 5 used, nothing else fits in 12.
    expect(r.trace).toEqual(['zxing-wasm', 'half-mean6']);
  });

  it('runs as many steps as a larger budget holds', async () => {
    const r = await rig(() => 5, { budgetMs: 20 });
    for (let i = 0; i < 30; i++) await r.decode(fullLadder);
    expect(r.trace).toEqual(['zxing-wasm', 'half-mean6', 'half-mean9', 'half']);
    r.decoder.setBudgetMs(Infinity);
    await r.decode(fullLadder);
    expect(r.trace).toEqual(ALL);
  });

  it('still runs the first step when the first pass used up the whole budget', async () => {
    const r = await rig((name) => (name === 'zxing-wasm' ? 50 : 0), { budgetMs: DEFAULT_BUDGET_MS });
    await r.decode(fullLadder);
    expect(r.trace).toEqual(['zxing-wasm', 'half-mean6']);
  });

  it('one slow run (200 ms) does not switch a step off: every step runs again within 3 frames', async () => {
    const r = await rig((name, frameNo) => (name === 'half-mean9' && frameNo === 2 ? 200 : 0), { budgetMs: DEFAULT_BUDGET_MS });
    const ran: number[] = [];
    for (let i = 0; i < 12; i++) {
      await r.decode(fullLadder);
      ran.push(r.trace.length);
    }
    expect(ran.slice(0, 2)).toEqual([7, 7]);
    expect(ran[2]).toBe(3); // that frame is over budget after the slow step
    expect(ran.slice(3, 6)).toContain(7);
    expect(ran.slice(6)).toEqual([7, 7, 7, 7, 7, 7]);
  });

  it('a slow spell: later steps still run while one is skipped, and it comes back soon after', async () => {
    const slow = (frameNo: number) => frameNo >= 2 && frameNo < 22;
    const r = await rig((name, frameNo) => (name === 'half-mean9' && slow(frameNo) ? 200 : 0), { budgetMs: DEFAULT_BUDGET_MS });
    let skippedButLaterRan = 0;
    const after: number[] = [];
    for (let i = 0; i < 42; i++) {
      await r.decode(fullLadder);
      if (!r.trace.includes('half-mean9') && r.trace.includes('zxing-js')) skippedButLaterRan++;
      if (i >= 22) after.push(r.trace.length);
    }
    expect(skippedButLaterRan).toBeGreaterThan(0); // `continue`, not `break`
    expect(after.slice(10)).toEqual(Array(10).fill(7));
  });
});

describe('combined decoder: errors', () => {
  it('a failing first pass (the engine broken) rejects instead of reading nothing', async () => {
    const boom = new Error('Failed to allocate 307200 bytes in WASM memory');
    const d = await createCombinedDecoder(nodeWasmSource(), {
      budgetMs: Infinity,
      onStep: (name) => {
        if (name === 'zxing-wasm') throw boom;
      },
    });
    await expect(d.decode(fullLadder)).rejects.toBe(boom);
    await expect(d.decode(flat)).rejects.toBe(boom);
  });

  it('a ladder step that fails on a frame reads nothing, the next step runs, and the failure is counted', async () => {
    let trace: StrategyName[] = [];
    const d = await createCombinedDecoder(nodeWasmSource(), {
      budgetMs: Infinity,
      onStep: (name) => {
        trace.push(name);
        if (name === 'half-mean9') throw new Error('odd image');
      },
    });
    expect(await d.decode(fullLadder)).toEqual([]);
    expect(trace).toEqual(ALL);
    trace = [];
    expect(await d.decode(fullLadder)).toEqual([]);
    expect(trace).toEqual(ALL);
    expect(d.failures).toEqual({ ...Object.fromEntries(LADDER.map((n) => [n, 0])), 'half-mean9': 2 });
  });

  it('the worker loop reports a broken engine once (id -1), not on every frame, and a refused frame per frame', async () => {
    const d = await createCombinedDecoder(nodeWasmSource(), {
      onStep: (name) => {
        if (name === 'zxing-wasm') throw new Error('RuntimeError: unreachable');
      },
    });
    const replies: FrameReply[] = [];
    const loop = createFrameDecode(d, (m) => replies.push(m), () => 0);
    await loop.decode(1, { data: new Uint8ClampedArray(12), width: 1, height: 3 });
    for (let id = 2; id < 6; id++) await loop.decode(id, flat);
    expect(replies).toEqual([
      { type: 'error', id: 1, message: expect.stringMatching(/out of range/) },
      { type: 'error', id: -1, message: 'combined decoder failed: RuntimeError: unreachable' },
    ]);
    expect(loop.broken).toMatch(/unreachable/);
    // A working decoder: a result per frame.
    const ok: FrameReply[] = [];
    const good = createFrameDecode(await createCombinedDecoder(nodeWasmSource(), { budgetMs: Infinity }), (m) => ok.push(m), () => 0);
    await good.decode(7, flat);
    expect(ok).toEqual([{ type: 'result', id: 7, texts: [], ms: 0 }]);
  });
});

describe('budget from the frame interval', () => {
  it('keeps 12 ms for a 30 fps camera or one that does not say, and scales with the interval', () => {
    expect(budgetForFrameInterval(undefined)).toBe(12);
    expect(budgetForFrameInterval(1000 / 30)).toBeCloseTo(12, 9);
    expect(budgetForFrameInterval(1000 / 15)).toBeCloseTo(24, 9);
    expect(budgetForFrameInterval(1000 / 60)).toBeCloseTo(6, 9);
    expect(budgetForFrameInterval(1000)).toBe(60);
    expect(budgetForFrameInterval(1)).toBe(4);
    for (const bad of [0, -5, Number.NaN, Infinity]) expect(budgetForFrameInterval(bad)).toBe(12);
  });
});

describe('safegate decode on still images', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-decode-budget-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs with no budget: a photo only a late ladder step reads is read however slow the clock is', async () => {
    // Read by `half-mean4` (step 4) and nothing before it (pinned in combined-decoder.test.ts).
    const f = frameOf('glare', 2, 'paper', 5);
    const file = join(dir, 'late-step.png');
    await sharp(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), { raw: { width: f.width, height: f.height, channels: 4 } })
      .png()
      .toFile(file);
    // Every look at the clock is 50 ms later: with a 12 ms budget only the first step would run.
    let t = 0;
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => (t += 50));
    try {
      const { lines, failures } = await decodeImages([file], 'combined');
      expect(lines).toEqual([`${file}\t${text}`]);
      expect(failures).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });
});
