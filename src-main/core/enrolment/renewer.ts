import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { backoffDelayMs, type Backoff } from '../../../base/common/backoff.js';
import { silentLogger, type Logger } from '../../../base/node/logger.js';
import { createCsr, generateDeviceKey } from '../../../base/node/x509.js';
import { loadSettingsForRun } from '../config.js';
import { checkEnrolmentResult } from './enrol.js';
import { requestCertificate, type EstFailureReason } from './est-client.js';
import { writeEnrolmentFile } from './files.js';
import { ENROLMENT_FILES, NEXT_SUFFIX, readEnrolment, type EnrolledFolder } from './folder.js';

const DAY_MS = 86_400_000;
/** At most this far either side of the due day, by device id (50 kiosks enrolled in one week do not renew in one hour). */
const MAX_JITTER_MS = 3 * DAY_MS;
/** A certificate younger than this is never renewed, whatever the settings (no renew-and-restart loop). */
const MIN_AGE_MS = DAY_MS;

export interface CertificateRenewerDeps {
  settingsFile: string;
  /** Called once a new certificate is in place: the kiosk recomposes with it (the broker session uses it from then). */
  requestRestart: (reason: string) => void;
  log?: Logger;
  now?: () => number;
  /** How often to look at the certificate (default 6 hours). */
  checkEveryMs?: number;
  /** After a failed renewal: the first retry delay and the longest (default 5 minutes to checkEveryMs). */
  retry?: Backoff;
  /** Each request to the hub gives up after this long. */
  timeoutMs?: number;
}

export type RenewalOutcome =
  | { kind: 'not-enrolled' }
  | { kind: 'not-due'; dueAtMs: number }
  | { kind: 'renewed'; notAfterMs: number }
  | { kind: 'failed'; reason: EstFailureReason | 'ERROR'; message: string };

/**
 * When a certificate is due for renewal: `renewBeforeDays` before it expires (default: a third of
 * its lifetime), moved by up to MAX_JITTER_MS (at most a quarter of that margin) either way by a
 * hash of the device id, so each kiosk has its own day and keeps it; never before it is a day old.
 */
export function renewalDueAtMs(cert: { notBeforeMs: number; notAfterMs: number }, deviceId: string, renewBeforeDays?: number): number {
  const lifetime = Math.max(0, cert.notAfterMs - cert.notBeforeMs);
  const margin = renewBeforeDays !== undefined ? renewBeforeDays * DAY_MS : lifetime / 3;
  const spread = Math.min(MAX_JITTER_MS, margin / 4);
  const fraction = createHash('sha256').update(deviceId).digest().readUInt32BE(0) / 0xffff_ffff; // 0..1
  // Never a certificate issued less than a day ago: a margin as long as the lifetime the hub issues
  // would otherwise renew (and restart the kiosk) again at every start.
  return Math.max(Math.round(cert.notAfterMs - margin + (fraction * 2 - 1) * spread), cert.notBeforeMs + MIN_AGE_MS);
}

/**
 * Renews the device certificate before it expires, over the enrolled channel: EST simplereenroll
 * with the current certificate as TLS client certificate and a CSR for a NEW key pair (same CN).
 * Checks at start and every few hours; a failure is retried with backoff and logged without
 * secrets. The new key and certificate are written beside the old pair (`.next`) and then renamed
 * over it, key first; an interrupted swap is finished by the next load (folder.ts). Then it asks the
 * kiosk to restart. The constructor only stores its dependencies.
 */
