/**
 * The QR decoder port. A frame is RGBA pixels (what a canvas gives in the browser, what an image
 * library gives in Node); a decoder returns the texts of the QR codes it found. This folder is
 * isomorphic: it runs in the screens' Web Worker and in Node (`safegate decode`, benchmarks), so it
 * imports neither Node modules nor the DOM.
 */
export interface Frame {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/**
 * `combined`: zxing-wasm, then more strategies on frames where it saw a code it could not read
 * (combined-decoder.ts); `zxing-wasm`: zxing-cpp alone; `zxing-js`: @zxing/library alone.
 */
export type DecoderName = 'combined' | 'zxing-wasm' | 'zxing-js';
export const DECODER_NAMES: readonly DecoderName[] = ['combined', 'zxing-wasm', 'zxing-js'];

/** Chosen by `npm run bench:decode` (see README: decode rate on the corpus and the hard set, time per frame). */
export const DEFAULT_DECODER: DecoderName = 'combined';

export interface QrDecoder {
  readonly name: DecoderName;
  /** Texts of the QR codes in the frame; empty when there is none (never throws for "not found"). */
  decode(frame: Frame): Promise<string[]>;
}

export class FrameError extends Error {
  override name = 'FrameError';
}

export function checkFrame(frame: Frame): void {
  const { width, height, data } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 21 || height < 21 || width > 8192 || height > 8192) {
    throw new FrameError(`frame size ${width}x${height} is out of range (21..8192)`);
  }
  if (data.length !== width * height * 4) throw new FrameError(`frame has ${data.length} bytes, expected ${width * height * 4} (RGBA)`);
}

/** Luma with the integer weights zxing-cpp uses, so both decoders see the same grey image. */
export function toLuminance(frame: Frame): Uint8ClampedArray {
  const { data } = frame;
  const out = new Uint8ClampedArray(data.length >> 2);
  for (let i = 0, j = 0; j < out.length; i += 4, j++) out[j] = (306 * data[i]! + 601 * data[i + 1]! + 117 * data[i + 2]! + 512) >> 10;
  return out;
}
