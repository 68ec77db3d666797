import { decode as base45Decode, encode as base45Encode } from '@digitalbazaar/base45';
import { deflateSync, inflateSync } from 'node:zlib';

/**
 * The QR text envelope shared with the EU DCC: `PREFIX` + Base45( zlib?( bytes ) ).
 * Decompression is capped so a small QR cannot expand into a memory bomb.
 */

export const MAX_INFLATED_BYTES = 64 * 1024;

export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

/** zlib streams start with CMF 0x78 (deflate, 32K window); COSE_Sign1 starts with 0xd2 or 0x84. */
function looksZlib(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x78 && ((bytes[0] << 8) | bytes[1]!) % 31 === 0;
}

export function openEnvelope(text: string, prefix: string): Uint8Array {
  if (!text.startsWith(prefix)) throw new EnvelopeError(`does not start with ${prefix}`);
  let raw: Uint8Array;
  try {
    raw = base45Decode(text.slice(prefix.length));
  } catch (err) {
    throw new EnvelopeError(`not Base45: ${(err as Error).message}`);
  }
  if (!looksZlib(raw)) return raw;
  let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    // `info` gives the engine, whose bytesWritten is what the stream consumed.
    inflated = inflateSync(raw, { maxOutputLength: MAX_INFLATED_BYTES, info: true }) as unknown as typeof inflated;
  } catch (err) {
    throw new EnvelopeError(`bad zlib data: ${(err as Error).message}`);
  }
  // zlib stops at the end of its stream; bytes after it would ride along unsigned and unread.
  if (inflated.engine.bytesWritten !== raw.length) throw new EnvelopeError(`${raw.length - inflated.engine.bytesWritten} bytes after the zlib data`);
  return new Uint8Array(inflated.buffer);
}

export function sealEnvelope(bytes: Uint8Array, prefix: string): string {
  // Copy into a fresh Uint8Array: the Base45 encoder reads the whole underlying buffer.
  return prefix + base45Encode(new Uint8Array(deflateSync(bytes, { level: 9 })));
}
