/**
 * The decoder's hard set: pass QR codes as a camera at the gate sees them, with their true texts.
 * Deterministic (seeded): the same seed gives the same frames on every machine.
 *
 * A code is drawn on a carrier (a phone: dark bezel, bright screen with its own pixel grid; or paper:
 * off-white, slightly yellow) in the carrier's own plane, one unit per module, then seen through a
 * pinhole camera (a projective warp written here, each pixel sampled 2x2 in the carrier plane, so a
 * screen's pixel grid aliases into real moiré) over a cluttered background, then one distortion at
 * strength 1..3 on top of the mild blur every camera has:
 * - glare: a bright elliptical blob washing out part of the code (saturating at 3);
 * - moire: the screen's pixel grid strongly visible, plus an interference pattern over the frame;
 * - dim: low brightness and contrast, with the sensor noise and coarse levels a dark frame has;
 * - blur: directional motion blur 4, 7, 10 px long;
 * - perspective: the carrier tilted 30, 45, 58 degrees away from the camera;
 * - noise: Gaussian sensor noise, sigma 14, 26, 38 grey levels, plus salt and pepper;
 * - paper: worn paper: speckle, low print contrast, creases.
 * Every frame is 640x480 RGBA unless asked otherwise.
 */
import QRCode from 'qrcode';
import type { Frame } from '../../device/camera/decoder.js';

export const DISTORTIONS = ['glare', 'moire', 'dim', 'blur', 'perspective', 'noise', 'paper'] as const;
export type Distortion = (typeof DISTORTIONS)[number];
export type Strength = 1 | 2 | 3;
export type Carrier = 'phone' | 'paper';

export interface HardSample {
  name: string;
  kind: Distortion;
  strength: Strength;
  carrier: Carrier;
  frame: Frame;
  expected: string;
}

/** mulberry32: small, fast, well mixed; a seed gives the same sequence everywhere. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(random: () => number): number {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Standard normal values, drawn once: per-pixel noise picks from it (a frame has a million draws). */
const GAUSS = (() => {
  const random = seeded(12345);
  return Float32Array.from({ length: 1 << 16 }, () => gauss(random));
})();

/** An integer hash of a cell, for texture that stays put on the carrier (speckle) whatever the view. */
function cellHash(x: number, y: number, salt: number): number {
  let h = Math.imul(x | 0, 374761393) ^ Math.imul(y | 0, 668265263) ^ Math.imul(salt, 2246822519);
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** An RGB float image (0..255), one plane per channel. */
class Image3 {
  readonly r: Float32Array;
  readonly g: Float32Array;
  readonly b: Float32Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    const n = width * height;
    this.r = new Float32Array(n);
    this.g = new Float32Array(n);
    this.b = new Float32Array(n);
  }
  planes(): Float32Array[] {
    return [this.r, this.g, this.b];
  }
  toFrame(levels = 256): Frame {
    const n = this.width * this.height;
    const data = new Uint8ClampedArray(n * 4);
    const step = 256 / levels;
    const planes = this.planes();
    for (let c = 0; c < 3; c++) {
      const p = planes[c]!;
      if (levels === 256) for (let i = 0; i < n; i++) data[i * 4 + c] = p[i]!;
      else for (let i = 0; i < n; i++) data[i * 4 + c] = Math.floor(p[i]! / step) * step + step / 2;
    }
    for (let i = 0; i < n; i++) data[i * 4 + 3] = 255;
    return { data, width: this.width, height: this.height };
  }
}

