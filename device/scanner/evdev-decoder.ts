import { validateLine, type FramedLine } from './framing.js';
import { KEY, keymapFor, type KeyboardLayout, type Keymap } from './keymap-us.js';

/**
 * Decodes what a Linux input device (/dev/input/eventN) delivers into scanned lines, with the same
 * framing rules as the serial scanner (framing.ts): one line per code, ended by Enter; a line longer
 * than the maximum is refused once and dropped up to the next Enter; a control character is refused.
 *
 * The kernel's record is `struct input_event` in the reading process's word size, little-endian:
 *   64-bit:  tv_sec i64, tv_usec i64, type u16, code u16, value i32   (24 bytes)
 *   32-bit:  tv_sec u32, tv_usec u32, type u16, code u16, value i32   (16 bytes; also with 64-bit time_t)
 * A keyboard-mode (HID) scanner sends, per report, EV_MSC/MSC_SCAN (the HID usage), EV_KEY (press 1,
 * release 0) and EV_SYN/SYN_REPORT; the kernel adds autorepeats (EV_KEY value 2) for a key held past
 * its repeat delay.
 *
 * Decisions:
 * - Characters are typed on key press. Autorepeats are ignored: a scanner sends every character as a
 *   press of its own, so a repeat is the host's timer firing on a key whose release came late.
 * - Shift (either) and CapsLock as on a US keyboard; Ctrl+letter types that control character (refused
 *   like a control byte); a key that types nothing in the layout (F-keys, arrows, Alt/Meta combinations)
 *   drops the line as 'unknown-key'.
 * - SYN_DROPPED (the kernel's buffer overflowed: events were lost) drops the line as 'input-lost', and
 *   the events up to the next SYN_REPORT are ignored, as the kernel's documentation asks.
 * The decoder never throws on input: any byte stream gives lines or refusals.
 */

export const EV_SYN = 0;
export const EV_KEY = 1;
export const EV_MSC = 4;
export const SYN_REPORT = 0;
export const SYN_DROPPED = 3;
export const MSC_SCAN = 4;

export type InputEventSize = 16 | 24;

/**
 * The size of `struct input_event` for a process of this architecture: the kernel sizes it by the
 * reader's word size (a 32-bit OS on a 64-bit Pi reads 16-byte records). Little-endian targets only.
 */
export function inputEventSize(arch: string = process.arch): InputEventSize {
  return arch === 'arm' || arch === 'ia32' ? 16 : 24;
}

export interface InputEvent {
  sec: bigint;
  usec: bigint;
  type: number;
  code: number;
  value: number;
}

/** One record at `offset` (whole records only; the caller checks the length). */
export function readInputEvent(bytes: Uint8Array, offset: number, size: InputEventSize): InputEvent {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, size);
  const timeBytes = size === 24 ? 8 : 4;
  return {
    sec: size === 24 ? v.getBigInt64(0, true) : BigInt(v.getUint32(0, true)),
    usec: size === 24 ? v.getBigInt64(8, true) : BigInt(v.getUint32(4, true)),
    type: v.getUint16(2 * timeBytes, true),
    code: v.getUint16(2 * timeBytes + 2, true),
    value: v.getInt32(2 * timeBytes + 4, true),
  };
}

/** Writes one record (fixtures and tests: what the kernel would hand a reader). */
export function writeInputEvent(e: InputEvent, size: InputEventSize): Uint8Array {
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  const timeBytes = size === 24 ? 8 : 4;
  if (size === 24) {
    v.setBigInt64(0, e.sec, true);
    v.setBigInt64(8, e.usec, true);
  } else {
    v.setUint32(0, Number(BigInt.asUintN(32, e.sec)), true);
    v.setUint32(4, Number(BigInt.asUintN(32, e.usec)), true);
  }
  v.setUint16(2 * timeBytes, e.type, true);
  v.setUint16(2 * timeBytes + 2, e.code, true);
  v.setInt32(2 * timeBytes + 4, e.value, true);
  return out;
}

export interface EvdevDecoderOptions {
  recordSize: InputEventSize;
  /** Longest code accepted, in characters (= bytes: the layout types ASCII only). */
  maxLineLength: number;
  layout: KeyboardLayout;
}

type Refusal = Extract<FramedLine, { kind: 'rejected' }>['reason'];

const RELEASE = 0;
const PRESS = 1;

export class EvdevDecoder {
  private readonly keymap: Keymap;
  private readonly size: InputEventSize;
  /** The start of a record that has not arrived whole yet (a FIFO or a short read can split one). */
  private readonly partial: Uint8Array;
  private partialLength = 0;
  private text = '';
  /** The line's first refusal, reported at its Enter. */
  private refusal: { reason: Refusal; detail: string } | undefined;
  /** The line went past the maximum: it was reported, and its keys are ignored up to Enter. */
  private discarding = false;
  /** After SYN_DROPPED: events up to the next SYN_REPORT are incomplete. */
  private resyncing = false;
  private leftShift = false;
  private rightShift = false;
  private ctrl = new Set<number>();
  private altOrMeta = new Set<number>();
  private capsLock = false;

  constructor(private readonly options: EvdevDecoderOptions) {
    this.keymap = keymapFor(options.layout);
    this.size = options.recordSize;
    this.partial = new Uint8Array(this.size);
  }

