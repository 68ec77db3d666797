import type { KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import { signCoseSign1 } from '../../../base/node/cose.js';
import { keyIdOf } from '../../../base/node/keys.js';
import { DEVICE_ID_PATTERN, DEVICE_ID_RULE } from '../../../base/common/ids.js';
import { deviceSettingsDocumentSchema, HUB_FORBIDDEN_SETTINGS, type DeviceSettingsDocument } from '../../../base/common/enrolment.js';
import type { DeviceSettingsRecord, FleetHealth } from '../../../base/common/types.js';
import { MAX_SETTINGS_DOCUMENT_BYTES } from '../../downlink-codec.js';
import type { HubSql, HubSqlExecutor } from '../hub-sql.js';
import type { HubDirectory } from '../directory.js';
import type { Logger } from '../../../base/node/logger.js';
import { PROTOCOL_VERSION, topics } from '../../protocol.js';

/**
 * Remote settings per device (issue 12): `safegate hub device set ID key=value... [--file F] [--unset key]`.
 * Each change makes a new version of the device's WHOLE remote overlay (cumulative: the kiosk keeps
 * only the newest remote document), numbered after the last one (the enrolment document is version 1),
 * signed by the hub's downlink key as artifact `device-settings`, kept with who issued it, and put on
 * the device's `settings` downlink stream. The hub checks what it can (no forbidden setting, known
 * keys and their own values, through `checkOverlay`); the kiosk checks the rest (its settings schema
 * over its own file, cross-field rules included) and reports a refusal in its heartbeat, which the
 * hub records here (`recordReport`).
 */

/** A partial kiosk settings object: nested objects, leaves are values. */
export type SettingsOverlay = Record<string, unknown>;

/** A refusal at the hub, in words for the operator (the CLI prints it and exits non-zero). */
export class DeviceSettingsError extends Error {
  override name = 'DeviceSettingsError';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

export interface SettingsChange {
  /** Dotted paths and their new values (a value may be an object: it replaces what was at that path). */
  set?: Record<string, unknown>;
  /** A settings file's content laid over the overlay (nested objects merge, leaves replace). */
  merge?: SettingsOverlay;
  /** Dotted paths taken out of the overlay (the kiosk's own file decides them again). */
  unset?: string[];
}

export interface DeviceSettingsVersion {
  version: number;
  overlay: SettingsOverlay;
  issuedAtMs: number;
  issuedBy: string;
  /** The signed document exactly as sent (COSE_Sign1). */
  signed: Uint8Array;
}

/** What the device last said about its settings (its heartbeat's fleet block), since when. */
export interface DeviceSettingsReport {
  appliedVersion: number;
  refused: { version: number; problems: string[] } | null;
  sinceMs: number;
}

export interface DeviceSettingsView {
  deviceId: string;
  /** The newest version issued (1: only the enrolment document). */
  version: number;
  overlay: SettingsOverlay;
  versions: Omit<DeviceSettingsVersion, 'signed'>[];
  reported: DeviceSettingsReport | null;
  /** In words: applied, refused (with why), waiting for the device, or nothing issued. */
  state: 'none' | 'applied' | 'refused' | 'pending';
}

export interface DeviceSettingsOptions {
  /** The hub's downlink private key (settings `signingKey`): signs each version. */
  signingKey: KeyObject;
  /**
   * Problems with an overlay by the kiosk settings schema (unknown keys, values out of range), as
   * `path: message` strings. The schema lives with the kiosk (src-main/core/config.ts), above this
   * layer: the caller passes the check in (see src-main/core/settings-overlay.ts).
   */
  checkOverlay: (overlay: SettingsOverlay) => string[];
  now?: () => number;
}

/** The enrolment document's version: remote ones count on from it. */
export const ENROLMENT_SETTINGS_VERSION = 1;

export class DeviceSettingsBook {
  private readonly now: () => number;

  /** Only stores its dependencies. */
  constructor(
    private readonly sql: HubSql,
    private readonly options: Partial<DeviceSettingsOptions> = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Makes the next version of a device's remote overlay from the current one and a change, checks
   * it, signs it and puts it on the device's settings stream, in one transaction. Throws
   * DeviceSettingsError with every problem found; nothing is stored then.
   */
  async set(deviceId: string, change: SettingsChange, issuedBy: string): Promise<{ version: number; overlay: SettingsOverlay; document: DeviceSettingsDocument }> {
    const { signingKey, checkOverlay } = this.options;
    if (!signingKey || !checkOverlay) throw new Error('DeviceSettingsBook.set needs the signing key and the settings check');
    if (!DEVICE_ID_PATTERN.test(deviceId)) throw new DeviceSettingsError([`device id: ${DEVICE_ID_RULE}`]);
    const problems: string[] = [];
    const touched = [...Object.keys(change.set ?? {}), ...flatPaths(change.merge ?? {}), ...(change.unset ?? [])];
    if (touched.length === 0) throw new DeviceSettingsError(['nothing to change: give key=value pairs, --file or --unset']);
    for (const path of touched) {
      const why = pathProblem(path);
      if (why) problems.push(`${path}: ${why}`);
    }
    for (const path of [...new Set(touched)]) {
      const forbidden = HUB_FORBIDDEN_SETTINGS.find((f) => path === f || path.startsWith(`${f}.`) || f.startsWith(`${path}.`));
      if (forbidden) problems.push(`${path}: the hub may not set ${forbidden} (the kiosk's own files and credentials)`);
    }
    if (problems.length) throw new DeviceSettingsError(problems);

    return this.sql.write(async (tx) => {
      const last = await lastVersion(tx, deviceId);
      const overlay = structuredClone(last?.overlay ?? {});
      if (change.merge) mergeInto(overlay, change.merge);
      for (const [path, value] of Object.entries(change.set ?? {})) setPath(overlay, path, value);
      for (const path of change.unset ?? []) {
        if (!unsetPath(overlay, path)) problems.push(`${path}: not in the device's remote settings (nothing to unset)`);
      }
      problems.push(...checkOverlay(overlay));
      if (problems.length) throw new DeviceSettingsError(problems);
      const version = (last?.version ?? ENROLMENT_SETTINGS_VERSION) + 1;
      const issuedAtMs = this.now();
      const document = deviceSettingsDocumentSchema.parse({ v: 1, deviceId, version, issuedAtMs, source: 'remote', settings: overlay });
      const signed = signCoseSign1(Buffer.from(JSON.stringify(document), 'utf8'), signingKey, keyIdOf(signingKey));
      if (signed.length > MAX_SETTINGS_DOCUMENT_BYTES) throw new DeviceSettingsError([`the settings document is ${signed.length} bytes; a kiosk takes at most ${MAX_SETTINGS_DOCUMENT_BYTES}`]);
      await tx.run(
        sql`INSERT INTO device_settings_versions (device_id, version, overlay, issued_ms, issued_by, signed)
            VALUES (${deviceId}, ${version}, ${JSON.stringify(overlay)}, ${issuedAtMs}, ${issuedBy}, ${Buffer.from(signed)})`,
      );
      // The device's record of the settings stream (scope: the device itself), at the stream's next revision.
      const rev = ((await tx.get<{ rev: number }>(sql`SELECT rev FROM stream_revisions WHERE stream = 'settings'`))?.rev ?? 0) + 1;
      const record: DeviceSettingsRecord = { deviceId, version, document: Buffer.from(signed).toString('base64') };
      await tx.run(
        sql`INSERT INTO records (stream, key, value, deleted, rev, scope) VALUES ('settings', ${deviceId}, ${JSON.stringify(record)}, 0, ${rev}, ${deviceId})
            ON CONFLICT (stream, key) DO UPDATE SET value = excluded.value, deleted = 0, rev = excluded.rev, scope = excluded.scope`,
      );
      await tx.run(sql`INSERT INTO stream_revisions (stream, rev) VALUES ('settings', ${rev}) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev`);
      return { version, overlay, document };
    });
  }

  /** Every version issued for a device, oldest first. */
  async versions(deviceId: string): Promise<DeviceSettingsVersion[]> {
    const rows = await this.sql.all<VersionRow>(
      sql`SELECT version, overlay, issued_ms, issued_by, signed FROM device_settings_versions WHERE device_id = ${deviceId} ORDER BY version`,
    );
    return rows.map(versionOf);
  }

  /** The device's overlay, its versions and what it reported. */
  async view(deviceId: string): Promise<DeviceSettingsView> {
    const versions = (await this.versions(deviceId)).map(({ signed: _signed, ...v }) => v);
    const newest = versions.at(-1);
    const reported = await this.report(deviceId);
    const version = newest?.version ?? ENROLMENT_SETTINGS_VERSION;
    const state = !newest
      ? 'none'
      : reported && reported.appliedVersion >= version
        ? 'applied'
        : reported?.refused && reported.refused.version >= version
          ? 'refused'
          : 'pending';
    return { deviceId, version, overlay: newest?.overlay ?? {}, versions, reported, state };
  }

  async report(deviceId: string): Promise<DeviceSettingsReport | null> {
    const r = await this.sql.get<ReportRow>(
      sql`SELECT applied_version, refused_version, refused_problems, since_ms FROM device_settings_reports WHERE device_id = ${deviceId}`,
    );
    return r ? reportOf(r) : null;
  }

  /**
   * What a device's heartbeat says about its settings. Written only when it differs from what is
   * held (a heartbeat a minute from every kiosk is not a write a minute); returns whether it did.
   */
  async recordReport(deviceId: string, fleet: Pick<FleetHealth, 'settingsVersion' | 'settingsRefused'>, atMs: number): Promise<boolean> {
    const held = await this.report(deviceId);
    const refused = fleet.settingsRefused;
    if (held && held.appliedVersion === fleet.settingsVersion && JSON.stringify(held.refused) === JSON.stringify(refused)) return false;
    const problems = refused ? JSON.stringify(refused.problems) : null;
    await this.sql.run(
      sql`INSERT INTO device_settings_reports (device_id, applied_version, refused_version, refused_problems, since_ms)
          VALUES (${deviceId}, ${fleet.settingsVersion}, ${refused?.version ?? null}, ${problems}, ${atMs})
          ON CONFLICT (device_id) DO UPDATE SET applied_version = excluded.applied_version, refused_version = excluded.refused_version,
            refused_problems = excluded.refused_problems, since_ms = excluded.since_ms`,
    );
    return true;
  }
}

/**
 * Records the settings part of heartbeats for a hub process: remembers what it last wrote per device,
 * so the directory is read and written only when a device's report changes.
 */
export class SettingsReportRecorder {
  private readonly written = new Map<string, string>();
  private readonly book: DeviceSettingsBook;

  /** Only stores its dependencies. */
  constructor(sql: HubSql) {
    this.book = new DeviceSettingsBook(sql);
  }

  async record(deviceId: string, fleet: FleetHealth | null, atMs: number): Promise<void> {
    if (!fleet) return;
    const key = JSON.stringify([fleet.settingsVersion, fleet.settingsRefused]);
    if (this.written.get(deviceId) === key) return;
    await this.book.recordReport(deviceId, fleet, atMs);
    this.written.set(deviceId, key);
  }
}

type VersionRow = { version: number; overlay: string; issued_ms: number; issued_by: string; signed: Uint8Array };
type ReportRow = { applied_version: number; refused_version: number | null; refused_problems: string | null; since_ms: number };

function versionOf(r: VersionRow): DeviceSettingsVersion {
  return { version: Number(r.version), overlay: JSON.parse(r.overlay) as SettingsOverlay, issuedAtMs: Number(r.issued_ms), issuedBy: r.issued_by, signed: new Uint8Array(r.signed) };
}

function reportOf(r: ReportRow): DeviceSettingsReport {
  return {
    appliedVersion: Number(r.applied_version),
    refused: r.refused_version === null ? null : { version: Number(r.refused_version), problems: JSON.parse(r.refused_problems ?? '[]') as string[] },
    sinceMs: Number(r.since_ms),
  };
}

async function lastVersion(db: HubSqlExecutor, deviceId: string): Promise<DeviceSettingsVersion | undefined> {
  const r = await db.get<VersionRow>(
    sql`SELECT version, overlay, issued_ms, issued_by, signed FROM device_settings_versions WHERE device_id = ${deviceId} ORDER BY version DESC LIMIT 1`,
  );
  return r ? versionOf(r) : undefined;
}

const SEGMENT = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Why a dotted path cannot name a setting (undefined: it can). */
function pathProblem(path: string): string | undefined {
  const parts = path.split('.');
  if (path.length > 200 || parts.length > 8 || !parts.every((p) => SEGMENT.test(p))) return 'not a settings path (dotted names of letters, digits and _, e.g. gate.relay.pulseMs)';
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** The dotted paths of an overlay's leaves (an empty object counts as a leaf). */
export function flatPaths(overlay: SettingsOverlay, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(overlay)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v) && Object.keys(v).length) out.push(...flatPaths(v, path));
    else out.push(path);
  }
  return out;
}

function setPath(overlay: SettingsOverlay, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = overlay;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!isPlainObject(next)) node[part] = {};
    node = node[part] as SettingsOverlay;
  }
  node[parts.at(-1)!] = structuredClone(value);
}

