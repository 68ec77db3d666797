import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEVICE_ID_PATTERN } from '../../../../base/common/ids.js';
import { ENROLMENT_TOKEN_PATTERN } from '../../../../base/common/enrolment.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { EnrolmentBook, EnrolmentBookError, deviceIdPrefix, tokenHash, type EnrolmentSettings } from '../../../../sync/hub/fleet/enrolment-book.js';
import type { HubSqlTarget } from '../../../../sync/hub/hub-sql.js';
import { directoryBackends } from '../../../helpers/directory-db.js';

const NOW = Date.parse('2026-11-27T03:00:00Z');
const HOUR = 3_600_000;
const SETTINGS: EnrolmentSettings = {
  siteId: 'Nha_May.A',
  checkpoint: { id: 'gate-a', name: 'Cổng A', kind: 'gate', direction: 'entry' },
  gpioProfile: 'turnstile',
};
const cert = (serialHex: string) => ({ serialHex, notAfterMs: NOW + 365 * 24 * HOUR, fingerprint: 'ab'.repeat(32) });

describe.each(directoryBackends)('the enrolment book on $name', (backend) => {
  let target: HubSqlTarget;
  let directory: HubDirectory;
  let book: EnrolmentBook;

  beforeEach(async () => {
    target = await backend.target();
    directory = await HubDirectory.open(target);
    book = new EnrolmentBook(directory.sql);
    // The first PostgreSQL test starts the server (when the run has none).
  }, 120_000);
  afterEach(async () => {
    await directory.close();
  });

  it('makes tokens for numbered device ids that fit the device id rule, and keeps only their hashes', async () => {
    const made = await book.createTokens({ settings: SETTINGS, count: 3, expiresInMs: 24 * HOUR, nowMs: NOW });
    expect(made.map((t) => t.deviceId)).toEqual(['nha-may-a-gate-0001', 'nha-may-a-gate-0002', 'nha-may-a-gate-0003']);
    for (const t of made) {
      expect(t.deviceId).toMatch(DEVICE_ID_PATTERN);
      expect(t.token).toMatch(ENROLMENT_TOKEN_PATTERN);
      expect(t.expiresAtMs).toBe(NOW + 24 * HOUR);
    }
    const stored = await directory.sql.all<Record<string, unknown>>(sql`SELECT * FROM fleet_enrolment_tokens`);
    const text = JSON.stringify(stored);
    for (const t of made) {
      expect(text).not.toContain(t.token);
      expect(text).toContain(tokenHash(t.token));
    }
    // The next batch continues the numbers, also past ids the site map already holds.
    await directory.assignSite('Nha_May.A', ['nha-may-a-gate-0007']);
    const next = await book.createTokens({ settings: SETTINGS, count: 1, expiresInMs: HOUR, nowMs: NOW });
    expect(next[0]?.deviceId).toBe('nha-may-a-gate-0008');
    const listed = await book.tokens(NOW);
    expect(listed).toHaveLength(4);
    expect(listed.every((t) => t.state === 'pending')).toBe(true);
    expect(JSON.stringify(listed)).not.toContain(made[0]!.token);
    expect(listed.find((t) => t.deviceId === 'nha-may-a-gate-0001')?.settings).toEqual(SETTINGS);
  });

  it('never hands a device id out twice, and refuses bad requests', async () => {
    await book.createTokens({ settings: SETTINGS, deviceId: 'kiosk-one', expiresInMs: HOUR, nowMs: NOW });
    await expect(book.createTokens({ settings: SETTINGS, deviceId: 'kiosk-one', expiresInMs: HOUR, nowMs: NOW })).rejects.toThrow(/never reused/);
    await expect(book.createTokens({ settings: SETTINGS, deviceId: 'Kiosk One', expiresInMs: HOUR })).rejects.toBeInstanceOf(EnrolmentBookError);
    await expect(book.createTokens({ settings: SETTINGS, deviceId: 'kiosk-two', count: 2, expiresInMs: HOUR })).rejects.toThrow(/one device/);
    await expect(book.createTokens({ settings: { ...SETTINGS, siteId: 'bad site' }, expiresInMs: HOUR })).rejects.toThrow(/site id/);
    await expect(book.createTokens({ settings: SETTINGS, count: 0, expiresInMs: HOUR })).rejects.toThrow(/count/);
    await expect(book.createTokens({ settings: SETTINGS, expiresInMs: 1_000 })).rejects.toThrow(/expiry/);
  });

  it('a device id prefix stays within the rule for long or odd site names', () => {
    const long = deviceIdPrefix('x'.repeat(80), 'dormitory');
    expect(`${long}99999`).toMatch(DEVICE_ID_PATTERN);
    expect(deviceIdPrefix('__', 'bus')).toBe('bus-');
    expect(`${deviceIdPrefix('Khu Công Nghiệp', 'canteen')}0001`).toMatch(DEVICE_ID_PATTERN);
  });

  it('a token is used once: lookup, consume with its certificate, then used; an expired or unknown one is refused', async () => {
    const [t] = await book.createTokens({ settings: SETTINGS, expiresInMs: HOUR, nowMs: NOW });
    const token = t!.token;
    const look = await book.lookup(token, NOW + 1);
    expect(look).toMatchObject({ ok: true, entry: { deviceId: t!.deviceId, state: 'pending', settings: SETTINGS } });
    const doc = new Uint8Array([1, 2, 3, 250]);
    const first = await book.consume(token, NOW + 2, { certificate: cert('7a01'), settingsDocument: doc });
    expect(first.ok).toBe(true);
    expect(await book.consume(token, NOW + 3)).toEqual({ ok: false, reason: 'TOKEN_USED', deviceId: t!.deviceId });
    expect(await book.lookup(token, NOW + 3)).toEqual({ ok: false, reason: 'TOKEN_USED', deviceId: t!.deviceId });
    const device = await book.device(t!.deviceId);
    expect(device).toMatchObject({ deviceId: t!.deviceId, enrolledAtMs: NOW + 2, certSerial: '7a01', revokedAtMs: null });
    expect([...device!.settingsDocument]).toEqual([...doc]);

    const [late] = await book.createTokens({ settings: SETTINGS, expiresInMs: HOUR, nowMs: NOW });
    expect(await book.lookup(late!.token, NOW + HOUR)).toMatchObject({ ok: false, reason: 'TOKEN_EXPIRED' });
    expect(await book.consume(late!.token, NOW + HOUR)).toMatchObject({ ok: false, reason: 'TOKEN_EXPIRED' });
    expect(await book.consume('A'.repeat(43), NOW)).toEqual({ ok: false, reason: 'TOKEN_UNKNOWN' });
    expect(await book.lookup('short', NOW)).toEqual({ ok: false, reason: 'TOKEN_UNKNOWN' });
    expect((await book.tokens(NOW + HOUR)).map((e) => e.state).sort()).toEqual(['expired', 'used']);
  });

  it('cancels pending tokens by device id or all pending of a site: a cancelled token is refused as unknown and listed as cancelled; a used one stays used', async () => {
    const other: EnrolmentSettings = { ...SETTINGS, siteId: 'site-b' };
    const [a, b, c] = await book.createTokens({ settings: SETTINGS, count: 3, expiresInMs: HOUR, nowMs: NOW });
    const [d] = await book.createTokens({ settings: other, expiresInMs: HOUR, nowMs: NOW });
    expect((await book.consume(c!.token, NOW + 1, { certificate: cert('c1'), settingsDocument: new Uint8Array([1]) })).ok).toBe(true);

    expect(await book.cancelTokens({ deviceIds: [a!.deviceId, c!.deviceId, 'nobody-0001'], nowMs: NOW + 2 })).toEqual({
      cancelled: [a!.deviceId],
      notPending: [
        { deviceId: c!.deviceId, state: 'used' },
        { deviceId: 'nobody-0001', state: 'unknown' },
      ],
    });
    expect(await book.lookup(a!.token, NOW + 3)).toEqual({ ok: false, reason: 'TOKEN_UNKNOWN', deviceId: a!.deviceId, cancelled: true });
    expect(await book.consume(a!.token, NOW + 3, { certificate: cert('a1'), settingsDocument: new Uint8Array([1]) })).toEqual({ ok: false, reason: 'TOKEN_UNKNOWN', deviceId: a!.deviceId, cancelled: true });
    expect(await book.device(a!.deviceId)).toBeUndefined();
    // Cancelling again finds nothing pending.
    expect((await book.cancelTokens({ deviceIds: [a!.deviceId], nowMs: NOW + 4 })).notPending).toEqual([{ deviceId: a!.deviceId, state: 'cancelled' }]);

    expect(await book.cancelTokens({ allPending: true, siteId: 'site-b', nowMs: NOW + 5 })).toEqual({ cancelled: [d!.deviceId], notPending: [] });
    expect((await book.lookup(b!.token, NOW + 6)).ok).toBe(true);
    expect(await book.cancelTokens({ allPending: true, nowMs: NOW + 7 })).toEqual({ cancelled: [b!.deviceId], notPending: [] });
    // Still cancelled (not "expired") long after the expiry time.
    const states = new Map((await book.tokens(NOW + 2 * HOUR)).map((t) => [t.deviceId, t.state]));
    expect(Object.fromEntries(states)).toEqual({ [a!.deviceId]: 'cancelled', [b!.deviceId]: 'cancelled', [c!.deviceId]: 'used', [d!.deviceId]: 'cancelled' });
    await expect(book.cancelTokens({ nowMs: NOW })).rejects.toBeInstanceOf(EnrolmentBookError);
    await expect(book.cancelTokens({ allPending: true, deviceIds: [a!.deviceId] })).rejects.toBeInstanceOf(EnrolmentBookError);
  });

  it('refuses an explicit device id a kiosk the hub knows already holds (placed at a site, or heard from), and numbers past them', async () => {
    await directory.assignSite('site-x', ['hand-kiosk-01', 'site-x-gate-0007']);
    const settings: EnrolmentSettings = { ...SETTINGS, siteId: 'site-x' };
    await expect(book.createTokens({ settings, expiresInMs: HOUR, deviceId: 'hand-kiosk-01', nowMs: NOW })).rejects.toThrow(/already used by a kiosk the hub knows/);
    await expect(book.createTokens({ settings, expiresInMs: HOUR, deviceId: 'heard-kiosk-02', knownIds: ['heard-kiosk-02'], nowMs: NOW })).rejects.toThrow(/already used by a kiosk the hub knows/);
    expect(await book.tokens(NOW)).toEqual([]);
    const made = await book.createTokens({ settings, count: 2, expiresInMs: HOUR, knownIds: ['site-x-gate-0009'], nowMs: NOW });
    expect(made.map((t) => t.deviceId)).toEqual(['site-x-gate-0010', 'site-x-gate-0011']);
    expect((await book.createTokens({ settings, expiresInMs: HOUR, deviceId: 'fresh-kiosk-03', knownIds: ['heard-kiosk-02'], nowMs: NOW }))[0]!.deviceId).toBe('fresh-kiosk-03');
  });

  it('a renewal replaces only the current certificate of a device not revoked', async () => {
    const [t] = await book.createTokens({ settings: SETTINGS, expiresInMs: HOUR, nowMs: NOW });
    await book.consume(t!.token, NOW, { certificate: { ...cert('0a01'), fingerprint: '01'.repeat(32) }, settingsDocument: new Uint8Array([1]) });
    const next = { ...cert('0a02'), fingerprint: '02'.repeat(32) };
    expect(await book.renewCertificate(t!.deviceId, '09'.repeat(32), next, NOW + 1)).toBe('superseded');
    expect(await book.renewCertificate(t!.deviceId, '01'.repeat(32), next, NOW + 1)).toBe('renewed');
    expect(await book.device(t!.deviceId)).toMatchObject({ certSerial: '0a02', certFingerprint: '02'.repeat(32) });
    expect(await book.renewCertificate(t!.deviceId, '01'.repeat(32), { ...cert('0a03'), fingerprint: '03'.repeat(32) }, NOW + 2)).toBe('superseded');
    await book.markRevoked(t!.deviceId, NOW + 3);
    expect(await book.renewCertificate(t!.deviceId, '02'.repeat(32), { ...cert('0a04'), fingerprint: '04'.repeat(32) }, NOW + 4)).toBe('revoked');
    expect(await book.renewCertificate('never-0001', '02'.repeat(32), cert('0a05'), NOW + 4)).toBe('unknown');
    // The certificate signed while the device was being revoked is never sent, and is on the CRL anyway.
    expect((await book.revokedSerials()).map((r) => r.serialHex)).toEqual(['0a01', '0a02', '0a04']);
  });

  it('of two concurrent consumes of one token, from two handles on the database, exactly one wins', async () => {
    const second = await HubDirectory.open(target);
    try {
      const other = new EnrolmentBook(second.sql);
      for (let round = 0; round < 5; round++) {
        const [t] = await book.createTokens({ settings: SETTINGS, expiresInMs: HOUR, nowMs: NOW });
        const results = await Promise.all([
          book.consume(t!.token, NOW + 1, { certificate: cert(`aa${round}1`), settingsDocument: new Uint8Array([1]) }),
          other.consume(t!.token, NOW + 1, { certificate: cert(`aa${round}2`), settingsDocument: new Uint8Array([2]) }),
        ]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, reason: 'TOKEN_USED', deviceId: t!.deviceId }]);
        // Only the winner's certificate was recorded.
        const serials = await directory.sql.all<{ serial_hex: string }>(sql`SELECT serial_hex FROM fleet_certificates WHERE device_id = ${t!.deviceId}`);
        expect(serials).toHaveLength(1);
      }
    } finally {
      await second.close();
    }
  });

  it('renewals add serials; revoking lists every serial of the device, once, and keeps the first time', async () => {
    const [a, b] = await book.createTokens({ settings: SETTINGS, count: 2, expiresInMs: HOUR, nowMs: NOW });
    await book.consume(a!.token, NOW, { certificate: cert('01aa'), settingsDocument: new Uint8Array([1]) });
    await book.consume(b!.token, NOW, { certificate: cert('02bb'), settingsDocument: new Uint8Array([1]) });
    await book.recordCertificate(a!.deviceId, { serialHex: '01ab', notAfterMs: NOW + 400 * 24 * HOUR, fingerprint: 'cd'.repeat(32) }, undefined, NOW + HOUR);
    await expect(book.recordCertificate('never-enrolled', cert('0fff'))).rejects.toThrow(/not enrolled/);
    expect(await book.device(a!.deviceId)).toMatchObject({ certSerial: '01ab', certFingerprint: 'cd'.repeat(32) });
    expect(await book.isRevoked(a!.deviceId)).toBe(false);
    expect(await book.revokedSerials()).toEqual([]);
    expect(await book.markRevoked(a!.deviceId, NOW + 2 * HOUR)).toEqual({ serials: ['01aa', '01ab'] });
    expect(await book.markRevoked(a!.deviceId, NOW + 3 * HOUR)).toEqual({ serials: ['01aa', '01ab'] });
    expect(await book.markRevoked('never-enrolled', NOW)).toBe('unknown');
    expect(await book.isRevoked(a!.deviceId)).toBe(true);
    expect(await book.isRevoked(b!.deviceId)).toBe(false);
    expect(await book.revokedSerials()).toEqual([
      { serialHex: '01aa', revokedAtMs: NOW + 2 * HOUR, deviceId: a!.deviceId },
      { serialHex: '01ab', revokedAtMs: NOW + 2 * HOUR, deviceId: a!.deviceId },
    ]);
    expect((await book.devices()).map((d) => [d.deviceId, d.revokedAtMs])).toEqual([
      [a!.deviceId, NOW + 2 * HOUR],
      [b!.deviceId, null],
    ]);
  });
});
