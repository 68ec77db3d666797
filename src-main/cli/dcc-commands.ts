import { readFileSync } from 'node:fs';
import { CommanderError, type Command } from 'commander';
import type { DccResult } from '../../base/common/dcc.js';
import { CliError, readInputFile } from './cli-error.js';

/**
 * `safegate dcc verify`: an operator's check of an EU Digital COVID Certificate (HC1) offline,
 * against a signer certificate or a trust list. Exit 0 when it ran (valid or not: the output
 * says), 2 on usage errors, 1 when the trust or rules file cannot be used. The holder's name and
 * date of birth are never printed in the text form, and in JSON only with --show-holder.
 */

export interface DccVerifyOptions {
  trust?: string;
  at?: string;
  rules?: string;
  json?: boolean;
  showHolder?: boolean;
}

/** Most stdin we read for `-` (the verifier itself refuses texts over 8 KiB). */
const MAX_STDIN = 64 * 1024;

function usage(message: string): CliError {
  return new CliError(message, 2);
}

function parseAt(text: string | undefined): number {
  if (text === undefined) return Date.now();
  const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw usage(`--at: expected an ISO 8601 time such as 2021-06-01T12:00:00Z, got "${text.slice(0, 40)}"`);
  return ms;
}

function readText(text: string | undefined): string {
  if (text === undefined) throw usage('dcc verify: missing TEXT (the HC1: text, or - to read it from stdin)');
  if (text !== '-') return text;
  let buf: Buffer;
  try {
    buf = readFileSync(0);
  } catch (err) {
    throw new CliError(`cannot read stdin (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  return buf.subarray(0, MAX_STDIN).toString('utf8').trim();
}

export interface DccVerifyOutput {
  valid: boolean;
  reasons: string[];
  type: DccResult['type'];
  steps: DccResult['steps'];
  issuer?: string;
  iat?: number;
  exp?: number;
  kid?: string;
  detail?: string;
  rules?: { id: string; version: string; outcome: string }[];
  holder?: DccResult['holder'];
  entries?: DccResult['entries'];
}

export async function dccVerify(textArg: string | undefined, o: DccVerifyOptions): Promise<DccVerifyOutput> {
  if (!o.trust) throw usage('dcc verify: --trust FILE is required (a PEM or DER signer certificate, or a trust list)');
  const at = parseAt(o.at);
  const text = readText(textArg);
  const { parseTrustList, verifyDcc, parseDccRules, evaluateDccRules } = await import('../../base/node/dcc/index.js');
  let trust;
  try {
    trust = parseTrustList(readInputFile(o.trust));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`${o.trust}: ${(err as Error).message}`, { cause: err });
  }
  let rules;
  if (o.rules) {
    try {
      rules = parseDccRules(readInputFile(o.rules));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`${o.rules}: ${(err as Error).message}`, { cause: err });
    }
  }
  const r = verifyDcc(text, trust, { at });
  const out: DccVerifyOutput = { valid: r.valid, reasons: [...r.reasons], type: r.type, steps: r.steps };
  if (r.issuer !== undefined) out.issuer = r.issuer;
  if (r.iat !== undefined) out.iat = r.iat;
  if (r.exp !== undefined) out.exp = r.exp;
  if (r.kid !== undefined) out.kid = r.kid;
  if (r.detail !== undefined) out.detail = r.detail;
  if (rules) {
    const rr = evaluateDccRules(rules, r, at);
    out.rules = rr.rules;
    out.reasons.push(...rr.reasons);
    out.valid = r.valid && rr.passed;
  }
  if (o.showHolder) {
    if (r.holder) out.holder = r.holder;
    if (r.entries) out.entries = r.entries;
  }
  return out;
}

/** One line, without personal data: `VALID vaccination (issuer AT, kid ...)` or `INVALID test: DCC_EXPIRED (...)`. */
export function dccVerifyLine(out: DccVerifyOutput): string {
  const what = out.type ?? 'certificate';
  const about = [out.issuer ? `issuer ${out.issuer}` : '', out.kid ? `kid ${out.kid}` : '', out.exp !== undefined ? `expires ${new Date(out.exp * 1000).toISOString()}` : ''].filter(Boolean).join(', ');
  if (out.valid) return `VALID ${what}${about ? ` (${about})` : ''}${out.rules ? `; ${out.rules.length} rule${out.rules.length === 1 ? '' : 's'} applied, all hold` : ''}`;
  return `INVALID ${what}: ${out.reasons.join(', ')}${out.detail ? ` (${out.detail})` : ''}${about ? ` [${about}]` : ''}`;
}

export function registerDccCommands(program: Command): void {
  const dcc = program.command('dcc').description('EU Digital COVID Certificates (HC1): verify offline');
  dcc
    .command('verify')
    .description('verify an HC1: certificate offline (signature, expiry, schema, key usage; rules with --rules); exit 0 when it ran, whatever the verdict')
    .argument('[text]', 'the HC1: text, or - to read it from stdin')
    .option('--trust <file>', 'a signer certificate (PEM or DER) or a trust list (the EU gateway trustList JSON, or {"certificates": [...]}, signed or not)')
    .option('--at <iso8601>', 'verify as at this time (default now)')
    .option('--rules <file>', 'business rules in the EU gateway format (CertLogic JSON: one rule or an array)')
    .option('--json', 'one JSON object: valid, reasons, type, steps, issuer, iat, exp, kid (and rules)')
    .option('--show-holder', "with --json, also the holder's name and date of birth and the certificate entry (personal data: for the person themselves)")
    // Usage errors exit 2 here (help stays 0).
    .exitOverride((err) => {
      throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
    })
    .action(async (text: string | undefined, o: DccVerifyOptions) => {
      const out = await dccVerify(text, o);
      console.log(o.json ? JSON.stringify(out) : dccVerifyLine(out));
    });
}
