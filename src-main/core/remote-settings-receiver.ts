import type { Logger } from 'pino';
import type { DataChange, DeviceSettingsRecord } from '../../base/common/types.js';
import type { Settings } from './config.js';

/** What the enrolment folder says of a remote settings document (src-main/core/enrolment: acceptRemoteSettings). */
export type RemoteSettingsVerdict =
  | { ok: true; version: number; changed: string[]; restartNeeded: boolean }
  | { ok: false; version: number | null; problems: string[] };

export interface RemoteSettingsReceiverOptions {
  deviceId: string;
  /**
   * Checks and keeps (or refuses, and keeps the refusal of) a signed document: acceptRemoteSettings
   * over the kiosk's settings file. `recordVersion`: the verified record's version, kept with a
   * refusal when the document gives none (an untrusted key, not a settings document).
   */
  accept: (signed: Uint8Array, nowMs: number, recordVersion: number) => RemoteSettingsVerdict;
  /** The effective settings read again from the files (after a document was kept). */
  reload: () => Settings;
  /** The settings the running kiosk reads (the screens read them at each state): live changes go in here. */
  running: () => Settings;
  /** Sets the kiosk's log level (log.level is applied live). */
  setLogLevel: (level: Settings['log']['level']) => void;
  requestRestart: (reason: string) => void;
  /** Sends a heartbeat at once, so the hub learns the version applied or refused without waiting a beat. */
  heartbeatNow: () => void;
  log: Logger;
  now?: () => number;
  /** Runs what follows a document after the downlink's transaction (default setImmediate). */
  later?: (fn: () => void) => void;
}

/**
 * The kiosk's side of the `settings` downlink stream: each record is the device's newest remote
 * settings document, signed. Applied inside the downlink's transaction, it only hands the document
 * to `accept` (which checks the signature, the device id, the version and the kiosk's settings
 * schema, and keeps the document or the refusal in the enrolment folder); after the transaction it
 * applies the live settings that changed (screens.language, screens.resultSeconds, log.level) or asks
 * for a restart for any other, and sends a heartbeat either way. A document refused here is not asked
 * for again (the stream's cursor moves on); the refusal reaches the hub in the heartbeat.
 */
export class RemoteSettingsReceiver {
  private readonly now: () => number;
  private readonly later: (fn: () => void) => void;

  /** Only stores its dependencies. */
  constructor(private readonly o: RemoteSettingsReceiverOptions) {
    this.now = o.now ?? Date.now;
    this.later = o.later ?? ((fn) => void setImmediate(fn));
  }

  applyChanges(_kind: 'snapshot' | 'delta', changes: DataChange<DeviceSettingsRecord>[]): void {
    const verdicts: RemoteSettingsVerdict[] = [];
    for (const c of changes) {
      // The hub never takes a device's remote settings back as a deletion (it sends a new version instead).
      if (c.deleted) continue;
      if (c.key !== this.o.deviceId) {
        this.o.log.warn({ for: c.key }, 'remote settings record for another device ignored');
        continue;
      }
      try {
        verdicts.push(this.o.accept(Buffer.from(c.value.document, 'base64'), this.now(), c.value.version));
      } catch (err) {
        // Never into the downlink's commit (the stream would be stuck on this part); the log says why.
        verdicts.push({ ok: false, version: c.value.version, problems: [`(kiosk): ${(err as Error).message}`.slice(0, 300)] });
      }
    }
    if (verdicts.length) this.later(() => this.settle(verdicts));
  }

  private settle(verdicts: RemoteSettingsVerdict[]): void {
    let restart: string | undefined;
    for (const v of verdicts) {
      if (!v.ok) {
        this.o.log.error({ version: v.version, problems: v.problems }, 'remote settings refused; the hub hears it in the heartbeat');
        continue;
      }
      if (v.changed.length === 0) continue;
      this.o.log.info({ version: v.version, changed: v.changed, restart: v.restartNeeded }, 'remote settings applied');
      if (v.restartNeeded) restart = `remote settings version ${v.version} changed ${v.changed.join(', ')}`;
      else this.applyLive(v.changed);
    }
    this.o.heartbeatNow();
    if (restart) this.o.requestRestart(restart);
  }

  private applyLive(changed: string[]): void {
    let next: Settings;
    try {
      next = this.o.reload();
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'settings could not be read again; the live change waits for the next start');
      return;
    }
    const running = this.o.running();
    const has = (p: string) => changed.some((c) => c === p || c.startsWith(`${p}.`));
    if (has('screens.language')) running.screens.language = next.screens.language;
    if (has('screens.resultSeconds')) running.screens.resultSeconds = next.screens.resultSeconds;
    if (has('log.level')) {
      running.log.level = next.log.level;
      this.o.setLogLevel(next.log.level);
    }
  }
}
