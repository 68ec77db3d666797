import type { Logger } from 'pino';
import { decodeCbor, decodeCoseSign1 } from '../base/node/cose.js';
import { keyIdText, type HubKeyring } from '../base/node/keys.js';
import { KEY_ROLES } from '../base/common/key-roles.js';
import { openDownlink, streamCodecs, type DownlinkPart, type StreamCodec, type StreamTypes } from './downlink-codec.js';
import type { DataChange, HubKeyRecord, StagedTransfer, StreamCursor } from '../base/common/types.js';
import { DOWNLINK_STREAMS, PROTOCOL_VERSION, topics, type DownlinkStream, type SyncRequest } from './protocol.js';
import type { LinkExtension } from './uplink.js';

/** What the downlink needs of the kiosk's store: cursors and staged parts (the kiosk's DownlinkState). */
export interface DownlinkStore {
  cursor(stream: string): StreamCursor;
  /** When the hub issued the transfer applied last (null before any). */
  issuedAt(stream: string): number | null;
  staged(stream: string): StagedTransfer | undefined;
  stage(stream: string, t: Omit<StagedTransfer, 'have'>, part: number, body: Uint8Array): StagedTransfer;
  stagedBodies(stream: string): Uint8Array[];
  commit(stream: string, to: number, atMs: number, issued: IssueTime, apply: () => void): void;
  markChecked(stream: string, issued: IssueTime, replaceHeld?: boolean): boolean;
}

/** A signed issue time as the hub stamped it, and as this kiosk counts the data's age from (never later than its own clock). */
export interface IssueTime {
  hubMs: number;
  checkedAtMs: number;
}

export type ReceiveOutcome =
  | { status: 'rejected'; detail: string }
  | { status: 'stale'; stream: DownlinkStream; detail: string }
  | { status: 'current' }
  | { status: 'staged'; have: number; parts: number }
  | { status: 'applied'; stream: DownlinkStream; to: number; records: number };

/** A key from the keys stream, with the installed key that signed the part that brought it. */
export type VouchedKey = HubKeyRecord & { anchorKid: string };

type Applier<S extends keyof StreamTypes> = (kind: 'snapshot' | 'delta', changes: DataChange<S extends 'keys' ? VouchedKey : StreamTypes[S]>[]) => void;

/** Streams a kiosk may leave out: it then never asks for them (a kiosk built before they existed, or one with HC1 off for `dcc`). */
export const OPTIONAL_STREAMS = ['placement', 'supervisors', 'settings', 'dcc'] as const satisfies readonly DownlinkStream[];
type OptionalStream = (typeof OPTIONAL_STREAMS)[number];

/** Per stream: apply a complete transfer (inside the transaction that also moves the cursor). */
export type DownlinkAppliers = { [S in Exclude<keyof StreamTypes, OptionalStream>]: Applier<S> } & { [S in OptionalStream]?: Applier<S> };

export interface DownlinkOptions {
  /** Ask for every stream this often while online (the hub also answers "nothing new", renewing the data's age). */
  refreshMs?: number;
  /** After a part that does not fit what we hold, ask that stream again at most this often (no request storm). */
  staleRetryMs?: number;
  now?: () => number;
  /**
   * Whether this device's clock is known to be right (time-synchronised). Only then are parts
   * issued well in the future refused: a kiosk whose clock is behind must still take its data.
   */
  clockSynced?: () => boolean;
}

/** How far ahead of a synchronised kiosk clock a signed issue time may be (the hub's clock may drift a little). */
export const MAX_ISSUED_AHEAD_MS = 10 * 60_000;

/**
 * The kiosk's side of the downlink: asks for what is newer than each stream's cursor, verifies every
 * part against the hub keys trusted for the downlink role, stages parts, and applies a transfer only
 * when it is complete, atomically with its new cursor. Anything unsigned, wrongly signed, replayed
 * (not newer than what we hold) or malformed is refused with a logged reason and changes nothing.
 *
 * Order is the hub's signed issue time as much as its revision: a snapshot issued after the one we
 * hold replaces it even with a lower revision (the hub's directory was restored, or a part once
 * claimed an absurd revision), and data counts as confirmed only at a signed issue time newer than
 * the last confirmation, so a replayed "nothing new" cannot keep old data looking fresh.
 */
export class Downlink implements LinkExtension {
  readonly topics: string[];
  private publish: ((topic: string, payload: string) => void) | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly lastAsked = new Map<DownlinkStream, number>();
  private readonly refreshMs: number;
  private readonly staleRetryMs: number;
  private readonly now: () => number;
  private readonly clockSynced: () => boolean;

