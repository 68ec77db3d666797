import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DEFAULT_DECODER, type DecoderName, type Frame, type QrDecoder } from '../../device/camera/decoder.js';
import { createZxingJsDecoder } from '../../device/camera/zxing-js-decoder.js';
import { createZxingWasmDecoder, type WasmSource } from '../../device/camera/zxing-wasm-decoder.js';
import { createCombinedDecoder, type CombinedOptions } from '../../device/camera/combined-decoder.js';

/** The QR decoders in Node (CLI, benchmarks): the same adapters the screens' worker uses, wasm read from disk. */
export async function createNodeDecoder(name: DecoderName = DEFAULT_DECODER, options: CombinedOptions = {}): Promise<QrDecoder> {
  if (name === 'zxing-js') return createZxingJsDecoder();
  if (name === 'combined') return createCombinedDecoder(nodeWasmSource(), options);
  return createZxingWasmDecoder(nodeWasmSource());
}

/** zxing-cpp's WebAssembly, read from node_modules (never fetched). */
export function nodeWasmSource(): WasmSource {
  const file = createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm');
  const bytes = readFileSync(file);
  return { wasmBinary: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer };
}

/** An image file (PNG, JPEG, WebP, ...) as RGBA pixels. */
export async function readImageFrame(path: string): Promise<Frame> {
  const { default: sharp } = await import('sharp');
  const { data, info } = await sharp(path).rotate().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
