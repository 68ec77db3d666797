import { readBarcodes, type ReaderOptions, type ReadResult } from 'zxing-wasm/reader';
import { BinaryBitmap, DecodeHintType, HybridBinarizer, QRCodeReader, RGBLuminanceSource } from '@zxing/library';
import { checkFrame, type Frame, type QrDecoder } from './decoder.js';
import { codeLikeBlocks, greyToFrame, halfLuminance, thresholdLocal, type Grey } from './image-ops.js';
import { WASM_OPTIONS, prepareZxingWasm, type WasmSource } from './zxing-wasm-decoder.js';

/**
 * The combined decoder: zxing-wasm first at its own settings (what `zxing-wasm` alone does), then,
 * only on frames where that pass saw a QR symbol it could not read (zxing-cpp reports those with
 * `returnErrors`: a finder-pattern triple, no valid code) or that show a patch of code-like texture
 * (a cheap block test on the half-size image; these get only the first step), a ladder of further
 * strategies, the first always, the others while the frame's time budget lasts:
 * 1. `half-mean6`: half size (averages away noise, screen grids, speckle), then an adaptive threshold
 *    against the mean of a 13x13 neighbourhood (flattens glare and uneven light, lifts a dim code);
 * 2. `half-mean9`: the same with a wider window (bigger modules, softer light);
 * 3. `half`: the half-size image with zxing-cpp's own binarizer (heavy pixel noise);
 * 4. `half-mean4`: a narrower window (small modules, steep light changes);
 * 5. `global`: the full frame with zxing-cpp's GlobalHistogram binarizer (noise, moiré);
 * 6. `zxing-js`: the second engine (@zxing/library) on the half-size thresholded image.
 * (Chosen on the benchmark's hard set, seed 1: each step reads frames the ones before it do not.)
 * A frame with nothing code-like costs one zxing-wasm pass and a block count (most camera frames show
 * nobody). The first pass and the first step always run (outside the budget); a later step starts
 * only if its usual cost (a running mean of what it took) still fits in what is left of the budget,
 * else it is skipped and the next step that fits runs. One slow run (a GC pause, JIT warm-up, a busy
 * CPU: the clock is wall time) must not switch a step off: each sample enters the mean capped at
 * COST_SAMPLE_CAP x the estimate (+1 ms), and a skipped step's estimate decays toward its seed, so it
 * runs again within a few frames once the machine is quiet.
 *
 * Errors: the first pass failing means the engine itself is broken (a wasm module that aborted, out of
 * memory): `decode` rejects, it never reads nothing quietly. A ladder step failing on an odd image
 * reads nothing for that frame; the next step runs and the failure is counted (`failures`).
 */
export type LadderStep = 'half-mean6' | 'half-mean9' | 'half' | 'half-mean4' | 'global' | 'zxing-js';
export type StrategyName = 'zxing-wasm' | LadderStep;
export const LADDER: readonly LadderStep[] = ['half-mean6', 'half-mean9', 'half', 'half-mean4', 'global', 'zxing-js'];
export const STRATEGY_NAMES: readonly StrategyName[] = ['zxing-wasm', ...LADDER];

/**
 * A frame where zxing-cpp saw no symbol still goes up the ladder when at least this many 8x8 blocks
 * of its half-size image look like part of a code (image-ops.ts codeLikeBlocks): a code the
 * camera sees at 640x480 makes 40..150 such blocks even when too dim or washed out for zxing-cpp to
 * find its finder patterns; most frames without a code make under 30.
 */
export const CODE_LIKE_MIN_BLOCKS = 40;

/** The default per-frame budget: the p95 target at 640x480 is 15 ms, a step may overrun a little. */
export const DEFAULT_BUDGET_MS = 12;

/** The frame interval assumed when the camera does not say (30 frames a second). */
export const DEFAULT_FRAME_INTERVAL_MS = 1000 / 30;

/**
 * The per-frame budget for a camera delivering a frame every `frameIntervalMs`: the same share of the
 * interval as 12 ms of a 30 fps camera's 33 ms, so the decoder keeps up and leaves the UI thread and
 * the capture their time; unknown (or not a sane number): 12 ms. Kept between 4 and 60 ms.
 */
