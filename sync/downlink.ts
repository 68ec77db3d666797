import type { Logger } from 'pino';
import { decodeCbor, decodeCoseSign1 } from '../base/node/cose.js';
import type { HubKeyring } from '../base/node/keys.js';
import { openDownlink, streamCodecs, type StreamCodec, type StreamTypes } from './downlink-codec.js';
import type { DataChange, StagedTransfer, StreamCursor } from '../base/common/types.js';
import { DOWNLINK_STREAMS, PROTOCOL_VERSION, topics, type DownlinkStream, type SyncRequest } from './protocol.js';
import type { LinkExtension } from './uplink.js';

/** What the downlink needs of the kiosk's store: cursors and staged parts (the kiosk's DownlinkState). */
export interface DownlinkStore {
  cursor(stream: string): StreamCursor;
  staged(stream: string): StagedTransfer | undefined;
  stage(stream: string, t: Omit<StagedTransfer, 'have'>, part: number, body: Uint8Array): StagedTransfer;
  stagedBodies(stream: string): Uint8Array[];
  commit(stream: string, to: number, atMs: number, apply: () => void): void;
  markChecked(stream: string, atMs: number): void;
}

export type ReceiveOutcome =
  | { status: 'rejected'; detail: string }
  | { status: 'stale'; detail: string }
  | { status: 'current' }
  | { status: 'staged'; have: number; parts: number }
  | { status: 'applied'; stream: DownlinkStream; to: number; records: number };

/** Per stream: apply a complete transfer (inside the transaction that also moves the cursor). */
export type DownlinkAppliers = { [S in keyof StreamTypes]: (kind: 'snapshot' | 'delta', changes: DataChange<StreamTypes[S]>[]) => void };

/**
 * The kiosk's side of the downlink: asks for what is newer than each stream's cursor, verifies every
 * part against the trusted hub keys, stages parts, and applies a transfer only when it is complete,
 * atomically with its new cursor. Anything unsigned, wrongly signed, replayed (not newer than what
 * we hold) or malformed is refused with a logged reason and changes nothing.
 */
export class Downlink implements LinkExtension {
  readonly topics: string[];
  private publish: ((topic: string, payload: string) => void) | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deviceId: string,
    private readonly state: DownlinkStore,
    private readonly keyring: () => HubKeyring,
    private readonly appliers: DownlinkAppliers,
    private readonly log: Logger,
    private readonly refreshMs = 300_000,
  ) {
    this.topics = [topics.downlink(deviceId)];
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
    const outcome = this.receive(payload, Date.now());
    if (outcome.status === 'rejected') this.log.warn({ reason: outcome.detail }, 'downlink message refused');
    else if (outcome.status === 'stale') {
      this.log.info({ reason: outcome.detail }, 'downlink message not newer than ours; asking again');
      this.requestAll();
    } else if (outcome.status === 'applied') this.log.info({ stream: outcome.stream, to: outcome.to, records: outcome.records }, 'downlink applied');
  }

  /** One request per stream: the cursor, and what is already staged so only missing parts come. */
  requests(): SyncRequest[] {
    return DOWNLINK_STREAMS.map((stream) => {
      const staged = this.state.staged(stream);
      return {
        v: PROTOCOL_VERSION,
        stream,
        cursor: this.state.cursor(stream).cursor,
        ...(staged ? { resume: { to: staged.to, parts: staged.parts, have: staged.have } } : {}),
      };
    });
  }

  private requestAll(): void {
    const publish = this.publish;
    if (!publish) return;
    for (const r of this.requests()) publish(topics.syncRequest(this.deviceId), JSON.stringify(r));
  }

  receive(bytes: Uint8Array, nowMs: number): ReceiveOutcome {
    const opened = openDownlink(bytes, this.keyring());
    if (!opened.ok) return { status: 'rejected', detail: `${opened.reason}: ${opened.detail}` };
    const p = opened.part;
    const { cursor } = this.state.cursor(p.stream);
    if (p.kind === 'current') {
      if (p.to !== cursor) return { status: 'stale', detail: `hub is at ${p.to}, we hold ${cursor}` };
      this.state.markChecked(p.stream, nowMs);
      return { status: 'current' };
    }
    if (p.to <= cursor) return { status: 'stale', detail: `${p.kind} to ${p.to} is not newer than our ${cursor} (replayed?)` };
    if (p.kind === 'delta' && p.from !== cursor) return { status: 'stale', detail: `delta from ${p.from} does not build on our ${cursor}` };
    // Every record is checked now, so a malformed part is refused before anything is staged.
    const codec = streamCodecs[p.stream] as StreamCodec<unknown>;
    try {
      for (const record of p.body) codec.fromWire(record);
    } catch (err) {
      return { status: 'rejected', detail: `MALFORMED: ${p.stream} record: ${(err as Error).message.slice(0, 200)}` };
    }
    // The part is staged as received (signed); it was verified just now and is read back only by us.
    const staged = this.state.stage(p.stream, { kind: p.kind, from: p.from, to: p.to, parts: p.parts }, p.part, bytes);
    if (staged.have.length < staged.parts) return { status: 'staged', have: staged.have.length, parts: staged.parts };
    // Complete: every part was verified when it arrived; decode them all and apply at once.
    const all = this.state.stagedBodies(p.stream).flatMap((b) => stagedBody(b).map((r) => codec.fromChecked(r)));
    const apply = this.appliers[p.stream] as (kind: 'snapshot' | 'delta', changes: DataChange<unknown>[]) => void;
    this.state.commit(p.stream, p.to, nowMs, () => apply(p.kind as 'snapshot' | 'delta', all));
    return { status: 'applied', stream: p.stream, to: p.to, records: all.length };
  }
}

/** The records of a part we verified and staged ourselves. */
function stagedBody(signed: Uint8Array): unknown[] {
  const payload = decodeCbor(decodeCoseSign1(signed).payload) as Map<string, unknown>;
  return payload.get('body') as unknown[];
}
