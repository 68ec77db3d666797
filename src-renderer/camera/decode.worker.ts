/// <reference lib="webworker" />
/**
 * Decodes camera frames off the UI thread. Frames arrive as ImageBitmaps (transferred, no copy on
 * the UI thread); the pixels are read here on an OffscreenCanvas and handed to the decoder port.
 * The combined decoder's per-frame budget follows the camera's frame interval (the `camera` message,
 * sent once the track is open; until then, or if the camera does not say, 12 ms). A broken decoder
 * is reported once (error id -1: the camera shows its error state), not on every frame.
 */
import wasmUrl from 'zxing-wasm/reader/zxing_reader.wasm?url';
import type { DecoderName, Frame, QrDecoder } from '../../device/camera/decoder.js';
import { createZxingJsDecoder } from '../../device/camera/zxing-js-decoder.js';
import { createZxingWasmDecoder } from '../../device/camera/zxing-wasm-decoder.js';
import { budgetForFrameInterval, createCombinedDecoder, type CombinedDecoder } from '../../device/camera/combined-decoder.js';
import { createFrameDecode } from '../../device/camera/frame-decode.js';
import type { FromWorker, ToWorker } from './worker-messages.js';

const scope = self as unknown as DedicatedWorkerGlobalScope;
let decoder: QrDecoder | undefined;
let combined: CombinedDecoder | undefined;
let frames: ReturnType<typeof createFrameDecode> | undefined;
let frameIntervalMs: number | undefined;
let canvas: OffscreenCanvas | undefined;
let ctx: OffscreenCanvasRenderingContext2D | null = null;

const reply = (m: FromWorker): void => scope.postMessage(m);

async function init(name: DecoderName): Promise<void> {
  const source = { wasmUrl: new URL(wasmUrl, scope.location.href).href };
  // zxing-js and zxing-wasm alone stay available (camera.decoder); anything else gets the combined one.
  if (name === 'zxing-js') decoder = createZxingJsDecoder();
  else if (name === 'zxing-wasm') decoder = await createZxingWasmDecoder(source);
  else decoder = combined = await createCombinedDecoder(source, { budgetMs: budgetForFrameInterval(frameIntervalMs) });
  frames = createFrameDecode(decoder, (m) => {
    if (m.type === 'error' && m.id === -1) console.error(`camera: ${m.message}`); // once: later frames are dropped
    reply(m);
  });
  reply({ type: 'ready', decoder: decoder.name });
}

function pixels(bitmap: ImageBitmap): Frame {
  const { width, height } = bitmap;
  if (!canvas || canvas.width !== width || canvas.height !== height) {
    canvas = new OffscreenCanvas(width, height);
    ctx = canvas.getContext('2d', { willReadFrequently: true });
  }
  if (!ctx) throw new Error('no 2D context');
  ctx.drawImage(bitmap, 0, 0);
  return { data: ctx.getImageData(0, 0, width, height).data, width, height };
}

async function decodeFrame(id: number, bitmap: ImageBitmap): Promise<void> {
  const started = performance.now();
  try {
    if (!frames) throw new Error('decoder not ready');
    await frames.decode(id, pixels(bitmap), started);
  } catch (err) {
    reply({ type: 'error', id, message: err instanceof Error ? err.message : String(err) });
  } finally {
    bitmap.close();
  }
}

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.type === 'init') init(m.decoder).catch((err: unknown) => reply({ type: 'error', id: -1, message: err instanceof Error ? err.message : String(err) }));
  else if (m.type === 'camera') {
    frameIntervalMs = m.frameIntervalMs;
    combined?.setBudgetMs(budgetForFrameInterval(frameIntervalMs));
  } else if (m.type === 'frame') void decodeFrame(m.id, m.bitmap);
};