export function budgetForFrameInterval(frameIntervalMs: number | undefined): number {
  if (frameIntervalMs === undefined || !Number.isFinite(frameIntervalMs) || frameIntervalMs <= 0) return DEFAULT_BUDGET_MS;
  return Math.min(60, Math.max(4, (frameIntervalMs * DEFAULT_BUDGET_MS) / DEFAULT_FRAME_INTERVAL_MS));
}

/** A cost sample enters the running mean at most this many times the estimate (+1 ms). */
export const COST_SAMPLE_CAP = 3;
/** Each time a step is skipped for lack of budget its estimate shrinks by this factor (not below its seed). */
export const SKIPPED_COST_DECAY = 0.95;

export interface CombinedOptions {
  /** Time a frame may take before no further step starts (ms). */
  budgetMs?: number;
  /** Run only these steps, ungated and without a budget (the benchmark's per-strategy figures). */
  only?: readonly StrategyName[];
  /** The clock the budget is measured with (ms); default performance.now (wall time, as the camera sees it). */
  now?: () => number;
  /**
   * Called as each pass or step starts, inside its timing (after the budget let it start): tests
   * record which steps ran, make a virtual clock advance (a step "takes" that long) or throw (an
   * engine failing).
   */
  onStep?: (name: StrategyName) => void;
}

export interface CombinedDecoder extends QrDecoder {
  /** The step that read the last frame's code (null: none); for the benchmark, never logged with the text. */
  readonly lastStep: StrategyName | null;
  /** Ladder step runs that threw (an odd image, a library error) and read nothing, since creation. */
  readonly failures: Readonly<Record<LadderStep, number>>;
  /** Frames from now on get this budget (ms; Infinity: every step the gate allows runs). */
  setBudgetMs(ms: number): void;
}

/** zxing-wasm's own settings, also reporting symbols it found but could not read. */
const FIRST_OPTIONS: ReaderOptions = { ...WASM_OPTIONS, returnErrors: true, maxNumberOfSymbols: 0 };
const FAST: ReaderOptions = { formats: ['QRCode'], tryHarder: false, tryRotate: false, tryInvert: false, tryDownscale: false, maxNumberOfSymbols: 1 };

/** What one frame's steps share: the images, made once when a step first needs them. */
class FrameWork {
  private halfGrey: Grey | undefined;
  private readonly thresholded = new Map<number, Grey>();
  constructor(readonly frame: Frame) {}
  half(): Grey {
    return (this.halfGrey ??= halfLuminance(this.frame));
  }
  halfMean(r: number): Grey {
    let g = this.thresholded.get(r);
    if (!g) this.thresholded.set(r, (g = thresholdLocal(this.half(), r)));
    return g;
  }
}

function read(frame: Frame, options: ReaderOptions): Promise<ReadResult[]> {
  // Below 21x21 zxing-cpp throws a bare WebAssembly exception; no QR fits there anyway.
  if (frame.width < 21 || frame.height < 21) return Promise.resolve([]);
  return readBarcodes({ data: frame.data, width: frame.width, height: frame.height } as unknown as Parameters<typeof readBarcodes>[0], options);
}

const valid = (results: ReadResult[]): string[] => results.filter((r) => r.isValid && r.text).map((r) => r.text);

