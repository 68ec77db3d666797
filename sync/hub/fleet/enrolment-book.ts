import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { DEVICE_ID_PATTERN, DEVICE_ID_RULE, IDENTIFIER_PATTERN, IDENTIFIER_RULE } from '../../../base/common/ids.js';
import { ENROLMENT_TOKEN_PATTERN } from '../../../base/common/enrolment.js';
import { CHECKPOINT_KINDS } from '../directory.js';
import type { HubSqlExecutor } from '../hub-sql.js';

/**
 * The hub's enrolment book (directory migration 0021 / PostgreSQL step 7): one-time enrolment
 * tokens, the devices enrolled with them, and every certificate serial issued to each device.
 *
 * A token is 32 random bytes (base64url) shown once, in the enrolment code; the book keeps only its
 * SHA-256, so a copy of the database enrols nothing. Each token carries the device id the hub
 * assigned (unique for ever: an id is never handed out twice) and the settings that device gets.
 * Using a token is one conditional UPDATE (`used_ms IS NULL AND expires_ms > now`), so of two
 * concurrent uses, on any number of hub processes, exactly one wins.
 *
 * A pending token can be cancelled (`hub enrol cancel`, or `hub devices revoke` of a device that has
 * only a pending code): its expiry becomes minus the time it was cancelled. No real time is negative,
 * so `expires_ms < 0` marks a cancelled one (and it is never pending: `expires_ms > now` fails);
 * using it is refused as TOKEN_UNKNOWN (the kiosk learns nothing more), and the hub logs why.
 */

export type CheckpointKind = (typeof CHECKPOINT_KINDS)[number];
export const CHECKPOINT_DIRECTIONS = ['entry', 'exit', 'both'] as const;
export type CheckpointDirection = (typeof CHECKPOINT_DIRECTIONS)[number];

/** The checkpoint the enrolled device guards (the kiosk settings' `checkpoint`, without its site). */
export interface EnrolmentCheckpoint {
  id: string;
  name: string;
  kind: CheckpointKind;
  zone?: string;
  direction: CheckpointDirection;
}

/** What a device enrolled with a token gets: its site, its checkpoint, and optionally a GPIO profile's name. */
export interface EnrolmentSettings {
  siteId: string;
  checkpoint: EnrolmentCheckpoint;
  gpioProfile?: string;
}

export interface CreatedToken {
  deviceId: string;
  /** Shown once (in the enrolment code); the book keeps only its hash. */
  token: string;
  expiresAtMs: number;
}

export type TokenState = 'pending' | 'used' | 'expired' | 'cancelled';

export interface TokenEntry {
  deviceId: string;
  settings: EnrolmentSettings;
  createdAtMs: number;
  expiresAtMs: number;
  usedAtMs: number | null;
  state: TokenState;
}

/** A certificate the CA issued to a device. */
export interface IssuedCertificate {
  serialHex: string;
  notAfterMs: number;
  fingerprint: string;
  /** The certificate itself (kept for an enrolment retried with the same key). */
  pem?: string;
}

export interface EnrolledDevice {
  deviceId: string;
  enrolledAtMs: number;
  certSerial: string;
  certNotAfterMs: number;
  certFingerprint: string;
  revokedAtMs: number | null;
}

export interface EnrolledDeviceRecord extends EnrolledDevice {
  /** The signed enrolment settings document (COSE_Sign1 bytes). */
  settingsDocument: Uint8Array;
}

export type TokenRefusal = 'TOKEN_UNKNOWN' | 'TOKEN_USED' | 'TOKEN_EXPIRED';
export type TokenLookup = { ok: true; entry: TokenEntry } | { ok: false; reason: TokenRefusal; deviceId?: string; cancelled?: true };

export class EnrolmentBookError extends Error {
  override name = 'EnrolmentBookError';
}

