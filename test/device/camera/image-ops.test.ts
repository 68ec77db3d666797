import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import QRCode from 'qrcode';
import { toLuminance, type Frame } from '../../../device/camera/decoder.js';
import { codeLikeBlocks, greyToFrame, halfLuminance, thresholdLocal, type Grey } from '../../../device/camera/image-ops.js';

function rgba(width: number, height: number, at: (x: number, y: number) => number): Frame {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = at(x, y);
      data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  return { data, width, height };
}

/** A QR code, `px` pixels a module, light `light` and dark `dark`, centred on a flat grey frame. */
function qrFrame(px: number, light: number, dark: number): Frame {
  const q = QRCode.create(`SG1:${'TEST-PASS-'.repeat(20)}`, { errorCorrectionLevel: 'M' }); // version 8, as a pass
  const n = q.modules.size;
  const off = Math.floor((320 - n * px) / 2);
  return rgba(320, 240, (x, y) => {
    const u = Math.floor((x - off) / px);
    const v = Math.floor((y - 20) / px);
    if (u < 0 || v < 0 || u >= n || v >= n) return light;
    return q.modules.get(v, u) ? dark : light;
  });
}

describe('image operations of the combined decoder', () => {
  it('halfLuminance is the 2x2 mean of the luma toLuminance gives (odd sizes drop the last row and column)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), fc.integer({ min: 2, max: 9 }), fc.integer(), (w, h, seed) => {
        let s = seed >>> 0;
        const data = new Uint8ClampedArray(w * h * 4).map(() => ((s = (s * 1664525 + 1013904223) >>> 0) >>> 24) & 255);
        const frame = { data, width: w, height: h };
        const full = toLuminance(frame);
        const half = halfLuminance(frame);
        expect([half.width, half.height]).toEqual([w >> 1, h >> 1]);
        for (let y = 0; y < half.height; y++) {
          for (let x = 0; x < half.width; x++) {
            const mean = (full[2 * y * w + 2 * x]! + full[2 * y * w + 2 * x + 1]! + full[(2 * y + 1) * w + 2 * x]! + full[(2 * y + 1) * w + 2 * x + 1]!) / 4;
            expect(Math.abs(half.data[y * half.width + x]! - mean)).toBeLessThanOrEqual(1);
          }
        }
      }),
    );
  });

  it('thresholdLocal separates a dim, unevenly lit pattern that a global threshold cannot', () => {
    // Stripes of contrast 12 on a ramp from 20 to 140: no single threshold splits them.
    const g: Grey = { data: new Uint8ClampedArray(200 * 50), width: 200, height: 50 };
    for (let y = 0; y < 50; y++) for (let x = 0; x < 200; x++) g.data[y * 200 + x] = 20 + (x * 120) / 200 + (Math.floor(x / 4) % 2 ? 12 : 0);
    const t = thresholdLocal(g, 6);
    for (let x = 8; x < 192; x++) {
      const stripeLight = Math.floor(x / 4) % 2 === 1;
      if (x % 4 === 0 || x % 4 === 3) continue; // edges of a stripe may go either way
      expect(t.data[25 * 200 + x], `x=${x}`).toBe(stripeLight ? 255 : 0);
    }
    expect(new Set(t.data)).toEqual(new Set([0, 255]));
  });

  it('codeLikeBlocks counts many blocks on a code, even dim and low in contrast, and few on flat or smooth scenes', () => {
    const grey = (f: Frame): Grey => ({ data: toLuminance(f), width: f.width, height: f.height });
    // 2..3 px a module: a code as the half-size image of a 640x480 frame shows it.
    expect(codeLikeBlocks(grey(qrFrame(2, 230, 30)))).toBeGreaterThan(60);
    expect(codeLikeBlocks(grey(qrFrame(3, 230, 30)))).toBeGreaterThan(40);
    expect(codeLikeBlocks(grey(qrFrame(2, 60, 44)))).toBeGreaterThan(40);
    expect(codeLikeBlocks(grey(rgba(320, 240, () => 128)))).toBe(0);
    expect(codeLikeBlocks(grey(rgba(320, 240, (x, y) => (x + y) / 3)))).toBe(0);
    // One hard edge: a dark half and a light half.
    expect(codeLikeBlocks(grey(rgba(320, 240, (x) => (x < 160 ? 30 : 220))))).toBe(0);
  });

  it('greyToFrame is RGBA with the grey in each colour and opaque alpha', () => {
    const f = greyToFrame({ data: Uint8ClampedArray.from([0, 77, 255]), width: 3, height: 1 });
    expect([...f.data]).toEqual([0, 0, 0, 255, 77, 77, 77, 255, 255, 255, 255, 255]);
  });
});