  constructor(
    private readonly deviceId: string,
    private readonly state: DownlinkStore,
    private readonly keyring: () => HubKeyring,
    private readonly appliers: DownlinkAppliers,
    private readonly log: Logger,
    options: DownlinkOptions = {},
  ) {
    this.topics = [topics.downlink(deviceId)];
    this.refreshMs = options.refreshMs ?? 300_000;
    this.staleRetryMs = options.staleRetryMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.clockSynced = options.clockSynced ?? (() => true);
  }

  onOnline(publish: (topic: string, payload: string) => void): void {
    this.publish = publish;
    this.requestAll();
    clearInterval(this.refreshTimer);
    this.refreshTimer = setInterval(() => this.requestAll(), this.refreshMs);
  }

  onOffline(): void {
    this.publish = undefined;
    clearInterval(this.refreshTimer);
  }

  onMessage(_topic: string, payload: Buffer): void {
    const outcome = this.receive(payload, this.now());
    if (outcome.status === 'rejected') this.log.warn({ reason: outcome.detail }, 'downlink message refused');
    else if (outcome.status === 'stale') {
      const asked = this.requestStream(outcome.stream, false);
      this.log.info({ reason: outcome.detail, askedAgain: asked }, 'downlink message does not fit what we hold');
    } else if (outcome.status === 'applied') this.log.info({ stream: outcome.stream, to: outcome.to, records: outcome.records }, 'downlink applied');
  }

  /** The streams this kiosk takes (those it has an applier for). */
  private streams(): DownlinkStream[] {
    return DOWNLINK_STREAMS.filter((s) => this.appliers[s] !== undefined);
  }

  /** One request per stream: the cursor, and what is already staged so only missing parts come. */
  requests(): SyncRequest[] {
    return this.streams().map((stream) => this.request(stream));
  }

  private request(stream: DownlinkStream): SyncRequest {
    const staged = this.state.staged(stream);
    return {
      v: PROTOCOL_VERSION,
      stream,
      cursor: this.state.cursor(stream).cursor,
      ...(staged ? { resume: { to: staged.to, parts: staged.parts, have: staged.have } } : {}),
    };
  }

  private requestAll(): void {
    for (const stream of this.streams()) this.requestStream(stream, true);
  }

  /** Asks for one stream; unless `always`, at most once per staleRetryMs. Returns whether it asked. */
  private requestStream(stream: DownlinkStream, always: boolean): boolean {
    const publish = this.publish;
    if (!publish) return false;
    const now = this.now();
    const last = this.lastAsked.get(stream);
    if (!always && last !== undefined && now - last < this.staleRetryMs && now >= last) return false;
    this.lastAsked.set(stream, now);
    publish(topics.syncRequest(this.deviceId), JSON.stringify(this.request(stream)));
    return true;
  }

