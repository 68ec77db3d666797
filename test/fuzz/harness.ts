import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type fc from 'fast-check';

/**
 * One place where outside input enters SafeGate, as the fuzzers drive it: a generator of inputs and
 * a function that throws when the software under test crashes (any exception other than the
 * documented refusal) or breaks an invariant. The small vitest run and `npm run fuzz` share these.
 */
export interface FuzzTarget<T> {
  name: string;
  /** Share of the full run's inputs, relative to the other targets: thousands of inputs in a run of a million (cheap targets weigh more). */
  weight: number;
  /** Inputs in the small run that is part of the normal test command. */
  smallRuns: number;
  arbitrary: fc.Arbitrary<T>;
  /** Feeds one input; throws (or rejects) on a crash or a broken invariant. */
  run(input: T): void | Promise<void>;
}

/** A target with its input type erased, so targets of different inputs can share a list. */
export type AnyFuzzTarget = FuzzTarget<unknown>;

export function target<T>(t: FuzzTarget<T>): AnyFuzzTarget {
  return t as unknown as AnyFuzzTarget;
}

/** An invariant the software broke (as opposed to an exception it threw itself). */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'function' ? message() : message);
}

/** Short, printable form of a value for invariant messages. */
export function show(v: unknown, max = 300): string {
  let s: string;
  try {
    s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `<${x.length} bytes>` : x));
  } catch {
    s = String(v);
  }
  s ??= String(v);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * A scratch folder for the fuzzers' SQLite files. tmpfs when the machine has one: the fuzzers test
 * logic, not durability, and an fsync per scan would make a million inputs take hours.
 */
export function scratchDir(prefix: string): { path: string; remove(): void } {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const path = mkdtempSync(join(base, prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Things the targets opened (stores, a kiosk, sockets) and close at the end, last opened first. */
export class Closer {
  private readonly steps: (() => void | Promise<void>)[] = [];
  add(step: () => void | Promise<void>): void {
    this.steps.push(step);
  }
  async close(): Promise<void> {
    while (this.steps.length) await this.steps.pop()!();
  }
}
