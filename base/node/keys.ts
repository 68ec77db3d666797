import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_ROLES, KEY_ROLE_NAMES, type KeyRole } from '../common/key-roles.js';

/** COSE algorithm identifiers (RFC 9053). */
export const COSE_ALG = { EdDSA: -8, ES256: -7 } as const;
export type SigningAlgorithm = keyof typeof COSE_ALG;

export function algorithmOfKey(key: KeyObject): SigningAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use Ed25519 or P-256)`);
}

/**
 * Key id as the EU DCC defines it: the first 8 bytes of SHA-256 over the public key's
 * SubjectPublicKeyInfo DER. Hub and kiosk derive it independently from the key itself.
 */
export function keyIdOf(key: KeyObject): Uint8Array {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return new Uint8Array(createHash('sha256').update(spki).digest().subarray(0, 8));
}

export function keyIdText(kid: Uint8Array): string {
  return Buffer.from(kid).toString('base64');
}

/** A key id as a file name part (base64 without / + =). */
export function keyIdFileName(kid: string): string {
  return kid.replace(/[/+=]/g, (c) => ({ '/': '_', '+': '-', '=': '' })[c] ?? '');
}

export interface TrustedKey {
  kid: string;
  algorithm: SigningAlgorithm;
  key: KeyObject;
  role: KeyRole;
  /**
   * installed: put in `keys/<role>/` by IT staff, a trust anchor, trusted until removed.
   * downloaded: brought by the hub's keys stream, vouched for by the installed downlink key
   * `anchorKid`; trusted only while that anchor is installed and until `notAfterMs`.
   */
  origin: 'installed' | 'downloaded';
  anchorKid?: string;
  notAfterMs?: number;
  /** Where it came from (a file, or the hub), for messages. */
  source: string;
}

export interface AddKeyOptions {
  role: KeyRole;
  source: string;
  origin?: 'installed' | 'downloaded';
  anchorKid?: string;
  notAfterMs?: number;
}

/** The hub's public signing keys this kiosk trusts, by key id, each for one role; several per role so keys can rotate. */
export class HubKeyring {
  private readonly byKid = new Map<string, TrustedKey>();

  add(key: KeyObject, options: AddKeyOptions): TrustedKey {
    const publicKey = key.type === 'private' ? createPublicKey(key) : key;
    const kid = keyIdText(keyIdOf(publicKey));
    const held = this.byKid.get(kid);
    if (held && held.role !== options.role) {
      throw new Error(`key ${kid} is already trusted as a ${held.role} key (${held.source}); one key serves one role`);
    }
    // A downloaded copy never replaces an installed anchor.
    if (held?.origin === 'installed' && options.origin === 'downloaded') return held;
    const trusted: TrustedKey = {
      kid,
      algorithm: algorithmOfKey(publicKey),
      key: publicKey,
      role: options.role,
      origin: options.origin ?? 'installed',
      ...(options.anchorKid ? { anchorKid: options.anchorKid } : {}),
      ...(options.notAfterMs !== undefined ? { notAfterMs: options.notAfterMs } : {}),
      source: options.source,
    };
    this.byKid.set(kid, trusted);
    return trusted;
  }

  remove(kid: string): boolean {
    return this.byKid.delete(kid);
  }

  /** Any key with this id, whatever its role or validity (for explanations). */
  lookup(kid: string): TrustedKey | undefined {
    return this.byKid.get(kid);
  }

  /**
   * The key with this id if it may verify for `role` at `nowMs`: the right role, and for a
   * downloaded key, its anchor still installed and its lifetime not over.
   */
  get(kid: string, role: KeyRole, nowMs = Date.now()): TrustedKey | undefined {
    const k = this.byKid.get(kid);
    if (!k || k.role !== role) return undefined;
    if (k.origin === 'downloaded') {
      if (k.notAfterMs !== undefined && nowMs >= k.notAfterMs) return undefined;
      const anchor = k.anchorKid ? this.byKid.get(k.anchorKid) : undefined;
      if (!anchor || anchor.origin !== 'installed' || anchor.role !== 'downlink') return undefined;
    }
    return k;
  }

  get size(): number {
    return this.byKid.size;
  }

  list(): TrustedKey[] {
    return [...this.byKid.values()];
  }

  count(role: KeyRole): number {
    return this.list().filter((k) => k.role === role).length;
  }

  /**
   * Loads a kiosk's keys folder: `<dir>/<role>/*.pub.pem` for each role (e.g. keys/pass/,
   * keys/downlink/). A public key straight in `<dir>` has no role and is refused with a message
   * saying where it goes; so is a file that is not a usable public key.
   */
  static fromDirectory(dir: string): HubKeyring {
    const ring = new HubKeyring();
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      throw new Error(`cannot read the keys folder ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
    const loose = names.filter((n) => n.endsWith('.pub.pem'));
    if (loose.length) {
      throw new Error(
        `${join(dir, loose[0]!)}: a hub key must be in the folder of its role: ${KEY_ROLE_NAMES.map((r) => `${join(dir, r)}/ (${KEY_ROLES[r].description})`).join(', or ')}`,
      );
    }
    for (const role of KEY_ROLE_NAMES) {
      const sub = join(dir, role);
      if (!existsSync(sub) || !statSync(sub).isDirectory()) continue;
      ring.addFolder(sub, role);
    }
    return ring;
  }

  /** Adds every `*.pub.pem` in one folder as installed keys of one role. */
  addFolder(folder: string, role: KeyRole): this {
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch (err) {
      throw new Error(`cannot read the keys folder ${folder} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
    for (const name of names.filter((n) => n.endsWith('.pub.pem')).sort()) {
      const file = join(folder, name);
      let key: KeyObject;
      try {
        key = createPublicKey(readFileSync(file));
        algorithmOfKey(key);
      } catch (err) {
        throw new Error(`${file}: not a usable public key: ${(err as Error).message}`, { cause: err });
      }
      this.add(key, { role, source: file, origin: 'installed' });
    }
    return this;
  }
}

/** Parses a public key and checks it is one we can verify with and that it has the given key id. */
export function publicKeyWithId(publicPem: string, kid: string): KeyObject {
  const key = createPublicKey(publicPem);
  algorithmOfKey(key);
  const actual = keyIdText(keyIdOf(key));
  if (actual !== kid) throw new Error(`key id ${kid} does not match the key (${actual})`);
  return key;
}

export interface GeneratedKeyPair {
  algorithm: SigningAlgorithm;
  kid: string;
  privatePem: string;
  publicPem: string;
}

export function generateSigningKeyPair(algorithm: SigningAlgorithm = 'EdDSA'): GeneratedKeyPair {
  const { privateKey, publicKey } =
    algorithm === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    algorithm,
    kid: keyIdText(keyIdOf(publicKey)),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