export async function createCombinedDecoder(source: WasmSource, options: CombinedOptions = {}): Promise<CombinedDecoder> {
  await prepareZxingWasm(source);
  let budget = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const now = options.now ?? (() => performance.now());
  const onStep = options.onStep ?? (() => undefined);
  const jsReader = new QRCodeReader();
  const jsHints = new Map<DecodeHintType, unknown>([[DecodeHintType.TRY_HARDER, true]]);
  // Running mean cost of each step (ms), seeded with what they take at 640x480 on a slow kiosk CPU.
  const seed: Readonly<Record<StrategyName, number>> = { 'zxing-wasm': 4, 'half-mean6': 3, 'half-mean9': 3, half: 2, 'half-mean4': 3, global: 3, 'zxing-js': 3 };
  const cost: Record<StrategyName, number> = { ...seed };
  const failures: Record<LadderStep, number> = { 'half-mean6': 0, 'half-mean9': 0, half: 0, 'half-mean4': 0, global: 0, 'zxing-js': 0 };
  const HALF: ReaderOptions = { ...FAST, tryHarder: true, binarizer: 'FixedThreshold' };

  const steps: Record<LadderStep, (w: FrameWork) => Promise<string[]>> = {
    'half-mean6': async (w) => valid(await read(greyToFrame(w.halfMean(6)), HALF)),
    'half-mean9': async (w) => valid(await read(greyToFrame(w.halfMean(9)), HALF)),
    half: async (w) => valid(await read(greyToFrame(w.half()), { ...FAST, tryHarder: true })),
    'half-mean4': async (w) => valid(await read(greyToFrame(w.halfMean(4)), HALF)),
    global: async (w) => valid(await read(w.frame, { ...WASM_OPTIONS, binarizer: 'GlobalHistogram' })),
    'zxing-js': (w) => {
      const g = w.halfMean(6);
      if (g.width < 21 || g.height < 21) return Promise.resolve([]);
      try {
        return Promise.resolve([jsReader.decode(new BinaryBitmap(new HybridBinarizer(new RGBLuminanceSource(g.data, g.width, g.height))), jsHints).getText()]);
      } catch {
        return Promise.resolve([]); // not found, checksum, format: nothing read
      } finally {
        jsReader.reset();
      }
    },
  };

  let lastStep: StrategyName | null = null;
  /** Runs a pass or step, and folds what it took (capped: one slow run moves the mean only a little) into its estimate. */
  const timed = async (name: StrategyName, run: () => Promise<string[]>): Promise<string[]> => {
    const t0 = now();
    try {
      onStep(name);
      return await run();
    } finally {
      const sample = Math.max(0, now() - t0);
      cost[name] = cost[name] * 0.9 + Math.min(sample, COST_SAMPLE_CAP * cost[name] + 1) * 0.1;
    }
  };
  /** A ladder step: one that throws on an odd image reads nothing for this frame, and is counted. */
  const ladderStep = async (name: LadderStep, work: FrameWork): Promise<string[]> => {
    try {
      return await timed(name, () => steps[name](work));
    } catch {
      failures[name]++;
      return [];
    }
  };

  return {
    name: 'combined',
    get lastStep() {
      return lastStep;
    },
    get failures() {
      return failures;
    },
    setBudgetMs(ms: number) {
      if (!(ms > 0)) throw new RangeError(`budget must be a positive number of ms, got ${ms}`);
      budget = ms;
    },
    async decode(frame: Frame): Promise<string[]> {
      checkFrame(frame);
      lastStep = null;
      const started = now();
      const work = new FrameWork(frame);
      if (options.only) {
        for (const name of options.only) {
          const texts = name === 'zxing-wasm' ? await timed(name, async () => valid(await read(frame, WASM_OPTIONS))) : await ladderStep(name, work);
          if (texts.length) {
            lastStep = name;
            return texts;
          }
        }
        return [];
      }
      let seen = false;
      // Not caught: the first pass failing means the engine is broken, and the caller must hear of it.
      const first = await timed('zxing-wasm', async () => {
        const results = await read(frame, FIRST_OPTIONS);
        seen = results.some((r) => !r.isValid);
        return valid(results);
      });
      if (first.length) {
        lastStep = 'zxing-wasm';
        return first;
      }
      // Nothing code-like (no symbol seen, no patch of code-like texture): stay cheap. Code-like
      // texture alone (a dim or washed-out code, but also cloth or gravel) gets the first step only.
      if (!seen && codeLikeBlocks(work.half()) < CODE_LIKE_MIN_BLOCKS) return [];
      for (const [i, name] of (seen ? LADDER : LADDER.slice(0, 1)).entries()) {
        // The first step always runs (it reads most of what the ladder reads, in about as long as the
        // first pass: on a loaded CPU the budget would otherwise leave none); the others while they
        // fit. One that does not fit is skipped (its estimate decays) and a cheaper later one may run.
        if (i > 0 && now() - started + cost[name] > budget) {
          cost[name] = Math.max(Math.min(seed[name], cost[name]), cost[name] * SKIPPED_COST_DECAY);
          continue;
        }
        const texts = await ladderStep(name, work);
        if (texts.length) {
          lastStep = name;
          return texts;
        }
      }
      return [];
    },
  };
}