export class CertificateRenewer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private failures = 0;
  private checking: Promise<RenewalOutcome> | undefined;

  constructor(private readonly deps: CertificateRenewerDeps) {}

  private get log(): Logger {
    return this.deps.log ?? silentLogger;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.check().then((outcome) => {
        const every = this.deps.checkEveryMs ?? 6 * 3_600_000;
        if (outcome.kind === 'failed') {
          const retry = this.deps.retry ?? { initialMs: 5 * 60_000, maxMs: every };
          this.schedule(backoffDelayMs(this.failures - 1, retry));
        } else if (outcome.kind !== 'renewed') {
          this.schedule(outcome.kind === 'not-due' ? Math.min(every, Math.max(1_000, outcome.dueAtMs - this.now())) : every);
        }
        // Renewed: the kiosk restarts and a new renewer takes over.
      });
    }, delayMs);
    this.timer.unref?.();
  }

  /** One look at the certificate, renewing it when due (one at a time). */
  check(): Promise<RenewalOutcome> {
    this.checking ??= this.checkOnce().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkOnce(): Promise<RenewalOutcome> {
    let folder: EnrolledFolder;
    let renewBeforeDays: number | undefined;
    try {
      const run = loadSettingsForRun(this.deps.settingsFile, this.now());
      if (run.kind !== 'ready' || !run.loaded.enrolmentDir) return { kind: 'not-enrolled' };
      const reading = readEnrolment(run.loaded.enrolmentDir, this.now());
      if (reading.kind !== 'enrolled') return { kind: 'not-enrolled' };
      folder = reading.folder;
      renewBeforeDays = run.loaded.settings.enrolment.renewBeforeDays;
    } catch (err) {
      return this.failed('ERROR', `settings cannot be read: ${(err as Error).message}`);
    }
    const cert = new X509Certificate(folder.certPem);
    const dueAtMs = renewalDueAtMs({ notBeforeMs: Date.parse(cert.validFrom), notAfterMs: Date.parse(cert.validTo) }, folder.state.deviceId, renewBeforeDays);
    if (this.now() < dueAtMs) return { kind: 'not-due', dueAtMs };
    return this.renew(folder);
  }

  private async renew(folder: EnrolledFolder): Promise<RenewalOutcome> {
    const { deviceId, hubUrl, caFingerprint } = folder.state;
    this.log.info({ deviceId, expiresAt: new Date(folder.certNotAfterMs).toISOString() }, 'renewing the device certificate');
    try {
      const key = generateDeviceKey();
      const csr = await createCsr(key.privateKeyPem, deviceId);
      const answer = await requestCertificate(hubUrl, csr, {
        caPem: folder.caPem,
        clientCertPem: folder.certPem,
        clientKeyPem: readFileSync(folder.paths.key, 'utf8'),
        ...(this.deps.timeoutMs !== undefined ? { timeoutMs: this.deps.timeoutMs } : {}),
      });
      if (!answer.ok) return this.failed(answer.reason, answer.message);
      const checked = checkEnrolmentResult(answer.result, { deviceId, caFingerprint, privateKeyPem: key.privateKeyPem, nowMs: Date.now() });
      if (!checked.ok) return this.failed(checked.reason, checked.message);
      // The new pair beside the old one, the certificate last (it marks the pair complete); then renamed over it.
      const keyNext = folder.paths.key + NEXT_SUFFIX;
      const certNext = folder.paths.cert + NEXT_SUFFIX;
      writeEnrolmentFile(keyNext, key.privateKeyPem);
      writeEnrolmentFile(certNext, answer.result.certificate.endsWith('\n') ? answer.result.certificate : `${answer.result.certificate}\n`);
      renameSync(keyNext, folder.paths.key);
      renameSync(certNext, folder.paths.cert);
      writeEnrolmentFile(join(folder.dir, ENROLMENT_FILES.state), JSON.stringify({ ...folder.state, certNotAfterMs: checked.cert.notAfterMs }, null, 2) + '\n');
      this.failures = 0;
      this.log.info({ deviceId, serial: checked.cert.serialHex, expiresAt: new Date(checked.cert.notAfterMs).toISOString() }, 'device certificate renewed; restarting with it');
      this.deps.requestRestart('device certificate renewed');
      return { kind: 'renewed', notAfterMs: checked.cert.notAfterMs };
    } catch (err) {
      return this.failed('ERROR', (err as Error).message);
    }
  }

  private failed(reason: EstFailureReason | 'ERROR', message: string): RenewalOutcome {
    this.failures++;
    this.log.warn({ reason, message, failures: this.failures }, 'device certificate renewal failed; retrying later');
    return { kind: 'failed', reason, message };
  }
}
