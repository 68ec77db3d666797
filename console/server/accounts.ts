import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';
import { IDENTIFIER_PATTERN, IDENTIFIER_RULE } from '../../base/common/ids.js';

/**
 * Console accounts and their roles. A province operator may do everything; an organisation
 * manager sees only their organisation (the account carries its id); a health officer reads across
 * organisations and changes nothing.
 */
export const CONSOLE_ROLES = ['operator', 'manager', 'health'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

export const accountNameSchema = z.string().regex(IDENTIFIER_PATTERN, `an account name is ${IDENTIFIER_RULE}`);
export const PASSWORD_RULE = 'a console password is 12 to 200 characters';
export const passwordSchema = z.string().min(12, PASSWORD_RULE).max(200, PASSWORD_RULE);

export const newAccountSchema = z
  .strictObject({
    name: accountNameSchema,
    role: z.enum(CONSOLE_ROLES),
    org: z.string().regex(IDENTIFIER_PATTERN, `an organisation id is ${IDENTIFIER_RULE}`).optional(),
    password: passwordSchema,
  })
  .refine((a) => (a.role === 'manager') === (a.org !== undefined), {
    message: 'an organisation manager names their organisation (--org), and only a manager does',
    path: ['org'],
  });
export type NewAccount = z.infer<typeof newAccountSchema>;

export interface ConsoleAccount {
  name: string;
  role: ConsoleRole;
  /** Set for an organisation manager only. */
  org: string | undefined;
  createdAt: string;
}

export interface StoredAccount extends ConsoleAccount {
  passwordHash: string;
  /** Wrong passwords in a row since the last sign-in. */
  failures: number;
  /** Epoch ms until which sign-in is refused without looking at the password. */
  lockedUntil: number;
}

export interface ConsoleSession {
  account: ConsoleAccount;
  expiresAt: number;
}

export interface AuditEntry {
  at: string;
  /** The signed-in account, or the name typed at a sign-in. */
  account: string;
  action: string;
  target: string;
  outcome: 'ok' | 'refused' | 'failed';
  ip: string;
}

/**
 * What the console keeps: accounts, sessions, the audit trail. SQLite now (console/server/sqlite-store.ts);
 * every call returns a promise so a PostgreSQL store can follow behind the same interface.
 */
export interface ConsoleStore {
  addAccount(account: NewAccount, passwordHash: string, now: number): Promise<void>;
  account(name: string): Promise<StoredAccount | undefined>;
  accounts(): Promise<ConsoleAccount[]>;
  recordFailure(name: string, failures: number, lockedUntil: number): Promise<void>;
  recordSuccess(name: string): Promise<void>;
  /** Sessions are kept by the SHA-256 of their token: the database alone cannot be used to sign in. */
  createSession(tokenHash: string, name: string, expiresAt: number): Promise<void>;
  session(tokenHash: string, now: number): Promise<ConsoleSession | undefined>;
  endSession(tokenHash: string): Promise<void>;
  audit(entry: AuditEntry): Promise<void>;
  auditTrail(limit: number): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export class AccountError extends Error {
  override name = 'AccountError';
}

// scrypt with N = 2^15, r = 8 (32 MiB), as the kiosk's supervisor PINs (src-main/core/supervisor/pin.ts).
const LOG2_N = 15;
const R = 8;
const P = 1;

function derive(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, 32, { ...opts, maxmem: 256 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** `scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>`, so the parameters can rise later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, { N: 2 ** LOG2_N, r: R, p: P });
  return ['scrypt', LOG2_N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw new Error('unrecognised password hash format');
  const [, logN, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), { N: 2 ** Number(logN), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash to verify against when the account does not exist, so a wrong name costs as long as a wrong password. */
export const DECOY_HASH = 'scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Wrong passwords in a row allowed before the first lockout. */
export const FREE_FAILURES = 5;
const MAX_LOCKOUT_MS = 24 * 3_600_000;

/**
 * The lockout after `failures` wrong passwords in a row: none for the first few, then the base
 * period, doubling with each further wrong password (capped at a day).
 */
export function lockoutMs(failures: number, baseMs: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(MAX_LOCKOUT_MS, baseMs * 2 ** Math.min(30, failures - FREE_FAILURES));
}
