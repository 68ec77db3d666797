/**
 * What this phone keeps (IndexedDB, one record): the pass the hub bound to this phone, whose it is,
 * and the phone's private key as a non-extractable CryptoKey (the browser stores the key object
 * itself; its secret bytes can never be read out, so a copy of the page's data is no copy of the key).
 */
export interface StoredBinding {
  pass: Uint8Array<ArrayBuffer>;
  passId: string;
  workerId: string;
  fullName: string;
  orgName: string;
  expiresAtMs: number;
  key: CryptoKey;
  noticeAcceptedAtMs: number;
}

const DB = 'safegate-phone';
const STORE = 'binding';
const CURRENT = 'current';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
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

export async function loadBinding(): Promise<StoredBinding | undefined> {
  return (await run<StoredBinding | undefined>('readonly', (s) => s.get(CURRENT) as IDBRequest<StoredBinding | undefined>)) ?? undefined;
}

export async function saveBinding(binding: StoredBinding): Promise<void> {
  await run('readwrite', (s) => s.put(binding, CURRENT));
}
