/**
 * npm run bench:decode — both QR decoders over the real phone photos in ../shared/corpora/qr-photos
 * (ZXing's black-box sets, at 0 degrees as photographed) and over synthetic camera frames of
 * 640x480 and 1280x720 (a pass QR at a random place, size, slight tilt and blur, or no QR at all, as
 * most camera frames are). Prints decode rate and median/p95 ms per frame for each decoder; the
 * last line is one JSON object for the default decoder.
 *
 * Timing here is Node on this machine; in the kiosk the same adapters run in a Web Worker.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpus } from '../helpers/corpora.js';
import QRCode from 'qrcode';
import sharp from 'sharp';
import { DECODER_NAMES, DEFAULT_DECODER, type DecoderName, type Frame } from '../../device/camera/decoder.js';
import { createNodeDecoder, readImageFrame } from '../../src-main/core/decoders.js';
import { generateSigningKeyPair } from '../../base/node/keys.js';
import { issuePass } from '../../base/node/pass.js';

const CORPUS = corpus('qr-photos');
const FRAMES = Number(process.env.FRAMES ?? 60);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A deterministic pseudo-random sequence, so every run measures the same frames. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

interface Sample {
  name: string;
  frame: Frame;
  expected: string | null;
}

async function corpusPhotos(): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const set of readdirSync(CORPUS).filter((d) => d.startsWith('qrcode-')).sort()) {
    const dir = join(CORPUS, set);
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.png')).sort()) {
      samples.push({ name: `${set}/${f}`, frame: await readImageFrame(join(dir, f)), expected: readFileSync(join(dir, f.replace(/\.png$/, '.txt')), 'utf8') });
    }
  }
  return samples;
}

async function syntheticFrames(width: number, height: number, texts: string[]): Promise<Sample[]> {
  const random = rng(width * 31 + height);
  const samples: Sample[] = [];
  for (let i = 0; i < FRAMES; i++) {
    // One frame in four has no code: the camera mostly looks at nobody.
    const text = i % 4 === 3 ? null : texts[i % texts.length]!;
    const grey = Math.round(150 + random() * 80);
    let base = sharp({ create: { width, height, channels: 3, background: { r: grey, g: grey, b: grey - 10 } } });
    if (text !== null) {
      const size = Math.round(Math.min(width, height) * (0.35 + random() * 0.4));
      const qr = await sharp(await QRCode.toBuffer(text, { errorCorrectionLevel: 'M', margin: 3, width: size }))
        .rotate((random() - 0.5) * 16, { background: { r: grey, g: grey, b: grey - 10 } })
        .toBuffer();
      const meta = await sharp(qr).metadata();
      const left = Math.floor(random() * Math.max(1, width - meta.width!));
      const top = Math.floor(random() * Math.max(1, height - meta.height!));
      base = sharp(await base.composite([{ input: qr, left, top }]).png().toBuffer());
    }
    const { data, info } = await base
      .blur(0.6 + random() * 0.8)
      .modulate({ brightness: 0.8 + random() * 0.3 })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    samples.push({ name: `synthetic-${width}x${height}-${i}`, frame: { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, expected: text });
  }
  return samples;
}

async function measure(name: DecoderName, samples: Sample[]): Promise<{ rate: number; read: number; withCode: number; ms: number[]; misreads: number }> {
  const decoder = await createNodeDecoder(name);
  await decoder.decode(samples[0]!.frame); // warm-up (wasm compile, JIT)
  let read = 0;
  let misreads = 0;
  const ms: number[] = [];
  for (const s of samples) {
    const t0 = performance.now();
    const texts = await decoder.decode(s.frame);
    ms.push(performance.now() - t0);
    if (s.expected !== null && texts[0] === s.expected) read++;
    else if (texts.length && texts[0] !== s.expected) misreads++;
  }
  const withCode = samples.filter((s) => s.expected !== null).length;
  return { rate: read / withCode, read, withCode, ms, misreads };
}

async function main(): Promise<void> {
  const pair = generateSigningKeyPair('EdDSA');
  const now = Date.now();
  const passes = Array.from({ length: 8 }, (_, i) =>
    issuePass(pair.privatePem, { workerId: `W${String(i).padStart(5, '0')}`, issuer: 'bench-hub', issuedAt: new Date(now), expiresAt: new Date(now + 86_400_000) }),
  );
  const photos = await corpusPhotos();
  const f640 = await syntheticFrames(640, 480, passes);
  const f720 = await syntheticFrames(1280, 720, passes);
  console.log(`corpus: ${photos.length} photos from ${CORPUS}; synthetic: ${f640.length} frames at 640x480 and ${f720.length} at 1280x720 (a quarter without a code)`);

  const results: Record<string, { corpus: Awaited<ReturnType<typeof measure>>; s640: Awaited<ReturnType<typeof measure>>; s720: Awaited<ReturnType<typeof measure>> }> = {};
  for (const name of DECODER_NAMES) {
    results[name] = { corpus: await measure(name, photos), s640: await measure(name, f640), s720: await measure(name, f720) };
    const r = results[name];
    console.log(
      `${name.padEnd(11)} corpus ${r.corpus.read}/${r.corpus.withCode} (${(r.corpus.rate * 100).toFixed(1)}%), median ${percentile(r.corpus.ms, 50).toFixed(1)} ms | ` +
        `640x480 read ${r.s640.read}/${r.s640.withCode}, p50 ${percentile(r.s640.ms, 50).toFixed(1)} ms, p95 ${percentile(r.s640.ms, 95).toFixed(1)} ms | ` +
        `1280x720 read ${r.s720.read}/${r.s720.withCode}, p50 ${percentile(r.s720.ms, 50).toFixed(1)} ms, p95 ${percentile(r.s720.ms, 95).toFixed(1)} ms | misreads ${r.corpus.misreads + r.s640.misreads + r.s720.misreads}`,
    );
  }
  const score = (n: string) => results[n]!.corpus.rate * 1000 - percentile(results[n]!.s640.ms, 50);
  const winner = [...DECODER_NAMES].sort((a, b) => score(b) - score(a))[0]!;
  console.log(`winner (read rate first, then speed): ${winner}; default decoder: ${DEFAULT_DECODER}${winner === DEFAULT_DECODER ? '' : '  <-- the default should change'}`);
  const d = results[DEFAULT_DECODER]!;
  console.log(
    JSON.stringify({
      decoder: DEFAULT_DECODER,
      decode_rate: Number(d.corpus.rate.toFixed(4)),
      decode_ms_p50_640: Number(percentile(d.s640.ms, 50).toFixed(2)),
      decode_ms_p95_640: Number(percentile(d.s640.ms, 95).toFixed(2)),
      decode_ms_p50_720: Number(percentile(d.s720.ms, 50).toFixed(2)),
    }),
  );
}

await main();