/** The most codes one `hub enrol create` makes. */
export const MAX_TOKENS_PER_REQUEST = 500;
const MAX_TOKEN_LIFETIME_MS = 90 * 86_400_000;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** 32 random bytes, base64url without padding (ENROLMENT_TOKEN_PATTERN). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The prefix `<site>-<kind>-` of assigned device ids, cut so the number still fits DEVICE_ID_PATTERN. */
export function deviceIdPrefix(siteId: string, kind: string): string {
  const slug = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/-+/g, '-')
      .replace(/^-|-$/g, '');
  const kindPart = slug(kind) || 'device';
  // Room for "-NNNN" at the end; a longer number (past 9999) still fits within 63 characters.
  const sitePart = slug(siteId).slice(0, 63 - kindPart.length - 2 - 8).replace(/-$/, '');
  return sitePart ? `${sitePart}-${kindPart}-` : `${kindPart}-`;
}

interface TokenRow {
  token_hash: string;
  device_id: string;
  site_id: string;
  checkpoint_id: string;
  checkpoint_name: string;
  checkpoint_kind: string;
  checkpoint_zone: string | null;
  checkpoint_direction: string;
  gpio_profile: string | null;
  created_ms: number;
  expires_ms: number;
  used_ms: number | null;
}

interface DeviceRow {
  device_id: string;
  enrolled_ms: number;
  cert_serial: string;
  cert_not_after_ms: number;
  cert_fingerprint: string;
  revoked_ms: number | null;
}

export class EnrolmentBook {
  /** Only stores the database handle (the hub directory's). */
  constructor(private readonly sql: HubSqlExecutor) {}

