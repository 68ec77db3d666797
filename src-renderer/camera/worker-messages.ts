import type { DecoderName } from '../../device/camera/decoder.js';

export type ToWorker = { type: 'init'; decoder: DecoderName } | { type: 'frame'; id: number; bitmap: ImageBitmap };
export type FromWorker =
  | { type: 'ready'; decoder: DecoderName }
  | { type: 'result'; id: number; texts: string[]; ms: number }
  | { type: 'error'; id: number; message: string };
