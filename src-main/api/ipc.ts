/**
 * The Electron IPC transport, without Electron: the preload's bridge (renderer side) and the
 * main-process call handler are built here from the small parts of ipcRenderer / ipcMain they use,
 * so the same contract tests that drive the loopback transport drive this one too (with an
 * in-memory IPC pair that copies messages as Electron's structured clone does).
 */
import type { EventName, Events, KioskApi, Method, Params, Results } from './contract.js';
import { ApiError, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type WireReply } from './errors.js';

export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** What the preload exposes as `window.safegate`: the contract, nothing else (no raw ipcRenderer). */
export function createBridgeApi(ipc: IpcRendererLike): KioskApi {
  return {
    async call<M extends Method>(method: M, params: Params<M>): Promise<Results[M]> {
      const reply = (await ipc.invoke(IPC_CALL_CHANNEL, method, params)) as WireReply;
      if (reply.ok) return reply.result as Results[M];
      throw new ApiError(reply.error.code, reply.error.message);
    },
    on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
      const wrapped = (_e: unknown, name: unknown, payload: unknown) => {
        if (name === event) listener(payload as Events[E]);
      };
      ipc.on(IPC_EVENT_CHANNEL, wrapped);
      return () => void ipc.removeListener(IPC_EVENT_CHANNEL, wrapped);
    },
  };
}

export interface CallDispatcher {
  dispatch(method: unknown, params: unknown): Promise<WireReply>;
}

/** The part of Electron's IpcMainInvokeEvent the handler looks at. */
export interface InvokeEventLike {
  senderFrame: { url: string; parent: unknown } | null;
}

/**
 * The main process's handler for IPC_CALL_CHANNEL: answers only the kiosk's own page in its main
 * frame (never an iframe, another origin or a page navigated elsewhere), then dispatches.
 */
export function createCallHandler(dispatcher: CallDispatcher, isTrustedUrl: (url: string) => boolean) {
  return async (event: InvokeEventLike, method: unknown, params: unknown): Promise<WireReply> => {
    const frame = event.senderFrame;
    if (!frame || frame.parent !== null || !isTrustedUrl(frame.url)) {
      return { ok: false, error: { code: 'refused', message: 'IPC from an untrusted frame' } };
    }
    return dispatcher.dispatch(method, params);
  };
}