  /**
   * Makes `count` one-time tokens for new devices with these settings. Device ids: `deviceId` for
   * one token, else `<site>-<kind>-NNNN`, numbered after every id the book or the directory's site
   * map already knows.
   */
  async createTokens(req: {
    settings: EnrolmentSettings;
    count?: number;
    expiresInMs: number;
    deviceId?: string;
    nowMs?: number;
    /** Device ids the hub knows from outside the directory (those it has heard from, in its event store): never given out. */
    knownIds?: readonly string[];
  }): Promise<CreatedToken[]> {
    const nowMs = req.nowMs ?? Date.now();
    const count = req.count ?? 1;
    const settings = checkSettings(req.settings);
    if (!Number.isInteger(count) || count < 1 || count > MAX_TOKENS_PER_REQUEST) throw new EnrolmentBookError(`count: 1 to ${MAX_TOKENS_PER_REQUEST} codes at a time`);
    if (!Number.isFinite(req.expiresInMs) || req.expiresInMs < 60_000 || req.expiresInMs > MAX_TOKEN_LIFETIME_MS) {
      throw new EnrolmentBookError('expiry: from 1 minute to 90 days');
    }
    if (req.deviceId !== undefined) {
      if (count !== 1) throw new EnrolmentBookError('a device id names one device: give --count 1 or no device id');
      if (!DEVICE_ID_PATTERN.test(req.deviceId)) throw new EnrolmentBookError(`device id ${JSON.stringify(req.deviceId)}: ${DEVICE_ID_RULE}`);
    }
    const expiresAtMs = nowMs + req.expiresInMs;
    return this.sql.write(async (tx) => {
      let ids: string[];
      if (req.deviceId !== undefined) {
        const held = await tx.get<{ one: number }>(
          sql`SELECT 1 AS one FROM fleet_enrolment_tokens WHERE device_id = ${req.deviceId} UNION ALL SELECT 1 AS one FROM fleet_devices WHERE device_id = ${req.deviceId}`,
        );
        if (held) throw new EnrolmentBookError(`device id ${req.deviceId} was given out already (device ids are never reused)`);
        // A kiosk set up by hand (placed, or heard from) holds its id too: a certificate for it would take that kiosk's topics.
        const used = await tx.get<{ one: number }>(
          sql`SELECT 1 AS one FROM device_sites WHERE device_id = ${req.deviceId} UNION ALL SELECT 1 AS one FROM device_placements WHERE device_id = ${req.deviceId}`,
        );
        if (used || req.knownIds?.includes(req.deviceId)) {
          throw new EnrolmentBookError(`device id ${req.deviceId} is already used by a kiosk the hub knows; pick another or revoke it first`);
        }
        ids = [req.deviceId];
      } else {
        const prefix = deviceIdPrefix(settings.siteId, settings.checkpoint.kind);
        const pattern = `${prefix}%`;
        const known = await tx.all<{ device_id: string }>(
          sql`SELECT device_id FROM fleet_enrolment_tokens WHERE device_id LIKE ${pattern}
              UNION SELECT device_id FROM fleet_devices WHERE device_id LIKE ${pattern}
              UNION SELECT device_id FROM device_sites WHERE device_id LIKE ${pattern}
              UNION SELECT device_id FROM device_placements WHERE device_id LIKE ${pattern}`,
        );
        for (const id of req.knownIds ?? []) if (id.startsWith(prefix)) known.push({ device_id: id });
        let last = 0;
        for (const { device_id } of known) {
          const rest = device_id.slice(prefix.length);
          if (device_id.startsWith(prefix) && /^\d+$/.test(rest)) last = Math.max(last, Number(rest));
        }
        ids = Array.from({ length: count }, (_, i) => `${prefix}${String(last + 1 + i).padStart(4, '0')}`);
        for (const id of ids) if (!DEVICE_ID_PATTERN.test(id)) throw new EnrolmentBookError(`cannot make a device id for site ${settings.siteId}: ${id} breaks the rule (${DEVICE_ID_RULE})`);
      }
      const out: CreatedToken[] = [];
      for (const deviceId of ids) {
        const token = newToken();
        const c = settings.checkpoint;
        await tx.run(
          sql`INSERT INTO fleet_enrolment_tokens (token_hash, device_id, site_id, checkpoint_id, checkpoint_name, checkpoint_kind, checkpoint_zone, checkpoint_direction, gpio_profile, created_ms, expires_ms, used_ms)
              VALUES (${tokenHash(token)}, ${deviceId}, ${settings.siteId}, ${c.id}, ${c.name}, ${c.kind}, ${c.zone ?? null}, ${c.direction}, ${settings.gpioProfile ?? null}, ${nowMs}, ${expiresAtMs}, ${null})`,
        );
        out.push({ deviceId, token, expiresAtMs });
      }
      return out;
    });
  }

  /** What a token is for and whether it may still be used (nothing changes). */
  async lookup(token: string, nowMs = Date.now()): Promise<TokenLookup> {
    if (!ENROLMENT_TOKEN_PATTERN.test(token)) return { ok: false, reason: 'TOKEN_UNKNOWN' };
    const row = await this.sql.get<TokenRow>(sql`SELECT * FROM fleet_enrolment_tokens WHERE token_hash = ${tokenHash(token)}`);
    if (!row) return { ok: false, reason: 'TOKEN_UNKNOWN' };
    const entry = entryOf(row, nowMs);
    if (entry.state === 'used') return { ok: false, reason: 'TOKEN_USED', deviceId: entry.deviceId };
    if (entry.state === 'cancelled') return { ok: false, reason: 'TOKEN_UNKNOWN', deviceId: entry.deviceId, cancelled: true };
    if (entry.state === 'expired') return { ok: false, reason: 'TOKEN_EXPIRED', deviceId: entry.deviceId };
    return { ok: true, entry };
  }

