/**
 * The Electron shell's relay: the main process answers the preload's calls (IPC) by making them to
 * the kiosk core over the loopback transport (a WireClient), and forwards the core's pushed events
 * to the window. Plain Node and no electron, so the renderer-API contract suite runs through it
 * exactly as the shell wires it: bridge -> IPC -> createCallHandler(relay) -> WireClient -> core.
 */
import { METHODS, type EventName, type Events, type KioskApi, type Method } from './contract.js';
import { ApiError, type ApiErrorCode, type ApiErrorShape } from './errors.js';
import type { CallDispatcher } from './ipc.js';

/** Every event the core pushes; a Record, so an event added to the contract cannot be left out here. */
const RELAYED_EVENTS: Record<EventName, true> = { passage: true };

const API_ERROR_CODES: Record<ApiErrorCode, true> = {
  'bad-request': true,
  'unknown-method': true,
  'not-signed-in': true,
  refused: true,
  internal: true,
  transport: true,
};

/** The core's answer passes through unchanged; anything else that fails here is the relay's own 'internal' error. */
function wireError(err: unknown): ApiErrorShape {
  if (err instanceof ApiError && Object.hasOwn(API_ERROR_CODES, err.code)) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'the kiosk could not complete this request' };
}

/**
 * Larger than any valid call's parameters (a scan is at most 4096 characters, under 25 KiB as JSON
 * even if every one were escaped), and below the loopback server's 64 KiB message limit: a message
 * over that limit closes the relay's one link to the core, failing every call in flight on it.
 */
const MAX_PARAMS_BYTES = 32 * 1024;

/** A method name longer than every one in the contract cannot be one. */
const LONGEST_METHOD = Math.max(...METHODS.map((m) => m.length));

/**
 * What the loopback wire cannot carry faithfully is refused here with the code the core would give
 * it over IPC, rather than reaching the core as something else or dropping the link: a method that
 * is not a plausible name (any value, of any size), parameters JSON cannot encode (a BigInt), or
 * parameters too large to be valid. Everything else goes to the core, which decides.
 */
function refusal(method: unknown, params: unknown): ApiErrorShape | undefined {
  if (typeof method !== 'string' || method.length > LONGEST_METHOD) return { code: 'unknown-method', message: `no such method: ${typeof method === 'string' ? method.slice(0, 40) : typeof method}` };
  let json: string | undefined;
  try {
    json = JSON.stringify(params ?? {});
  } catch {
    return { code: 'bad-request', message: 'parameters that cannot be sent as JSON' };
  }
  if (Buffer.byteLength(json ?? '') > MAX_PARAMS_BYTES) return { code: 'bad-request', message: `parameters larger than ${MAX_PARAMS_BYTES} bytes` };
  return undefined;
}

/**
 * The dispatcher for createCallHandler: each call goes to the core as it came (the core validates
 * it, as it does for every transport) and its reply or error code comes back unchanged.
 */
export function createRelay(core: Pick<KioskApi, 'call'>): CallDispatcher {
  return {
    async dispatch(method, params) {
      const refused = refusal(method, params);
      if (refused) return { ok: false, error: refused };
      try {
        return { ok: true, result: await core.call(method as Method, params as never) };
      } catch (err) {
        return { ok: false, error: wireError(err) };
      }
    },
  };
}

/** Forwards every pushed event from the core to `send` (webContents.send in the shell); returns a function that stops. */
export function relayEvents(core: Pick<KioskApi, 'on'>, send: (event: EventName, payload: Events[EventName]) => void): () => void {
  const offs = (Object.keys(RELAYED_EVENTS) as EventName[]).map((event) => core.on(event, (payload) => send(event, payload)));
  return () => offs.forEach((off) => off());
}