  receive(bytes: Uint8Array, nowMs: number): ReceiveOutcome {
    const ring = this.keyring();
    const opened = openDownlink(bytes, ring, nowMs);
    if (!opened.ok) return { status: 'rejected', detail: `${opened.reason}: ${opened.detail}` };
    const p = opened.part;
    if (this.appliers[p.stream] === undefined) return { status: 'rejected', detail: `${p.stream}: a stream this kiosk does not take` };
    if (p.stream === 'keys' && opened.signer.origin !== 'installed') {
      // Keys vouch for keys: only a key IT staff installed may change which keys are trusted.
      return { status: 'rejected', detail: `UNKNOWN_KEY: the keys stream must be signed by an installed downlink key, not ${opened.signer.source}` };
    }
    const synced = this.clockSynced();
    if (synced && p.issuedAtMs > nowMs + MAX_ISSUED_AHEAD_MS) {
      // One message from a hub whose clock ran ahead would otherwise outrank every later one until
      // the hub's clock caught up: updates frozen, data ageing into DATA_TOO_OLD.
      return { status: 'rejected', detail: `ISSUED_IN_FUTURE: ${p.stream} part issued ${Math.round((p.issuedAtMs - nowMs) / 60_000)} min ahead of this kiosk's synchronised clock` };
    }
    const { cursor } = this.state.cursor(p.stream);
    // The hub's signed issue time orders messages (both from the hub's clock); the data's age counts
    // from it, never from later than our own clock.
    const issued: IssueTime = { hubMs: p.issuedAtMs, checkedAtMs: Math.min(p.issuedAtMs, nowMs) };
    // An issue time we hold that lies well ahead of a synchronised clock came from a hub clock that
    // ran ahead (or from before this check): it orders nothing, so the hub's current messages count again.
    const heldRaw = this.state.issuedAt(p.stream);
    const heldIssuedAt = heldRaw !== null && synced && heldRaw > nowMs + MAX_ISSUED_AHEAD_MS ? null : heldRaw;
    if (p.kind === 'current' || (p.kind === 'snapshot' && p.to === cursor && cursor > 0)) {
      if (p.to !== cursor) return { status: 'stale', stream: p.stream, detail: `hub is at ${p.to}, we hold ${cursor}` };
      if (!this.state.markChecked(p.stream, issued, heldIssuedAt === null && heldRaw !== null)) {
        return { status: 'stale', stream: p.stream, detail: 'a confirmation issued before the last one (replayed?); the data keeps its age' };
      }
      return { status: 'current' };
    }
    // (Data held from before issue times were kept has none: the first transfer sets it.)
    if (heldIssuedAt !== null && p.issuedAtMs < heldIssuedAt) {
      return { status: 'stale', stream: p.stream, detail: `${p.kind} to ${p.to} was issued before what we hold (replayed?)` };
    }
    if (p.to <= cursor) {
      // A snapshot issued after what we hold replaces it even with a lower revision: the hub's
      // numbering went back (a restored directory, or a part that once claimed an absurd revision).
      const rebase = p.kind === 'snapshot' && (heldIssuedAt === null || p.issuedAtMs > heldIssuedAt);
      if (!rebase) return { status: 'stale', stream: p.stream, detail: `${p.kind} to ${p.to} is not newer than our ${cursor} (replayed?)` };
    } else if (p.kind === 'delta' && p.from !== cursor) {
      return { status: 'stale', stream: p.stream, detail: `delta from ${p.from} does not build on our ${cursor}` };
    }
    // Every record is checked now, so a malformed part is refused before anything is staged.
    const codec = streamCodecs[p.stream] as StreamCodec<unknown>;
    try {
      for (const record of p.body) {
        const change = codec.fromWire(record);
        if (p.stream === 'keys' && !change.deleted && !KEY_ROLES[(change.value as HubKeyRecord).role].rotatableByHub) {
          throw new Error(`a ${(change.value as HubKeyRecord).role} key can only be installed by IT staff`);
        }
      }
    } catch (err) {
      return { status: 'rejected', detail: `MALFORMED: ${p.stream} record: ${(err as Error).message.slice(0, 200)}` };
    }
    // The part is staged as received (signed); it was verified just now and is read back only by us.
    const staged = this.state.stage(p.stream, { kind: p.kind, from: p.from, to: p.to, parts: p.parts }, p.part, bytes);
    if (staged.have.length < staged.parts) return { status: 'staged', have: staged.have.length, parts: staged.parts };
    // Complete: every part was verified when it arrived; decode them all and apply at once.
    const all = this.state.stagedBodies(p.stream).flatMap((b) => {
      const { kid, part } = stagedPart(b);
      const changes = part.body.map((r) => codec.fromChecked(r));
      // A key brought by the keys stream is vouched for by the installed key that signed its part.
      return p.stream === 'keys' ? changes.map((c) => (c.deleted ? c : { ...c, value: { ...(c.value as HubKeyRecord), anchorKid: kid } })) : changes;
    });
    // A key may come more than once (in one part or in several): its last change wins, as in a delta,
    // so a snapshot naming a record twice cannot fail at the store and block the stream.
    const last = new Map<string, DataChange<unknown>>();
    for (const c of all) {
      last.delete(c.key);
      last.set(c.key, c);
    }
    const changes = [...last.values()];
    const apply = this.appliers[p.stream] as (kind: 'snapshot' | 'delta', changes: DataChange<unknown>[]) => void;
    this.state.commit(p.stream, p.to, nowMs, issued, () => apply(p.kind as 'snapshot' | 'delta', changes));
    return { status: 'applied', stream: p.stream, to: p.to, records: changes.length };
  }
}

/** A part we verified and staged ourselves: its signer's key id and content. */
function stagedPart(signed: Uint8Array): { kid: string; part: Pick<DownlinkPart, 'body'> } {
  const cose = decodeCoseSign1(signed);
  const payload = decodeCbor(cose.payload) as Map<string, unknown>;
  return { kid: cose.kid ? keyIdText(cose.kid) : '', part: { body: payload.get('body') as unknown[] } };
}
