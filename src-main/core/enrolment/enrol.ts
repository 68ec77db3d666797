import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { EnrolmentCodeError, parseEnrolmentCode, type DeviceSettingsDocument, type EnrolmentCode, type EnrolmentResult } from '../../../base/common/enrolment.js';
import { problemsOf } from '../../../base/common/validation.js';
import { HubKeyring, keyIdFileName } from '../../../base/node/keys.js';
import { X509Error, certificateFingerprint, certificateSignedBy, createCsr, generateDeviceKey, readCertificate, type CertificateInfo } from '../../../base/node/x509.js';
import { SettingsError, loadSettingsForRun, readSettingsFile, settingsSchema, withEnrolmentIdentity } from '../config.js';
import { writeEnrolmentFile } from './files.js';
import { ENROLMENT_FILES, PREVIOUS_SUFFIX, layerSettings, openSettingsDocument, readEnrolment, type EnrolledFolder, type EnrolmentState } from './folder.js';
import { DEFAULT_TIMEOUT_MS, fetchPinnedCa, requestCertificate } from './est-client.js';
import type { EnrolFailure, EnrolOptions, EnrolOutcome } from './index.js';

/**
 * Enrolment from a code: key pair (written first, 0600), CA pinned by the code's fingerprint, a
 * certificate request with the token, the answer checked through (certificate for our key and
 * device id, signed by the pinned CA; the settings document signed by a delivered downlink key, for
 * this device; the settings it makes valid), and only then everything written into a fresh folder
 * that replaces the enrolment folder in one rename. A failure anywhere leaves the kiosk as it was.
 */
