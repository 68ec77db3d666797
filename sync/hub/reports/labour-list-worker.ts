import { parentPort, workerData } from 'node:worker_threads';
import { labourListXlsx, type LabourList } from './labour-list.js';

/**
 * Writes one labour list's workbook off the hub's event loop (started by makeLabourListXlsx in
 * labour-list.ts): takes the list and zone as its workerData, posts back the XLSX or the error's
 * message, and ends.
 */
const { list, zone } = workerData as { list: LabourList; zone: string };
labourListXlsx(list, zone).then(
  (xlsx) => parentPort!.postMessage({ ok: true, xlsx }),
  (err: unknown) => parentPort!.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
);