function mergeInto(target: SettingsOverlay, source: SettingsOverlay): void {
  for (const [k, v] of Object.entries(source)) {
    if (isPlainObject(v) && isPlainObject(target[k])) mergeInto(target[k], v);
    else target[k] = structuredClone(v);
  }
}

/** Takes a path out (and the objects it leaves empty); false when it was not there. */
function unsetPath(overlay: SettingsOverlay, path: string): boolean {
  const parts = path.split('.');
  const trail: SettingsOverlay[] = [overlay];
  for (const part of parts.slice(0, -1)) {
    const next = trail.at(-1)![part];
    if (!isPlainObject(next)) return false;
    trail.push(next);
  }
  const last = parts.at(-1)!;
  if (!Object.hasOwn(trail.at(-1)!, last)) return false;
  delete trail.at(-1)![last];
  for (let i = trail.length - 1; i > 0; i--) {
    if (Object.keys(trail[i]!).length) break;
    delete trail[i - 1]![parts[i - 1]!];
  }
  return true;
}

/**
 * Sends each device its new remote settings as soon as a hub process sees them (`hub device set` runs
 * as its own command and only writes the directory): every few seconds this reads the settings
 * stream's revision (one row) and, when it moved, publishes each changed device's record as the hub
 * answers a request for the stream from the start. Every hub process does so (the first copy a kiosk
 * takes applies, the others are "nothing new"); a kiosk that is offline asks for the stream when it
 * is back. Devices changed before this process started are not pushed: they ask when they connect.
 */
