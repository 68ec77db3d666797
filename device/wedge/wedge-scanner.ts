/**
 * The keyboard wedge as a source of scanned codes with the Scanner port's events ('line', 'rejected',
 * 'state') and start()/stop(), so the screens can treat it like the serial scanner and one contract
 * test (test/device/scanner/scanner.contract.ts) checks all three sources. The screens feed it every
 * key with its time; it asks the WedgeDetector what the key completed.
 *
 * Isomorphic (the screens run it): no Node modules, so a small typed emitter stands in for
 * node:events, and the Scanner interface itself (which extends Node's EventEmitter) is matched by
 * shape rather than implemented.
 */
import { WedgeDetector, type WedgeOptions } from './wedge.js';

export type WedgeScannerState = 'stopped' | 'ready';

/** The same payloads as the Scanner port's ScannerEvents (device/scanner/scanner.ts). */
export interface WedgeScannerEvents {
  line: [line: { kind: 'line'; text: string; receivedAtNs: bigint }];
  rejected: [line: { kind: 'rejected'; reason: 'too-long' | 'control-byte'; detail: string; receivedAtNs: bigint }];
  state: [state: WedgeScannerState, detail?: string];
}

type Listener<A extends unknown[]> = (...args: A) => void;

export class WedgeScanner {
  readonly source = 'keyboard' as const;
  private currentState: WedgeScannerState = 'stopped';
  private readonly detector: WedgeDetector;
  private readonly listeners: { [E in keyof WedgeScannerEvents]: Set<Listener<WedgeScannerEvents[E]>> } = {
    line: new Set(),
    rejected: new Set(),
    state: new Set(),
  };

  constructor(options: Partial<WedgeOptions> = {}) {
    this.detector = new WedgeDetector(options);
  }

  get state(): WedgeScannerState {
    return this.currentState;
  }

  on<E extends keyof WedgeScannerEvents>(event: E, listener: Listener<WedgeScannerEvents[E]>): this {
    this.listeners[event].add(listener);
    return this;
  }

  off<E extends keyof WedgeScannerEvents>(event: E, listener: Listener<WedgeScannerEvents[E]>): this {
    this.listeners[event].delete(listener);
    return this;
  }

  start(): void {
    if (this.currentState === 'ready') return;
    this.detector.reset();
    this.setState('ready');
  }

  /** Idempotent; keys fed while stopped are ignored, and a burst under way is dropped. */
  async stop(): Promise<void> {
    this.detector.reset();
    this.setState('stopped');
  }

  /**
   * One key as the screen saw it (KeyboardEvent.key, and its timeStamp in milliseconds); the time of
   * the Enter that completes a scan becomes its receivedAtNs, on the caller's clock.
   */
  key(key: string, atMs: number): void {
    if (this.currentState !== 'ready') return;
    const read = this.detector.read(key, atMs);
    if (!read) return;
    const receivedAtNs = BigInt(Math.round(atMs * 1e6));
    if (read.kind === 'line') this.emit('line', { ...read, receivedAtNs });
    else this.emit('rejected', { ...read, receivedAtNs });
  }

  private setState(state: WedgeScannerState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  private emit<E extends keyof WedgeScannerEvents>(event: E, ...args: WedgeScannerEvents[E]): void {
    for (const l of [...this.listeners[event]]) (l as Listener<WedgeScannerEvents[E]>)(...args);
  }
}
