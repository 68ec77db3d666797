import { readFileSync } from 'node:fs';

/** An error whose message is the one-line reason shown to the operator. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCodeOrOptions: number | ErrorOptions = 1) {
    super(message, typeof exitCodeOrOptions === 'number' ? undefined : exitCodeOrOptions);
    this.exitCode = typeof exitCodeOrOptions === 'number' ? exitCodeOrOptions : 1;
    this.name = 'CliError';
  }
}

export function parseIsoTime(value: string, what: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    throw new CliError(`${what}: expected an ISO 8601 date or time, e.g. 2026-12-31 or 2026-12-31T17:00:00+07:00, got "${value}"`, 2);
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new CliError(`${what}: not a real date: "${value}"`, 2);
  return d;
}

/** Reads a file named on the command line, or fails with a one-line reason. */
export function readInputFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}
