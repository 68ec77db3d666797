/// <reference lib="webworker" />
/**
 * Decodes camera frames off the UI thread. Frames arrive as ImageBitmaps (transferred, no copy on
 * the UI thread); the pixels are read here on an OffscreenCanvas and handed to the decoder port.
 */
import wasmUrl from 'zxing-wasm/reader/zxing_reader.wasm?url';
import type { DecoderName, QrDecoder } from '../../device/camera/decoder.js';
import { createZxingJsDecoder } from '../../device/camera/zxing-js-decoder.js';
import { createZxingWasmDecoder } from '../../device/camera/zxing-wasm-decoder.js';
import { createCombinedDecoder } from '../../device/camera/combined-decoder.js';
import type { FromWorker, ToWorker } from './worker-messages.js';

const scope = self as unknown as DedicatedWorkerGlobalScope;
let decoder: QrDecoder | undefined;
let canvas: OffscreenCanvas | undefined;
let ctx: OffscreenCanvasRenderingContext2D | null = null;

const reply = (m: FromWorker): void => scope.postMessage(m);

async function init(name: DecoderName): Promise<void> {
  const source = { wasmUrl: new URL(wasmUrl, scope.location.href).href };
  // zxing-js and zxing-wasm alone stay available (camera.decoder); anything else gets the combined one.
  decoder = name === 'zxing-js' ? createZxingJsDecoder() : name === 'zxing-wasm' ? await createZxingWasmDecoder(source) : await createCombinedDecoder(source);
  reply({ type: 'ready', decoder: decoder.name });
}

async function decodeFrame(id: number, bitmap: ImageBitmap): Promise<void> {
  const started = performance.now();
  try {
    if (!decoder) throw new Error('decoder not ready');
    const { width, height } = bitmap;
    if (!canvas || canvas.width !== width || canvas.height !== height) {
      canvas = new OffscreenCanvas(width, height);
      ctx = canvas.getContext('2d', { willReadFrequently: true });
    }
    if (!ctx) throw new Error('no 2D context');
    ctx.drawImage(bitmap, 0, 0);
    const image = ctx.getImageData(0, 0, width, height);
    const texts = await decoder.decode({ data: image.data, width, height });
    reply({ type: 'result', id, texts, ms: performance.now() - started });
  } catch (err) {
    reply({ type: 'error', id, message: err instanceof Error ? err.message : String(err) });
  } finally {
    bitmap.close();
  }
}

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.type === 'init') init(m.decoder).catch((err: unknown) => reply({ type: 'error', id: -1, message: err instanceof Error ? err.message : String(err) }));
  else if (m.type === 'frame') void decodeFrame(m.id, m.bitmap);
};
