/**
 * The kiosk's side of fleet enrolment (issue 12): what `safegate run`, `safegate enrol`, the
 * downlink's settings stream, the heartbeat and the self-test use. See docs in
 * /work/briefs/s20-design.md ("The kiosk's enrolment folder") and README "Installing a kiosk".
 *
 * - loadSettingsForRun / loadSettings (config.ts): the local file < the enrolment document < the
 *   newest remote document, plus the device id, broker certificate and hub keys from the folder.
 * - enrolDevice: the EST-like exchange with the hub from an enrolment code (SGE1:...).
 * - acceptRemoteSettings: a signed remote settings document, checked and kept (or refused).
 * - fleetFigures: enrolled?, certificate days left, settings version, last refusal.
 * - CertificateRenewer: renews the device certificate before it expires, then asks for a restart.
 */
import { parseEnrolmentCode, type EnrolFailure } from '../../../base/common/enrolment.js';
import { loadSettingsForRun } from '../config.js';

export type { EnrolFailure };

export { loadSettings, loadSettingsForRun, NOT_ENROLLED, type LoadedSettings, type SettingsForRun, type SettingsLayer } from '../config.js';
export { ENROLMENT_FILES, readEnrolment, type EnrolmentState, type EnrolledFolder, type EnrolmentReading } from './folder.js';
export { acceptRemoteSettings, fleetFigures, isLive, LIVE_SETTINGS, refuseComposedRemoteSettings, REFUSED_REMOTE_FILE, type FleetFigures, type RemoteSettingsOutcome } from './remote-settings.js';

export { CertificateRenewer, renewalDueAtMs, type CertificateRenewerDeps, type RenewalOutcome } from './renewer.js';


export interface EnrolOptions {
  /** The kiosk's local settings file (where the enrolment folder is, and what the hub's settings are laid over). */
  settingsFile: string;
  /** Enrol again although the kiosk is enrolled (IT at the shell only; a code scanned at the gate never forces). */
  force?: boolean;
  /** Each request to the hub gives up after this long (default 15 s). */
  timeoutMs?: number;
}

export type EnrolOutcome = { ok: true; deviceId: string } | { ok: false; reason: EnrolFailure; message: string };

/**
 * Enrols this kiosk with the hub named in an enrolment code. Never throws: every failure is a
 * reason and a message in words. A failed enrolment leaves the kiosk as it was (not enrolled, or
 * enrolled as before) and the code may be tried again unless the hub consumed it.
 */
export async function enrolDevice(codeText: string, opts: EnrolOptions): Promise<EnrolOutcome> {
  const pinned = caPinRefusal(codeText, opts.settingsFile);
  if (pinned) return pinned;
  // Loaded when used: X.509 (@peculiar/x509) is not needed to load settings.
  const { enrol } = await import('./enrol.js');
  return enrol(codeText, opts);
}

/**
 * The province-wide CA pin (`enrolment.caFingerprint` in the local file): a code for another CA is
 * refused before any network request (a rogue hub's code cannot take a fresh gate over, and the
 * kiosk dials no host a stranger wrote into a code). A code or file that cannot be read is left to
 * `enrol`, which says why.
 */
function caPinRefusal(codeText: string, settingsFile: string): EnrolOutcome | null {
  let pin: string | undefined;
  let code: ReturnType<typeof parseEnrolmentCode>;
  try {
    code = parseEnrolmentCode(codeText);
    pin = loadSettingsForRun(settingsFile).loaded.settings.enrolment.caFingerprint;
  } catch {
    return null;
  }
  if (pin === undefined || pin.toLowerCase() === code.caFingerprint.toLowerCase()) return null;
  return { ok: false, reason: 'CA_MISMATCH', message: 'this code is for another hub than the one this kiosk was installed for' };
}