  /**
   * Uses a token, once: of any number of concurrent calls exactly one gets `ok`. With `issued`, the
   * device's certificate and signed settings are recorded in the same transaction, so a used token
   * always has its enrolled device.
   */
  async consume(token: string, nowMs = Date.now(), issued?: { certificate: IssuedCertificate; settingsDocument: Uint8Array }): Promise<TokenLookup> {
    if (!ENROLMENT_TOKEN_PATTERN.test(token)) return { ok: false, reason: 'TOKEN_UNKNOWN' };
    const hash = tokenHash(token);
    return this.sql.write(async (tx) => {
      const won = await tx.get<TokenRow>(
        sql`UPDATE fleet_enrolment_tokens SET used_ms = ${nowMs} WHERE token_hash = ${hash} AND used_ms IS NULL AND expires_ms > ${nowMs} RETURNING *`,
      );
      if (!won) {
        const row = await tx.get<TokenRow>(sql`SELECT * FROM fleet_enrolment_tokens WHERE token_hash = ${hash}`);
        if (!row) return { ok: false, reason: 'TOKEN_UNKNOWN' } as const;
        if (row.used_ms === null && row.expires_ms < 0) return { ok: false, reason: 'TOKEN_UNKNOWN', deviceId: row.device_id, cancelled: true } as const;
        return { ok: false, reason: row.used_ms !== null ? 'TOKEN_USED' : 'TOKEN_EXPIRED', deviceId: row.device_id } as const;
      }
      if (issued) await this.record(tx, won.device_id, issued.certificate, issued.settingsDocument, nowMs);
      return { ok: true, entry: entryOf(won, nowMs) } as const;
    });
  }

  /**
   * Records a certificate issued to a device: its serial joins the device's list (the CRL names them
   * all once the device is revoked) and it becomes the device's current one. A first certificate needs
   * the signed settings document; a renewal keeps the one held.
   */
  async recordCertificate(deviceId: string, certificate: IssuedCertificate, settingsDocument?: Uint8Array, nowMs = Date.now()): Promise<void> {
    await this.sql.write((tx) => this.record(tx, deviceId, certificate, settingsDocument, nowMs));
  }

  /**
   * Records a renewal: `certificate` becomes the device's current one only if the device is not
   * revoked and its current certificate is still `replacesFingerprint` (checked and changed in one
   * statement, so a revocation or another renewal in between wins). 'unknown' for a device never
   * enrolled. The enrolment's certificate is no longer kept (a retried enrolment gets nothing after a renewal).
   */
  async renewCertificate(deviceId: string, replacesFingerprint: string, c: IssuedCertificate, nowMs = Date.now()): Promise<'renewed' | 'revoked' | 'superseded' | 'unknown'> {
    return this.sql.write(async (tx) => {
      const changed = await tx.run(
        sql`UPDATE fleet_devices SET cert_serial = ${c.serialHex}, cert_not_after_ms = ${c.notAfterMs}, cert_fingerprint = ${c.fingerprint}, cert_pem = ${null}
            WHERE device_id = ${deviceId} AND revoked_ms IS NULL AND cert_fingerprint = ${replacesFingerprint}`,
      );
      if (changed === 0) {
        const row = await tx.get<DeviceRow>(sql`SELECT device_id, enrolled_ms, cert_serial, cert_not_after_ms, cert_fingerprint, revoked_ms FROM fleet_devices WHERE device_id = ${deviceId}`);
        // Revoked while this certificate was being signed: it is never sent, and its serial joins the
        // device's list anyway, so every CRL written from now on names it (review r3 finding 2).
        if (row && row.revoked_ms !== null) {
          await tx.run(sql`INSERT INTO fleet_certificates (serial_hex, device_id, issued_ms, not_after_ms) VALUES (${c.serialHex}, ${deviceId}, ${nowMs}, ${c.notAfterMs}) ON CONFLICT (serial_hex) DO NOTHING`);
        }
        return !row ? ('unknown' as const) : row.revoked_ms !== null ? ('revoked' as const) : ('superseded' as const);
      }
      await tx.run(sql`INSERT INTO fleet_certificates (serial_hex, device_id, issued_ms, not_after_ms) VALUES (${c.serialHex}, ${deviceId}, ${nowMs}, ${c.notAfterMs})`);
      return 'renewed' as const;
    });
  }

