import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { MIGRATIONS } from '../store/migrations/index.js';
import { fail, pass, warn, type CheckOutcome } from './check.js';

/**
 * `PRAGMA quick_check` in a worker thread on its own read-only connection: a large store takes
 * seconds to check, and the running kiosk's gate must keep answering meanwhile; the worker is ended
 * when the check's time is up.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
try {
  db = new Database(workerData.path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 2000');
  const version = db.pragma('user_version', { simple: true });
  const rows = db.pragma('quick_check(20)').map((r) => String(Object.values(r)[0]));
  parentPort.postMessage({ ok: true, version, rows });
} catch (err) {
  parentPort.postMessage({ ok: false, error: String(err && err.message || err), code: err && err.code });
} finally {
  try { db && db.close(); } catch {}
}
`;

type QuickCheck = { ok: true; version: number; rows: string[] } | { ok: false; error: string; code?: string };

export function quickCheck(path: string, signal?: AbortSignal): Promise<QuickCheck> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { path, driver } });
  return new Promise<QuickCheck>((resolve, reject) => {
    const onAbort = () => void worker.terminate();
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: QuickCheck) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new Error(`the check's worker ended (${code})`));
    });
  }).finally(() => void worker.terminate());
}

/** The store's integrity (`PRAGMA quick_check`, read-only) and schema version. */
export async function databaseCheck(input: { path: string }, signal?: AbortSignal): Promise<CheckOutcome> {
  if (!existsSync(input.path)) return warn(`${input.path}: not created yet`, 'start the kiosk once (`safegate run`) to create it');
  const r = await quickCheck(input.path, signal);
  if (!r.ok) {
    return fail(`${input.path} cannot be read: ${r.error.slice(0, 200)}`, 'the database is damaged or not a SafeGate store: stop the kiosk, keep a copy of the file, then restore it or move it aside (unsynced events in it are lost)');
  }
  if (r.rows.length !== 1 || r.rows[0] !== 'ok') {
    return fail(
      `${input.path}: quick_check found ${r.rows.length} problem(s), first: ${(r.rows[0] ?? '').slice(0, 200)}`,
      'stop the kiosk, keep a copy of the file, then restore it or move it aside (unsynced events in it are lost)',
    );
  }
  const latest = MIGRATIONS.at(-1)?.version ?? 0;
  if (r.version > latest) return fail(`${input.path}: written by a newer SafeGate (schema ${r.version}, this one knows up to ${latest})`, 'install that newer version again, or restore a backup');
  if (r.version < latest) return warn(`${input.path}: intact, schema ${r.version}; this version migrates it to ${latest} when the kiosk starts`, 'start the kiosk once');
  return pass(`${input.path}: intact (quick_check ok), schema ${r.version}`);
}
