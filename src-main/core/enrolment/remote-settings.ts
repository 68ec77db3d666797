import { X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FleetHealth } from '../../../base/common/types.js';
import { problemsOf } from '../../../base/common/validation.js';
import { loadSettingsForRun, readSettingsFile, settingsSchema, withEnrolmentIdentity, type LoadedSettings } from '../config.js';
import { addDeliveredKeys } from './delivered-keys.js';
import { writeEnrolmentFile } from './files.js';
import {
  ENROLMENT_FILES,
  changedPaths,
  layerSettings,
  openSettingsDocument,
  readEnrolment,
  readRefused,
  readRemoteDocument,
  type EnrolledFolder,
} from './folder.js';

/**
 * Settings a running kiosk applies without a restart (the screens and the logger read them live; the
 * composed kiosk wires each one). Any other changed setting asks for a restart, which recomposes the
 * kiosk from the files (outputs inactive, store closed, then started again). Dotted paths; a path
 * covers what is under it.
 */
export const LIVE_SETTINGS = ['screens.language', 'screens.resultSeconds', 'log.level'] as const;

/** What a heartbeat carries about the fleet (enrolled?, certificate days left, settings version, last refusal). */
export type FleetFigures = FleetHealth;

export type RemoteSettingsOutcome =
  | { ok: true; version: number; changed: string[]; restartNeeded: boolean }
  | { ok: false; version: number | null; problems: string[] };

/** The heartbeat's limits on a refusal (sync/protocol.ts): 20 problems of 300 characters at most. */
const MAX_PROBLEMS = 20;
const MAX_PROBLEM_LENGTH = 300;

/**
 * A remote settings document from the hub (the `settings` downlink stream): accepted only if a
 * downlink key signed it, it is for this device, newer than what the kiosk applies, touches no
 * setting the hub may not set, and the settings it makes are valid by the kiosk's one schema. Then
 * it is kept (`remote-settings.cose`) and counts from the next load. A refusal is kept too
 * (`refused-settings.json`, for the heartbeat) with its problems as `path: message` strings. The
 * same document delivered again (the stream resumes) is accepted again with nothing changed.
 * `recordVersion`: the version the downlink record names (its part's signature was already
 * verified), kept with a refusal when the document itself gives none (not signed by a key trusted
 * here, not a settings document), so the hub still hears of it. Never throws: a file the kiosk
 * cannot read or write is a refusal too.
 */
export function acceptRemoteSettings(settingsFile: string, signed: Uint8Array, nowMs: number, recordVersion?: number): RemoteSettingsOutcome {
  const fallback = recordVersion !== undefined && Number.isSafeInteger(recordVersion) && recordVersion > 0 ? recordVersion : null;
  let before: LoadedSettings;
  let folder: EnrolledFolder;
  try {
    const run = loadSettingsForRun(settingsFile, nowMs);
    if (run.kind !== 'ready' || !run.loaded.enrolmentDir) return { ok: false, version: null, problems: ['(top): this kiosk is not enrolled'] };
    const reading = readEnrolment(run.loaded.enrolmentDir, nowMs);
    if (reading.kind !== 'enrolled') return { ok: false, version: null, problems: ['(top): this kiosk is not enrolled'] };
    before = run.loaded;
    folder = reading.folder;
    // Signed by a downlink key the hub rotated to after enrolment: the keys stream delivered it.
    addDeliveredKeys(folder.keyring, before.paths.store);
  } catch (err) {
    return { ok: false, version: null, problems: [`(top): the kiosk's own settings cannot be read: ${(err as Error).message}`].map(clip) };
  }
  const refuse = (version: number | null, problems: string[]): RemoteSettingsOutcome => {
    const kept = problems.slice(0, MAX_PROBLEMS).map(clip);
    if (version !== null) {
      try {
        writeEnrolmentFile(join(folder.dir, ENROLMENT_FILES.refused), JSON.stringify({ version, problems: kept, atMs: nowMs }) + '\n');
      } catch {
        // The refusal still reaches the caller (and the heartbeat it sends at once).
      }
    }
    return { ok: false, version, problems: kept };
  };

  const opened = openSettingsDocument(signed, folder.keyring, folder.state.deviceId, nowMs);
  if (!opened.ok) return refuse(opened.version ?? fallback, opened.problems);
  const doc = opened.doc;
  if (doc.source !== 'remote') return refuse(doc.version, ['source: an enrolment document does not come as remote settings']);

  // The document the kiosk could not compose with (refuseComposedRemoteSettings), delivered again: refused again.
  const failed = readRefused(folder.dir);
  if (failed?.version === doc.version && sameBytes(signed, join(folder.dir, REFUSED_REMOTE_FILE))) return { ok: false, version: doc.version, problems: failed.problems };

  const held = readRemoteDocument(folder, nowMs);
  const current = held?.ok ? held.doc.version : folder.enrolment.version;
  if (held?.ok && doc.version === held.doc.version && sameBytes(signed, join(folder.dir, ENROLMENT_FILES.remote))) {
    return { ok: true, version: doc.version, changed: [], restartNeeded: false };
  }
  if (doc.version <= current) return refuse(doc.version, [`version: ${doc.version} is not newer than the applied version ${current}`]);

  let raw: unknown;
  try {
    raw = readSettingsFile(before.file);
  } catch (err) {
    return refuse(doc.version, [`(kiosk): the kiosk's own settings file cannot be read: ${(err as Error).message}`]);
  }
  const candidate = withEnrolmentIdentity(layerSettings(layerSettings(raw, folder.enrolment.settings), doc.settings), folder);
  const checked = settingsSchema.safeParse(candidate);
  if (!checked.success) {
    return refuse(
      doc.version,
      problemsOf(checked.error, { schema: settingsSchema, input: candidate }).map((p) => `${p.path || '(top)'}: ${p.message}`),
    );
  }
  try {
    writeEnrolmentFile(join(folder.dir, ENROLMENT_FILES.remote), signed);
  } catch (err) {
    return refuse(doc.version, [`(kiosk): the document cannot be kept in the enrolment folder: ${(err as Error).message}`]);
  }
  try {
    const refused = readRefused(folder.dir);
    if (refused && (refused.version === null || refused.version <= doc.version)) rmSync(join(folder.dir, ENROLMENT_FILES.refused), { force: true });
  } catch {
    // A stale refusal left behind: the heartbeat shows the applied version beside it; the next refusal or acceptance replaces it.
  }
  const changed = changedPaths(before.settings, checked.data);
  return { ok: true, version: doc.version, changed, restartNeeded: changed.some((p) => !isLive(p)) };
}

