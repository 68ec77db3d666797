import type { KeyObject } from 'node:crypto';
import { identifierSchema } from '../../base/common/ids.js';
import { CoseFormatError, decodeCbor, encodeCbor, signCoseSign1 } from '../../base/node/cose.js';
import { EnvelopeError, openEnvelope, sealEnvelope } from '../../base/node/envelope.js';
import { HubKeyring, keyIdOf } from '../../base/node/keys.js';
import { openSigned } from '../../base/node/signed.js';

/**
 * Signed checkpoint QR codes: check-in where there is no kiosk (the province's own model: a code per
 * team, canteen, rest area or bus). The worker's phone page scans one and uploads the visit; only
 * the hub reads them back (sync/hub/visits.ts), with its `checkpoint-code` key.
 *
 *   QR text = "SGC1:" + Base45( zlib( COSE_Sign1( CBOR { 1: checkpoint id, 2: kind, 3: window start } ) ) )
 *
 * - static (kind 0): printed and posted; it names the checkpoint only, so a photo of it works as
 *   well as the paper (where that matters, use a rotating one);
 * - rotating (kind 1): also a time window (its start, whole seconds; windows are 30 s), shown on a
 *   kiosk screen or a small page and redrawn every window. The hub refuses one the phone uploads
 *   promptly more than a minute after its window (a photo sent to a friend).
 */
export const CHECKPOINT_CODE_PREFIX = 'SGC1:';
export const ROTATING_WINDOW_SECONDS = 30;
const CLAIM = { checkpoint: 1, kind: 2, window: 3 } as const;
const KIND = { static: 0, rotating: 1 } as const;
/** A checkpoint code is a few hundred characters; anything longer is not one. */
const MAX_CODE_CHARS = 1_024;

export type CheckpointCodeKind = keyof typeof KIND;

export interface CheckpointCode {
  checkpointId: string;
  kind: CheckpointCodeKind;
  /** For a rotating code: the start of its window, epoch ms. */
  windowStartMs?: number;
}

export class CheckpointCodeError extends Error {
  override name = 'CheckpointCodeError';
}

/** Signs a static code for a checkpoint (the hub's side). */
export function staticCheckpointCode(key: KeyObject, checkpointId: string): string {
  return sign(key, new Map<number, unknown>([[CLAIM.checkpoint, checkId(checkpointId)], [CLAIM.kind, KIND.static]]));
}

/** Signs the rotating code of a checkpoint for the window holding `nowMs`; `nextAtMs` is when the next one is due. */
export function rotatingCheckpointCode(key: KeyObject, checkpointId: string, nowMs: number): { code: string; windowStartMs: number; nextAtMs: number } {
  const window = Math.floor(nowMs / 1000 / ROTATING_WINDOW_SECONDS) * ROTATING_WINDOW_SECONDS;
  const code = sign(key, new Map<number, unknown>([[CLAIM.checkpoint, checkId(checkpointId)], [CLAIM.kind, KIND.rotating], [CLAIM.window, window]]));
  return { code, windowStartMs: window * 1000, nextAtMs: (window + ROTATING_WINDOW_SECONDS) * 1000 };
}

function sign(key: KeyObject, claims: Map<number, unknown>): string {
  return sealEnvelope(signCoseSign1(encodeCbor(claims), key, keyIdOf(key)), CHECKPOINT_CODE_PREFIX);
}

function checkId(id: string): string {
  const r = identifierSchema.safeParse(id);
  if (!r.success) throw new CheckpointCodeError(`checkpoint id ${JSON.stringify(id)}: ${r.error.issues[0]?.message ?? 'not an identifier'}`);
  return r.data;
}

/**
 * Reads a scanned code back (the hub's side): its envelope, the signature by a key trusted for
 * `checkpoint-code`, and the claims. Throws CheckpointCodeError with the reason; nothing else.
 */
export function readCheckpointCode(text: unknown, keyring: HubKeyring, nowMs: number): CheckpointCode {
  if (typeof text !== 'string' || text.length > MAX_CODE_CHARS) throw new CheckpointCodeError('not a checkpoint code');
  let bytes: Uint8Array;
  try {
    bytes = openEnvelope(text, CHECKPOINT_CODE_PREFIX);
  } catch (err) {
    if (err instanceof EnvelopeError) throw new CheckpointCodeError(`not a checkpoint code: ${err.message}`);
    throw err;
  }
  const opened = openSigned(bytes, keyring, 'checkpoint-code', nowMs);
  if (!opened.ok) throw new CheckpointCodeError(`not a code of this hub: ${opened.detail}`);
  let claims: unknown;
  try {
    claims = decodeCbor(opened.payload);
  } catch (err) {
    if (err instanceof CoseFormatError) throw new CheckpointCodeError('the code is out of shape');
    throw err;
  }
  if (!(claims instanceof Map)) throw new CheckpointCodeError('the code is out of shape');
  const checkpoint = claims.get(CLAIM.checkpoint);
  const kind = claims.get(CLAIM.kind);
  const id = identifierSchema.safeParse(checkpoint);
  if (!id.success) throw new CheckpointCodeError('the code names no checkpoint');
  if (kind === KIND.static && claims.size === 2) return { checkpointId: id.data, kind: 'static' };
  const window = claims.get(CLAIM.window);
  if (kind === KIND.rotating && claims.size === 3 && Number.isSafeInteger(window) && (window as number) > 0 && (window as number) % ROTATING_WINDOW_SECONDS === 0) {
    return { checkpointId: id.data, kind: 'rotating', windowStartMs: (window as number) * 1000 };
  }
  throw new CheckpointCodeError('the code is of no known kind');
}