  /** Bytes held that are not yet a whole record or a finished line: bounded by record size + maxLineLength. */
  get bufferedBytes(): number {
    return this.partialLength + this.text.length;
  }

  /** Decodes a chunk as read from the device; returns the lines and refusals it completed. */
  push(chunk: Uint8Array, receivedAtNs: bigint): FramedLine[] {
    const out: FramedLine[] = [];
    let offset = 0;
    if (this.partialLength > 0) {
      const take = Math.min(this.size - this.partialLength, chunk.length);
      this.partial.set(chunk.subarray(0, take), this.partialLength);
      this.partialLength += take;
      offset = take;
      if (this.partialLength < this.size) return out;
      this.onEvent(readInputEvent(this.partial, 0, this.size), receivedAtNs, out);
      this.partialLength = 0;
    }
    for (; offset + this.size <= chunk.length; offset += this.size) {
      this.onEvent(readInputEvent(chunk, offset, this.size), receivedAtNs, out);
    }
    if (offset < chunk.length) {
      this.partial.set(chunk.subarray(offset), 0);
      this.partialLength = chunk.length - offset;
    }
    return out;
  }

  /** Forgets a half-read record, an unfinished line and the keys held (a device reopened). */
  reset(): void {
    this.partialLength = 0;
    this.endLine();
    this.resyncing = false;
    this.leftShift = this.rightShift = this.capsLock = false;
    this.ctrl.clear();
    this.altOrMeta.clear();
  }

  private onEvent(e: InputEvent, receivedAtNs: bigint, out: FramedLine[]): void {
    if (e.type === EV_SYN) {
      if (e.code === SYN_DROPPED) {
        this.resyncing = true;
        this.refuse('input-lost', 'the kernel dropped input events while the code was typed');
        // The releases may be among what was lost: start again with no keys held.
        this.leftShift = this.rightShift = false;
        this.ctrl.clear();
        this.altOrMeta.clear();
      } else if (e.code === SYN_REPORT) {
        this.resyncing = false;
      }
      return;
    }
    if (e.type !== EV_KEY || this.resyncing) return;
    const { code, value } = e;
    if (value !== PRESS && value !== RELEASE) return; // autorepeat (2): see the header; anything else is not a key state
    const down = value === PRESS;
    switch (code) {
      case KEY.LEFTSHIFT:
        this.leftShift = down;
        return;
      case KEY.RIGHTSHIFT:
        this.rightShift = down;
        return;
      case KEY.LEFTCTRL:
      case KEY.RIGHTCTRL:
        if (down) this.ctrl.add(code);
        else this.ctrl.delete(code);
        return;
      case KEY.LEFTALT:
      case KEY.RIGHTALT:
      case KEY.LEFTMETA:
      case KEY.RIGHTMETA:
        if (down) this.altOrMeta.add(code);
        else this.altOrMeta.delete(code);
        return;
      case KEY.CAPSLOCK:
        if (down) this.capsLock = !this.capsLock;
        return;
    }
    if (!down || this.keymap.isStateKey(code)) return;
    if (code === KEY.ENTER || code === KEY.KPENTER) {
      this.finishLine(receivedAtNs, out);
      return;
    }
    if (this.discarding) return;
    let ch = this.keymap.character(code, this.leftShift || this.rightShift, this.capsLock);
    if (ch !== undefined && this.altOrMeta.size > 0) ch = undefined;
    if (ch !== undefined && this.ctrl.size > 0) {
      const lower = ch.toLowerCase();
      // Ctrl+letter is that letter's control character, refused by the framing rules as one.
      ch = lower >= 'a' && lower <= 'z' && lower.length === 1 ? String.fromCharCode(lower.charCodeAt(0) & 0x1f) : undefined;
    }
    if (this.text.length + 1 > this.options.maxLineLength) {
      out.push({ kind: 'rejected', reason: 'too-long', detail: `line longer than ${this.options.maxLineLength} bytes dropped`, receivedAtNs });
      this.endLine();
      this.discarding = true;
      return;
    }
    if (ch === undefined) {
      const held = [this.ctrl.size > 0 ? 'Ctrl' : '', this.altOrMeta.size > 0 ? 'Alt/Meta' : ''].filter(Boolean).join('+');
      this.refuse('unknown-key', `key code ${code}${held ? ` with ${held} held` : ''} at ${this.text.length} types no character in the ${this.options.layout.toUpperCase()} layout`);
      // Keep the place, so the line's length still counts towards its maximum.
      this.text += '\u0000';
      return;
    }
    this.text += ch;
  }

  private refuse(reason: Refusal, detail: string): void {
    if (!this.discarding && this.refusal === undefined) this.refusal = { reason, detail };
  }

  private finishLine(receivedAtNs: bigint, out: FramedLine[]): void {
    const { text, refusal, discarding } = this;
    this.endLine();
    if (discarding) return;
    if (refusal) {
      out.push({ kind: 'rejected', reason: refusal.reason, detail: refusal.detail, receivedAtNs });
      return;
    }
    // An Enter alone (a stray suffix) is no code, as in the serial framing.
    if (text.length === 0) return;
    out.push(validateLine(Buffer.from(text, 'latin1'), receivedAtNs));
  }

  private endLine(): void {
    this.text = '';
    this.refusal = undefined;
    this.discarding = false;
  }
}
