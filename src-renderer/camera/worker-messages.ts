import type { DecoderName } from '../../device/camera/decoder.js';

export type ToWorker =
  | { type: 'init'; decoder: DecoderName }
  /** Once the camera is open: its frame interval (ms; absent when the track does not say), which sets the per-frame budget. */
  | { type: 'camera'; frameIntervalMs?: number }
  | { type: 'frame'; id: number; bitmap: ImageBitmap };
export type FromWorker =
  | { type: 'ready'; decoder: DecoderName }
  | { type: 'result'; id: number; texts: string[]; ms: number }
  | { type: 'error'; id: number; message: string };
