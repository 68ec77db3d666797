/**
 * What a phone page sends the hub on its own (a health declaration, a checkpoint visit), signed with
 * the phone's non-extractable key: no session cookie, no password. The hub learns which bound phone,
 * and so which worker, made it from the phone pass the upload carries (the hub signed it, and it holds
 * the phone's public key). Both sides build the signed message byte for byte:
 *
 *   body           = { pass: base64url(COSE_Sign1 phone pass), payload: JSON text, sig: base64url(r ‖ s) }
 *   signed message = "SGU1" (4 ASCII bytes) ‖ SHA-256(pass) (32 bytes) ‖ SHA-256(UTF-8 payload) (32 bytes)
 *
 * The payload names its kind and carries an id the phone made, so an upload sent twice is kept once
 * and a signature made for one kind cannot pass as another. The fixed context bytes keep this apart
 * from the gate proof ("SGP1", base/common/phone-proof.ts).
 */
const CONTEXT = [0x53, 0x47, 0x55, 0x31]; // "SGU1"

/** The largest payload a phone sends (UTF-8 bytes). */
export const MAX_UPLOAD_PAYLOAD_BYTES = 4_096;
/** An id a phone makes for what it uploads: 16 random bytes in base64url. */
export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export function uploadMessage(passSha256: Uint8Array, payloadSha256: Uint8Array): Uint8Array {
  if (passSha256.length !== 32 || payloadSha256.length !== 32) throw new Error('both hashes must be 32 bytes');
  const out = new Uint8Array(4 + 32 + 32);
  out.set(CONTEXT, 0);
  out.set(passSha256, 4);
  out.set(payloadSha256, 36);
  return out;
}
