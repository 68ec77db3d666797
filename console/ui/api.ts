/** The console server's HTTP API as the pages use it: JSON, the session cookie, a CSRF token on every change. */

export type ConsoleRole = 'operator' | 'manager' | 'health';
export interface Me {
  name: string;
  role: ConsoleRole;
  org?: string;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

async function csrfToken(): Promise<string> {
  const r = await fetch('/api/csrf', { credentials: 'same-origin' });
  if (!r.ok) throw new ApiError(r.status, 'no CSRF token');
  return ((await r.json()) as { token: string }).token;
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = await csrfToken();
  const r = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = (await r.json().catch(() => ({}))) as { error?: string; retryAfterSeconds?: number };
  if (!r.ok) throw new ApiError(r.status, answer.error ?? r.statusText, answer.retryAfterSeconds);
  return answer as T;
}

/** Who is signed in, or undefined when nobody is. */
export async function whoAmI(): Promise<Me | undefined> {
  try {
    return await call<Me>('GET', '/api/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return undefined;
    throw err;
  }
}

export const signIn = (name: string, password: string): Promise<Me> => call<Me>('POST', '/api/login', { name, password });
export const signOut = (): Promise<unknown> => call('POST', '/api/logout');
