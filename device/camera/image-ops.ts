/**
 * Small grey-image operations for the combined decoder's strategies (isomorphic: plain typed arrays).
 * A grey image is one byte a pixel, row by row.
 */
import type { Frame } from './decoder.js';

export interface Grey {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** As RGBA (what zxing-wasm reads), grey in each colour channel. */
export function greyToFrame(g: Grey): Frame {
  const n = g.width * g.height;
  const out = new Uint8ClampedArray(n * 4);
  const src = g.data;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const v = src[i]!;
    out[j] = v;
    out[j + 1] = v;
    out[j + 2] = v;
    out[j + 3] = 255;
  }
  return { data: out, width: g.width, height: g.height };
}

/**
 * Mean over a (2r+1)^2 window (edges replicated): running sums along rows, then along columns, so
 * the cost does not grow with r.
 */
function boxMean(src: ArrayLike<number>, width: number, height: number, r: number): Uint8ClampedArray {
  const rows = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    let sum = src[o]! * (r + 1);
    for (let k = 1; k <= r; k++) sum += src[o + Math.min(width - 1, k)]!;
    for (let x = 0; x < width; x++) {
      rows[o + x] = sum;
      sum += src[o + Math.min(width - 1, x + r + 1)]! - src[o + Math.max(0, x - r)]!;
    }
  }
  const out = new Uint8ClampedArray(width * height);
  const area = (2 * r + 1) * (2 * r + 1);
  const col = new Uint32Array(width);
  for (let x = 0; x < width; x++) {
    let sum = rows[x]! * (r + 1);
    for (let k = 1; k <= r; k++) sum += rows[Math.min(height - 1, k) * width + x]!;
    col[x] = sum;
  }
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const add = Math.min(height - 1, y + r + 1) * width;
    const sub = Math.max(0, y - r) * width;
    for (let x = 0; x < width; x++) {
      const sum = col[x]!;
      out[o + x] = (sum + (area >> 1)) / area;
      col[x] = sum + rows[add + x]! - rows[sub + x]!;
    }
  }
  return out;
}

/** Luma (the weights toLuminance uses) at half size in one pass: each pixel the mean of 2x2. */
export function halfLuminance(frame: Frame): Grey {
  const width = frame.width >> 1;
  const height = frame.height >> 1;
  const out = new Uint8ClampedArray(width * height);
  const s = frame.data;
  const row = frame.width * 4;
  for (let y = 0; y < height; y++) {
    const a = 2 * y * row;
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const i = a + 8 * x;
      const j = i + row;
      const r = s[i]! + s[i + 4]! + s[j]! + s[j + 4]!;
      const g = s[i + 1]! + s[i + 5]! + s[j + 1]! + s[j + 5]!;
      const b = s[i + 2]! + s[i + 6]! + s[j + 2]! + s[j + 6]!;
      out[o + x] = (306 * r + 601 * g + 117 * b + 2048) >> 12;
    }
  }
  return { data: out, width, height };
}

/**
 * How many 8x8 blocks look like part of a 2D code: enough contrast within the block (>= minRange grey
 * levels) and at least 4 light/dark changes along its middle row and middle column together. Flat
 * background, a single edge or a smooth gradient score few; a QR code a screen or paper shows scores
 * a compact patch of dozens. Cheap: two lines of 8 pixels a block plus its range on a 4x4 grid.
 */
export function codeLikeBlocks(g: Grey, minRange = 12): number {
  return countCodeLike(g.data, 0, g.width, 1, g.width, g.height, minRange);
}

/** Pixel (x, y) is data[offset + y * rowStride + x * colStride]. */
function countCodeLike(data: ArrayLike<number>, offset: number, rowStride: number, colStride: number, width: number, height: number, minRange: number): number {
  let count = 0;
  const at = (x: number, y: number): number => data[offset + y * rowStride + x * colStride]!;
  for (let by = 0; by + 8 <= height; by += 8) {
    for (let bx = 0; bx + 8 <= width; bx += 8) {
      let lo = 255;
      let hi = 0;
      for (let y = by; y < by + 8; y += 2) {
        for (let x = bx; x < bx + 8; x += 2) {
          const v = at(x, y);
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      if (hi - lo < minRange) continue;
      const mid = (hi + lo) >> 1;
      const hyst = (hi - lo) >> 3;
      let changes = 0;
      let state = at(bx, by + 4) > mid;
      for (let x = bx + 1; x < bx + 8; x++) {
        const v = at(x, by + 4);
        if (state ? v < mid - hyst : v > mid + hyst) {
          state = !state;
          changes++;
        }
      }
      state = at(bx + 4, by) > mid;
      for (let y = by + 1; y < by + 8; y++) {
        const v = at(bx + 4, y);
        if (state ? v < mid - hyst : v > mid + hyst) {
          state = !state;
          changes++;
        }
      }
      if (changes >= 4) count++;
    }
  }
  return count;
}

/**
 * Adaptive threshold: black where a pixel is darker than the mean of its (2r+1)^2 neighbourhood less
 * `bias`, white elsewhere. What normalizeLocal followed by a fixed threshold gives, at half the cost.
 */
export function thresholdLocal(g: Grey, r: number, bias = 0): Grey {
  const { width, height } = g;
  const s = g.data;
  const mean = boxMean(s, width, height, r);
  const out = new Uint8ClampedArray(width * height);
  for (let i = 0; i < out.length; i++) out[i] = s[i]! < mean[i]! - bias ? 0 : 255;
  return { data: out, width, height };
}
