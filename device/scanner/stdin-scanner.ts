import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { ScanLineFramer, type FramedLine } from './framing.js';
import type { Scanner, ScannerEvents, ScannerState } from './scanner.js';

/**
 * Simulated scanner: each line typed (or pasted) on the terminal is one scan. Goes through the same
 * framing and validation as the serial scanner.
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
      this.currentState = 'stopped';
      this.emit('state', 'stopped', 'input ended');
    });
    this.framer = framer;
    this.currentState = 'ready';
    this.emit('state', 'ready');
  }

  async stop(): Promise<void> {
    if (this.framer) this.input.unpipe(this.framer);
    this.framer = undefined;
    this.currentState = 'stopped';
    this.emit('state', 'stopped');
  }
}
