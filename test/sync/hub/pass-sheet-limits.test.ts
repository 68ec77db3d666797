import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { drawPassSheet, MAX_SHEETS_AT_ONCE, PassSheetError, type SheetCard } from '../../../sync/hub/pass-sheet.js';
import { ISSUE_CHUNK, PassRegistry } from '../../../sync/hub/passes.js';
import { listedWorker } from '../../helpers/listed-worker.js';
import { tempDir } from '../../helpers/fixtures.js';

const NOW = Date.now();
const ZONE = 'Asia/Ho_Chi_Minh';
const card = (i: number, code = 'SG1:test'): SheetCard => ({ workerId: `w${i}`, fullName: `Nguyễn Thị Hoa ${i}`, team: 'Tổ 1', passId: i.toString(16).padStart(16, '0'), code, expiresAtMs: NOW + 86_400_000 });

/**
 * The hub's pass sheets are drawn in a worker thread (failures are refusals, the thread ends), and a
 * bulk issue signs its passes in chunks, each its own transaction, with the event loop and the
 * directory's write lock free between them.
 */
describe('pass sheet and bulk issue limits', () => {
  const dir = tempDir('safegate-sheet-limits-');
  const file = join(dir.path, 'directory.db');
  let directory: HubDirectory;
  let registry: PassRegistry;
  const workers = Array.from({ length: 2 * ISSUE_CHUNK + 10 }, (_, i) => listedWorker(`w${String(i).padStart(4, '0')}`, NOW));

  beforeAll(() => {
    directory = new HubDirectory(file);
    directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    directory.uploadWorkers('may-a', workers, { nowMs: NOW });
    registry = new PassRegistry({ directoryPath: file, passKey: createPrivateKey(generateSigningKeyPair('EdDSA').privatePem) });
  });
  afterAll(() => {
    registry.close();
    directory.close();
    dir.remove();
  });

  it('a sheet the drawing thread cannot draw is a clear refusal, and more sheets at once than the limit are refused as busy', async () => {
    // A QR code cannot hold 10,000 characters: the thread reports it and ends.
    await expect(drawPassSheet([card(1, 'x'.repeat(10_000))], { title: 't', zone: ZONE })).rejects.toThrow(new PassSheetError('the pass sheet could not be drawn: The amount of data is too big to be stored in a QR Code'));
    const drawing = Array.from({ length: MAX_SHEETS_AT_ONCE }, (_, i) => drawPassSheet([card(i)], { title: 't', zone: ZONE }));
    await expect(drawPassSheet([card(9)], { title: 't', zone: ZONE })).rejects.toMatchObject({ name: 'PassSheetError', busy: true });
    for (const pdf of await Promise.all(drawing)) expect(Buffer.from(pdf.subarray(0, 5)).toString()).toBe('%PDF-');
    await expect(drawPassSheet([], { title: 't', zone: ZONE })).rejects.toThrow(PassSheetError);
  });

  it("a bulk issue commits chunk by chunk: another writer gets the directory between chunks, and a worker it removed is skipped", async () => {
    const org = registry.of('may-a');
    const issuing = org.issueYielding({ expiresAt: new Date(NOW + 30 * 86_400_000) });
    // Runs between two chunks: the organisation's upload without the last worker (another connection, a write).
    let uploaded = false;
    setImmediate(() => {
      directory.uploadWorkers('may-a', workers.slice(0, -1), { nowMs: NOW + 1 });
      uploaded = true;
    });
    const report = await issuing;
    expect(uploaded).toBe(true);
    expect(report).toMatchObject({ alreadyHeld: 0, leftList: 1 });
    expect(report.issued).toHaveLength(workers.length - 1);
    expect(registry.list({ workerId: workers.at(-1)!.workerId })).toEqual([]);
  });
});
