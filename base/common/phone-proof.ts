/**
 * The phone proof of a phone-bound pass, the part both sides build byte for byte: the phone page (in
 * the browser, WebCrypto) signs it, the kiosk (Node) verifies it. See docs/worker-pass.md.
 *
 *   shown QR text  = "SGP1:" + Base45( CBOR [ pass: bstr, t: uint, sig: bstr ] )
 *   signed message = "SGP1" (4 ASCII bytes) ‖ SHA-256(pass) (32 bytes) ‖ t (8 bytes, unsigned big-endian)
 *   sig            = ECDSA P-256 with SHA-256 over the signed message, r ‖ s (64 bytes, IEEE P1363:
 *                    what WebCrypto returns)
 *
 * `pass` is the hub's COSE_Sign1 exactly as issued (it carries the phone's public key in its `cnf`
 * claim); `t` is the phone's clock in whole seconds since 1970. Hashing the whole pass binds the proof
 * to that pass (its id, worker, expiry and key), so it cannot be moved onto another; the fixed
 * context bytes keep a signature the phone key makes for anything else from passing as a proof.
 */
export const PHONE_PASS_PREFIX = 'SGP1:';
const CONTEXT = [0x53, 0x47, 0x50, 0x31]; // "SGP1"
export const PROOF_SIGNATURE_BYTES = 64;
/** Largest proof time accepted: the end of year 9999, as for pass claims. */
export const MAX_PROOF_SECONDS = 253_402_300_799;

export function proofMessage(passSha256: Uint8Array, tSeconds: number): Uint8Array {
  if (passSha256.length !== 32) throw new Error('the pass hash must be 32 bytes');
  if (!Number.isSafeInteger(tSeconds) || tSeconds < 0 || tSeconds > MAX_PROOF_SECONDS) throw new Error('the proof time must be whole seconds since 1970');
  const out = new Uint8Array(4 + 32 + 8);
  out.set(CONTEXT, 0);
  out.set(passSha256, 4);
  new DataView(out.buffer).setBigUint64(36, BigInt(tSeconds));
  return out;
}