/** Where a remote document the kiosk could not compose with is set aside (refuseComposedRemoteSettings). */
export const REFUSED_REMOTE_FILE = 'remote-settings.refused.cose';

/**
 * A remote document passed the schema but the kiosk cannot be composed with it (the hardware does
 * not have that GPIO chip or line, ...): the run loop records it refused with the error as its
 * problem (the heartbeat's `settingsRefused`, so the hub can send a fix) and sets the document aside,
 * so the next load, and the next process start, lay no remote layer (the file and the enrolment
 * document). Only when the folder's remote document is that version (else false, nothing done); never throws.
 */
export function refuseComposedRemoteSettings(enrolmentDir: string, version: number, problem: string, nowMs: number): boolean {
  try {
    const reading = readEnrolment(enrolmentDir, nowMs);
    if (reading.kind !== 'enrolled') return false;
    const held = readRemoteDocument(reading.folder, nowMs);
    if (!held?.ok || held.doc.version !== version) return false;
    writeEnrolmentFile(
      join(reading.folder.dir, ENROLMENT_FILES.refused),
      JSON.stringify({ version, problems: [clip(`(composition): ${problem}`)], atMs: nowMs }) + '\n',
    );
    renameSync(join(reading.folder.dir, ENROLMENT_FILES.remote), join(reading.folder.dir, REFUSED_REMOTE_FILE));
    return true;
  } catch {
    return false;
  }
}

/** True when the running kiosk applies this setting without a restart (LIVE_SETTINGS). */
export function isLive(path: string): boolean {
  return LIVE_SETTINGS.some((l) => path === l || path.startsWith(`${l}.`));
}

/** The kiosk's enrolment, certificate and settings figures, for the heartbeat and the self-test. Never throws. */
export function fleetFigures(settingsFile: string, nowMs: number): FleetFigures {
  const none: FleetFigures = { enrolled: false, certDaysLeft: null, settingsVersion: 0, settingsRefused: null };
  let loaded: LoadedSettings;
  try {
    const run = loadSettingsForRun(settingsFile, nowMs);
    if (run.kind !== 'ready') return none;
    loaded = run.loaded;
  } catch {
    return none;
  }
  const reading = loaded.enrolmentDir ? readEnrolment(loaded.enrolmentDir, nowMs) : null;
  if (reading?.kind !== 'enrolled') {
    // A hand-provisioned kiosk (hub.broker in its file) still has a certificate that expires.
    return { ...none, certDaysLeft: loaded.broker?.cert ? certDaysLeftOf(loaded.broker.cert, nowMs) : null };
  }
  const settingsVersion = Math.max(0, ...(loaded.layers?.applied ?? []).map((l) => l.version ?? 0));
  const refused = readRefused(reading.folder.dir);
  return {
    enrolled: true,
    certDaysLeft: daysLeft(reading.folder.certNotAfterMs, nowMs),
    settingsVersion,
    // Kept until a newer document is accepted; an older one refused says the hub is behind (e.g. restored from a backup).
    settingsRefused: refused?.version ? { version: refused.version, problems: refused.problems.slice(0, MAX_PROBLEMS).map(clip) } : null,
  };
}

function certDaysLeftOf(certFile: string, nowMs: number): number | null {
  try {
    return daysLeft(Date.parse(new X509Certificate(readFileSync(certFile)).validTo), nowMs);
  } catch {
    return null;
  }
}

function daysLeft(notAfterMs: number, nowMs: number): number {
  return Math.round(((notAfterMs - nowMs) / 86_400_000) * 10) / 10;
}

function clip(s: string): string {
  return s.length <= MAX_PROBLEM_LENGTH ? s : `${s.slice(0, MAX_PROBLEM_LENGTH - 1)}…`;
}

function sameBytes(bytes: Uint8Array, file: string): boolean {
  try {
    return Buffer.from(bytes).equals(readFileSync(file));
  } catch {
    return false;
  }
}