  private async record(tx: HubSqlExecutor, deviceId: string, c: IssuedCertificate, settingsDocument: Uint8Array | undefined, nowMs: number): Promise<void> {
    await tx.run(
      sql`INSERT INTO fleet_certificates (serial_hex, device_id, issued_ms, not_after_ms) VALUES (${c.serialHex}, ${deviceId}, ${nowMs}, ${c.notAfterMs})`,
    );
    if (settingsDocument) {
      await tx.run(
        sql`INSERT INTO fleet_devices (device_id, enrolled_ms, cert_serial, cert_not_after_ms, cert_fingerprint, settings_document, revoked_ms, cert_pem)
            VALUES (${deviceId}, ${nowMs}, ${c.serialHex}, ${c.notAfterMs}, ${c.fingerprint}, ${Buffer.from(settingsDocument)}, ${null}, ${c.pem ?? null})
            ON CONFLICT (device_id) DO UPDATE SET enrolled_ms = excluded.enrolled_ms, cert_serial = excluded.cert_serial,
              cert_not_after_ms = excluded.cert_not_after_ms, cert_fingerprint = excluded.cert_fingerprint, settings_document = excluded.settings_document,
              cert_pem = excluded.cert_pem`,
      );
    } else {
      const changed = await tx.run(
        sql`UPDATE fleet_devices SET cert_serial = ${c.serialHex}, cert_not_after_ms = ${c.notAfterMs}, cert_fingerprint = ${c.fingerprint} WHERE device_id = ${deviceId}`,
      );
      if (changed === 0) throw new EnrolmentBookError(`device ${deviceId} is not enrolled: its first certificate comes with its settings document`);
    }
  }

  /**
   * What a used token enrolled, for a retry of that enrolment: when it was used, the device's current
   * certificate (PEM, when kept) and fingerprint, its settings document, and whether it is revoked.
   * Undefined when the token is not known or not used.
   */
  async enrolledWith(token: string): Promise<{ deviceId: string; usedAtMs: number; certPem: string | null; certFingerprint: string; settingsDocument: Uint8Array; revoked: boolean } | undefined> {
    if (!ENROLMENT_TOKEN_PATTERN.test(token)) return undefined;
    const row = await this.sql.get<{ device_id: string; used_ms: number; cert_pem: string | null; cert_fingerprint: string; settings_document: Uint8Array; revoked_ms: number | null }>(
      sql`SELECT t.device_id, t.used_ms, d.cert_pem, d.cert_fingerprint, d.settings_document, d.revoked_ms
          FROM fleet_enrolment_tokens t JOIN fleet_devices d ON d.device_id = t.device_id
          WHERE t.token_hash = ${tokenHash(token)} AND t.used_ms IS NOT NULL`,
    );
    if (!row) return undefined;
    return {
      deviceId: row.device_id,
      usedAtMs: row.used_ms,
      certPem: row.cert_pem,
      certFingerprint: row.cert_fingerprint,
      settingsDocument: new Uint8Array(row.settings_document),
      revoked: row.revoked_ms !== null,
    };
  }

  /** Every enrolled device, by id. */
  async devices(): Promise<EnrolledDevice[]> {
    const rows = await this.sql.all<DeviceRow>(
      sql`SELECT device_id, enrolled_ms, cert_serial, cert_not_after_ms, cert_fingerprint, revoked_ms FROM fleet_devices`,
    );
    return rows.map(deviceOf).sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  }

  async device(deviceId: string): Promise<EnrolledDeviceRecord | undefined> {
    const row = await this.sql.get<DeviceRow & { settings_document: Uint8Array }>(sql`SELECT * FROM fleet_devices WHERE device_id = ${deviceId}`);
    return row ? { ...deviceOf(row), settingsDocument: new Uint8Array(row.settings_document) } : undefined;
  }

