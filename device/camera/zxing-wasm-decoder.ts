import { prepareZXingModule, readBarcodes, type ReaderOptions } from 'zxing-wasm/reader';
import { checkFrame, type Frame, type QrDecoder } from './decoder.js';

/**
 * zxing-cpp compiled to WebAssembly. Its default loader fetches the .wasm from a CDN, which a kiosk
 * must never do: the caller hands over the bytes (Node: read from node_modules) or a local URL
 * (browser: the file bundled with the screens).
 */
export type WasmSource = { wasmBinary: ArrayBuffer } | { wasmUrl: string };

/** The settings `zxing-wasm` reads with (and the combined decoder's first pass). */
export const WASM_OPTIONS: ReaderOptions = {
  formats: ['QRCode'],
  tryHarder: true,
  tryRotate: true,
  tryInvert: false,
  tryDownscale: true,
  maxNumberOfSymbols: 1,
};

/** Loads zxing-cpp's WebAssembly module (once per source; the module is shared by the decoders). */
export async function prepareZxingWasm(source: WasmSource): Promise<void> {
  const overrides =
    'wasmBinary' in source
      ? { wasmBinary: source.wasmBinary }
      : { locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? source.wasmUrl : prefix + path) };
  await prepareZXingModule({ overrides, fireImmediately: true });
}

export async function createZxingWasmDecoder(source: WasmSource): Promise<QrDecoder> {
  await prepareZxingWasm(source);
  return {
    name: 'zxing-wasm',
    async decode(frame: Frame): Promise<string[]> {
      checkFrame(frame);
      // readBarcodes reads any { data, width, height } (it needs no real ImageData, so this also runs in Node).
      const pixels = { data: frame.data, width: frame.width, height: frame.height } as unknown as Parameters<typeof readBarcodes>[0];
      const results = await readBarcodes(pixels, WASM_OPTIONS);
      return results.filter((r) => r.isValid && r.text).map((r) => r.text);
    },
  };
}
