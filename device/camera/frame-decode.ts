import { FrameError, type Frame, type QrDecoder } from './decoder.js';

/** What the decoding worker posts back for a frame (the shape of src-renderer/camera/worker-messages.ts). */
export type FrameReply = { type: 'result'; id: number; texts: string[]; ms: number } | { type: 'error'; id: number; message: string };

/**
 * One frame after another through a decoder, as the camera's worker does it. A frame the decoder
 * refuses (FrameError: an odd size) is answered with an error for that frame, and the next one is
 * decoded. Anything else means the decoder itself is broken (its wasm module aborted, out of memory):
 * that is reported once, with id -1 (the camera shows its error state and stops sending frames), and
 * every later frame is dropped without another report, so a broken engine never looks like a camera
 * that sees no code.
 */
export function createFrameDecode(decoder: QrDecoder, reply: (m: FrameReply) => void, clock: () => number = () => performance.now()): {
  decode(id: number, frame: Frame, started?: number): Promise<void>;
  readonly broken: string | null;
} {
  let broken: string | null = null;
  return {
    get broken() {
      return broken;
    },
    async decode(id, frame, started = clock()) {
      if (broken !== null) return;
      try {
        const texts = await decoder.decode(frame);
        reply({ type: 'result', id, texts, ms: clock() - started });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (err instanceof FrameError) return reply({ type: 'error', id, message });
        broken = `${decoder.name} decoder failed: ${message}`;
        reply({ type: 'error', id: -1, message: broken });
      }
    },
  };
}
