import { encode as base45Encode } from '@digitalbazaar/base45';
import { encode as cborEncode } from 'cborg';
import { PHONE_PASS_PREFIX, proofMessage } from '../../base/common/phone-proof.js';

/** A new non-extractable P-256 key pair for this phone (WebCrypto); only its public half can be exported. */
export async function makePhoneKey(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
}

/** The public key as the hub takes it: an EC P-256 JWK with only kty, crv, x and y. */
export async function publicJwk(key: CryptoKey): Promise<{ kty: string; crv: string; x: string; y: string }> {
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', key);
  if (!kty || !crv || !x || !y) throw new Error('the browser exported an incomplete key');
  return { kty, crv, x, y };
}

/**
 * The code the phone shows now (base/common/phone-proof.ts): the pass, the time in whole seconds,
 * and this phone's signature over "SGP1" ‖ SHA-256(pass) ‖ time.
 */
export async function phoneCode(pass: Uint8Array<ArrayBuffer>, key: CryptoKey, nowMs: number): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', pass));
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, new Uint8Array(proofMessage(digest, t))));
  // A fresh copy: the Base45 encoder reads the whole underlying buffer, and cborg's output is a view.
  return PHONE_PASS_PREFIX + base45Encode(new Uint8Array(cborEncode([pass, t, signature])));
}

export function base64urlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
