import { createPrivateKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { drawPassSheet, MAX_CARDS_PER_SHEET, MAX_SHEETS_AT_ONCE, PassSheetError, type SheetCard } from '../../../sync/hub/pass-sheet.js';
import { ISSUE_CHUNK, PassRegistry } from '../../../sync/hub/passes.js';
import { listedWorker } from '../../helpers/listed-worker.js';
import { directoryBackends } from '../../helpers/directory-db.js';

const NOW = Date.now();
const ZONE = 'Asia/Ho_Chi_Minh';
const card = (i: number, code = 'SG1:test'): SheetCard => ({ workerId: `w${i}`, fullName: `Nguyễn Thị Hoa ${i}`, team: 'Tổ 1', passId: i.toString(16).padStart(16, '0'), code, expiresAtMs: NOW + 86_400_000 });

/** The hub's pass sheets are drawn in a worker thread: failures are refusals, and the thread ends. */
describe('pass sheet limits', () => {
  it('a sheet the drawing thread cannot draw is a clear refusal, and more sheets at once than the limit are refused as busy', async () => {
    // A QR code cannot hold 10,000 characters: the thread reports it and ends.
    await expect(drawPassSheet([card(1, 'x'.repeat(10_000))], { title: 't', zone: ZONE })).rejects.toThrow(new PassSheetError('the pass sheet could not be drawn: The amount of data is too big to be stored in a QR Code'));
    const drawing = Array.from({ length: MAX_SHEETS_AT_ONCE }, (_, i) => drawPassSheet([card(i)], { title: 't', zone: ZONE }));
    await expect(drawPassSheet([card(9)], { title: 't', zone: ZONE })).rejects.toMatchObject({ name: 'PassSheetError', busy: true });
    for (const pdf of await Promise.all(drawing)) expect(Buffer.from(pdf.subarray(0, 5)).toString()).toBe('%PDF-');
    await expect(drawPassSheet([], { title: 't', zone: ZONE })).rejects.toThrow(PassSheetError);
  });
});

/**
 * A bulk issue signs its passes in chunks, each its own transaction, with the event loop and the
 * directory's write lock free between them; a team over a sheet's cap is printed in parts.
 */
describe.each(directoryBackends)('bulk issue and sheet parts on $name', (backend) => {
  let directory: HubDirectory;
  let registry: PassRegistry;
  const workers = Array.from({ length: 2 * ISSUE_CHUNK + 10 }, (_, i) => listedWorker(`w${String(i).padStart(4, '0')}`, NOW));

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.uploadWorkers('may-a', workers, { nowMs: NOW });
    registry = new PassRegistry({ sql: directory.sql, passKey: createPrivateKey(generateSigningKeyPair('EdDSA').privatePem) });
  });
  afterAll(async () => {
    await directory.close();
  });

  it('a bulk issue commits chunk by chunk: another writer gets the directory between chunks, and a worker it removed is skipped', async () => {
    const org = await registry.of('may-a');
    const issuing = org.issueYielding({ expiresAt: new Date(NOW + 30 * 86_400_000) });
    // Runs between two chunks: the organisation's upload without the last worker (a write of its own).
    let uploading: Promise<unknown> | undefined;
    setImmediate(() => {
      uploading = directory.uploadWorkers('may-a', workers.slice(0, -1), { nowMs: NOW + 1 });
    });
    const report = await issuing;
    expect(uploading).toBeDefined();
    await uploading;
    expect(report).toMatchObject({ alreadyHeld: 0, leftList: 1 });
    expect(report.issued).toHaveLength(workers.length - 1);
    expect(await registry.list({ workerId: workers.at(-1)!.workerId })).toEqual([]);
  });

  it("a team over a sheet's cap is printed in parts: without a part it is refused with how many, each part issues only its own workers", async () => {
    const team = await directory.uploadWorkers('may-a', workers, { nowMs: NOW + 2 });
    expect(team.workers).toBe(workers.length);
    const org = await registry.of('may-a');
    const expiresAt = new Date(NOW + 30 * 86_400_000);
    await expect(org.sheetEntries('Tổ 1', expiresAt)).rejects.toThrow(`team "Tổ 1" has ${workers.length} workers and a sheet holds at most ${MAX_CARDS_PER_SHEET}: print it in 2 parts`);
    await expect(org.sheetEntries('Tổ 1', expiresAt, 3)).rejects.toThrow('part 3 does not exist');
    // The last worker (back on the list) holds no pass yet: part 2 issues theirs only and reprints the others.
    const second = await org.sheetEntries('Tổ 1', expiresAt, 2);
    expect(second).toMatchObject({ part: 2, parts: 2, issued: 1 });
    expect(second.entries.map((e) => e.workerId)).toEqual(workers.slice(MAX_CARDS_PER_SHEET).map((w) => w.workerId));
    const live = new Map((await org.list()).map((p) => [p.passId, p]));
    for (const e of second.entries) expect(live.get(e.passId)).toMatchObject({ workerId: e.workerId, state: 'live' });
    expect((await org.sheetEntries('Tổ 1', expiresAt, 2)).issued).toBe(0);
  });
});
