import { describe, expect, it } from 'vitest';

/**
 * What every source of scanned codes must do, whatever carries the code: the serial scanner (bytes
 * on a real pseudo-terminal), the simulated scanner (bytes on a stream) and the keyboard wedge
 * (keystrokes with times). Each adapter's test file builds a small driver and runs this suite.
 *
 * The codes used here are at least 8 characters long: the wedge takes shorter bursts for a person
 * typing, and a real pass or badge is never that short.
 */

/** The end of one code as the device sends it: the configured suffix, or Enter on a keyboard. */
export const END = Symbol('end of code');
/** Text (UTF-8 bytes, or one key per character), raw bytes (byte sources only), or the end of a code. */
export type Token = string | Uint8Array | typeof END;

export interface ScannedLine {
  text: string;
  receivedAtNs: bigint;
}
export interface RejectedInput {
  reason: string;
  detail: string;
}

/** The part of the Scanner port the contract drives; SerialScanner, StdinScanner and WedgeScanner all have it. */
export interface ScanSource {
  readonly state: string;
  start(): void;
  stop(): Promise<void>;
  on(event: 'line', listener: (line: ScannedLine) => void): unknown;
  on(event: 'rejected', listener: (line: RejectedInput) => void): unknown;
  on(event: 'state', listener: (state: string, detail?: string) => void): unknown;
}

export interface ScannerCapabilities {
  /** Raw bytes reach the adapter, so input that is not UTF-8 can. A keyboard wedge receives characters. */
  bytes: boolean;
  /** start() after stop() reads again. */
  restart: boolean;
  /**
   * Input presented while stopped is kept and read at the next start (a stream: stdin), rather than
   * lost (a device: a closed serial port hears nothing, a stopped wedge sees no keys).
   */
  queuesWhileStopped: boolean;
  /**
   * Text beyond ASCII reaches the adapter (default true). A keyboard-mode scanner read from its input
   * device types in the US layout: ASCII only.
   */
  unicode?: boolean;
}

export interface ScannerDriver {
  readonly scanner: ScanSource;
  /** The longest line the adapter was built to accept (bytes for byte sources, characters for the wedge). */
  readonly maxLength: number;
  readonly capabilities: ScannerCapabilities;
  /** How long to wait before concluding that nothing more will arrive. */
  readonly settleMs: number;
  /** Presents input as the device would; each chunk arrives on its own, after a pause. */
  send(...chunks: Token[][]): Promise<void>;
  /** Stops the scanner and releases whatever the driver holds (a socat pair, a stream). */
  close(): Promise<void>;
}

type Seen = { e: 'line'; text: string } | { e: 'rejected'; reason: string } | { e: 'state'; state: string };