  /**
   * Marks a device revoked (the first time counts: a second call keeps the first time). The serials
   * of every certificate it was issued, or 'unknown' for a device the hub never enrolled.
   */
  async markRevoked(deviceId: string, nowMs = Date.now()): Promise<{ serials: string[] } | 'unknown'> {
    return this.sql.write(async (tx) => {
      const changed = await tx.run(sql`UPDATE fleet_devices SET revoked_ms = coalesce(revoked_ms, ${nowMs}) WHERE device_id = ${deviceId}`);
      if (changed === 0) return 'unknown' as const;
      const serials = await tx.all<{ serial_hex: string }>(sql`SELECT serial_hex FROM fleet_certificates WHERE device_id = ${deviceId}`);
      return { serials: serials.map((s) => s.serial_hex).sort() };
    });
  }

  /** Every certificate of every revoked device, with the time its device was revoked: what the CRL lists. */
  async revokedSerials(): Promise<{ serialHex: string; revokedAtMs: number; deviceId: string }[]> {
    const rows = await this.sql.all<{ serial_hex: string; revoked_ms: number; device_id: string }>(
      sql`SELECT c.serial_hex, d.revoked_ms, c.device_id FROM fleet_certificates c JOIN fleet_devices d ON d.device_id = c.device_id WHERE d.revoked_ms IS NOT NULL`,
    );
    return rows
      .map((r) => ({ serialHex: r.serial_hex, revokedAtMs: r.revoked_ms, deviceId: r.device_id }))
      .sort((a, b) => (a.serialHex < b.serialHex ? -1 : a.serialHex > b.serialHex ? 1 : 0));
  }

  async isRevoked(deviceId: string): Promise<boolean> {
    const row = await this.sql.get<{ revoked_ms: number | null }>(sql`SELECT revoked_ms FROM fleet_devices WHERE device_id = ${deviceId}`);
    return row?.revoked_ms != null;
  }

  /**
   * Cancels pending (unused, unexpired) tokens: those of `deviceIds`, or with `allPending` every
   * pending one (of `siteId` when given). A cancelled token enrols nothing. Returns the device ids
   * whose token was cancelled, and for each named id that had no pending token, its token's state
   * ('unknown' when the book has no token for it).
   */
  async cancelTokens(req: { deviceIds?: readonly string[]; allPending?: boolean; siteId?: string; nowMs?: number }): Promise<{ cancelled: string[]; notPending: { deviceId: string; state: TokenState | 'unknown' }[] }> {
    const nowMs = req.nowMs ?? Date.now();
    const ids = [...new Set(req.deviceIds ?? [])];
    if (req.allPending ? ids.length > 0 : ids.length === 0) throw new EnrolmentBookError('name the device ids whose codes to cancel, or all pending codes (optionally of one site), not both');
    if (!req.allPending && req.siteId !== undefined) throw new EnrolmentBookError('a site selects among all pending codes only');
    return this.sql.write(async (tx) => {
      const pending = sql`used_ms IS NULL AND expires_ms > ${nowMs}`;
      const cancelled: string[] = [];
      const notPending: { deviceId: string; state: TokenState | 'unknown' }[] = [];
      if (req.allPending) {
        const rows =
          req.siteId === undefined
            ? await tx.all<{ device_id: string }>(sql`UPDATE fleet_enrolment_tokens SET expires_ms = ${-nowMs} WHERE ${pending} RETURNING device_id`)
            : await tx.all<{ device_id: string }>(sql`UPDATE fleet_enrolment_tokens SET expires_ms = ${-nowMs} WHERE ${pending} AND site_id = ${req.siteId} RETURNING device_id`);
        cancelled.push(...rows.map((r) => r.device_id));
      } else {
        for (const id of ids) {
          const row = await tx.get<{ device_id: string }>(sql`UPDATE fleet_enrolment_tokens SET expires_ms = ${-nowMs} WHERE device_id = ${id} AND ${pending} RETURNING device_id`);
          if (row) {
            cancelled.push(id);
            continue;
          }
          const held = await tx.get<TokenRow>(sql`SELECT * FROM fleet_enrolment_tokens WHERE device_id = ${id}`);
          notPending.push({ deviceId: id, state: held ? entryOf(held, nowMs).state : 'unknown' });
        }
      }
      return { cancelled: cancelled.sort(), notPending };
    });
  }

