import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  CA_FINGERPRINT_PATTERN,
  HUB_FORBIDDEN_SETTINGS,
  deviceSettingsDocumentSchema,
  type DeviceSettingsDocument,
} from '../../../base/common/enrolment.js';
import { deviceIdSchema } from '../../../base/common/ids.js';
import { HubKeyring } from '../../../base/node/keys.js';
import { openSigned } from '../../../base/node/signed.js';

/**
 * The kiosk's enrolment folder (`enrolment.dir`, default `enrolment` beside the store's database):
 * what the hub gave this box when it enrolled, and the newest remote settings it accepted. Folder
 * 0700, files 0600, each written atomically. Every load re-checks everything here (signatures,
 * device id, the certificate chain): a file edited or swapped by hand never counts.
 *
 * This module reads and checks; it knows nothing of the kiosk's settings schema (config.ts lays the
 * documents over the local file and validates the result), so config.ts can import it.
 */

export const ENROLMENT_FILES = {
  /** The device's private key (PKCS#8 PEM); never leaves the box. */
  key: 'device.key',
  /** The device certificate (PEM), CN = the device id, signed by the hub CA. */
  cert: 'device.crt',
  /** The hub CA certificate (PEM) whose fingerprint was in the enrolment code. */
  ca: 'ca.crt',
  /** The hub's public keys (`keys/pass/*.pub.pem`, `keys/downlink/*.pub.pem`): the installed trust anchors. */
  keys: 'keys',
  /** The enrolment document (version 1), COSE_Sign1 by a downlink key. */
  settings: 'settings.cose',
  /** The newest accepted remote document (versions >= 2), as signed. */
  remote: 'remote-settings.cose',
  /** The last refused remote document's version and problems. */
  refused: 'refused-settings.json',
  state: 'state.json',
} as const;

/** A renewed key or certificate waiting to be renamed over the current one (renewer.ts). */
export const NEXT_SUFFIX = '.next';

/**
 * Finishes a renewal that stopped between writing the new pair and renaming it in (a power cut):
 * the new certificate (written last) marks a complete pair, with the new key (or, once that was
 * renamed in, the current key). Only a pair checked to match is renamed in, key first; a pair that
 * does not match (a stale file from an earlier attempt) is removed and the current pair stays. A lone new
 * key (the certificate never came) is left alone.
 */
function finishInterruptedRenewal(dir: string): void {
  const key = join(dir, ENROLMENT_FILES.key);
  const cert = join(dir, ENROLMENT_FILES.cert);
  if (!existsSync(cert + NEXT_SUFFIX)) return;
  try {
    const newKey = existsSync(key + NEXT_SUFFIX);
    // A file that cannot be read (another process renaming it right now) throws: nothing is touched.
    const matches = new X509Certificate(readFileSync(cert + NEXT_SUFFIX)).checkPrivateKey(createPrivateKey(readFileSync(newKey ? key + NEXT_SUFFIX : key)));
    if (matches) {
      if (newKey) renameSync(key + NEXT_SUFFIX, key);
      renameSync(cert + NEXT_SUFFIX, cert);
    } else {
      rmSync(cert + NEXT_SUFFIX, { force: true });
      rmSync(key + NEXT_SUFFIX, { force: true });
    }
  } catch {
    // A read-only look (another user, a read-only mount): the folder is checked as it is.
  }
}

/** Where a forced re-enrolment keeps the previous folder while the new one is renamed in (enrol.ts). */
export const PREVIOUS_SUFFIX = '.old';

/**
 * A re-enrolment that stopped between moving the old folder aside and renaming the new one in
 * leaves no folder but the old one: put it back (the kiosk stays enrolled as before).
 */
function restoreInterruptedSwap(dir: string): void {
  try {
    if (existsSync(dir + PREVIOUS_SUFFIX)) renameSync(dir + PREVIOUS_SUFFIX, dir);
  } catch {
    // A read-only look: the kiosk counts as not enrolled until a process that may write looks again.
  }
}

