/** Errors a renderer API call can fail with; `message` is for logs and support, the screens show their own words. */
export type ApiErrorCode = 'bad-request' | 'unknown-method' | 'not-signed-in' | 'refused' | 'internal' | 'transport';

export interface ApiErrorShape {
  code: ApiErrorCode;
  message: string;
}

export class ApiError extends Error implements ApiErrorShape {
  override name = 'ApiError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A call's answer on any wire: `{ ok: true, result }` or `{ ok: false, error }`. */
export type WireReply = { ok: true; result: unknown } | { ok: false; error: ApiErrorShape };

/** The Electron IPC channel names (one for calls, one for pushed events). */
export const IPC_CALL_CHANNEL = 'safegate:call';
export const IPC_EVENT_CHANNEL = 'safegate:event';
