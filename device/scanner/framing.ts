import { Transform, type TransformCallback } from 'node:stream';

export type LineSuffix = 'CR' | 'LF' | 'CRLF';

/**
 * Why input was refused. The evdev scanner adds two a byte stream cannot have: 'unknown-key' (a key that
 * types no character in the layout) and 'input-lost' (the kernel dropped input events mid-code).
 */
export type RejectedLineReason = 'too-long' | 'not-utf8' | 'control-byte' | 'unknown-key' | 'input-lost';

export type FramedLine =
  | { kind: 'line'; text: string; receivedAtNs: bigint }
  | { kind: 'rejected'; reason: RejectedLineReason; detail: string; receivedAtNs: bigint };

const CR = 0x0d;
const LF = 0x0a;

/** C0 controls, DEL and C1 controls: never part of a QR pass or a badge number. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point here
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/u;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Checks one line's bytes (without its suffix): valid UTF-8 and no control characters. */
export function validateLine(bytes: Uint8Array, receivedAtNs: bigint): FramedLine {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { kind: 'rejected', reason: 'not-utf8', detail: `${bytes.length} bytes that are not valid UTF-8`, receivedAtNs };
  }
  const m = CONTROL_CHAR.exec(text);
  if (m) {
    const code = m[0].codePointAt(0)!.toString(16).padStart(2, '0');
    const hint = code === '0a' || code === '0d' ? ' (check the scanner\'s line suffix setting)' : '';
    return { kind: 'rejected', reason: 'control-byte', detail: `control character 0x${code} at ${m.index}${hint}`, receivedAtNs };
  }
  return { kind: 'line', text, receivedAtNs };
}

/**
 * Splits a scanner's byte stream into lines. Memory is bounded: a line longer than `maxLength`
 * bytes is reported once as `too-long` and its remaining bytes are discarded up to the next suffix.
 * Empty lines (e.g. a stray suffix) are ignored.
 */
export class ScanLineFramer extends Transform {
  private readonly delimiter: number;
  private readonly stripCr: boolean;
  private parts: Buffer[] = [];
  private length = 0;
  private discarding = false;

  constructor(
    private readonly suffix: LineSuffix,
    private readonly maxLength: number,
  ) {
    super({ readableObjectMode: true });
    this.delimiter = suffix === 'CR' ? CR : LF;
    this.stripCr = suffix === 'CRLF';
  }

  /** Bytes held of a line not yet complete: never more than maxLength (+1 for a CRLF's CR), whatever arrives. */
  get bufferedBytes(): number {
    return this.length;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const receivedAtNs = process.hrtime.bigint();
    let start = 0;
    for (let i = chunk.indexOf(this.delimiter, start); i !== -1; i = chunk.indexOf(this.delimiter, start)) {
      this.collect(chunk.subarray(start, i), receivedAtNs);
      this.endLine(receivedAtNs);
      start = i + 1;
    }
    this.collect(chunk.subarray(start), receivedAtNs);
    done();
  }

  override _flush(done: TransformCallback): void {
    // A partial line at close was never completed by the scanner: drop it.
    this.reset();
    done();
  }

  private collect(bytes: Buffer, receivedAtNs: bigint): void {
    if (this.discarding || bytes.length === 0) return;
    // +1 allows the CR of a CRLF suffix to sit in the buffer before the LF arrives.
    const limit = this.maxLength + (this.stripCr ? 1 : 0);
    if (this.length + bytes.length > limit) {
      this.push({
        kind: 'rejected',
        reason: 'too-long',
        detail: `line longer than ${this.maxLength} bytes dropped`,
        receivedAtNs,
      } satisfies FramedLine);
      this.reset();
      this.discarding = true;
      return;
    }
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  private endLine(receivedAtNs: bigint): void {
    if (this.discarding) {
      this.discarding = false;
      this.reset();
      return;
    }
    let line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.reset();
    if (this.stripCr && line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length === 0) return;
    // The buffer kept one byte of room for a CRLF's CR; a line that ended with a bare LF instead
    // may not use it.
    if (line.length > this.maxLength) {
      this.push({ kind: 'rejected', reason: 'too-long', detail: `line longer than ${this.maxLength} bytes dropped`, receivedAtNs } satisfies FramedLine);
      return;
    }
    this.push(validateLine(line, receivedAtNs));
  }

  private reset(): void {
    this.parts = [];
    this.length = 0;
  }
}