/** A cluttered, unevenly lit background: a gradient, a few darker and lighter shapes, a little noise. */
function background(img: Image3, random: () => number): void {
  const { width, height } = img;
  const base = 90 + random() * 110;
  const gx = (random() - 0.5) * 80;
  const gy = (random() - 0.5) * 80;
  const tint = [(random() - 0.5) * 20, (random() - 0.5) * 20, (random() - 0.5) * 20];
  const shapes = Array.from({ length: 3 + Math.floor(random() * 5) }, () => ({
    x0: random() * width,
    y0: random() * height,
    w: 20 + random() * width * 0.4,
    h: 20 + random() * height * 0.5,
    d: (random() - 0.5) * 120,
    round: random() < 0.5,
  }));
  const planes = img.planes();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = base + (gx * x) / width + (gy * y) / height;
      for (const s of shapes) {
        if (s.round) {
          const dx = (x - s.x0) / (s.w / 2);
          const dy = (y - s.y0) / (s.h / 2);
          if (dx * dx + dy * dy < 1) v += s.d;
        } else if (x >= s.x0 && x < s.x0 + s.w && y >= s.y0 && y < s.y0 + s.h) v += s.d;
      }
      const i = y * width + x;
      for (let c = 0; c < 3; c++) planes[c]![i] = v + tint[c]!;
    }
  }
}

/** What lies at a point of the carrier plane (units: modules; the code spans 0..size). */
interface CarrierModel {
  kind: Carrier;
  size: number;
  /** true where a dark module is; null for "no code" (an empty carrier). */
  modules: Uint8Array | null;
  /** the carrier's extent (outside: background) */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** phone: the screen inside the bezel */
  sx0: number;
  sy0: number;
  sx1: number;
  sy1: number;
  light: [number, number, number];
  dark: [number, number, number];
  bezel: [number, number, number];
  /** screen pixel grid: pitch in modules and how visible (0..1) */
  gridPitch: number;
  gridAmp: number;
  /** worn paper */
  speckle: number;
  creases: { a: number; b: number; c: number; shade: number }[];
  salt: number;
}

function carrierModel(kind: Carrier, modules: Uint8Array | null, size: number, random: () => number): CarrierModel {
  const q = 4; // quiet zone
  if (kind === 'phone') {
    const sx0 = -q - 1 - random() * 2;
    const sx1 = size + q + 1 + random() * 2;
    const sy0 = -q - 6 - random() * 10;
    const sy1 = size + q + 10 + random() * 14;
    const bz = 2 + random() * 2;
    const white = 215 + random() * 40;
    return {
      kind,
      size,
      modules,
      x0: sx0 - bz,
      y0: sy0 - bz * 2,
      x1: sx1 + bz,
      y1: sy1 + bz * 2,
      sx0,
      sy0,
      sx1,
      sy1,
      light: [white * 0.95, white * 0.97, white],
      dark: [18 + random() * 20, 18 + random() * 20, 25 + random() * 20],
      bezel: [12, 12, 14],
      gridPitch: 1 / (5 + random() * 5),
      gridAmp: 0.08 + random() * 0.08,
      speckle: 0,
      creases: [],
      salt: Math.floor(random() * 1e9),
    };
  }
  const paper = 195 + random() * 45;
  return {
    kind,
    size,
    modules,
    x0: -q - 3 - random() * 8,
    y0: -q - 3 - random() * 8,
    x1: size + q + 3 + random() * 8,
    y1: size + q + 10 + random() * 20,
    sx0: 0,
    sy0: 0,
    sx1: 0,
    sy1: 0,
    light: [paper, paper * 0.98, paper * 0.9],
    dark: [30 + random() * 25, 30 + random() * 25, 35 + random() * 25],
    bezel: [0, 0, 0],
    gridPitch: 0,
    gridAmp: 0,
    speckle: 0.01,
    creases: [],
    salt: Math.floor(random() * 1e9),
  };
}

