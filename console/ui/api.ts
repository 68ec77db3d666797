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
    readonly problems?: ListProblem[],
  ) {
    super(message);
  }
}

async function csrfToken(): Promise<string> {
  const r = await fetch('/api/csrf', { credentials: 'same-origin' });
  if (!r.ok) throw new ApiError(r.status, 'no CSRF token');
  return ((await r.json()) as { token: string }).token;
}

/** A refusal's details: the bad rows of a worker list, by line, each as a code and its parameters (and the hub's English text). */
export interface ListProblem {
  line: number;
  code?: string;
  params?: Record<string, string | number>;
  message: string;
}

async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, file?: Blob): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (file) headers['content-type'] = file.type === 'text/csv' || file.type.includes('spreadsheetml') ? file.type : 'application/octet-stream';
  if (method !== 'GET') headers['x-csrf-token'] = await csrfToken();
  const r = await fetch(path, { method, headers, credentials: 'same-origin', body: file ?? (body === undefined ? undefined : JSON.stringify(body)) });
  const answer = (await r.json().catch(() => ({}))) as { error?: string; retryAfterSeconds?: number; problems?: ListProblem[] };
  if (!r.ok) throw new ApiError(r.status, answer.error ?? r.statusText, answer.retryAfterSeconds, answer.problems);
  return answer as T;
}

export const get = <T>(path: string): Promise<T> => call<T>('GET', path);
export const post = <T>(path: string, body: unknown): Promise<T> => call<T>('POST', path, body);
export const remove = <T>(path: string): Promise<T> => call<T>('DELETE', path);
/** Sends a file's bytes as the body (a worker list: CSV or XLSX). */
export const upload = <T>(path: string, file: Blob): Promise<T> => call<T>('POST', path, undefined, file);

/** A path with its query (empty values left out). */
export function withQuery(path: string, query: Record<string, string | undefined>): string {
  const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
  const text = q.toString();
  return text ? `${path}?${text}` : path;
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

/** A change whose answer is a file (a team's PDF sheet): its bytes and the name the server gave it. */
export async function postForFile(path: string, body: unknown): Promise<{ blob: Blob; fileName: string }> {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': await csrfToken() },
    credentials: 'same-origin',
    body: JSON.stringify(body),
  });
  if (!r.ok) {
    const answer = (await r.json().catch(() => ({}))) as { error?: string };
    throw new ApiError(r.status, answer.error ?? r.statusText);
  }
  const disposition = r.headers.get('content-disposition') ?? '';
  const utf8 = /filename\*=UTF-8''([^;]+)/.exec(disposition)?.[1];
  const fileName = utf8 ? decodeURIComponent(utf8) : (/filename="([^"]+)"/.exec(disposition)?.[1] ?? 'download');
  return { blob: await r.blob(), fileName };
}

/** Hands a file to the browser's downloads. */
export function saveFile(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
