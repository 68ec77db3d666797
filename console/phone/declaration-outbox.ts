import { uploadMessage } from '../../base/common/phone-upload.js';

/**
 * What the phone has made and not yet got to the hub (IndexedDB, its own database beside the
 * binding): each upload is signed when it is made, with the id the phone gave it, and kept until the
 * hub answers. The hub keeps each id once, so sending one again (an answer lost on the way back)
 * changes nothing: exactly once, however often the phone tries.
 */
export interface QueuedUpload {
  /** The id inside the payload (16 random bytes, base64url). */
  id: string;
  /** The hub's path for it, under /phone/api/. */
  kind: 'declaration' | 'visit';
  /** The signed body as the hub takes it (base/common/phone-upload.ts). */
  body: { pass: string; payload: string; sig: string };
  queuedAtMs: number;
}

const DB = 'safegate-phone-outbox';
const STORE = 'outbox';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB cannot be opened'));
  });
}

async function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    });
  } finally {
    db.close();
  }
}

export function queued(): Promise<QueuedUpload[]> {
  return run<QueuedUpload[]>('readonly', (s) => s.getAll() as IDBRequest<QueuedUpload[]>);
}

export async function enqueue(item: QueuedUpload): Promise<void> {
  await run('readwrite', (s) => s.put(item));
}

async function remove(id: string): Promise<void> {
  await run('readwrite', (s) => s.delete(id));
}

function base64url(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A new upload id: 16 random bytes in base64url (22 characters). */
export function newUploadId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

/** Signs `payload` with the phone's key as the hub checks it: "SGU1" ‖ SHA-256(pass) ‖ SHA-256(payload). */
export async function signUpload(pass: Uint8Array<ArrayBuffer>, payload: string, key: CryptoKey): Promise<QueuedUpload['body']> {
  const passHash = new Uint8Array(await crypto.subtle.digest('SHA-256', pass));
  const payloadHash = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(payload)));
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, new Uint8Array(uploadMessage(passHash, payloadHash))));
  return { pass: base64url(pass), payload, sig: base64url(signature) };
}

/** What one attempt to send the outbox did. */
export interface FlushResult {
  /** Taken by the hub (recorded now or already). */
  sent: QueuedUpload[];
  /** Refused by the hub (out of shape, not this hub's phone...): dropped, with the hub's words. */
  refused: { item: QueuedUpload; error: string }[];
  /** Still waiting: no network, or the hub busy or down. */
  waiting: number;
}

let flushing: Promise<FlushResult> | undefined;
const listeners: ((r: FlushResult) => void)[] = [];

/** Called after every flush, whoever started it (each tab notes what became of its own uploads). */
export function onFlushed(listener: (r: FlushResult) => void): void {
  listeners.push(listener);
}

/** Sends what is waiting, oldest first; one flush at a time (a second call waits for the first). */
export function flushOutbox(): Promise<FlushResult> {
  flushing ??= doFlush()
    .then((r) => {
      for (const l of listeners) l(r);
      return r;
    })
    .finally(() => (flushing = undefined));
  return flushing;
}

async function doFlush(): Promise<FlushResult> {
  const items = (await queued()).sort((a, b) => a.queuedAtMs - b.queuedAtMs);
  const result: FlushResult = { sent: [], refused: [], waiting: 0 };
  let csrf: string | undefined;
  for (const [i, item] of items.entries()) {
    let res: Response;
    try {
      csrf ??= ((await (await fetch('../api/csrf', { credentials: 'same-origin' })).json()) as { token: string }).token;
      res = await fetch(`api/${item.kind}`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: JSON.stringify(item.body),
      });
    } catch {
      // Offline (or the hub unreachable): everything stays for the next try.
      result.waiting = items.length - i;
      return result;
    }
    if (res.ok) {
      await remove(item.id);
      result.sent.push(item);
    } else if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 403) {
      // The hub looked at it and will never take it: keeping it would only send it again forever.
      const error = ((await res.json().catch(() => ({}))) as { error?: string }).error ?? `HTTP ${res.status}`;
      await remove(item.id);
      result.refused.push({ item, error });
    } else {
      // Busy, rate limited, a stale CSRF token or the hub failing: try again later.
      result.waiting = items.length - i;
      return result;
    }
  }
  return result;
}