/** Colour of the carrier at (u, v), or null outside it. */
function carrierAt(m: CarrierModel, u: number, v: number, out: number[]): boolean {
  if (u < m.x0 || u >= m.x1 || v < m.y0 || v >= m.y1) return false;
  if (m.kind === 'phone' && (u < m.sx0 || u >= m.sx1 || v < m.sy0 || v >= m.sy1)) {
    out[0] = m.bezel[0];
    out[1] = m.bezel[1];
    out[2] = m.bezel[2];
    return true;
  }
  let dark = false;
  if (m.modules && u >= 0 && v >= 0 && u < m.size && v < m.size) dark = m.modules[Math.floor(v) * m.size + Math.floor(u)] === 1;
  const col = dark ? m.dark : m.light;
  out[0] = col[0];
  out[1] = col[1];
  out[2] = col[2];
  if (m.kind === 'phone' && m.gridAmp > 0) {
    // The screen's RGB sub-pixels: three stripes per screen pixel, with dark gaps between rows.
    const px = u / m.gridPitch;
    const sub = Math.floor((px - Math.floor(px)) * 3);
    const row = v / m.gridPitch - Math.floor(v / m.gridPitch) < 0.2 ? 1 - m.gridAmp : 1;
    for (let c = 0; c < 3; c++) out[c]! *= row * (c === sub ? 1 : 1 - m.gridAmp);
  } else if (m.kind === 'paper') {
    if (m.speckle > 0) {
      const h = cellHash(Math.floor(u * 6), Math.floor(v * 6), m.salt);
      if (h < m.speckle) for (let c = 0; c < 3; c++) out[c] = m.light[c]! * 0.55; // ink-coloured dirt
      else if (h > 1 - m.speckle) for (let c = 0; c < 3; c++) out[c] = m.light[c]!; // worn-off ink
    }
    for (const k of m.creases) {
      const d = k.a * u + k.b * v + k.c; // signed distance in modules
      const shade = d > 0 ? 1 - k.shade * 0.5 : 1;
      const line = Math.abs(d) < 0.35 ? 1 + k.shade : 1;
      for (let c = 0; c < 3; c++) out[c]! *= shade * line;
    }
  }
  return true;
}

interface View {
  /** image (x, y, 1) to carrier (u, v, w), and back */
  inv: number[];
  fwd: number[];
  /** the code's corners in the image */
  corners: [number, number][];
}

function mat3mul(a: number[], b: number[]): number[] {
  const r = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) r[i * 3 + j]! += a[i * 3 + k]! * b[k * 3 + j]!;
  return r;
}

function mat3inv(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det];
}

/**
 * A pinhole camera (focal 600 px at 640 wide) looking at the carrier: the code centred near (cx, cy)
 * of the image, `modulePx` pixels per module at its centre, turned `rz` in its plane and tilted
 * `tilt` degrees about an axis at angle `axis`.
 */
function view(width: number, height: number, size: number, modulePx: number, rz: number, tilt: number, axis: number, cx: number, cy: number): View {
  const f = 600 * (width / 640);
  const D = f / modulePx;
  const cz = Math.cos(rz);
  const sz = Math.sin(rz);
  const ca = Math.cos(axis);
  const sa = Math.sin(axis);
  const ct = Math.cos(tilt);
  const st = Math.sin(tilt);
  // Tilt about the in-plane axis (ca, sa, 0): Rodrigues.
  const R_t = [ct + ca * ca * (1 - ct), ca * sa * (1 - ct), sa * st, ca * sa * (1 - ct), ct + sa * sa * (1 - ct), -ca * st, -sa * st, ca * st, ct];
  const R_z = [cz, -sz, 0, sz, cz, 0, 0, 0, 1];
  const R = mat3mul(R_t, R_z);
  // Carrier point (u, v) -> camera: R * (u - size/2, v - size/2, 0) + T, T puts the code centre at (cx, cy) at depth D.
  const T = [((cx - width / 2) * D) / f, ((cy - height / 2) * D) / f, D];
  const h = size / 2;
  const M = [R[0]!, R[1]!, T[0]! - R[0]! * h - R[1]! * h, R[3]!, R[4]!, T[1]! - R[3]! * h - R[4]! * h, R[6]!, R[7]!, T[2]! - R[6]! * h - R[7]! * h];
  const K = [f, 0, width / 2, 0, f, height / 2, 0, 0, 1];
  const H = mat3mul(K, M);
  const corners: [number, number][] = [
    [0, 0],
    [size, 0],
    [size, size],
    [0, size],
  ].map(([u, v]) => {
    const w = H[6]! * u! + H[7]! * v! + H[8]!;
    return [(H[0]! * u! + H[1]! * v! + H[2]!) / w, (H[3]! * u! + H[4]! * v! + H[5]!) / w];
  });
  return { inv: mat3inv(H), fwd: H, corners };
}

