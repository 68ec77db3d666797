import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { ScanLineFramer, type FramedLine } from './framing.js';
import type { Scanner, ScannerEvents, ScannerState } from './scanner.js';

/**
 * Simulated scanner: each line typed (or pasted) on the terminal is one scan. Goes through the same
 * framing and validation as the serial scanner. Unlike a serial port, the input is a stream: what is
 * written while the scanner is stopped waits in it and is read at the next start.
 */
export class StdinScanner extends EventEmitter<ScannerEvents> implements Scanner {
  readonly source = 'stdin' as const;
  private currentState: ScannerState = 'stopped';
  private framer: ScanLineFramer | undefined;

  constructor(
    private readonly input: Readable,
    private readonly maxLineLength: number,
  ) {
    super();
  }

  get state(): ScannerState {
    return this.currentState;
  }

  start(): void {
    if (this.framer) return;
    // CRLF framing splits on LF and drops a CR before it, so both terminal line endings work.
    const framer = new ScanLineFramer('CRLF', this.maxLineLength);
    framer.on('data', (line: FramedLine) => {
      if (line.kind === 'line') this.emit('line', line);
      else this.emit('rejected', line);
    });
    this.input.pipe(framer);
    // End of input (Ctrl+D, or the end of a piped file) stops the simulated scanner.
    framer.once('end', () => {
      this.framer = undefined;
      this.setState('stopped', 'input ended');
    });
    this.framer = framer;
    this.setState('ready');
  }

  /** Idempotent: a scanner already stopped (or never started) stays silent. */
  async stop(): Promise<void> {
    const framer = this.framer;
    this.framer = undefined;
    if (framer) {
      this.input.unpipe(framer);
      // Its partial line is dropped, as a serial scanner's is when the port closes.
      framer.destroy();
    }
    this.setState('stopped');
  }

  private setState(state: ScannerState, detail?: string): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state, detail);
  }
}
