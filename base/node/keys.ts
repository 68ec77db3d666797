import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

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

export interface TrustedKey {
  kid: string;
  algorithm: SigningAlgorithm;
  key: KeyObject;
  source: string;
}

/** The hub's public signing keys the kiosk trusts, by key id; several at once so keys can rotate. */
export class HubKeyring {
  private readonly byKid = new Map<string, TrustedKey>();

  add(key: KeyObject, source: string): TrustedKey {
    const publicKey = key.type === 'private' ? createPublicKey(key) : key;
    const trusted: TrustedKey = {
      kid: keyIdText(keyIdOf(publicKey)),
      algorithm: algorithmOfKey(publicKey),
      key: publicKey,
      source,
    };
    this.byKid.set(trusted.kid, trusted);
    return trusted;
  }

  remove(kid: string): boolean {
    return this.byKid.delete(kid);
  }

  get(kid: string): TrustedKey | undefined {
    return this.byKid.get(kid);
  }

  get size(): number {
    return this.byKid.size;
  }

  list(): TrustedKey[] {
    return [...this.byKid.values()];
  }

  /** Loads every `*.pub.pem` in a folder. A file that is not a usable public key is an error naming it. */
  static fromDirectory(dir: string): HubKeyring {
    const ring = new HubKeyring();
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.pub.pem')).sort();
    } catch (err) {
      throw new Error(`cannot read the keys folder ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
    for (const name of names) {
      const file = join(dir, name);
      try {
        ring.add(createPublicKey(readFileSync(file)), file);
      } catch (err) {
        throw new Error(`${file}: not a usable public key: ${(err as Error).message}`, { cause: err });
      }
    }
    return ring;
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