/** Draws the carrier through the view: each pixel sampled at 2x2 points in the carrier plane. */
function drawCarrier(img: Image3, m: CarrierModel, v: View): void {
  const { width, height } = img;
  const H = v.inv;
  const col = [0, 0, 0];
  const planes = img.planes();
  const offs = [0.25, 0.75];
  // Only the carrier's bounding box in the image (all of it when the carrier reaches behind the camera).
  let bx0 = 0;
  let by0 = 0;
  let bx1 = width;
  let by1 = height;
  const F = v.fwd;
  const pts = [
    [m.x0, m.y0],
    [m.x1, m.y0],
    [m.x1, m.y1],
    [m.x0, m.y1],
  ].map(([u, w]) => [F[0]! * u! + F[1]! * w! + F[2]!, F[3]! * u! + F[4]! * w! + F[5]!, F[6]! * u! + F[7]! * w! + F[8]!] as const);
  if (pts.every((p) => p[2] > 0)) {
    const xs = pts.map((p) => p[0] / p[2]);
    const ys = pts.map((p) => p[1] / p[2]);
    bx0 = Math.max(0, Math.floor(Math.min(...xs)) - 1);
    by0 = Math.max(0, Math.floor(Math.min(...ys)) - 1);
    bx1 = Math.min(width, Math.ceil(Math.max(...xs)) + 1);
    by1 = Math.min(height, Math.ceil(Math.max(...ys)) + 1);
  }
  for (let y = by0; y < by1; y++) {
    for (let x = bx0; x < bx1; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let hits = 0;
      for (const oy of offs) {
        for (const ox of offs) {
          const X = x + ox;
          const Y = y + oy;
          const w = H[6]! * X + H[7]! * Y + H[8]!;
          if (w <= 0) continue;
          const u = (H[0]! * X + H[1]! * Y + H[2]!) / w;
          const vv = (H[3]! * X + H[4]! * Y + H[5]!) / w;
          if (!carrierAt(m, u, vv, col)) continue;
          r += col[0]!;
          g += col[1]!;
          b += col[2]!;
          hits++;
        }
      }
      if (hits === 0) continue;
      const i = y * width + x;
      const a = hits / 4;
      planes[0]![i] = planes[0]![i]! * (1 - a) + r / 4;
      planes[1]![i] = planes[1]![i]! * (1 - a) + g / 4;
      planes[2]![i] = planes[2]![i]! * (1 - a) + b / 4;
    }
  }
}

/** A separable [1 2 1]/4 blur, `passes` times: the optics of a cheap camera. */
function softBlur(img: Image3, passes: number): void {
  const { width, height } = img;
  const tmp = new Float32Array(width * height);
  for (const p of img.planes()) {
    for (let n = 0; n < passes; n++) {
      for (let y = 0; y < height; y++) {
        const o = y * width;
        for (let x = 0; x < width; x++) tmp[o + x] = (p[o + Math.max(0, x - 1)]! + 2 * p[o + x]! + p[o + Math.min(width - 1, x + 1)]!) / 4;
      }
      for (let y = 0; y < height; y++) {
        const a = Math.max(0, y - 1) * width;
        const o = y * width;
        const c = Math.min(height - 1, y + 1) * width;
        for (let x = 0; x < width; x++) p[o + x] = (tmp[a + x]! + 2 * tmp[o + x]! + tmp[c + x]!) / 4;
      }
    }
  }
}

