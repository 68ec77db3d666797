import { readFileSync } from 'node:fs';

/**
 * An error whose message is the one-line reason shown to the operator. In a module that loads
 * nothing else, so the command's entry point and `pass verify` can use it and still start at once.
 */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCodeOrOptions: number | ErrorOptions = 1) {
    super(message, typeof exitCodeOrOptions === 'number' ? undefined : exitCodeOrOptions);
    this.exitCode = typeof exitCodeOrOptions === 'number' ? exitCodeOrOptions : 1;
    this.name = 'CliError';
  }
}

/** Reads a file named on the command line, or fails with a one-line reason. */
export function readInputFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}
