import { DEFAULT_TIME_ZONE, parseInstant } from '../../base/common/time.js';
import { CliError } from './cli-error.js';

export { CliError, readInputFile } from './cli-error.js';

/**
 * A time given on the command line (see parseInstant: a plain date or a time without an offset is
 * in the province time zone, from the settings when the command has them).
 */
export function parseIsoTime(value: string, what: string, zone = DEFAULT_TIME_ZONE): Date {
  const ms = parseInstant(value, zone);
  if (ms instanceof Error) throw new CliError(`${what}: ${ms.message}`, 2);
  return new Date(ms);
}
