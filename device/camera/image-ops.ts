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

export interface Rect {
  x: number;
  y: number;
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

/** Half size, each pixel the mean of 2x2: averages away noise, screen grids and speckle. */
export function halve(g: Grey): Grey {
  const width = g.width >> 1;
  const height = g.height >> 1;
  const out = new Uint8ClampedArray(width * height);
  const s = g.data;
  const W = g.width;
  for (let y = 0; y < height; y++) {
    const a = 2 * y * W;
    const b = a + W;
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const i = 2 * x;
      out[o + x] = (s[a + i]! + s[a + i + 1]! + s[b + i]! + s[b + i + 1]! + 2) >> 2;
    }
  }
  return { data: out, width, height };
}

/** A 3x3 box blur (separable): removes pixel noise and fine moiré, keeps 3+ px modules. */
export function blur3(g: Grey): Grey {
  const { width, height } = g;
  const s = g.data;
  const tmp = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    tmp[o] = s[o]! * 2 + s[o + 1]!;
    for (let x = 1; x < width - 1; x++) tmp[o + x] = s[o + x - 1]! + s[o + x]! + s[o + x + 1]!;
    tmp[o + width - 1] = s[o + width - 2]! + s[o + width - 1]! * 2;
  }
  const out = new Uint8ClampedArray(width * height);
  for (let y = 0; y < height; y++) {
    const a = Math.max(0, y - 1) * width;
    const o = y * width;
    const b = Math.min(height - 1, y + 1) * width;
    for (let x = 0; x < width; x++) out[o + x] = (tmp[a + x]! + tmp[o + x]! + tmp[b + x]! + 4) / 9;
  }
  return { data: out, width, height };
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

/**
 * Local contrast normalisation: each pixel against the mean of its neighbourhood (radius r), scaled
 * by the local spread (mean absolute deviation). Flattens glare and uneven light and lifts a dim or
 * washed-out code to full contrast; thresholded at 128 it is an adaptive threshold of window 2r+1.
 */
export function normalizeLocal(g: Grey, r: number): Grey {
  const { width, height } = g;
  const s = g.data;
  const mean = boxMean(s, width, height, r);
  const dev = new Uint8ClampedArray(width * height);
  for (let i = 0; i < dev.length; i++) dev[i] = Math.abs(s[i]! - mean[i]!);
  const spread = boxMean(dev, width, height, r);
  const out = new Uint8ClampedArray(width * height);
  for (let i = 0; i < out.length; i++) out[i] = 128 + ((s[i]! - mean[i]!) * 48) / (spread[i]! + 4);
  return { data: out, width, height };
}

/** Global contrast stretch: the 1st..99th percentile to 0..255. */
export function stretch(g: Grey): Grey {
  const hist = new Uint32Array(256);
  const s = g.data;
  for (let i = 0; i < s.length; i++) hist[s[i]!]!++;
  const cut = s.length / 100;
  let lo = 0;
  for (let acc = 0; lo < 255 && (acc += hist[lo]!) < cut; ) lo++;
  let hi = 255;
  for (let acc = 0; hi > 0 && (acc += hist[hi]!) < cut; ) hi--;
  const out = new Uint8ClampedArray(s.length);
  const k = 255 / Math.max(1, hi - lo);
  for (let i = 0; i < s.length; i++) out[i] = (s[i]! - lo) * k;
  return { data: out, width: g.width, height: g.height };
}

/** Unsharp mask: p + amount * (p - blur(p)); brings back edges a little motion blur softened. */
export function sharpen(g: Grey, amount: number): Grey {
  const b = blur3(g);
  const out = new Uint8ClampedArray(g.data.length);
  for (let i = 0; i < out.length; i++) out[i] = g.data[i]! + amount * (g.data[i]! - b.data[i]!);
  return { data: out, width: g.width, height: g.height };
}

/** A part of the image, clipped to it, scaled by `scale` with bilinear sampling. */
export function cropScale(g: Grey, rect: Rect, scale: number): Grey {
  const x0 = Math.max(0, Math.floor(rect.x));
  const y0 = Math.max(0, Math.floor(rect.y));
  const x1 = Math.min(g.width, Math.ceil(rect.x + rect.width));
  const y1 = Math.min(g.height, Math.ceil(rect.y + rect.height));
  const width = Math.max(1, Math.round((x1 - x0) * scale));
  const height = Math.max(1, Math.round((y1 - y0) * scale));
  const out = new Uint8ClampedArray(width * height);
  const s = g.data;
  const W = g.width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(y1 - 1.001, Math.max(y0, y0 + (y + 0.5) / scale - 0.5));
    const iy = Math.floor(fy);
    const ay = fy - iy;
    const iy1 = Math.min(y1 - 1, iy + 1);
    for (let x = 0; x < width; x++) {
      const fx = Math.min(x1 - 1.001, Math.max(x0, x0 + (x + 0.5) / scale - 0.5));
      const ix = Math.floor(fx);
      const ax = fx - ix;
      const ix1 = Math.min(x1 - 1, ix + 1);
      const top = s[iy * W + ix]! * (1 - ax) + s[iy * W + ix1]! * ax;
      const bottom = s[iy1 * W + ix]! * (1 - ax) + s[iy1 * W + ix1]! * ax;
      out[y * width + x] = top * (1 - ay) + bottom * ay;
    }
  }
  return { data: out, width, height };
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
  const { width, height, data } = g;
  let count = 0;
  for (let by = 0; by + 8 <= height; by += 8) {
    for (let bx = 0; bx + 8 <= width; bx += 8) {
      let lo = 255;
      let hi = 0;
      for (let y = by; y < by + 8; y += 2) {
        for (let x = bx; x < bx + 8; x += 2) {
          const v = data[y * width + x]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      if (hi - lo < minRange) continue;
      const mid = (hi + lo) >> 1;
      const hyst = (hi - lo) >> 3;
      let changes = 0;
      let state = data[(by + 4) * width + bx]! > mid;
      for (let x = bx + 1; x < bx + 8; x++) {
        const v = data[(by + 4) * width + x]!;
        if (state ? v < mid - hyst : v > mid + hyst) {
          state = !state;
          changes++;
        }
      }
      state = data[by * width + bx + 4]! > mid;
      for (let y = by + 1; y < by + 8; y++) {
        const v = data[y * width + bx + 4]!;
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