/** Motion blur: the average along a line `length` px long at `angle`, sampled bilinearly. */
function motionBlur(img: Image3, length: number, angle: number): void {
  const { width, height } = img;
  const taps = Math.max(2, Math.ceil(length) + 1);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  for (const p of img.planes()) {
    const src = p.slice();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let t = 0; t < taps; t++) {
          const s = (t / (taps - 1) - 0.5) * length;
          const fx = Math.min(width - 1.001, Math.max(0, x + dx * s));
          const fy = Math.min(height - 1.001, Math.max(0, y + dy * s));
          const ix = Math.floor(fx);
          const iy = Math.floor(fy);
          const ax = fx - ix;
          const ay = fy - iy;
          const o = iy * width + ix;
          sum += (src[o]! * (1 - ax) + src[o + 1]! * ax) * (1 - ay) + (src[o + width]! * (1 - ax) + src[o + width + 1]! * ax) * ay;
        }
        p[y * width + x] = sum / taps;
      }
    }
  }
}

function addNoise(img: Image3, sigma: number, random: () => number, saltPepper = 0): void {
  const n = img.width * img.height;
  const planes = img.planes();
  const [r, g, b] = planes as [Float32Array, Float32Array, Float32Array];
  for (let i = 0; i < n; i++) {
    const bits = (random() * 4294967296) >>> 0;
    const bits2 = (random() * 4294967296) >>> 0;
    const lum = GAUSS[bits & 0xffff]! * sigma * 0.8; // mostly luminance noise, some colour noise
    r[i]! += lum + GAUSS[bits >>> 16]! * sigma * 0.35;
    g[i]! += lum + GAUSS[bits2 & 0xffff]! * sigma * 0.35;
    b[i]! += lum + GAUSS[bits2 >>> 16]! * sigma * 0.35;
    if (saltPepper > 0 && random() < saltPepper) {
      const v = random() < 0.5 ? 0 : 255;
      for (let c = 0; c < 3; c++) planes[c]![i] = v;
    }
  }
}

function clamp(img: Image3): void {
  for (const p of img.planes()) for (let i = 0; i < p.length; i++) p[i] = Math.min(255, Math.max(0, p[i]!));
}

/** Whether the code with 2 modules of quiet zone lies inside the frame. */
function fits(v: View, size: number, width: number, height: number): boolean {
  const H = v.fwd;
  for (const [u, w] of [
    [-2, -2],
    [size + 2, -2],
    [size + 2, size + 2],
    [-2, size + 2],
  ] as const) {
    const z = H[6]! * u + H[7]! * w + H[8]!;
    const x = (H[0]! * u + H[1]! * w + H[2]!) / z;
    const y = (H[3]! * u + H[4]! * w + H[5]!) / z;
    if (z <= 0 || x < 1 || y < 1 || x > width - 1 || y > height - 1) return false;
  }
  return true;
}

function codeBox(v: View): { cx: number; cy: number; side: number } {
  const xs = v.corners.map((c) => c[0]);
  const ys = v.corners.map((c) => c[1]);
  const side = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  return { cx: xs.reduce((a, b) => a + b) / 4, cy: ys.reduce((a, b) => a + b) / 4, side };
}

const matrices = new Map<string, { size: number; modules: Uint8Array }>();
function qrMatrix(text: string): { size: number; modules: Uint8Array } {
  let m = matrices.get(text);
  if (!m) {
    const q = QRCode.create(text, { errorCorrectionLevel: 'M' });
    m = { size: q.modules.size, modules: Uint8Array.from(q.modules.data as ArrayLike<number>, (b) => (b ? 1 : 0)) };
    matrices.set(text, m);
  }
  return m;
}

