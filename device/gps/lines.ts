/**
 * Splits a byte stream into lines (LF, with an optional CR before it) of at most maxLength bytes. A
 * longer line is refused once and skipped up to its end, so a receiver sending garbage with no line
 * ends never grows memory. Pure: the adapters feed it what the port or socket reads.
 */
export type SplitLine = { kind: 'line'; text: string } | { kind: 'too-long'; length: number };

export class BoundedLineSplitter {
  private parts: Buffer[] = [];
  private length = 0;
  /** Inside a line already refused as too long: skip to its end. */
  private skipping = false;
  private skipped = 0;

  constructor(
    private readonly maxLength: number,
    private readonly encoding: 'latin1' | 'utf8',
  ) {}

  push(chunk: Buffer): SplitLine[] {
    const out: SplitLine[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      this.take(chunk.subarray(start, end), out);
      if (nl === -1) break;
      this.finishLine(out);
      start = nl + 1;
    }
    return out;
  }

  /** Forgets a partial line (the port closed). */
  reset(): void {
    this.parts = [];
    this.length = 0;
    this.skipping = false;
    this.skipped = 0;
  }

  private take(piece: Buffer, out: SplitLine[]): void {
    if (piece.length === 0) return;
    if (this.skipping) {
      this.skipped += piece.length;
      return;
    }
    // maxLength + 1 leaves room for the CR of a line that is exactly maxLength long.
    if (this.length + piece.length > this.maxLength + 1) {
      this.skipping = true;
      this.skipped = this.length + piece.length;
      this.parts = [];
      this.length = 0;
      out.push({ kind: 'too-long', length: this.skipped });
      return;
    }
    this.parts.push(Buffer.from(piece));
    this.length += piece.length;
  }

  private finishLine(out: SplitLine[]): void {
    if (this.skipping) {
      this.skipping = false;
      this.skipped = 0;
      return;
    }
    let buf = Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    if (buf.length > this.maxLength) {
      out.push({ kind: 'too-long', length: buf.length });
      return;
    }
    if (buf.length > 0) out.push({ kind: 'line', text: buf.toString(this.encoding) });
  }
}