  /** Every token, newest first (never the token itself: the book does not have it). */
  async tokens(nowMs = Date.now()): Promise<TokenEntry[]> {
    const rows = await this.sql.all<TokenRow>(sql`SELECT * FROM fleet_enrolment_tokens`);
    return rows.map((r) => entryOf(r, nowMs)).sort((a, b) => b.createdAtMs - a.createdAtMs || (a.deviceId < b.deviceId ? -1 : 1));
  }
}

function checkSettings(s: EnrolmentSettings): EnrolmentSettings {
  const c = s.checkpoint;
  if (!IDENTIFIER_PATTERN.test(s.siteId)) throw new EnrolmentBookError(`site id ${JSON.stringify(s.siteId)}: ${IDENTIFIER_RULE}`);
  if (!IDENTIFIER_PATTERN.test(c.id)) throw new EnrolmentBookError(`checkpoint id ${JSON.stringify(c.id)}: ${IDENTIFIER_RULE}`);
  if (c.zone !== undefined && !IDENTIFIER_PATTERN.test(c.zone)) throw new EnrolmentBookError(`zone ${JSON.stringify(c.zone)}: ${IDENTIFIER_RULE}`);
  if (c.name.length === 0 || c.name.length > 120 || /\p{Cc}/u.test(c.name)) throw new EnrolmentBookError('checkpoint name: 1 to 120 characters, without control characters');
  if (!(CHECKPOINT_KINDS as readonly string[]).includes(c.kind)) throw new EnrolmentBookError(`checkpoint kind "${c.kind}": expected ${CHECKPOINT_KINDS.join(', ')}`);
  if (!(CHECKPOINT_DIRECTIONS as readonly string[]).includes(c.direction)) throw new EnrolmentBookError(`direction "${c.direction}": expected ${CHECKPOINT_DIRECTIONS.join(', ')}`);
  if (s.gpioProfile !== undefined && !IDENTIFIER_PATTERN.test(s.gpioProfile)) throw new EnrolmentBookError(`GPIO profile ${JSON.stringify(s.gpioProfile)}: ${IDENTIFIER_RULE}`);
  return s;
}

function entryOf(r: TokenRow, nowMs: number): TokenEntry {
  const checkpoint: EnrolmentCheckpoint = {
    id: r.checkpoint_id,
    name: r.checkpoint_name,
    kind: r.checkpoint_kind as CheckpointKind,
    ...(r.checkpoint_zone !== null ? { zone: r.checkpoint_zone } : {}),
    direction: r.checkpoint_direction as CheckpointDirection,
  };
  return {
    deviceId: r.device_id,
    settings: { siteId: r.site_id, checkpoint, ...(r.gpio_profile !== null ? { gpioProfile: r.gpio_profile } : {}) },
    createdAtMs: r.created_ms,
    // A cancelled token: the time it was cancelled (it is valid no longer from then).
    expiresAtMs: Math.abs(r.expires_ms),
    usedAtMs: r.used_ms,
    state: r.used_ms !== null ? 'used' : r.expires_ms < 0 ? 'cancelled' : r.expires_ms <= nowMs ? 'expired' : 'pending',
  };
}

function deviceOf(r: DeviceRow): EnrolledDevice {
  return {
    deviceId: r.device_id,
    enrolledAtMs: r.enrolled_ms,
    certSerial: r.cert_serial,
    certNotAfterMs: r.cert_not_after_ms,
    certFingerprint: r.cert_fingerprint,
    revokedAtMs: r.revoked_ms,
  };
}
