/**
 * The visitor pseudonym keyring (issue 14): a root-only (0600) JSON file next to the settings that
 * holds the HMAC keys a visitor's ID number (or certificate identifier) is hashed under. The
 * database never holds the number, only `v<keyId>.<hex>` (VISITOR_ID_PATTERN), so a copy of the
 * database alone does not say whose ID it was; whoever holds this file can search for a number.
 *
 * Rotation: the current key is replaced when older than the rotation period (never shorter than the
 * retention period); the old key is kept, retired, for matching (a visitor scans out across a
 * rotation, and is traced) until it has been retired longer than the retention period, then dropped.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { VISITOR_ID_PATTERN } from '../common/visitor.js';

const DAY_MS = 86_400_000;

export type VisitorIdKind = 'cccd' | 'dcc';

export class VisitorKeyringError extends Error {
  override name = 'VisitorKeyringError';
}

const keySchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9]{1,8}$/),
  secret: z.string().regex(/^[0-9a-f]{64}$/),
  createdMs: z.number().int().nonnegative(),
  retiredMs: z.number().int().nonnegative().optional(),
});
const fileSchema = z.strictObject({ v: z.literal(1), keys: z.array(keySchema).min(1).max(1000) });
type KeyRecord = z.infer<typeof keySchema>;

export interface VisitorKeyringOptions {
  /** store.retentionDays: retired keys are kept this long after retirement. */
  retentionDays: number;
  /** visitors.keyRotationDays; absent or shorter than the retention: the retention. */
  rotationDays?: number;
  now?: () => number;
}

/** Writes a 0600 file whole and atomically (temporary file + rename), never through a link. */
function writeKeyFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export class VisitorKeyring {
  private keys: KeyRecord[];
  private readonly retentionMs: number;
  private readonly rotationMs: number;
  private readonly now: () => number;

  private constructor(
    private readonly file: string,
    keys: KeyRecord[],
    opts: VisitorKeyringOptions,
  ) {
    this.keys = keys;
    this.retentionMs = opts.retentionDays * DAY_MS;
    this.rotationMs = Math.max(opts.rotationDays ?? opts.retentionDays, opts.retentionDays) * DAY_MS;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Opens the keyring file, or makes it (0600) when absent. Refuses a file others can read (group
   * or world bits), a link, or a file that is not a keyring: the message says how to fix it.
   */
  static open(file: string, opts: VisitorKeyringOptions): VisitorKeyring {
    if (!Number.isInteger(opts.retentionDays) || opts.retentionDays < 1) throw new VisitorKeyringError('retentionDays must be a whole number of days, at least 1');
    let text: string | undefined;
    try {
      const st = lstatSync(file);
      if (!st.isFile()) throw new VisitorKeyringError(`${file} is not a plain file (a link or a folder is in its place); remove it`);
      if ((st.mode & 0o077) !== 0) {
        throw new VisitorKeyringError(
          `the visitor key file ${file} can be read by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file} (and chown it to the kiosk's user), then start again`,
        );
      }
      const uid = process.getuid?.();
      if (uid !== undefined && st.uid !== uid) throw new VisitorKeyringError(`the visitor key file ${file} belongs to another user (uid ${st.uid}); chown it to the kiosk's user`);
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof VisitorKeyringError) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new VisitorKeyringError(`cannot read the visitor key file ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    }
    const now = (opts.now ?? Date.now)();
    let keys: KeyRecord[];
    if (text === undefined) {
      keys = [];
    } else {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const parsed = fileSchema.safeParse(json);
      if (!parsed.success) {
        throw new VisitorKeyringError(`${file} is not a SafeGate visitor keyring; move it away to make a new one (registered visitors will then not be recognised)`);
      }
      keys = parsed.data.keys;
      if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new VisitorKeyringError(`${file} names one key id twice; move it away to make a new one`);
    }
    const ring = new VisitorKeyring(file, keys, opts);
    ring.maintain(now, text === undefined);
    return ring;
  }

  /** The current key: rotated when too old; retired keys past the retention dropped. Persists any change. */
  private maintain(now: number, force = false): void {
    let changed = force;
    const current = this.keys.find((k) => k.retiredMs === undefined);
    if (!current || now - current.createdMs >= this.rotationMs) {
      if (current) current.retiredMs = now;
      this.keys.push({ id: this.newId(), secret: randomBytes(32).toString('hex'), createdMs: now });
      changed = true;
    }
    const kept = this.keys.filter((k) => k.retiredMs === undefined || now - k.retiredMs < this.retentionMs);
    if (kept.length !== this.keys.length) {
      this.keys = kept;
      changed = true;
    }
    if (changed) writeKeyFile(this.file, JSON.stringify({ v: 1, keys: this.keys }) + '\n');
  }

  private newId(): string {
    for (;;) {
      const id = randomBytes(4).toString('hex').slice(0, 6);
      if (!this.keys.some((k) => k.id === id)) return id;
    }
  }

  /** Rotates and drops keys as time passes (call daily or before use; cheap when nothing is due). */
  tick(): void {
    this.maintain(this.now());
  }

  /** The id of the key new pseudonyms are made under. */
  currentKeyId(): string {
    this.tick();
    return this.current().id;
  }

  private current(): KeyRecord {
    const k = this.keys.find((x) => x.retiredMs === undefined);
    if (!k) throw new VisitorKeyringError('no current visitor key');
    return k;
  }

  private static idUnder(key: KeyRecord, kind: VisitorIdKind, value: string): string {
    const mac = createHmac('sha256', Buffer.from(key.secret, 'hex')).update(`${kind}:${value}`, 'utf8').digest('hex');
    return `v${key.id}.${mac.slice(0, 32)}`;
  }

  /** The visitor id of this number (or certificate identifier) under the current key. */
  pseudonym(kind: VisitorIdKind, value: string): { visitorId: string; keyId: string } {
    this.tick();
    const key = this.current();
    const visitorId = VisitorKeyring.idUnder(key, kind, value);
    if (!VISITOR_ID_PATTERN.test(visitorId)) throw new VisitorKeyringError('visitor id out of pattern');
    return { visitorId, keyId: key.id };
  }

  /** The visitor ids of this number under every kept key, the current key's first (for matching). */
  candidates(kind: VisitorIdKind, value: string): string[] {
    this.tick();
    const ordered = [...this.keys].sort((a, b) => (a.retiredMs === undefined ? -1 : b.retiredMs === undefined ? 1 : b.createdMs - a.createdMs));
    return ordered.map((k) => VisitorKeyring.idUnder(k, kind, value));
  }

  /** Key ids kept (current first), for tests and `config check`. */
  keyIds(): string[] {
    this.tick();
    return [this.current().id, ...this.keys.filter((k) => k.retiredMs !== undefined).map((k) => k.id)];
  }
}
