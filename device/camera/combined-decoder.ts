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
 * nobody). A step after the first starts only if its usual cost (a running mean of what it took)
 * still fits in the budget.
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

export interface CombinedOptions {
  /** Time a frame may take before no further step starts (ms). */
  budgetMs?: number;
  /** Run only these steps, ungated and without a budget (the benchmark's per-strategy figures). */
  only?: readonly StrategyName[];
  now?: () => number;
}

export interface CombinedDecoder extends QrDecoder {
  /** The step that read the last frame's code (null: none); for the benchmark, never logged with the text. */
  readonly lastStep: StrategyName | null;
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
  const budget = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const now = options.now ?? (() => performance.now());
  const jsReader = new QRCodeReader();
  const jsHints = new Map<DecodeHintType, unknown>([[DecodeHintType.TRY_HARDER, true]]);
  // Running mean cost of each step (ms), seeded with what they take at 640x480 on a slow kiosk CPU.
  const cost: Record<StrategyName, number> = { 'zxing-wasm': 4, 'half-mean6': 3, 'half-mean9': 3, half: 2, 'half-mean4': 3, global: 3, 'zxing-js': 3 };
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
  const timed = async (name: StrategyName, run: () => Promise<string[]>): Promise<string[]> => {
    const t0 = now();
    try {
      return await run();
    } catch {
      // A step that fails on an odd image (a WebAssembly exception, a library error) reads nothing;
      // the next step still runs. The frame itself was checked before any step.
      return [];
    } finally {
      cost[name] = cost[name] * 0.9 + (now() - t0) * 0.1;
    }
  };

  return {
    name: 'combined',
    get lastStep() {
      return lastStep;
    },
    async decode(frame: Frame): Promise<string[]> {
      checkFrame(frame);
      lastStep = null;
      const started = now();
      const work = new FrameWork(frame);
      if (options.only) {
        for (const name of options.only) {
          const texts = name === 'zxing-wasm' ? valid(await read(frame, WASM_OPTIONS)) : await timed(name, () => steps[name](work));
          if (texts.length) {
            lastStep = name;
            return texts;
          }
        }
        return [];
      }
      let seen = false;
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
        // first pass: on a loaded CPU the budget would otherwise leave none); the others while they fit.
        if (i > 0 && now() - started + cost[name] > budget) break;
        const texts = await timed(name, () => steps[name](work));
        if (texts.length) {
          lastStep = name;
          return texts;
        }
      }
      return [];
    },
  };
}
