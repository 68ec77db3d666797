import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { MAX_UPLOAD_PAYLOAD_BYTES, uploadMessage } from '../../base/common/phone-upload.js';
import { CoseFormatError } from '../../base/node/cose.js';
import { HubKeyring } from '../../base/node/keys.js';
import { checkValidity, claimsFromCbor, holderPublicKey, type PassClaims } from '../../base/node/pass.js';
import { openSigned } from '../../base/node/signed.js';

/**
 * The hub's check of what a phone page uploads on its own (base/common/phone-upload.ts): the phone
 * pass it carries must be signed by this hub's phone-pass key, live in the pass registry (not revoked,
 * not expired, a phone pass of the same worker), and the upload signed by the phone key that pass
 * holds. Only then is the payload read. Every refusal is a PhoneUploadError with a status and plain
 * words; nothing here logs, and nothing of the payload is in a refusal.
 */

export class PhoneUploadError extends Error {
  override name = 'PhoneUploadError';
  constructor(
    message: string,
    /** The HTTP status the phone page gets: 400 out of shape, 401 not a live phone of this hub, 409 conflict, 503 no key. */
    readonly status: 400 | 401 | 409 | 503,
  ) {
    super(message);
  }
}

/** Who sent a verified upload, and what. */
export interface VerifiedUpload {
  workerId: string;
  passId: string;
  /** The payload's JSON, parsed (the caller checks its shape). */
  payload: unknown;
}

/** What the registry says of a pass (sync/hub/passes.ts PassRegistry.pass). */
export interface PassLookup {
  pass(passId: string): Promise<{ workerId: string; kind: string; revokedAtMs: number | null } | undefined>;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** A phone pass is a few hundred bytes; this bounds what is decoded before any signature is checked. */
const MAX_PASS_BYTES = 2_048;

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

export class PhoneUploads {
  private readonly keyring = new HubKeyring();

  constructor(
    /** The hub's phone-pass key (private or public); without it no upload can be verified. */
    phonePassKey: KeyObject | undefined,
    private readonly passes: PassLookup,
  ) {
    if (phonePassKey) this.keyring.add(phonePassKey, { role: 'phone-pass', source: 'the hub settings (phone.passKey)' });
    this.hasKey = phonePassKey !== undefined;
  }

  private readonly hasKey: boolean;

  /** Checks an upload's body (any JSON a client sent) at the hub's clock `nowMs`. */
  async verify(body: unknown, nowMs: number): Promise<VerifiedUpload> {
    if (!this.hasKey) throw new PhoneUploadError('this hub has no phone-pass key: phone uploads cannot be checked', 503);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new PhoneUploadError('the upload is not an object', 400);
    const { pass, payload, sig, ...extra } = body as Record<string, unknown>;
    if (Object.keys(extra).length) throw new PhoneUploadError('the upload has fields other than pass, payload and sig', 400);
    if (typeof pass !== 'string' || !BASE64URL.test(pass) || pass.length === 0 || pass.length > Math.ceil((MAX_PASS_BYTES * 4) / 3)) throw new PhoneUploadError('the pass is not base64url of at most 2 KB', 400);
    if (typeof sig !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(sig)) throw new PhoneUploadError('the signature is not 64 bytes in base64url', 400);
    if (typeof payload !== 'string') throw new PhoneUploadError('the payload is not a text', 400);
    const payloadBytes = Buffer.from(payload, 'utf8');
    if (payloadBytes.length > MAX_UPLOAD_PAYLOAD_BYTES) throw new PhoneUploadError(`the payload is over ${MAX_UPLOAD_PAYLOAD_BYTES} bytes`, 400);
    const passBytes = new Uint8Array(Buffer.from(pass, 'base64url'));

    const opened = openSigned(passBytes, this.keyring, 'phone-pass', nowMs);
    if (!opened.ok) throw new PhoneUploadError(`the phone pass is not this hub's (${opened.detail})`, 401);
    let claims: PassClaims;
    let phoneKey: KeyObject;
    try {
      claims = claimsFromCbor(opened.payload);
      if (!claims.holderKey || !claims.passId) throw new CoseFormatError('a phone pass without its phone key or pass id');
      phoneKey = holderPublicKey(claims.holderKey);
    } catch (err) {
      throw new PhoneUploadError(`the phone pass is out of shape (${(err as Error).message})`, 401);
    }
    const passId = claims.passId;
    const record = await this.passes.pass(passId);
    if (!record || record.kind !== 'phone' || record.workerId !== claims.workerId) throw new PhoneUploadError('this phone pass is not in the pass registry', 401);
    const validity = checkValidity(claims, opened.signer.kid, nowMs, () => record.revokedAtMs !== null);
    if (!validity.ok) throw new PhoneUploadError(`this phone pass cannot be used (${validity.failure}): ask your organisation for a new link`, 401);

    let signed: boolean;
    try {
      signed = verify('sha256', uploadMessage(sha256(passBytes), sha256(payloadBytes)), { key: phoneKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'));
    } catch {
      signed = false;
    }
    if (!signed) throw new PhoneUploadError('the upload is not signed by the phone this pass is bound to', 401);
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      throw new PhoneUploadError('the payload is not JSON', 400);
    }
    return { workerId: claims.workerId, passId, payload: parsed };
  }
}

/** What the phone page does, in Node (tests, tools): the body of an upload of `payload` signed with the phone's key. */
export function signPhoneUpload(pass: Uint8Array, payload: string, phoneKey: KeyObject): { pass: string; payload: string; sig: string } {
  const signature = sign('sha256', uploadMessage(sha256(pass), sha256(Buffer.from(payload, 'utf8'))), { key: phoneKey, dsaEncoding: 'ieee-p1363' });
  return { pass: Buffer.from(pass).toString('base64url'), payload, sig: signature.toString('base64url') };
}
