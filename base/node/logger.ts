import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Field names that may carry personal data (identity, health, raw scanned text). The logger's own
 * redaction removes them wherever they appear at the top level or one level down, so call sites
 * never have to remember to scrub them by hand.
 */
const PERSONAL_FIELDS = [
  'workerId',
  'displayName',
  'name',
  'text',
  'code',
  'line',
  'worker',
  'caseStatus',
  'declarationFlagged',
  'testResult',
  'quarantineUntil',
  'vaccineDoses',
] as const;

export const REDACT_PATHS: string[] = PERSONAL_FIELDS.flatMap((f) => [f, `*.${f}`]);

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

/** The root logger. Modules take a child with their namespace: `rootLogger.child({ ns: 'gate' })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = {
    level: options.level ?? 'info',
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts, pino.destination({ dest: 2, sync: true }));
}

/** A logger that discards everything, for library use where the caller did not pass one. */
export const silentLogger: Logger = pino({ level: 'silent' });
