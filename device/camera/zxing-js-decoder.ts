import { BinaryBitmap, DecodeHintType, HybridBinarizer, NotFoundException, QRCodeReader, RGBLuminanceSource, ChecksumException, FormatException } from '@zxing/library';
import { checkFrame, toLuminance, type Frame, type QrDecoder } from './decoder.js';

/** @zxing/library (ZXing ported to TypeScript), QR only, TRY_HARDER. */
export function createZxingJsDecoder(): QrDecoder {
  const reader = new QRCodeReader();
  const hints = new Map<DecodeHintType, unknown>([[DecodeHintType.TRY_HARDER, true]]);
  return {
    name: 'zxing-js',
    decode(frame: Frame): Promise<string[]> {
      checkFrame(frame);
      const source = new RGBLuminanceSource(toLuminance(frame), frame.width, frame.height);
      try {
        const result = reader.decode(new BinaryBitmap(new HybridBinarizer(source)), hints);
        return Promise.resolve([result.getText()]);
      } catch (err) {
        // "Nothing readable in this frame" is the normal case for a camera, not an error.
        if (err instanceof NotFoundException || err instanceof ChecksumException || err instanceof FormatException) return Promise.resolve([]);
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      } finally {
        reader.reset();
      }
    },
  };
}
