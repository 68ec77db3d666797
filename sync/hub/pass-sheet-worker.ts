import { parentPort, workerData } from 'node:worker_threads';
import { renderPassSheet, type SheetCard, type SheetOptions } from './pass-sheet.js';

/**
 * Draws one pass sheet off the hub's event loop (started by drawPassSheet in pass-sheet.ts): takes the
 * cards and options as its workerData, posts back the PDF or the error's message, and ends.
 */
const { cards, options } = workerData as { cards: SheetCard[]; options: SheetOptions };
renderPassSheet(cards, options).then(
  (pdf) => parentPort!.postMessage({ ok: true, pdf }),
  (err: unknown) => parentPort!.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
);