function record(scanner: ScanSource) {
  const seen: Seen[] = [];
  const times: bigint[] = [];
  scanner.on('line', (l) => {
    seen.push({ e: 'line', text: l.text });
    times.push(l.receivedAtNs);
  });
  scanner.on('rejected', (r) => {
    expect(r.detail, 'a rejection says why').toMatch(/\S/);
    seen.push({ e: 'rejected', reason: r.reason });
  });
  scanner.on('state', (state) => seen.push({ e: 'state', state }));
  const scans = () => seen.filter((s) => s.e !== 'state');
  return {
    seen,
    times,
    scans,
    /** Waits until `n` lines or rejections have arrived. */
    async scansUntil(n: number, timeoutMs = 5_000): Promise<Seen[]> {
      const deadline = Date.now() + timeoutMs;
      while (scans().length < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} scans; saw ${JSON.stringify(scans())}`);
        await sleep(5);
      }
      return scans();
    },
    async stateUntil(state: string, timeoutMs = 5_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!seen.some((s) => s.e === 'state' && s.state === state)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for state ${state}; saw ${JSON.stringify(seen)}`);
        await sleep(5);
      }
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const line = (text: string): Seen => ({ e: 'line', text });
const rejected = (reason: string): Seen => ({ e: 'rejected', reason });

/** The contract's cases an adapter is known to break, each with the finding that explains it. */
export type KnownDefects = Partial<Record<'too-long-by-one', string>>;

/**
 * Runs the contract. A case listed in `knownDefects` is run as an expected failure (it.fails): the
 * suite stays green while the defect is open and turns red once it is fixed, so the entry is removed.
 */
export function scannerContract(adapter: string, makeDriver: () => Promise<ScannerDriver>, knownDefects: KnownDefects = {}): void {
  describe(`Scanner contract: ${adapter}`, () => {
    /** A driver whose scanner has started and reported ready, with a recorder attached before start. */
    async function running() {
      const d = await makeDriver();
      const r = record(d.scanner);
      d.scanner.start();
      await r.stateUntil('ready');
      return { d, r };
    }

    it("reports 'ready' on start and 'stopped' on stop", async () => {
      const d = await makeDriver();
      try {
        const r = record(d.scanner);
        expect(d.scanner.state).toBe('stopped');
        d.scanner.start();
        await r.stateUntil('ready');
        expect(d.scanner.state).toBe('ready');
        const states = r.seen.filter((s) => s.e === 'state').map((s) => (s as { state: string }).state);
        // A device may pass through 'connecting' first; nothing else comes between start and ready.
        expect(states.filter((s) => s !== 'connecting')).toEqual(['ready']);
        await d.scanner.stop();
        expect(d.scanner.state).toBe('stopped');
        expect(r.seen.at(-1)).toEqual({ e: 'state', state: 'stopped' });
      } finally {
        await d.close();
      }
    });

    it('delivers one line per code, in order, with its text exactly', async () => {
      const { d, r } = await running();
      try {
        const third = d.capabilities.unicode === false ? 'SG1:ascii only ~!@#$%^&*()_+{}|:"<>?' : 'Cổng A — Nguyễn Văn Ân 😀';
        const codes = ['SG1:6BFOXN*TS0BI$ZD-CYN8', 'W-0001.team_b', third, 'X'.repeat(d.maxLength)];
        // Two codes in one chunk, then one chunk each.
        await d.send([codes[0]!, END, codes[1]!, END], [codes[2]!, END], [codes[3]!, END]);
        expect(await r.scansUntil(4)).toEqual(codes.map(line));
        expect(r.times.every((t, i) => typeof t === 'bigint' && (i === 0 || t >= r.times[i - 1]!))).toBe(true);
        await sleep(d.settleMs);
        expect(r.scans()).toHaveLength(4);
      } finally {
        await d.close();
      }
    });

    it('joins a code split across chunks into one line', async () => {
      const { d, r } = await running();
      try {
        await d.send(['SG1:ABC'], ['DEF-12'], ['3456', END]);
        const split: Token[][] = [['SG1:ABCDEF-123456'], [END]];
        await d.send(...split);
        if (d.capabilities.bytes) {
          // Split inside a multi-byte character.
          const bytes = new TextEncoder().encode('Cổng-A-0001');
          await d.send([bytes.subarray(0, 2)], [bytes.subarray(2), END]);
        }
        const expected = ['SG1:ABCDEF-123456', 'SG1:ABCDEF-123456', ...(d.capabilities.bytes ? ['Cổng-A-0001'] : [])];
        expect(await r.scansUntil(expected.length)).toEqual(expected.map(line));
      } finally {
        await d.close();
      }
    });

    const invalid: { what: string; reason: string; input: (max: number) => Token[]; bytesOnly?: boolean; id?: keyof KnownDefects }[] = [
      { what: 'a control character', reason: 'control-byte', input: () => ['SG1:ABC\u0007DEF', END] },
      { what: 'a line one longer than the maximum', reason: 'too-long', input: (max) => ['Y'.repeat(max + 1), END], id: 'too-long-by-one' },
      { what: 'a line ten times the maximum (reported once)', reason: 'too-long', input: (max) => ['Z'.repeat(max * 10), END] },
      { what: 'bytes that are not UTF-8', reason: 'not-utf8', input: () => [new Uint8Array([0x53, 0x47, 0x31, 0x3a, 0xff, 0xfe, 0x41, 0x42]), END], bytesOnly: true },
    ];
    for (const c of invalid) {
      const defect = c.id && knownDefects[c.id];
      const test = defect ? it.fails : it;
      test(`rejects ${c.what} as '${c.reason}', never as a line, and takes the next good code${defect ? ` (known defect: ${defect})` : ''}`, async (ctx) => {
        const d = await makeDriver();
        try {
          if (c.bytesOnly && !d.capabilities.bytes) {
            ctx.skip(`${adapter} receives characters, not bytes`);
            return;
          }
          const r = record(d.scanner);
          d.scanner.start();
          await r.stateUntil('ready');
          await d.send(c.input(d.maxLength), ['SG1:GOOD-AFTER-BAD', END]);
          expect(await r.scansUntil(2)).toEqual([rejected(c.reason), line('SG1:GOOD-AFTER-BAD')]);
          await sleep(d.settleMs);
          expect(r.scans()).toHaveLength(2);
        } finally {
          await d.close();
        }
      });
    }

    it('start() while running changes nothing: each code arrives once, and one stop() ends it all', async () => {
      const { d, r } = await running();
      try {
        d.scanner.start();
        await d.send(['SG1:ONLY-ONCE', END]);
        expect(await r.scansUntil(1)).toEqual([line('SG1:ONLY-ONCE')]);
        await sleep(d.settleMs);
        expect(r.scans()).toHaveLength(1);
        expect(r.seen.filter((s) => s.e === 'state' && s.state === 'ready')).toHaveLength(1);
        // A second start must not have opened a second reader that outlives the stop.
        await d.scanner.stop();
        await d.send(['SG1:AFTER-STOP', END], ['SG1:AFTER-STOP', END]);
        await sleep(d.settleMs);
        expect(r.scans()).toHaveLength(1);
      } finally {
        await d.close();
      }
    });

    it('stop() is idempotent, and nothing is emitted after it', async () => {
      const neverStarted = await makeDriver();
      try {
        const r = record(neverStarted.scanner);
        await neverStarted.scanner.stop();
        expect(r.seen, 'stopping a scanner that never started').toEqual([]);
      } finally {
        await neverStarted.close();
      }

      const { d, r } = await running();
      try {
        await d.send(['SG1:BEFORE-STOP', END]);
        await r.scansUntil(1);
        // A code unfinished at the stop and finished after it is not a scan, nor is one presented later.
        await d.send(['SG1:PARTIAL']);
        await Promise.all([d.scanner.stop(), d.scanner.stop()]);
        const atStop = r.seen.length;
        expect(r.seen.filter((s) => s.e === 'state' && s.state === 'stopped')).toHaveLength(1);
        await d.scanner.stop();
        await d.send(['-REST', END, 'SG1:AFTER-STOP', END]);
        await sleep(d.settleMs);
        expect(r.seen.slice(atStop)).toEqual([]);
        expect(d.scanner.state).toBe('stopped');
        expect(r.scans()).toEqual([line('SG1:BEFORE-STOP')]);
      } finally {
        await d.close();
      }
    });

    it('starts again after stop, dropping a code left unfinished at the stop', async (ctx) => {
      const d = await makeDriver();
      try {
        if (!d.capabilities.restart) {
          ctx.skip(`${adapter} cannot be restarted`);
          return;
        }
        const r = record(d.scanner);
        d.scanner.start();
        await r.stateUntil('ready');
        await d.send(['SG1:FIRST-RUN', END], ['SG1:UNFINISHED']);
        await r.scansUntil(1);
        await d.scanner.stop();
        await d.send(['SG1:WHILE-STOPPED', END]);
        await sleep(d.settleMs);
        const readyBefore = r.seen.filter((s) => s.e === 'state' && s.state === 'ready').length;
        d.scanner.start();
        const deadline = Date.now() + 5_000;
        while (r.seen.filter((s) => s.e === 'state' && s.state === 'ready').length === readyBefore) {
          if (Date.now() > deadline) throw new Error('not ready again after restart');
          await sleep(5);
        }
        expect(d.scanner.state).toBe('ready');
        await d.send(['SG1:SECOND-RUN', END]);
        // A device hears nothing while stopped; a stream keeps what was written and reads it now.
        const expected = ['SG1:FIRST-RUN', ...(d.capabilities.queuesWhileStopped ? ['SG1:WHILE-STOPPED'] : []), 'SG1:SECOND-RUN'];
        expect(await r.scansUntil(expected.length)).toEqual(expected.map(line));
        await sleep(d.settleMs);
        expect(r.scans()).toHaveLength(expected.length);
      } finally {
        await d.close();
      }
    });
  });
}
