/**
 * The client end of the loopback transport: the contract (KioskApi) over one WebSocket. It runs in
 * the renderer (browser WebSocket) and in Node (the `ws` package, for the Electron shell's relay
 * and tests), so it imports nothing but the contract and takes the WebSocket class as a parameter.
 */
import type { EventName, Events, KioskApi, Method, Params, Results } from './contract.js';
import { ApiError } from './errors.js';

/** The subset of the WebSocket API both the browser and `ws` provide. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketClass = new (url: string, protocols: string[]) => WebSocketLike;

export interface WireClientOptions {
  /** ws://127.0.0.1:PORT/api */
  url: string;
  secret: string;
  WebSocket: WebSocketClass;
  /** Called when the link drops or comes back, for the screens' "connecting" banner. */
  onLinkChange?: (up: boolean) => void;
  /** A call unanswered for this long fails (the core is busy or gone). */
  callTimeoutMs?: number;
}

const OPEN = 1;
/** Below the loopback server's 64 KiB message limit. */
const MAX_CALL_BYTES = 60 * 1024;

export class WireClient implements KioskApi {
  private socket: WebSocketLike | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private readonly listeners = new Map<EventName, Set<(p: never) => void>>();
  private opened: Promise<void> | undefined;
  private closed = false;
  private retryMs = 250;

  constructor(private readonly options: WireClientOptions) {}

  /** Connects (or waits for the connection in progress). */
  connect(): Promise<void> {
    if (this.opened) return this.opened;
    this.opened = new Promise<void>((resolve, reject) => {
      const socket = new this.options.WebSocket(this.options.url, ['safegate.v1', `secret.${this.options.secret}`]);
      this.socket = socket;
      let up = false;
      socket.onopen = () => {
        up = true;
        this.retryMs = 250;
        this.options.onLinkChange?.(true);
        resolve();
      };
      socket.onmessage = (ev) => this.receive(ev.data);
      socket.onerror = () => undefined;
      socket.onclose = (ev) => {
        this.opened = undefined;
        this.socket = undefined;
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new ApiError('transport', `connection to the kiosk closed (${ev.code})`));
          this.pending.delete(id);
        }
        if (up) this.options.onLinkChange?.(false);
        else reject(new ApiError('transport', `cannot connect to the kiosk (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`));
        if (!this.closed) this.scheduleReconnect();
      };
    });
    return this.opened;
  }

  close(): void {
    this.closed = true;
    this.socket?.close(1000, 'client closing');
  }

  async call<M extends Method>(method: M, params: Params<M>): Promise<Results[M]> {
    const id = this.nextId++;
    // Refused here, with the code the core would give, rather than sent: the core closes the one
    // connection on a message over its limit, which would fail every other call in flight too.
    let text: string;
    try {
      text = JSON.stringify({ t: 'call', id, method, params });
    } catch (err) {
      throw new ApiError('bad-request', `the parameters cannot be sent: ${(err as Error).message}`);
    }
    if (text.length > MAX_CALL_BYTES / 3 && new TextEncoder().encode(text).length > MAX_CALL_BYTES) {
      throw new ApiError('bad-request', `the call is larger than ${MAX_CALL_BYTES} bytes`);
    }
    await this.connect();
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) throw new ApiError('transport', 'not connected to the kiosk');
    return new Promise<Results[M]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ApiError('transport', `the kiosk did not answer ${method} in time`));
      }, this.options.callTimeoutMs ?? 15_000);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      socket.send(text);
    });
  }

  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (p: never) => void);
    return () => set.delete(listener as (p: never) => void);
  }

  private scheduleReconnect(): void {
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 5_000);
    setTimeout(() => {
      if (!this.closed) this.connect().catch(() => undefined);
    }, delay);
  }

  private receive(data: unknown): void {
    let msg: { t?: unknown; id?: unknown; ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown }; event?: unknown; payload?: unknown };
    try {
      msg = JSON.parse(String(data)) as typeof msg;
    } catch {
      return;
    }
    if (msg.t === 'reply' && typeof msg.id === 'number') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok === true) p.resolve(msg.result);
      else p.reject(new ApiError((msg.error?.code as ApiError['code']) ?? 'internal', String(msg.error?.message ?? 'error')));
    } else if (msg.t === 'event' && typeof msg.event === 'string') {
      for (const l of this.listeners.get(msg.event as EventName) ?? []) l(msg.payload as never);
    }
  }
}