export class SettingsPusher {
  private timer: NodeJS.Timeout | undefined;
  private seen: number | undefined;
  private running: Promise<void> = Promise.resolve();

  /** Only stores its dependencies. */
  constructor(
    private readonly o: {
      directory: Pick<HubDirectory, 'respondSignedTo' | 'revision' | 'sql'>;
      signingKey: KeyObject;
      publish: (topic: string, payload: Uint8Array) => Promise<void>;
      everyMs: number;
      log: Logger;
    },
  ) {}

  /**
   * Reads where the settings stream stands now, so a change made after this resolves is pushed. Without
   * it the first look, a few seconds later, would take a change made in between for the starting point
   * and never push it (the kiosk would get it only at its next refresh).
   */
  async prime(): Promise<void> {
    this.seen ??= await this.o.directory.revision('settings');
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running = this.running.then(async () => void (await this.check())).catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, 'remote settings not pushed; kiosks get them when they next ask'));
    }, this.o.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One look: pushes what changed since the last. */
  async check(): Promise<number> {
    const rev = await this.o.directory.revision('settings');
    const since = this.seen;
    this.seen = rev;
    if (since === undefined || rev <= since) return 0;
    const rows = await this.o.directory.sql.all<{ key: string }>(sql`SELECT key FROM records WHERE stream = 'settings' AND rev > ${since} AND deleted = 0`);
    let sent = 0;
    for (const { key } of rows) {
      for await (const part of this.o.directory.respondSignedTo(key, { v: PROTOCOL_VERSION, stream: 'settings', cursor: 0 }, Date.now(), this.o.signingKey)) {
        await this.o.publish(topics.downlink(key), part);
        sent++;
      }
      this.o.log.info({ deviceId: key }, 'remote settings sent to the device');
    }
    return sent;
  }
}