/** One frame: `text` (or nothing, for an empty scene) on a carrier, with one distortion. */
export function renderFrame(opts: { text: string | null; kind: Distortion | 'none'; strength: Strength; carrier: Carrier; seed: number; width?: number; height?: number }): Frame {
  const width = opts.width ?? 640;
  const height = opts.height ?? 480;
  const random = seeded(opts.seed);
  const { kind, strength } = opts;
  const img = new Image3(width, height);
  background(img, random);
  const qr = opts.text === null ? { size: 49, modules: null } : qrMatrix(opts.text);
  const m = carrierModel(opts.carrier, qr.modules, qr.size, random);
  // Size: a code of 49 modules fills 180..300 px of a 640x480 frame (3.7..6 px a module) at its centre.
  const modulePx = ((3.7 + random() * 2.3) * width) / 640;
  const tiltDeg = kind === 'perspective' ? [30, 45, 58][strength - 1]! + random() * 5 : random() * 14;
  const rz = (random() - 0.5) * (random() < 0.5 ? 0.6 : 2 * Math.PI);
  const half = (qr.size * modulePx) / 2;
  const cx = width / 2 + (random() - 0.5) * Math.max(0, width - 2 * half - 40);
  const cy = height / 2 + (random() - 0.5) * Math.max(0, height - 2 * half - 40);
  if (kind === 'moire' && m.kind === 'phone') {
    m.gridAmp = [0.3, 0.45, 0.6][strength - 1]!;
    m.gridPitch = 1 / (4 + random() * 4);
  }
  if (kind === 'paper') {
    m.speckle = [0.03, 0.06, 0.1][strength - 1]!;
    const contrast = [0.7, 0.5, 0.38][strength - 1]!;
    for (let c = 0; c < 3; c++) m.dark[c] = m.light[c]! - (m.light[c]! - m.dark[c]!) * contrast;
    for (let k = 0; k < strength + 1; k++) {
      const ang = random() * Math.PI;
      const a = Math.cos(ang);
      const b = Math.sin(ang);
      const px = qr.size * (0.15 + random() * 0.7);
      const py = qr.size * (0.15 + random() * 0.7);
      m.creases.push({ a, b, c: -(a * px + b * py), shade: 0.1 + 0.08 * strength });
    }
  }
  // The whole code and its quiet zone in the frame (a code cut by the frame's edge is not a hard
  // frame but an unreadable one): smaller and nearer the centre until it fits.
  const axis = random() * Math.PI;
  let v = view(width, height, qr.size, modulePx, rz, (tiltDeg * Math.PI) / 180, axis, cx, cy);
  for (let k = 1; k <= 12 && !fits(v, qr.size, width, height); k++) {
    const t = k / 12;
    v = view(width, height, qr.size, modulePx * (1 - 0.4 * t), rz, (tiltDeg * Math.PI) / 180, axis, cx + (width / 2 - cx) * t, cy + (height / 2 - cy) * t);
  }
  drawCarrier(img, m, v);
  softBlur(img, 1);
  const box = codeBox(v);
  const planes = img.planes();
  if (kind === 'glare') {
    const gain = [0.7, 1.1, 1.6][strength - 1]!;
    const rad = box.side * [0.2, 0.28, 0.36][strength - 1]!;
    const gx = box.cx + (random() - 0.5) * box.side * 0.6;
    const gy = box.cy + (random() - 0.5) * box.side * 0.6;
    const ratio = 0.5 + random();
    const ang = random() * Math.PI;
    const ca = Math.cos(ang);
    const sa = Math.sin(ang);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const dx = x - gx;
        const dy = y - gy;
        const a = (dx * ca + dy * sa) / rad;
        const b = (-dx * sa + dy * ca) / (rad * ratio);
        const e = Math.exp(-(a * a + b * b)) * gain * 255;
        if (e < 0.5) continue;
        const i = y * width + x;
        for (let c = 0; c < 3; c++) planes[c]![i]! += e;
      }
    }
  } else if (kind === 'moire') {
    // An interference pattern: two fine gratings at close angles beat into broad bands.
    const amp = [0.15, 0.25, 0.35][strength - 1]!;
    const f1 = 0.45 + random() * 0.1;
    const a1 = random() * Math.PI;
    const a2 = a1 + 0.05 + random() * 0.1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const g1 = Math.cos(2 * Math.PI * f1 * (x * Math.cos(a1) + y * Math.sin(a1)));
        const g2 = Math.cos(2 * Math.PI * f1 * (x * Math.cos(a2) + y * Math.sin(a2)));
        const mod = 1 - amp * (0.5 + 0.5 * g1 * g2);
        const i = y * width + x;
        for (let c = 0; c < 3; c++) planes[c]![i]! *= mod;
      }
    }
  } else if (kind === 'blur') {
    motionBlur(img, [4, 7, 10][strength - 1]!, random() * Math.PI);
  } else if (kind === 'dim') {
    const bright = [0.42, 0.28, 0.18][strength - 1]!;
    const contrast = [0.7, 0.55, 0.42][strength - 1]!;
    for (const p of planes) for (let i = 0; i < p.length; i++) p[i] = (128 + (p[i]! - 128) * contrast) * bright;
    addNoise(img, [2.5, 3, 3.5][strength - 1]!, random);
    clamp(img);
    return img.toFrame([64, 48, 32][strength - 1]!);
  } else if (kind === 'noise') {
    addNoise(img, [14, 26, 38][strength - 1]!, random, [0.002, 0.006, 0.012][strength - 1]!);
    clamp(img);
    return img.toFrame();
  }
  addNoise(img, 2.5, random);
  clamp(img);
  return img.toFrame();
}

