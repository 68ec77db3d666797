import { decodeCbor } from '../../../base/node/cose.js';
import type { HubKeyring } from '../../../base/node/keys.js';
import { openSigned } from '../../../base/node/signed.js';
import { DccTrustError, parseTrustList, type TrustList } from '../../../base/node/dcc/index.js';

/**
 * The kiosk's HC1 trust list (issue 14 part G): the hub sends the list it imported (the EU
 * gateway's format, as imported) SIGNED like every downlink part: a COSE_Sign1 by a key trusted for
 * the downlink role, over CBOR { format: 'safegate-dcc-trust/1', version, document }. The kiosk
 * verifies the signature and parses the document before it keeps anything, keeps only a newer
 * version, and stores the signed bytes as received so a restart verifies them again offline.
 */

export const DCC_TRUST_FORMAT = 'safegate-dcc-trust/1';
/** Largest signed trust document the kiosk takes (the EU list is a few MiB at most). */
export const MAX_SIGNED_TRUST_BYTES = 16 * 1024 * 1024;

/** Where the signed list is kept (the kiosk store; a memory one in tests). */
export interface DccTrustStorage {
  load(): { version: number; signed: Uint8Array } | null;
  save(version: number, signed: Uint8Array): void;
}

export type DccTrustOffer =
  | { ok: true; version: number; signers: number }
  | { ok: false; reason: 'MALFORMED' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE' | 'INVALID_LIST' | 'NOT_NEWER'; detail: string };

interface Opened {
  version: number;
  list: TrustList;
}

function open(signed: Uint8Array, keyring: HubKeyring, nowMs: number): { ok: true; value: Opened } | Extract<DccTrustOffer, { ok: false }> {
  if (!(signed instanceof Uint8Array) || signed.length === 0) return { ok: false, reason: 'MALFORMED', detail: 'empty' };
  if (signed.length > MAX_SIGNED_TRUST_BYTES) return { ok: false, reason: 'MALFORMED', detail: `larger than ${MAX_SIGNED_TRUST_BYTES} bytes` };
  const opened = openSigned(signed, keyring, 'downlink-part', nowMs);
  if (!opened.ok) return { ok: false, reason: opened.failure, detail: opened.detail };
  let raw: unknown;
  try {
    raw = decodeCbor(opened.payload);
  } catch {
    return { ok: false, reason: 'MALFORMED', detail: 'payload is not CBOR' };
  }
  const doc = raw instanceof Map ? Object.fromEntries(raw as Map<unknown, unknown>) : raw;
  if (!doc || typeof doc !== 'object') return { ok: false, reason: 'MALFORMED', detail: 'payload is not a map' };
  const { format, version, document } = doc as Record<string, unknown>;
  if (format !== DCC_TRUST_FORMAT) return { ok: false, reason: 'MALFORMED', detail: 'not a DCC trust document' };
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) return { ok: false, reason: 'MALFORMED', detail: 'version is not a positive whole number' };
  if (!(document instanceof Uint8Array)) return { ok: false, reason: 'MALFORMED', detail: 'document is not bytes' };
  try {
    const list = parseTrustList(document);
    if (list.signers.length === 0) return { ok: false, reason: 'INVALID_LIST', detail: 'the list holds no signer certificate' };
    return { ok: true, value: { version, list } };
  } catch (err) {
    return { ok: false, reason: 'INVALID_LIST', detail: err instanceof DccTrustError ? err.message : 'unreadable trust list' };
  }
}

export class DccTrustHolder {
  private current: Opened | null = null;

  constructor(
    private readonly storage: DccTrustStorage,
    private readonly keyring: HubKeyring,
  ) {}

  /** At start: the stored list, verified again (a list whose signer is no longer trusted is not used). */
  restore(nowMs: number): DccTrustOffer | null {
    let stored: { version: number; signed: Uint8Array } | null;
    try {
      stored = this.storage.load();
    } catch {
      return { ok: false, reason: 'MALFORMED', detail: 'stored trust list unreadable' };
    }
    if (!stored) return null;
    const r = open(stored.signed, this.keyring, nowMs);
    if (!r.ok) return r;
    this.current = r.value;
    return { ok: true, version: r.value.version, signers: r.value.list.signers.length };
  }

  /** A signed list from the hub: verified, parsed, newer than the one held, then stored and used. */
  offer(signed: Uint8Array, nowMs: number): DccTrustOffer {
    const r = open(signed, this.keyring, nowMs);
    if (!r.ok) return r;
    if (this.current && r.value.version <= this.current.version) return { ok: false, reason: 'NOT_NEWER', detail: `version ${r.value.version} is not newer than ${this.current.version}` };
    this.storage.save(r.value.version, Uint8Array.from(signed));
    this.current = r.value;
    return { ok: true, version: r.value.version, signers: r.value.list.signers.length };
  }

  /** The list in force (for DccCheck's `trust`); null until one arrived. */
  list(): TrustList | null {
    return this.current?.list ?? null;
  }

  version(): number | null {
    return this.current?.version ?? null;
  }
}
