import type { EventEmitter } from 'node:events';
import type { FramedLine } from './framing.js';

export type ScannerState = 'stopped' | 'connecting' | 'ready' | 'disconnected';

export interface ScannerEvents {
  /** A complete, valid line: the text of one scanned code. */
  line: [line: Extract<FramedLine, { kind: 'line' }>];
  /** Input that was refused (too long, not UTF-8, control bytes); it never reaches the gate. */
  rejected: [line: Extract<FramedLine, { kind: 'rejected' }>];
  state: [state: ScannerState, detail?: string];
}

/**
 * A source of scanned codes. Implementations: the serial scanner, a keyboard-mode scanner read from
 * its Linux input device (evdev) and, for simulation, lines typed on standard input. `start()` never
 * throws for an absent device: it keeps trying and reports state.
 */
export interface Scanner extends EventEmitter<ScannerEvents> {
  readonly source: 'serial' | 'stdin' | 'evdev';
  readonly state: ScannerState;
  start(): void;
  stop(): Promise<void>;
}
