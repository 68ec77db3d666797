import type { Command } from 'commander';
import type { EnrolFailure } from '../../base/common/enrolment.js';
import { CliError, readInputFile } from './cli-error.js';

/**
 * `safegate enrol`: enrols this kiosk with the hub from an enrolment code (the QR text `safegate hub
 * enrol create` prints), at the shell. The same as scanning the code at the gate, except that IT
 * staff may `--force` a kiosk that is enrolled already. The enrolment modules load when it runs.
 */
export function registerEnrolCommands(program: Command): void {
  program
    .command('enrol')
    .description('enrol this kiosk with the hub from its enrolment code (SGE1:...): key pair, certificate, settings; prints the device id')
    .requiredOption('--config <file>', 'settings file (YAML or JSON)')
    .option('--token <text>', 'the enrolment code text (it shows in the process list: prefer --token-file)')
    .option('--token-file <file>', 'a file holding the enrolment code text (as a QR scanner types it; - reads stdin)')
    .option('--force', 'enrol again although this kiosk is enrolled (replaces its certificate and settings)')
    .option('--json', 'print {"ok":true,"deviceId":...} or {"ok":false,"reason":...,"message":...}')
    .action(async (o: EnrolCommandOptions) => console.log(await enrolCommand(o)));
}

export interface EnrolCommandOptions {
  config: string;
  token?: string;
  tokenFile?: string;
  force?: boolean;
  json?: boolean;
}

/** Each reason in words, for the one line the command prints. */
export const ENROL_FAILURE_WORDS = {
  TOKEN_MISSING: 'the hub got no enrolment token',
  TOKEN_UNKNOWN: 'the hub does not know this enrolment code (mistyped, or made by another hub)',
  TOKEN_USED: 'this enrolment code has been used already; ask for a new one',
  TOKEN_EXPIRED: 'this enrolment code has expired; ask for a new one',
  CSR_INVALID: 'the hub could not read the certificate request',
  CSR_WRONG_DEVICE: 'the certificate request names another device than the code',
  CERT_REQUIRED: 'the hub wants this kiosk\'s certificate',
  DEVICE_REVOKED: 'this device has been revoked at the hub',
  RATE_LIMITED: 'the hub is receiving too many requests; try again in a minute',
  HUB_NOT_READY: 'the hub cannot enrol devices right now (its keys, settings or database; its log says which)',
  CA_MISMATCH: "the hub's certificate authority is not the one in the code: this may not be your hub",
  CODE_INVALID: 'this is not a valid enrolment code',
  NETWORK: 'the hub cannot be reached',
  BAD_ANSWER: "the hub's answer cannot be used",
  SETTINGS_INVALID: 'the settings do not allow enrolment',
  ALREADY_ENROLLED: 'this kiosk is enrolled already',
  ENROLMENT_DAMAGED: "this kiosk's enrolment is damaged; re-enrol it with --force",
  LOCAL_ERROR: 'this kiosk could not write its enrolment (disk or file permissions)',
} as const satisfies Record<EnrolFailure, string>;

/** The largest code file read: a code is at most 512 characters. */
const MAX_CODE_FILE_BYTES = 4096;

async function readCodeText(o: EnrolCommandOptions): Promise<string> {
  if ((o.token === undefined) === (o.tokenFile === undefined)) throw new CliError('give the enrolment code with --token or --token-file (one of them)', 2);
  if (o.token !== undefined) return o.token.trim();
  let bytes: Buffer;
  if (o.tokenFile === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    bytes = Buffer.concat(chunks);
  } else {
    bytes = readInputFile(o.tokenFile!);
  }
  if (bytes.length > MAX_CODE_FILE_BYTES) throw new CliError(`${o.tokenFile}: too large for an enrolment code (at most ${MAX_CODE_FILE_BYTES} bytes)`, 2);
  // A scanner types the code and Enter (CR, LF or both): the first line that is not empty.
  return bytes.toString('utf8').split(/\r\n|\r|\n/).map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}

export async function enrolCommand(o: EnrolCommandOptions): Promise<string> {
  const code = await readCodeText(o);
  const { enrolDevice } = await import('../core/enrolment/index.js');
  const r = await enrolDevice(code, { settingsFile: o.config, force: Boolean(o.force) });
  if (r.ok) return o.json ? JSON.stringify({ ok: true, deviceId: r.deviceId }) : `enrolled as ${r.deviceId}`;
  if (o.json) {
    process.exitCode = 1;
    return JSON.stringify({ ok: false, reason: r.reason, message: r.message });
  }
  throw new CliError(`enrolment failed (${r.reason}): ${ENROL_FAILURE_WORDS[r.reason]}: ${r.message}`, 1);
}
