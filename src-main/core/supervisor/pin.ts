import { createHmac, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Supervisor PINs are short, so only a slow, memory-hard KDF makes a stolen database expensive to
 * brute-force: scrypt with N = 2^15, r = 8 (32 MiB, about 0.1 s on a Raspberry Pi 4), a random salt
 * per PIN. Stored as `scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>` so parameters can rise later.
 */
const LOG2_N = 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

/** A new PIN: 6 to 12 digits. */
export const PIN_PATTERN = /^[0-9]{6,12}$/;
export const PIN_RULE = 'a supervisor PIN is 6 to 12 digits';
/**
 * A hub supervisor's PIN: 10 to 12 digits. Its hash travels to every kiosk of the site without the
 * kiosk's pepper (the hub has none), so a stolen kiosk of the site gives it up for offline guessing:
 * at scrypt N = 2^15 a 6-digit PIN falls in about 43 core-hours, a 10-digit one needs some 49
 * core-years. `safegate hub supervisor rotate --site S` gives a site's hub supervisors new PINs when
 * one of its kiosks is lost.
 */
export const HUB_PIN_PATTERN = /^[0-9]{10,12}$/;
export const HUB_PIN_RULE = "a hub supervisor's PIN is 10 to 12 digits (its hash reaches every kiosk of the site)";

/**
 * What a sign-in may try: also 4 or 5 digits, the single kiosk PIN of before named supervisors,
 * which the upgrade kept as the supervisor `supervisor` until it is changed.
 */
export const LOGIN_PIN_PATTERN = /^[0-9]{4,12}$/;

export class PinFormatError extends Error {
  override name = 'PinFormatError';
}

function derive(pin: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(pin.normalize('NFKC'), salt, KEY_BYTES, { ...opts, maxmem: 256 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/**
 * The derived key is then keyed with a pepper from the kiosk's key file (HMAC-SHA-256), which is not
 * in the database: a copy of the database alone cannot be used to try PINs. Stored as
 * `scrypt-pepper$<log2 N>$<r>$<p>$<salt b64>$<hmac b64>`.
 */
const PEPPERED = 'scrypt-pepper';
const LEGACY = 'scrypt';

function pepper(key: Buffer, pinPepper: Buffer): Buffer {
  return createHmac('sha256', pinPepper).update(key).digest();
}

export async function hashPin(pin: string, pinPepper: Buffer): Promise<string> {
  if (!PIN_PATTERN.test(pin)) throw new PinFormatError(PIN_RULE);
  const salt = randomBytes(16);
  const key = await derive(pin, salt, { N: 2 ** LOG2_N, r: R, p: P });
  return [PEPPERED, LOG2_N, R, P, salt.toString('base64'), pepper(key, pinPepper).toString('base64')].join('$');
}

/**
 * A PIN hash made at the hub for a hub supervisor (`safegate hub supervisor add`): the same scrypt,
 * without a pepper (the hub has none of the kiosks'); each kiosk peppers it on arrival
 * (pepperLegacyPinHash), so its database alone still cannot be used to try PINs.
 */
export async function hashPinForHub(pin: string): Promise<string> {
  if (!HUB_PIN_PATTERN.test(pin)) throw new PinFormatError(HUB_PIN_RULE);
  const salt = randomBytes(16);
  const key = await derive(pin, salt, { N: 2 ** LOG2_N, r: R, p: P });
  return [LEGACY, LOG2_N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPin(pin: string, stored: string, pinPepper: Buffer): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || (parts[0] !== PEPPERED && parts[0] !== LEGACY)) throw new Error('unrecognised PIN hash format');
  const [kind, logN, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(pin, Buffer.from(salt, 'base64'), { N: 2 ** Number(logN), r: Number(r), p: Number(p) });
  const actual = kind === PEPPERED ? pepper(key, pinPepper) : key;
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A hash from before PINs were peppered (kept in the database alone). */
export function isLegacyPinHash(stored: string): boolean {
  return stored.startsWith(`${LEGACY}$`);
}

/** Peppers a legacy hash in place: the same PIN still verifies, and the database alone no longer tests it. */
export function pepperLegacyPinHash(stored: string, pinPepper: Buffer): string {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== LEGACY) throw new Error('not a legacy PIN hash');
  parts[0] = PEPPERED;
  parts[5] = pepper(Buffer.from(parts[5]!, 'base64'), pinPepper).toString('base64');
  return parts.join('$');
}