/**
 * The hard set: every distortion at every strength, `perCell` frames each, cycling through `texts`.
 * Carriers alternate phone and paper (moiré: always a phone; worn paper: always paper).
 */
export function hardSet(texts: string[], seed: number, perCell: number, width = 640, height = 480): HardSample[] {
  const out: HardSample[] = [];
  let n = 0;
  for (const kind of DISTORTIONS) {
    for (const strength of [1, 2, 3] as const) {
      for (let k = 0; k < perCell; k++) {
        const carrier: Carrier = kind === 'moire' ? 'phone' : kind === 'paper' ? 'paper' : k % 2 === 0 ? 'phone' : 'paper';
        const text = texts[n % texts.length]!;
        const frameSeed = (seed * 1_000_003 + n * 7919) >>> 0;
        out.push({ name: `${kind}-${strength}-${k}`, kind, strength, carrier, expected: text, frame: renderFrame({ text, kind, strength, carrier, seed: frameSeed, width, height }) });
        n++;
      }
    }
  }
  return out;
}

/**
 * Frames without a code, as a gate camera mostly sees: clutter, a phone with a dark or blank screen,
 * a sheet of paper without a code, noise, dim light.
 */
export function emptyFrames(count: number, seed: number, width = 640, height = 480): Frame[] {
  const out: Frame[] = [];
  const kinds: (Distortion | 'none')[] = ['none', 'none', 'none', 'noise', 'dim', 'glare', 'blur'];
  for (let i = 0; i < count; i++) {
    const random = seeded((seed * 31 + i) >>> 0);
    const kind = kinds[i % kinds.length]!;
    const frameSeed = (seed * 1_000_033 + i * 104729) >>> 0;
    if (i % 3 === 0) {
      // Just the scene: render a frame with the carrier far outside the view.
      const img = new Image3(width, height);
      background(img, random);
      softBlur(img, 1);
      addNoise(img, 2 + random() * 6, random);
      clamp(img);
      out.push(img.toFrame());
    } else out.push(renderFrame({ text: null, kind, strength: 1, carrier: i % 3 === 1 ? 'phone' : 'paper', seed: frameSeed, width, height }));
  }
  return out;
}

/**
 * Real SafeGate pass texts (`SG1:`), the same on every run: signed with a key made from a fixed seed
 * (Ed25519 signatures are deterministic), fixed pass ids and dates. Synthetic workers only.
 */
export async function benchPasses(count: number): Promise<string[]> {
  const { createPrivateKey } = await import('node:crypto');
  const { issuePass } = await import('../../base/node/pass.js');
  const seed = Buffer.alloc(32, 7);
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const issuedAt = new Date(Date.UTC(2026, 0, 1));
  return Array.from({ length: count }, (_, i) =>
    issuePass(key, { workerId: `W${String(i).padStart(5, '0')}`, issuer: 'bench-hub', issuedAt, expiresAt: new Date(issuedAt.getTime() + 86_400_000), passId: (0xa000 + i).toString(16).padStart(16, '0') }),
  );
}
