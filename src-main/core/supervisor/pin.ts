import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Supervisor PINs are short, so only a slow, memory-hard KDF makes a stolen database expensive to
 * brute-force: scrypt with N = 2^15, r = 8 (32 MiB, about 0.1 s on a Raspberry Pi 4), a random salt
 * per PIN. Stored as `scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>` so parameters can rise later.
 */
const LOG2_N = 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

export const PIN_PATTERN = /^[0-9]{4,12}$/;

export class PinFormatError extends Error {
  override name = 'PinFormatError';
}

function derive(pin: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(pin.normalize('NFKC'), salt, KEY_BYTES, { ...opts, maxmem: 256 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPin(pin: string): Promise<string> {
  if (!PIN_PATTERN.test(pin)) throw new PinFormatError('a supervisor PIN is 4 to 12 digits');
  const salt = randomBytes(16);
  const key = await derive(pin, salt, { N: 2 ** LOG2_N, r: R, p: P });
  return ['scrypt', LOG2_N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPin(pin: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw new Error('unrecognised PIN hash format');
  const [, logN, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(pin, Buffer.from(salt, 'base64'), { N: 2 ** Number(logN), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