export async function enrol(codeText: string, opts: EnrolOptions, nowMs = Date.now()): Promise<EnrolOutcome> {
  const fail = (reason: EnrolFailure, message: string): EnrolOutcome => ({ ok: false, reason, message });
  let code: EnrolmentCode;
  try {
    code = parseEnrolmentCode(codeText);
  } catch (err) {
    if (err instanceof EnrolmentCodeError) return fail('CODE_INVALID', `the enrolment code cannot be read: ${err.message}`);
    throw err;
  }
  let dir: string;
  try {
    const run = loadSettingsForRun(opts.settingsFile, nowMs);
    if (!run.loaded.enrolmentDir) {
      return fail('SETTINGS_INVALID', `${run.loaded.file} names hub.broker itself, so enrolment is not used; remove hub.broker (and device) from it first`);
    }
    dir = run.loaded.enrolmentDir;
  } catch (err) {
    if (err instanceof SettingsError) return fail('SETTINGS_INVALID', err.message);
    throw err;
  }
  const current = readEnrolment(dir, nowMs);
  if (current.kind === 'enrolled' && !opts.force) {
    return fail('ALREADY_ENROLLED', `this kiosk is already enrolled as ${current.folder.state.deviceId}; IT staff re-enrol it with safegate enrol --force`);
  }
  // A box that was enrolled once never takes a code from the gate again, even when its folder no
  // longer checks: whoever shows the gate a code (a rogue hub's) would take it over. IT re-enrols it.
  if (current.kind === 'broken' && !opts.force) {
    return fail('ENROLMENT_DAMAGED', damagedMessage(dir, current.problem));
  }

  // The new folder is made beside the old one and swapped in whole at the end; one per attempt, so
  // a code scanned at the gate and `safegate enrol` at the shell never write into each other's.
  const staging = `${dir}.staging-${process.pid}-${randomBytes(4).toString('hex')}`;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  /** Set once the hub has issued a certificate: the code is used from then on. */
  let issuedFor: string | undefined;
  try {
    mkdirSync(dirname(dir), { recursive: true });
    removeAbandonedStaging(dir);
    const key = generateDeviceKey();
    writeEnrolmentFile(join(staging, ENROLMENT_FILES.key), key.privateKeyPem);

    const ca = await fetchPinnedCa(code.hubUrl, code.caFingerprint, timeoutMs);
    if (!ca.ok) return ca;
    const csr = await createCsr(key.privateKeyPem, code.deviceId);
    const answer = await requestCertificate(code.hubUrl, csr, { caPem: ca.caPem, token: code.token, timeoutMs });
    if (!answer.ok) return answer;
    issuedFor = code.deviceId;

    const checked = checkEnrolmentResult(answer.result, { deviceId: code.deviceId, caFingerprint: code.caFingerprint, privateKeyPem: key.privateKeyPem, nowMs });
    if (!checked.ok) return checked;
    const state: EnrolmentState = {
      deviceId: code.deviceId,
      hubUrl: code.hubUrl,
      brokerUrl: answer.result.brokerUrl,
      caFingerprint: code.caFingerprint,
      enrolledAtMs: nowMs,
      certNotAfterMs: checked.cert.notAfterMs,
    };
    const invalid = settingsProblems(opts.settingsFile, checked.doc, dir, state);
    if (invalid) return fail('SETTINGS_INVALID', `the settings the hub gave are not valid here: ${invalid}${codeUsedNote(code.deviceId)}`);

    for (const [name, content] of Object.entries(checked.files)) writeEnrolmentFile(join(staging, name), content);
    writeEnrolmentFile(join(staging, ENROLMENT_FILES.state), JSON.stringify(state, null, 2) + '\n');
    giveToOwnerOf(dirname(dir), staging);
    swapIn(staging, dir);
    return { ok: true, deviceId: code.deviceId };
  } catch (err) {
    // The hub is asked through est-client, which answers failures rather than throwing: what throws
    // here is this kiosk's own (a full disk, a folder it may not write, a key it cannot make).
    const e = err as NodeJS.ErrnoException;
    const what = e.code && e.path ? `${e.code} on ${e.path}` : e.message;
    return fail('LOCAL_ERROR', `this kiosk could not write its enrolment (${what})${issuedFor ? codeUsedNote(issuedFor) : ''}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** After the hub issued the certificate, a failure here leaves the code spent: IT needs to know. */
function codeUsedNote(deviceId: string): string {
  return `; the hub has already issued a certificate for ${deviceId}, so this code is used: fix this, enrol with a new code, and revoke ${deviceId} at the hub (safegate hub devices revoke ${deviceId})`;
}

/** What a kiosk with a damaged enrolment folder says (logs, `safegate enrol`): what is wrong and what IT does. */
export function damagedMessage(dir: string, problem: string): string {
  return `the enrolment in ${dir} is damaged (${problem}); enrolment codes scanned at the gate are refused: IT staff re-enrol this kiosk at the shell with safegate enrol --force`;
}

/** Staging folders left by an attempt whose process is gone (a power cut): they may hold a key. */
function removeAbandonedStaging(dir: string): void {
  const prefix = `${basename(dir)}.staging-`;
  for (const name of readdirSync(dirname(dir))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (pid === process.pid || (Number.isInteger(pid) && pid > 0 && isAlive(pid))) continue;
    rmSync(join(dirname(dir), name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `safegate enrol` run by root at the shell, on a packaged kiosk whose service runs as its own user
 * (the owner of /var/lib/safegate): the folder is given to that user, or the service could not read
 * its own key. Anyone else writes files that are theirs already.
 */
function giveToOwnerOf(parent: string, folder: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(parent);
  if (uid === 0) return;
  const walk = (path: string): void => {
    lchownSync(path, uid, gid);
    if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(folder);
}

/** Puts the staged folder in place of the enrolment folder: the old one is kept until the new one is in. */
function swapIn(staging: string, dir: string): void {
  const old = dir + PREVIOUS_SUFFIX;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(staging, dir);
  rmSync(old, { recursive: true, force: true });
}

export type CheckedResult =
  | { ok: true; cert: CertificateInfo; doc: DeviceSettingsDocument; keyring: HubKeyring; files: Record<string, string | Uint8Array> }
  | { ok: false; reason: 'BAD_ANSWER'; message: string };

/**
 * The hub's answer, checked through: for this device, the pinned CA, a certificate for our key
 * signed by it, usable hub keys, and the settings document signed by one of the delivered downlink
 * keys for this device. The files it makes (relative to the enrolment folder), state.json aside.
 */
export function checkEnrolmentResult(
  result: EnrolmentResult,
  o: { deviceId: string; caFingerprint: string; privateKeyPem: string; nowMs: number },
): CheckedResult {
  const bad = (message: string): CheckedResult => ({ ok: false, reason: 'BAD_ANSWER', message });
  if (result.deviceId !== o.deviceId) return bad(`the hub answered for ${result.deviceId}, not ${o.deviceId}`);
  let cert: CertificateInfo;
  try {
    if (certificateFingerprint(result.caCertificate) !== o.caFingerprint) return bad("the CA certificate in the hub's answer is not the one in the enrolment code");
    cert = readCertificate(result.certificate);
    if (!certificateSignedBy(result.certificate, result.caCertificate)) return bad('the certificate is not signed by the hub CA');
  } catch (err) {
    if (err instanceof X509Error) return bad(`the certificate cannot be read: ${err.message}`);
    throw err;
  }
  if (cert.commonName !== o.deviceId) return bad(`the certificate is for ${cert.commonName}, not ${o.deviceId}`);
  const ours = createPublicKey(createPrivateKey(o.privateKeyPem)).export({ type: 'spki', format: 'der' });
  const theirs = createPublicKey(cert.publicKeyPem).export({ type: 'spki', format: 'der' });
  if (!ours.equals(theirs)) return bad("the certificate is not for this kiosk's key");
  if (cert.notAfterMs <= o.nowMs) return bad('the certificate has expired already');

  const keyring = new HubKeyring();
  const files: Record<string, string | Uint8Array> = { [ENROLMENT_FILES.cert]: ensureNewline(result.certificate), [ENROLMENT_FILES.ca]: ensureNewline(result.caCertificate) };
  for (const role of ['pass', 'downlink', 'phone-pass'] as const) {
    for (const pem of result.keys[role] ?? []) {
      try {
        const key = createPublicKey(pem);
        const trusted = keyring.add(key, { role, source: 'enrolment', origin: 'installed' });
        files[join(ENROLMENT_FILES.keys, role, `${keyIdFileName(trusted.kid)}.pub.pem`)] = ensureNewline(pem);
      } catch (err) {
        return bad(`a ${role} key in the answer is not usable: ${(err as Error).message}`);
      }
    }
  }
  const signed = Buffer.from(result.settings, 'base64');
  const opened = openSettingsDocument(signed, keyring, o.deviceId, o.nowMs);
  if (!opened.ok) return bad(`the settings document does not check: ${opened.problems.join('; ')}`);
  if (opened.doc.source !== 'enrolment') return bad('the settings document is not an enrolment document');
  files[ENROLMENT_FILES.settings] = new Uint8Array(signed);
  return { ok: true, cert, doc: opened.doc, keyring, files };
}

/** The local file with the hub's document laid over it, validated as the kiosk will load it; problems or null. */
function settingsProblems(settingsFile: string, doc: DeviceSettingsDocument, dir: string, state: EnrolmentState): string | null {
  const raw = readSettingsFile(resolve(settingsFile));
  const folder = {
    dir,
    state,
    paths: { key: join(dir, ENROLMENT_FILES.key), cert: join(dir, ENROLMENT_FILES.cert), ca: join(dir, ENROLMENT_FILES.ca), keys: join(dir, ENROLMENT_FILES.keys) },
  } as EnrolledFolder;
  const candidate = withEnrolmentIdentity(layerSettings(raw, doc.settings), folder);
  const checked = settingsSchema.safeParse(candidate);
  if (checked.success) return null;
  return problemsOf(checked.error, { schema: settingsSchema, input: candidate })
    .slice(0, 5)
    .map((p) => `${p.path || '(top)'}: ${p.message}`)
    .join('; ');
}

function ensureNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}