export const enrolmentStateSchema = z.strictObject({
  deviceId: deviceIdSchema,
  hubUrl: z.string().regex(/^https:\/\/[^\s/?#]+$/),
  brokerUrl: z.string().regex(/^mqtts:\/\/[^\s/?#]+$/),
  caFingerprint: z.string().regex(CA_FINGERPRINT_PATTERN),
  enrolledAtMs: z.number().int().nonnegative(),
  certNotAfterMs: z.number().int().nonnegative(),
});
export type EnrolmentState = z.infer<typeof enrolmentStateSchema>;

export const refusedSettingsSchema = z.strictObject({
  version: z.number().int().positive().nullable(),
  problems: z.array(z.string()),
  atMs: z.number().int().nonnegative(),
});
export type RefusedSettings = z.infer<typeof refusedSettingsSchema>;

/** SHA-256 of a PEM certificate's DER, lower-case hex. */
export function pemFingerprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

export interface EnrolledFolder {
  dir: string;
  state: EnrolmentState;
  keyring: HubKeyring;
  /** The verified enrolment document. */
  enrolment: DeviceSettingsDocument;
  /** The device certificate's notAfter (from the certificate itself, not state.json). */
  certNotAfterMs: number;
  certPem: string;
  caPem: string;
  paths: { key: string; cert: string; ca: string; keys: string };
}

export type EnrolmentReading =
  | { kind: 'none'; dir: string }
  | { kind: 'broken'; dir: string; problem: string }
  | { kind: 'enrolled'; folder: EnrolledFolder };

/**
 * Reads and checks the enrolment folder. `none`: the box was never enrolled here (no state.json);
 * `broken`: something is missing or does not check (the kiosk counts as not enrolled, and says why).
 */
export function readEnrolment(dir: string, nowMs: number): EnrolmentReading {
  const at = (f: string) => join(dir, f);
  if (!existsSync(dir)) restoreInterruptedSwap(dir);
  if (!existsSync(at(ENROLMENT_FILES.state))) return { kind: 'none', dir };
  finishInterruptedRenewal(dir);
  const broken = (problem: string): EnrolmentReading => ({ kind: 'broken', dir, problem });
  const unsafe = unsafeModes(dir);
  if (unsafe) return broken(unsafe);
  let state: EnrolmentState;
  try {
    const parsed = enrolmentStateSchema.safeParse(JSON.parse(readFileSync(at(ENROLMENT_FILES.state), 'utf8')));
    if (!parsed.success) return broken(`${ENROLMENT_FILES.state} is not a valid enrolment state`);
    state = parsed.data;
  } catch (err) {
    return broken(`${ENROLMENT_FILES.state} cannot be read (${errText(err)})`);
  }
  let caPem: string, certPem: string, ca: X509Certificate, cert: X509Certificate;
  try {
    caPem = readFileSync(at(ENROLMENT_FILES.ca), 'utf8');
    ca = new X509Certificate(caPem);
  } catch (err) {
    return broken(`${ENROLMENT_FILES.ca} is missing or not a certificate (${errText(err)})`);
  }
  if (createHash('sha256').update(ca.raw).digest('hex') !== state.caFingerprint) {
    return broken(`${ENROLMENT_FILES.ca} is not the hub CA this kiosk enrolled with (fingerprint differs)`);
  }
  try {
    certPem = readFileSync(at(ENROLMENT_FILES.cert), 'utf8');
    cert = new X509Certificate(certPem);
  } catch (err) {
    return broken(`${ENROLMENT_FILES.cert} is missing or not a certificate (${errText(err)})`);
  }
  if (!cert.verify(ca.publicKey)) return broken(`${ENROLMENT_FILES.cert} is not signed by the hub CA`);
  if (commonNameOf(cert.subject) !== state.deviceId) return broken(`${ENROLMENT_FILES.cert} is not this device's (${state.deviceId}) certificate`);
  try {
    const key = createPrivateKey(readFileSync(at(ENROLMENT_FILES.key), 'utf8'));
    if (!cert.checkPrivateKey(key)) return broken(`${ENROLMENT_FILES.key} does not belong to ${ENROLMENT_FILES.cert}`);
  } catch (err) {
    return broken(`${ENROLMENT_FILES.key} is missing or not a private key (${errText(err)})`);
  }
  let keyring: HubKeyring;
  try {
    keyring = HubKeyring.fromDirectory(at(ENROLMENT_FILES.keys));
  } catch (err) {
    return broken(`the hub keys in ${ENROLMENT_FILES.keys}/ cannot be read (${errText(err)})`);
  }
  let signed: Uint8Array;
  try {
    signed = readFileSync(at(ENROLMENT_FILES.settings));
  } catch (err) {
    return broken(`${ENROLMENT_FILES.settings} cannot be read (${errText(err)})`);
  }
  const opened = openSettingsDocument(signed, keyring, state.deviceId, nowMs);
  if (!opened.ok) return broken(`${ENROLMENT_FILES.settings}: ${opened.problems.join('; ')}`);
  if (opened.doc.source !== 'enrolment') return broken(`${ENROLMENT_FILES.settings} is not an enrolment document`);
  return {
    kind: 'enrolled',
    folder: {
      dir,
      state,
      keyring,
      enrolment: opened.doc,
      certNotAfterMs: Date.parse(cert.validTo),
      certPem,
      caPem,
      paths: { key: at(ENROLMENT_FILES.key), cert: at(ENROLMENT_FILES.cert), ca: at(ENROLMENT_FILES.ca), keys: at(ENROLMENT_FILES.keys) },
    },
  };
}

/**
 * The folder's integrity rests on its modes (its trust anchors sit inside it): a folder that is a
 * link, belongs to another user (root aside), or that group or others may write (a tar restore
 * without -p, a chmod -R), or a private key others may read, does not count. What is wrong, or null.
 */
function unsafeModes(dir: string): string | null {
  try {
    const folder = lstatSync(dir);
    const uid = process.getuid?.();
    if (!folder.isDirectory()) return `${dir} is not a folder (a link?)`;
    if (uid !== undefined && uid !== 0 && folder.uid !== uid && folder.uid !== 0) return `${dir} belongs to another user (uid ${folder.uid})`;
    if (folder.mode & 0o022) return `${dir} may be written by group or others (mode ${modeText(folder.mode)}): chmod 700 ${dir}`;
    const key = lstatSync(join(dir, ENROLMENT_FILES.key));
    if (!key.isFile()) return `${ENROLMENT_FILES.key} is not a plain file (a link?)`;
    if (key.mode & 0o077) return `${ENROLMENT_FILES.key} may be read by group or others (mode ${modeText(key.mode)}): chmod 600 ${join(dir, ENROLMENT_FILES.key)}`;
  } catch (err) {
    // A missing key is said below, with the other files.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${dir} cannot be checked (${errText(err)})`;
  }
  return null;
}

function modeText(mode: number): string {
  return (mode & 0o777).toString(8).padStart(3, '0');
}

/** The newest accepted remote document, checked again; null when there is none. */
export function readRemoteDocument(folder: EnrolledFolder, nowMs: number): { ok: true; doc: DeviceSettingsDocument } | { ok: false; problems: string[] } | null {
  const file = join(folder.dir, ENROLMENT_FILES.remote);
  if (!existsSync(file)) return null;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    return { ok: false, problems: [`${ENROLMENT_FILES.remote} cannot be read (${errText(err)})`] };
  }
  const opened = openSettingsDocument(bytes, folder.keyring, folder.state.deviceId, nowMs);
  if (!opened.ok) return opened;
  if (opened.doc.source !== 'remote') return { ok: false, problems: ['not a remote settings document'] };
  return opened;
}

export function readRefused(dir: string): RefusedSettings | null {
  try {
    const parsed = refusedSettingsSchema.safeParse(JSON.parse(readFileSync(join(dir, ENROLMENT_FILES.refused), 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * A signed settings document, checked: a downlink key's signature (artifact `device-settings`), the
 * document's schema, this device's id, no forbidden setting. Problems are `path: message` strings.
 */
export function openSettingsDocument(
  bytes: Uint8Array,
  keyring: HubKeyring,
  deviceId: string,
  nowMs: number,
): { ok: true; doc: DeviceSettingsDocument } | { ok: false; problems: string[]; version?: number } {
  const opened = openSigned(bytes, keyring, 'device-settings', nowMs);
  if (!opened.ok) return { ok: false, problems: [`signature: ${opened.detail}`] };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(opened.payload).toString('utf8'));
  } catch {
    return { ok: false, problems: ['document: not JSON'] };
  }
  const parsed = deviceSettingsDocumentSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.slice(0, 20).map((i) => `${i.path.map(String).join('.') || 'document'}: ${i.message}`) };
  }
  const doc = parsed.data;
  if (doc.deviceId !== deviceId) return { ok: false, version: doc.version, problems: [`deviceId: the document is for ${doc.deviceId}, this kiosk is ${deviceId}`] };
  const forbidden = forbiddenPathsIn(doc.settings);
  if (forbidden.length) {
    return { ok: false, version: doc.version, problems: forbidden.map((p) => `${p}: the hub may not set this (it is the kiosk's own)`) };
  }
  return { ok: true, doc };
}

/** The forbidden settings (HUB_FORBIDDEN_SETTINGS) a partial settings object touches, as dotted paths. */
export function forbiddenPathsIn(settings: Record<string, unknown>): string[] {
  const found: string[] = [];
  for (const path of HUB_FORBIDDEN_SETTINGS) {
    let node: unknown = settings;
    let present = true;
    for (const part of path.split('.')) {
      if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, part)) {
        present = false;
        break;
      }
      node = (node as Record<string, unknown>)[part];
    }
    // hub.broker after hub.broker.key: the specific path is named once, not its parent as well.
    if (present && !found.some((f) => f.startsWith(`${path}.`))) found.push(path);
  }
  return found;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `over` laid on `base`: objects merge key by key, anything else (scalars, lists) replaces. Keys are
 * defined as own properties, so a `__proto__` key in a document is just an unknown setting the
 * schema refuses, never a prototype.
 */
export function layerSettings(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(base)) put(k, v);
  for (const [k, v] of Object.entries(over)) put(k, Object.hasOwn(base, k) ? layerSettings(base[k], v) : v);
  return out;
}

/** Dotted paths of the leaves that differ between two settings objects (lists compare whole). */
export function changedPaths(before: unknown, after: unknown, prefix = ''): string[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedPaths(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix];
}

function commonNameOf(subject: string): string | undefined {
  const line = subject.split('\n').find((l) => l.startsWith('CN='));
  return line?.slice(3);
}

function errText(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message ?? String(err);
}
