import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { HubKeyring } from '../../../base/node/keys.js';
import { CheckpointCodeError, readCheckpointCode, rotatingCheckpointCode, staticCheckpointCode } from '../../../sync/hub/checkpoint-codes.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import type { HubSqlTarget } from '../../../sync/hub/hub-sql.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { PhoneLinks } from '../../../sync/hub/phone-links.js';
import { PhoneUploads, signPhoneUpload } from '../../../sync/hub/phone-uploads.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { Visits } from '../../../sync/hub/visits.js';
import { Declarations } from '../../../sync/hub/declarations.js';
import { erasePerson, exportPerson } from '../../../sync/hub/person-data.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

const NOW = Date.parse('2026-11-27T01:00:10Z');

function listed(workerId: string): ListedWorker {
  return { line: 2, workerId, fullName: 'Nguyễn Thị Hoa', team: 'Tổ May 1', birthYear: 1990, sex: 'female', idNumber: null, phone: null, residence: null, siteId: null, testResult: null, testedAtMs: null, vaccineDoses: 2 };
}

let counter = 0;
const newId = () => `visit-${String(++counter).padStart(16, '0')}`;

describe.each(directoryBackends)('check-in at checkpoints without a kiosk (signed codes, phone uploads) on $name', (backend) => {
  const dir = tempDir('safegate-visits-');
  let directory: HubDirectory;
  let links: PhoneLinks;
  let passes: PassRegistry;
  let visits: Visits;
  let codeKey: KeyObject;
  let phoneKey: KeyObject;
  let phonePassKey: KeyObject;
  let target: HubSqlTarget;
  let pass: Uint8Array;
  let now = NOW;

  const upload = (code: string, scannedAtMs = now, direction: 'in' | 'out' = 'in', id = newId()) =>
    visits.submit(signPhoneUpload(pass, JSON.stringify({ kind: 'visit', id, scannedAtMs, code, direction }), phoneKey));

  beforeEach(async () => {
    now = NOW;
    target = await backend.target();
    directory = await HubDirectory.open(target);
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.addCheckpoint({ id: 'nha-an', siteId: 'xuong-1', name: 'Nhà ăn ca 1', kind: 'canteen', orgIds: ['may-a'] });
    await directory.uploadWorkers('may-a', [listed('a1')], { nowMs: NOW });
    phonePassKey = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
    codeKey = createPrivateKey(generateSigningKeyPair('EdDSA').privatePem);
    links = new PhoneLinks({ sql: directory.sql, phonePassKey, issuer: 'hub.1', now: () => now });
    passes = new PassRegistry({ sql: directory.sql, now: () => now });
    visits = new Visits({ sql: directory.sql, uploads: new PhoneUploads(phonePassKey, passes), checkpointCodeKey: codeKey, now: () => now });
    const [made] = await links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op' });
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    phoneKey = pair.privateKey;
    pass = (await links.redeem(made!.token, pair.publicKey.export({ format: 'jwk' }))).pass;
  });
  afterEach(async () => {
    await directory.close();
  });

  it('a code is read back only with the hub key: its checkpoint and kind; another key, an edit or another prefix is refused', () => {
    const ring = new HubKeyring();
    ring.add(codeKey, { role: 'checkpoint-code', source: 'test' });
    const printed = staticCheckpointCode(codeKey, 'nha-an');
    expect(printed).toMatch(/^SGC1:/);
    expect(readCheckpointCode(printed, ring, NOW)).toEqual({ checkpointId: 'nha-an', kind: 'static' });
    const rotating = rotatingCheckpointCode(codeKey, 'nha-an', NOW);
    expect(rotating).toMatchObject({ windowStartMs: Date.parse('2026-11-27T01:00:00Z'), nextAtMs: Date.parse('2026-11-27T01:00:30Z') });
    expect(readCheckpointCode(rotating.code, ring, NOW)).toEqual({ checkpointId: 'nha-an', kind: 'rotating', windowStartMs: rotating.windowStartMs });
    const forged = staticCheckpointCode(createPrivateKey(generateSigningKeyPair('EdDSA').privatePem), 'nha-an');
    expect(() => readCheckpointCode(forged, ring, NOW)).toThrow(CheckpointCodeError);
    expect(() => readCheckpointCode(printed.slice(0, -2), ring, NOW)).toThrow(CheckpointCodeError);
    expect(() => readCheckpointCode(printed.replace('SGC1:', 'SG1:'), ring, NOW)).toThrow(CheckpointCodeError);
    expect(() => staticCheckpointCode(codeKey, 'Nhà ăn')).toThrow(CheckpointCodeError);
    // A key of another role signs nothing the hub takes as a code.
    const other = new HubKeyring();
    other.add(codeKey, { role: 'pass', source: 'test' });
    expect(() => readCheckpointCode(printed, other, NOW)).toThrow(/not a code of this hub/);
  });

  it('records a check-in and a check-out once each (by the id the phone made), with the checkpoint site and verified times', async () => {
    const code = staticCheckpointCode(codeKey, 'nha-an');
    expect(await upload(code, NOW - 5_000, 'in', 'AAAAAAAAAAAAAAAAAAAAAA')).toEqual({ status: 'recorded', workerId: 'a1', checkpointId: 'nha-an', checkpointName: 'Nhà ăn ca 1', direction: 'in', atMs: NOW - 5_000, timeVerified: true });
    expect(await upload(code, NOW - 5_000, 'in', 'AAAAAAAAAAAAAAAAAAAAAA')).toMatchObject({ status: 'duplicate' });
    now += 20 * 60_000;
    await upload(code, now, 'out');
    expect(await visits.list({ workerId: 'a1' })).toEqual([
      expect.objectContaining({ visitId: 'AAAAAAAAAAAAAAAAAAAAAA', checkpointId: 'nha-an', siteId: 'xuong-1', direction: 'in', atMs: NOW - 5_000, receivedAtMs: NOW, timeVerified: true, codeKind: 'static' }),
      expect.objectContaining({ direction: 'out', atMs: now, timeVerified: true }),
    ]);
  });

  it('a check-in uploaded many times at once, to two hubs sharing the database, is kept once', async () => {
    // A second hub process's handle: on PostgreSQL a pool of its own, on SQLite this process's one connection.
    const other = await HubDirectory.open(target);
    try {
      const otherHub = new Visits({ sql: other.sql, uploads: new PhoneUploads(phonePassKey, new PassRegistry({ sql: other.sql, now: () => now })), checkpointCodeKey: codeKey, now: () => now });
      const body = signPhoneUpload(pass, JSON.stringify({ kind: 'visit', id: 'RRRRRRRRRRRRRRRRRRRRRR', scannedAtMs: NOW - 5_000, code: staticCheckpointCode(codeKey, 'nha-an'), direction: 'in' }), phoneKey);
      const receipts = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? otherHub : visits).submit(body)));
      expect(receipts.map((r) => r.status).sort()).toEqual([...Array<string>(7).fill('duplicate'), 'recorded']);
      // Every answer tells the phone the same visit.
      for (const r of receipts) expect(r).toMatchObject({ workerId: 'a1', checkpointId: 'nha-an', direction: 'in', atMs: NOW - 5_000, timeVerified: true });
      expect(await visits.list()).toEqual([expect.objectContaining({ visitId: 'RRRRRRRRRRRRRRRRRRRRRR', direction: 'in' })]);
    } finally {
      await other.close();
    }
  });

  it('a rotating code photographed and uploaded promptly more than a minute after its window is refused; within the minute it is taken', async () => {
    const shown = rotatingCheckpointCode(codeKey, 'nha-an', NOW);
    expect(await upload(shown.code)).toMatchObject({ status: 'recorded', timeVerified: true });
    // 80 s after its window ended, scanned off a photo and uploaded at once: refused by the hub's clock.
    now = shown.nextAtMs + 80_000;
    await expect(upload(shown.code, now)).rejects.toThrow(expect.objectContaining({ status: 400, message: expect.stringMatching(/expired/) }));
    // The phone lying about when it scanned (a minute ago, so still prompt) does not help.
    await expect(upload(shown.code, now - 55_000)).rejects.toThrow(/expired/);
    // 50 s after the window: still within the minute.
    now = shown.nextAtMs + 50_000;
    expect(await upload(shown.code, now)).toMatchObject({ status: 'recorded' });
    expect(await visits.list()).toHaveLength(2);
  });

  it('a visit uploaded late is kept with its time marked unverified; a rotating code must fit the time the phone claims', async () => {
    const shown = rotatingCheckpointCode(codeKey, 'nha-an', NOW);
    const scannedAt = NOW + 1_000;
    now = NOW + 3 * 3_600_000; // back online three hours later
    expect(await upload(shown.code, scannedAt)).toMatchObject({ status: 'recorded', atMs: scannedAt, timeVerified: false });
    expect((await visits.list())[0]).toMatchObject({ atMs: scannedAt, receivedAtMs: now, timeVerified: false, codeKind: 'rotating' });
    // Claiming a scan an hour after the code's window: refused even late.
    await expect(upload(shown.code, NOW + 3_600_000)).rejects.toThrow(/expired/);
  });

  it("Decree 13: a worker's export lists their declarations and visits, and erasure deletes them", async () => {
    await upload(staticCheckpointCode(codeKey, 'nha-an'), NOW, 'in', 'CCCCCCCCCCCCCCCCCCCCCC');
    const declarations = new Declarations({ sql: directory.sql, directory, uploads: new PhoneUploads(createPrivateKey(generateSigningKeyPair('EdDSA').privatePem), passes), now: () => now });
    const store = new SqliteHubStore(join(dir.path, `hub-${Math.random().toString(36).slice(2)}.db`));
    try {
      // Recorded as the hub keeps a flagged one (the phone upload path is tested in declarations.test.ts).
      await directory.sql.run(
        sql`INSERT INTO declarations (decl_id, worker_id, pass_id, made_ms, received_ms, flagged, answers) VALUES ('DDDDDDDDDDDDDDDDDDDDDD', 'a1', 'p', ${NOW}, ${NOW}, 1, '{"cough":true}')`,
      );
      const sources = { directory, passes, store, audit: () => undefined, now: () => now };
      const exported = await exportPerson(sources, 'a1', 'op');
      expect(exported.healthDeclarations).toEqual([{ id: 'DDDDDDDDDDDDDDDDDDDDDD', madeAtMs: NOW, receivedAtMs: NOW, flagged: true, answers: { cough: true } }]);
      expect(exported.visits).toEqual([{ id: 'CCCCCCCCCCCCCCCCCCCCCC', checkpointId: 'nha-an', direction: 'in', atMs: NOW, timeVerified: true }]);
      const erased = await erasePerson(sources, 'a1', 'op');
      expect(erased.phoneUploadsDeleted).toBe(2);
      expect(await visits.list()).toEqual([]);
      expect(await declarations.ofWorker('a1')).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('refuses a forged code, an unregistered checkpoint, a phone clock far ahead, another phone and an out-of-shape payload', async () => {
    const forged = staticCheckpointCode(createPrivateKey(generateSigningKeyPair('EdDSA').privatePem), 'nha-an');
    await expect(upload(forged)).rejects.toThrow(/not a code of this hub/);
    await expect(upload(staticCheckpointCode(codeKey, 'cong-sau'))).rejects.toThrow(/not registered/);
    await expect(upload(staticCheckpointCode(codeKey, 'nha-an'), NOW + 10 * 60_000)).rejects.toThrow(/clock is ahead/);
    const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const body = signPhoneUpload(pass, JSON.stringify({ kind: 'visit', id: newId(), scannedAtMs: NOW, code: staticCheckpointCode(codeKey, 'nha-an'), direction: 'in' }), thief);
    await expect(visits.submit(body)).rejects.toThrow(expect.objectContaining({ status: 401 }));
    const sideways = signPhoneUpload(pass, JSON.stringify({ kind: 'visit', id: newId(), scannedAtMs: NOW, code: staticCheckpointCode(codeKey, 'nha-an'), direction: 'sideways' }), phoneKey);
    await expect(visits.submit(sideways)).rejects.toThrow(expect.objectContaining({ status: 400 }));
    // A declaration's signed payload is not a visit.
    const declaration = signPhoneUpload(pass, JSON.stringify({ kind: 'declaration', id: newId(), madeAtMs: NOW, answers: {} }), phoneKey);
    await expect(visits.submit(declaration)).rejects.toThrow(expect.objectContaining({ status: 400 }));
    expect(await visits.list()).toEqual([]);
  });
});
