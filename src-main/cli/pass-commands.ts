import { createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HubKeyring, generateSigningKeyPair, keyIdFileName, type SigningAlgorithm } from '../../base/node/keys.js';
import { KEY_ROLES, type KeyRole } from '../../base/common/key-roles.js';
import { checkPass, issuePass } from '../../base/node/pass.js';
import { PHONE_PASS_PREFIX, checkPhonePass } from '../../base/node/phone-pass.js';
import { DENY_REASONS } from '../../base/common/reasons.js';
import { CliError, readInputFile } from './cli-error.js';

/** Times on the command line need the time zone code (date-fns); loaded only when one is given. */
const timeArgument = async (value: string, what: string): Promise<Date> => (await import('./errors.js')).parseIsoTime(value, what);

/**
 * `safegate keys generate`, `pass issue` and `pass verify`: keys and passes only. Kept apart from
 * the kiosk's commands so that checking a pass at a desk loads no database, kiosk or settings code.
 */

export function generateKeys(outDir: string, algorithm: SigningAlgorithm, role: KeyRole): string {
  const pair = generateSigningKeyPair(algorithm);
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const base = `hub-${role}-${keyIdFileName(pair.kid)}`;
  const privateFile = join(outDir, `${base}.key.pem`);
  const publicFile = join(outDir, `${base}.pub.pem`);
  try {
    // 'wx': never overwrite a key; the mode applies from creation, so the key is never readable by others.
    writeFileSync(privateFile, pair.privatePem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${privateFile} already exists`);
    throw err;
  }
  chmodSync(privateFile, 0o600);
  writeFileSync(publicFile, pair.publicPem, { mode: 0o644 });
  return [
    `role:      ${role} (${KEY_ROLES[role].description})`,
    `algorithm: ${pair.algorithm}`,
    `key id:    ${pair.kid}`,
    `private:   ${privateFile}  (keep on the hub only)`,
    // Checkpoint codes are checked by the hub alone: no kiosk needs that key.
    role === 'checkpoint-code' ? `public:    ${publicFile}  (kiosks do not need it: only the hub checks checkpoint codes)` : `public:    ${publicFile}  (copy to each kiosk's keys/${role}/ folder)`,
  ].join('\n');
}

export async function issuePassText(keyFile: string, workerId: string, expires: string | undefined, issuer: string): Promise<string> {
  const pem = readInputFile(keyFile);
  let key;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new CliError(`${keyFile} is not a private key in PEM form`);
  }
  const expiresAt = expires ? await timeArgument(expires, '--expires') : new Date(Date.now() + 365 * 86_400_000);
  if (expiresAt.getTime() <= Date.now()) throw new CliError('--expires is in the past');
  try {
    return issuePass(key, { workerId, issuer, expiresAt });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export async function explainPass(text: string, keysDir: string, at: string | undefined): Promise<{ ok: boolean; report: string }> {
  const nowMs = at ? (await timeArgument(at, '--at')).getTime() : Date.now();
  const code = text.trim();
  // A phone's code (SGP1:): the pass its phone holds, with the phone's signed time.
  const phone = code.startsWith(PHONE_PASS_PREFIX);
  let keyring: HubKeyring;
  try {
    // A kiosk's keys folder (keys/pass/, keys/phone-pass/, keys/downlink/), or a folder holding pass (or phone-pass) public keys.
    keyring = ['pass', 'phone-pass', 'downlink'].some((r) => existsSync(join(keysDir, r))) ? HubKeyring.fromDirectory(keysDir) : new HubKeyring().addFolder(keysDir, phone ? 'phone-pass' : 'pass');
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  // A phone's code is judged as a kiosk on a synchronised clock with the built-in policy would.
  const check = phone
    ? checkPhonePass(code, keyring, nowMs, { maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, kioskClockSynced: true, unverifiedKioskClock: 'check' })
    : checkPass(code, keyring, nowMs);
  const lines: string[] = [];
  const claims = check.ok ? check.pass.claims : check.claims;
  const kid = check.ok ? check.pass.kid : check.kid;
  const known = kid ? keyring.lookup(kid) : undefined;
  if (kid) lines.push(`key id:     ${kid}${known ? ` (${known.role} key: ${known.source})` : ' (not trusted)'}`);
  if (claims) {
    lines.push(`worker:     ${claims.workerId}`, `issuer:     ${claims.issuer}`);
    if (claims.passId) lines.push(`pass id:    ${claims.passId}`);
    lines.push(`issued:     ${new Date(claims.issuedAt * 1000).toISOString()}`);
    lines.push(`expires:    ${new Date(claims.expiresAt * 1000).toISOString()}`);
    if (claims.holderKey) lines.push('bound to:   a phone (its key is in the pass; shown only with a fresh proof signed by that phone)');
  }
  const proofSeconds = check.ok && 'proofSeconds' in check && typeof check.proofSeconds === 'number' ? check.proofSeconds : undefined;
  if (proofSeconds !== undefined) lines.push(`proof:      made ${new Date(proofSeconds * 1000).toISOString()}, ${Math.round(nowMs / 1000 - proofSeconds)} s before the check (limit 60 s)`);
  if (check.ok) {
    lines.push('result:     VALID (signature verified, within its validity period)');
  } else {
    const words = DENY_REASONS[check.failure];
    lines.push(`result:     INVALID ${check.failure}: ${words.en} (${check.detail})`, `            ${words.vi}`);
  }
  return { ok: check.ok, report: lines.join('\n') };
}
