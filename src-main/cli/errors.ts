import { readFileSync } from 'node:fs';
import { DEFAULT_TIME_ZONE, parseInstant } from '../../base/common/time.js';

/** An error whose message is the one-line reason shown to the operator. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCodeOrOptions: number | ErrorOptions = 1) {
    super(message, typeof exitCodeOrOptions === 'number' ? undefined : exitCodeOrOptions);
    this.exitCode = typeof exitCodeOrOptions === 'number' ? exitCodeOrOptions : 1;
    this.name = 'CliError';
  }
}

/**
 * A time given on the command line (see parseInstant: a plain date or a time without an offset is
 * in the province time zone, from the settings when the command has them).
 */
export function parseIsoTime(value: string, what: string, zone = DEFAULT_TIME_ZONE): Date {
  const ms = parseInstant(value, zone);
  if (ms instanceof Error) throw new CliError(`${what}: ${ms.message}`, 2);
  return new Date(ms);
}

/** Reads a file named on the command line, or fails with a one-line reason. */
export function readInputFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}
