import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SqliteDatabase } from '../../../base/node/sqlite.js';
import { isLegacyPinHash, pepperLegacyPinHash } from '../supervisor/pin.js';

/**
 * Secrets the kiosk's database must not hold, so that someone who copies only the database learns
 * nothing from them: the key of the keyed hash under which unknown codes are logged (without it the
 * hashes cannot be tested against guesses) and the pepper mixed into supervisor PIN hashes (without
 * it a short PIN cannot be brute-forced from its hash). They live in a key file readable only by the
 * kiosk's user (0600), beside the settings, not the database.
 */
export interface StoreSecrets {
  codeHashKey: string;
  pinPepper: Buffer;
}

const keyFileSchema = z
  .object({
    v: z.literal(1),
    codeHashKey: z.string().regex(/^[0-9a-f]{64}$/),
    pinPepper: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

export class KeyFileError extends Error {
  override name = 'KeyFileError';
}

function fingerprint(s: { codeHashKey: string; pinPepper: string }): string {
  return createHash('sha256').update(`${s.codeHashKey}:${s.pinPepper}`).digest('hex').slice(0, 16);
}

/**
 * Reads the key file, or makes it (0600, never overwriting) the first time. A database from before
 * the key file gives up what it held: its code-hash key moves into the file (so old and new hashes
 * of the same code still match) and its PIN hash is peppered in place.
 */
export function openStoreSecrets(keyFile: string, db: SqliteDatabase, log: Logger): StoreSecrets {
  const meta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
  const held = meta.get('code_hash_key') as string | undefined;
  let file: z.infer<typeof keyFileSchema>;
  let text: string | undefined;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KeyFileError(`cannot read the key file ${keyFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (text !== undefined) {
    const parsed = keyFileSchema.safeParse((() => { try { return JSON.parse(text) as unknown; } catch { return undefined; } })());
    if (!parsed.success) throw new KeyFileError(`${keyFile} is not a SafeGate key file; move it away and start again to make a new one (the supervisor PIN must then be set again)`);
    file = parsed.data;
    const st = statSync(keyFile);
    if ((st.mode & 0o077) !== 0) {
      if (st.uid === process.getuid?.()) chmodSync(keyFile, 0o600);
      else log.warn({ keyFile }, 'the key file can be read by others than the kiosk; make it 0600');
    }
  } else {
    file = { v: 1, codeHashKey: held && /^[0-9a-f]{64}$/.test(held) ? held : randomBytes(32).toString('hex'), pinPepper: randomBytes(32).toString('hex') };
    let fd: number;
    try {
      fd = openSync(keyFile, 'wx', 0o600);
    } catch (err) {
      throw new KeyFileError(`cannot make the key file ${keyFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      writeSync(fd, JSON.stringify(file) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    log.info({ keyFile }, 'key file made');
  }
  const pinPepper = Buffer.from(file.pinPepper, 'hex');
  const id = fingerprint(file);
  db.transaction(() => {
    const known = meta.get('key_file_id') as string | undefined;
    if (known !== undefined && known !== id) {
      log.error({ keyFile }, 'this key file was not made for this database: unknown-code hashes will not match older ones, and the supervisors\' PINs must be set again');
    }
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run('key_file_id', id);
    // secure_delete is on: the old key's bytes are overwritten, not left in a free page.
    db.prepare("DELETE FROM meta WHERE key = 'code_hash_key'").run();
    const pins = db.prepare('SELECT id, hash FROM supervisors').all() as { id: string; hash: string }[];
    for (const pin of pins) {
      if (isLegacyPinHash(pin.hash)) db.prepare('UPDATE supervisors SET hash = ? WHERE id = ?').run(pepperLegacyPinHash(pin.hash, pinPepper), pin.id);
    }
  })();
  return { codeHashKey: file.codeHashKey, pinPepper };
}
