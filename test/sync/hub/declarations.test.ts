import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateSigningKeyPair, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { Declarations, DECLARATION_QUESTIONS, KioskDeclarations, kioskDeclarationId, type DeclarationAnswers } from '../../../sync/hub/declarations.js';
import { encodeBatch, type WireEvent } from '../../../sync/batch-codec.js';
import { Hub, type HubReply } from '../../../sync/hub/hub.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { tempDir } from '../../helpers/fixtures.js';
import { join } from 'node:path';
import { HubDirectory } from '../../../sync/hub/directory.js';
import type { HubSqlTarget } from '../../../sync/hub/hub-sql.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { PhoneLinks } from '../../../sync/hub/phone-links.js';
import { PhoneUploads, signPhoneUpload } from '../../../sync/hub/phone-uploads.js';
import { SiteRelay } from '../../../sync/hub/site-relay.js';
import { parseSiteStream, topics } from '../../../sync/protocol.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { createLogger } from '../../../base/node/logger.js';
import { directoryBackends } from '../../helpers/directory-db.js';

const NOW = Date.parse('2026-11-27T01:00:00Z');
const DAY = 86_400_000;

function listed(workerId: string, fullName: string): ListedWorker {
  return { line: 2, workerId, fullName, team: 'Tổ May 1', birthYear: 1990, sex: 'female', idNumber: '079190000001', phone: '0912345601', residence: '1 Lê Lợi', siteId: null, testResult: 'negative', testedAtMs: NOW - DAY, vaccineDoses: 2 };
}

const ALL_NO = Object.fromEntries(DECLARATION_QUESTIONS.map((q) => [q, false])) as unknown as DeclarationAnswers;
let counter = 0;
function payload(answers: Partial<DeclarationAnswers> = {}, madeAtMs = NOW, id = `decl-${String(++counter).padStart(17, '0')}`): string {
  return JSON.stringify({ kind: 'declaration', id, madeAtMs, answers: { ...ALL_NO, ...answers } });
}

describe.each(directoryBackends)('health declarations from the phone page on $name', (backend) => {
  let key: GeneratedKeyPair;
  let directory: HubDirectory;
  let links: PhoneLinks;
  let passes: PassRegistry;
  let declarations: Declarations;
  let now = NOW;
  let phoneKey: KeyObject;
  let phonePassKey: KeyObject;
  let target: HubSqlTarget;
  let pass: Uint8Array;

  async function bind(workerId: string, orgId = 'may-a'): Promise<{ key: KeyObject; pass: Uint8Array }> {
    const [made] = await links.make({ orgId, workerIds: [workerId], madeBy: 'op' });
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { key: pair.privateKey, pass: (await links.redeem(made!.token, pair.publicKey.export({ format: 'jwk' }))).pass };
  }

  beforeEach(async () => {
    now = NOW;
    key = generateSigningKeyPair('EdDSA');
    target = await backend.target();
    directory = await HubDirectory.open(target);
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    await directory.addOrganisation({ id: 'kcn', name: 'KCN Tân Bình', kind: 'agency' }, NOW);
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.addSite({ id: 'cong-kcn', orgId: 'kcn' });
    await directory.addCheckpoint({ id: 'cong-chung', siteId: 'cong-kcn', kind: 'gate', orgIds: ['may-a'] });
    await directory.uploadWorkers('may-a', [listed('a1', 'Nguyễn Thị Hoa'), listed('a2', 'Trần Văn Đức')], { nowMs: NOW });
    // The kiosks at xuong-1 stand at a gate serving may-a: its workers are on their roster.
    await directory.addCheckpoint({ id: 'gate-x', siteId: 'xuong-1', kind: 'gate', orgIds: ['may-a'] });
    await directory.placeDevices('gate-x', ['kiosk-x1', 'kiosk-x2']);
    phonePassKey = createPrivateKey(key.privatePem);
    links = new PhoneLinks({ sql: directory.sql, phonePassKey, issuer: 'hub.1', now: () => now });
    passes = new PassRegistry({ sql: directory.sql, now: () => now });
    declarations = new Declarations({ sql: directory.sql, directory, uploads: new PhoneUploads(phonePassKey, passes), now: () => now });
    ({ key: phoneKey, pass } = await bind('a1'));
  });
  afterEach(async () => {
    await directory.close();
  });

  async function rows(): Promise<Record<string, unknown>[]> {
    return directory.sql.all<Record<string, unknown>>(sql`SELECT * FROM declarations ORDER BY made_ms`);
  }

  async function rosterRecord(workerId: string): Promise<{ declaredAt: number | null; declarationFlagged: boolean }> {
    const row = await directory.sql.get<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'roster' AND key = ${workerId} AND deleted = 0`);
    return JSON.parse(row!.value) as { declaredAt: number | null; declarationFlagged: boolean };
  }

  it('keeps a signed declaration once (by the id the phone made), in the worker roster record, with the sites serving them', async () => {
    const body = signPhoneUpload(pass, payload({}, NOW - 60_000, 'AAAAAAAAAAAAAAAAAAAAAA'), phoneKey);
    const first = await declarations.submit(body);
    expect(first).toEqual({ status: 'recorded', flagged: false, declaredAtMs: NOW - 60_000, rosterChanged: true, sites: ['cong-kcn', 'xuong-1'], workerId: 'a1' });
    // Sent again (the answer was lost on the way back): kept once, nothing changes.
    now += 5_000;
    expect(await declarations.submit(body)).toMatchObject({ status: 'duplicate', rosterChanged: false });
    expect(await rows()).toHaveLength(1);
    // An unflagged declaration keeps no answers: worker, pass, times and the flag only.
    expect((await rows())[0]).toMatchObject({ decl_id: 'AAAAAAAAAAAAAAAAAAAAAA', worker_id: 'a1', made_ms: NOW - 60_000, received_ms: NOW, flagged: 0, answers: null });
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: false });
  });

  it('one declaration uploaded many times at once, to two hubs sharing the database, is kept once', async () => {
    // A second hub process's handle: on PostgreSQL a pool of its own, on SQLite this process's one connection.
    const other = await HubDirectory.open(target);
    try {
      const otherHub = new Declarations({ sql: other.sql, directory: other, uploads: new PhoneUploads(phonePassKey, new PassRegistry({ sql: other.sql, now: () => now })), now: () => now });
      const body = signPhoneUpload(pass, payload({ cough: true }, NOW - 60_000, 'RRRRRRRRRRRRRRRRRRRRRR'), phoneKey);
      const receipts = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? otherHub : declarations).submit(body)));
      expect(receipts.map((r) => r.status).sort()).toEqual([...Array<string>(7).fill('duplicate'), 'recorded']);
      expect(receipts.filter((r) => r.rosterChanged)).toHaveLength(1);
      expect(await rows()).toEqual([expect.objectContaining({ decl_id: 'RRRRRRRRRRRRRRRRRRRRRR', worker_id: 'a1', flagged: 1 })]);
      expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: true });
    } finally {
      await other.close();
    }
  });

  it("a bus the worker rides, at another organisation's site, is among the sites that hear the declaration", async () => {
    await directory.addSite({ id: 'bai-xe', orgId: 'kcn' });
    await directory.addRoute({ id: 'tuyen-1', orgIds: ['may-a'] }, NOW);
    await directory.setRouteRiders('tuyen-1', ['a1']);
    await directory.addCheckpoint({ id: 'xe-01', siteId: 'bai-xe', kind: 'bus', orgIds: ['kcn'] });
    await directory.setCheckpointRoutes('xe-01', ['tuyen-1']);
    expect((await declarations.submit(signPhoneUpload(pass, payload(), phoneKey))).sites).toEqual(['bai-xe', 'cong-kcn', 'xuong-1']);
  });

  it('any "yes" flags it; a flagged declaration keeps its answers 14 days, then only the flag', async () => {
    const r = await declarations.submit(signPhoneUpload(pass, payload({ cough: true, travel: true, travelWhere: 'Đà Nẵng' }), phoneKey));
    expect(r).toMatchObject({ status: 'recorded', flagged: true });
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW, declarationFlagged: true });
    expect((await declarations.ofWorker('a1'))[0]).toMatchObject({ flagged: true, answers: { cough: true, travel: true, travelWhere: 'Đà Nẵng', fever: false } });
    now = NOW + 13 * DAY;
    expect(await declarations.purge(30)).toEqual({ answers: 0, declarations: 0 });
    now = NOW + 15 * DAY;
    expect(await declarations.purge(30)).toEqual({ answers: 1, declarations: 0 });
    expect((await declarations.ofWorker('a1'))[0]).toMatchObject({ flagged: true, answers: null });
    now = NOW + 31 * DAY;
    expect(await declarations.purge(30)).toEqual({ answers: 0, declarations: 1 });
  });

  it('an older declaration uploaded late is kept but does not replace a newer one in the roster', async () => {
    await declarations.submit(signPhoneUpload(pass, payload({ fever: true }, NOW), phoneKey));
    const late = await declarations.submit(signPhoneUpload(pass, payload({}, NOW - 3_600_000), phoneKey));
    expect(late).toMatchObject({ status: 'recorded', rosterChanged: false });
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW, declarationFlagged: true });
    expect(await rows()).toHaveLength(2);
  });

  it('a flagged declaration stands for the rest of its day (province time): a later clean one, phone or kiosk, is kept but does not clear it; the next day\'s clean one does', async () => {
    // NOW is 08:00 in Hồ Chí Minh City; 11:00 and 23:30 are the same day, 08:00 the next day is not.
    await declarations.submit(signPhoneUpload(pass, payload({ fever: true }, NOW), phoneKey));
    now = NOW + 3 * 3_600_000;
    const later = await declarations.submit(signPhoneUpload(pass, payload({}, now), phoneKey));
    expect(later).toMatchObject({ status: 'recorded', flagged: false, rosterChanged: false });
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW, declarationFlagged: true });
    // The same from a kiosk's screen, late in the evening.
    const kiosk = new KioskDeclarations({ sql: directory.sql, directory, now: () => now });
    now = NOW + 15.5 * 3_600_000;
    const atKiosk = await kiosk.record('kiosk-x1', [
      { seq: 7, wallMs: now, monoUs: 7_000, bootId: 'b', clockSynced: true, checkpointId: 'gate-x', zoneId: 'xuong', direction: 'entry', credentialKind: 'pass', workerId: 'a1', codeHash: null, decision: 'allow', reasons: [], source: 'declaration', policyVersion: 1, declaration: { answers: 0 } },
    ]);
    expect(atKiosk.map((r) => [r.status, r.rosterChanged])).toEqual([['recorded', false]]);
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW, declarationFlagged: true });
    expect((await rows()).map((r) => Number(r.flagged))).toEqual([1, 0, 0]);
    // A new flagged one the same day replaces it (still flagged); the next day's clean one clears it.
    now = NOW + DAY;
    expect(await declarations.submit(signPhoneUpload(pass, payload({}, now), phoneKey))).toMatchObject({ rosterChanged: true, flagged: false });
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW + DAY, declarationFlagged: false });
  });

  it("a health officer's clearance drops the flag the same day (kept: who, when, why); a later declaration that day then counts by the usual rule", async () => {
    await declarations.submit(signPhoneUpload(pass, payload({ cough: true }, NOW), phoneKey));
    expect(await directory.clearDeclarationFlag('a1', { by: 'shell:officer', reason: 'khám lại', nowMs: NOW + 3_600_000 })).toEqual({ cleared: true, declaredAtMs: NOW });
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW, declarationFlagged: false });
    expect(await directory.clearDeclarationFlag('a1', { by: 'shell:officer', reason: 'again', nowMs: NOW + 3_600_000 })).toEqual({ cleared: false, declaredAtMs: NOW });
    expect(await directory.clearDeclarationFlag('nobody', { by: 'shell:officer', reason: 'x', nowMs: NOW })).toBeUndefined();
    const kept = await directory.sql.all<Record<string, unknown>>(sql`SELECT worker_id, cleared_by, reason FROM declaration_clearances`);
    expect(kept).toEqual([{ worker_id: 'a1', cleared_by: 'shell:officer', reason: 'khám lại' }]);
    now = NOW + 2 * 3_600_000;
    expect(await declarations.submit(signPhoneUpload(pass, payload({}, now), phoneKey))).toMatchObject({ rosterChanged: true });
    now = NOW + 3 * 3_600_000;
    expect(await declarations.submit(signPhoneUpload(pass, payload({ fever: true }, now), phoneKey))).toMatchObject({ rosterChanged: true, flagged: true });
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: now, declarationFlagged: true });
    // Erasure takes the clearances with the declarations.
    await declarations.eraseWorker('a1');
    expect(await directory.sql.all(sql`SELECT * FROM declaration_clearances`)).toEqual([]);
  });

  it('refuses an upload not signed by the bound phone, a changed payload, a revoked or foreign pass, and a phone clock far ahead', async () => {
    const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await expect(declarations.submit(signPhoneUpload(pass, payload(), thief))).rejects.toThrow(expect.objectContaining({ status: 401, message: expect.stringMatching(/not signed by the phone/) }));
    const good = signPhoneUpload(pass, payload(), phoneKey);
    await expect(declarations.submit({ ...good, payload: good.payload.replace('"fever":false', '"fever":true') })).rejects.toThrow(expect.objectContaining({ status: 401 }));
    // A pass signed by another hub's key.
    const other = generateSigningKeyPair('EdDSA');
    const otherLinks = new PhoneLinks({ sql: directory.sql, phonePassKey: createPrivateKey(other.privatePem), issuer: 'evil', now: () => now });
    const [made] = await otherLinks.make({ orgId: 'may-a', workerIds: ['a2'], madeBy: 'x' });
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const foreign = (await otherLinks.redeem(made!.token, pair.publicKey.export({ format: 'jwk' }))).pass;
    await expect(declarations.submit(signPhoneUpload(foreign, payload(), pair.privateKey))).rejects.toThrow(expect.objectContaining({ status: 401, message: expect.stringMatching(/not this hub's/) }));
    await expect(declarations.submit(signPhoneUpload(pass, payload({}, NOW + 10 * 60_000), phoneKey))).rejects.toThrow(/clock is ahead/);
    await expect(declarations.submit(signPhoneUpload(pass, payload({}, NOW - 8 * DAY), phoneKey))).rejects.toThrow(/more than 7 days old/);
    await expect(declarations.submit(signPhoneUpload(pass, JSON.stringify({ kind: 'declaration', id: 'short', madeAtMs: NOW, answers: ALL_NO }), phoneKey))).rejects.toThrow(expect.objectContaining({ status: 400 }));
    await expect(declarations.submit({ ...good, extra: 1 })).rejects.toThrow(expect.objectContaining({ status: 400 }));
    // A new link for the worker retires this phone: its pass is revoked, its uploads refused.
    await bind('a1');
    await expect(declarations.submit(good)).rejects.toThrow(expect.objectContaining({ status: 401, message: expect.stringMatching(/PASS_REVOKED/) }));
    expect(await rows()).toHaveLength(0);
  });

  it('where they travelled: one line of plain text (no control, invisible formatting or half characters), and only with travel: yes', async () => {
    for (const travelWhere of ['Đà\u202ENẵng', 'Đà\nNẵng', 'Đà\u200BNẵng', 'Đà Nẵng \uD83D']) {
      await expect(declarations.submit(signPhoneUpload(pass, payload({ travel: true, travelWhere }), phoneKey)), JSON.stringify(travelWhere)).rejects.toThrow(
        expect.objectContaining({ status: 400, message: expect.stringMatching(/plain text/) }),
      );
    }
    await expect(declarations.submit(signPhoneUpload(pass, payload({ cough: true, travelWhere: 'Đà Nẵng' }), phoneKey))).rejects.toThrow(
      expect.objectContaining({ status: 400, message: expect.stringMatching(/only with travel/) }),
    );
    expect(await rows()).toEqual([]);
    const r = await declarations.submit(signPhoneUpload(pass, payload({ travel: true, travelWhere: 'Đà Nẵng, Huế' }), phoneKey));
    expect(r).toMatchObject({ status: 'recorded', flagged: true });
    expect(JSON.parse((await rows())[0]!.answers as string)).toMatchObject({ travel: true, travelWhere: 'Đà Nẵng, Huế' });
  });

  it('the same id from another worker phone is refused, not taken as theirs', async () => {
    const b = await bind('a2');
    await declarations.submit(signPhoneUpload(pass, payload({}, NOW, 'BBBBBBBBBBBBBBBBBBBBBB'), phoneKey));
    await expect(declarations.submit(signPhoneUpload(b.pass, payload({ fever: true }, NOW, 'BBBBBBBBBBBBBBBBBBBBBB'), b.key))).rejects.toThrow(expect.objectContaining({ status: 409 }));
    expect(await rosterRecord('a2')).toMatchObject({ declaredAt: null, declarationFlagged: false });
  });

  it("the site relay sends the declaration's time and flag, never its answers, to every device of the worker's sites", async () => {
    await directory.assignSite('xuong-1', ['kiosk-x1', 'kiosk-x2']);
    await directory.assignSite('cong-kcn', ['kiosk-k1']);
    const sent: [string, string][] = [];
    const relay = new SiteRelay({ hubId: 'hub.1', sites: directory, beatMs: 60_000, maxAgeMs: DAY, publish: async (t, p) => void sent.push([t, p]), log: createLogger({ level: 'silent' }), now: () => now });
    const r = await declarations.submit(signPhoneUpload(pass, payload({ nausea: true }), phoneKey));
    relay.onDeclaration(r.sites, r);
    await vi.waitFor(() => expect(sent).toHaveLength(3));
    expect(sent.map(([t]) => t).sort()).toEqual(['kiosk-k1', 'kiosk-x1', 'kiosk-x2'].map((d) => topics.site(d)).sort());
    for (const [, p] of sent) {
      expect(p).not.toMatch(/nausea/);
      const read = parseSiteStream(Buffer.from(p));
      expect(read.items).toEqual([{ kind: 'declaration', workerId: 'a1', declaredAtMs: NOW, flagged: true }]);
      expect(read.skipped).toEqual({ unknownKind: 0, invalid: 0 });
    }
  });
  it('a declaration taken on a kiosk screen arrives in a batch: kept once however often the batch comes (id from device and seq), answers only when flagged, into the roster, relayed without answers; a visitor or a worker on no roster keeps nothing', async () => {
    await directory.assignSite('xuong-1', ['kiosk-x1', 'kiosk-x2']);
    const kiosk = new KioskDeclarations({ sql: directory.sql, directory, now: () => now });
    const event = (seq: number, over: Partial<WireEvent>): WireEvent => ({
      seq, wallMs: NOW - 60_000, monoUs: seq * 1_000, bootId: 'b', clockSynced: true, checkpointId: 'gate-x', zoneId: 'xuong', direction: 'entry',
      credentialKind: 'pass', workerId: 'a1', codeHash: null, decision: 'allow', reasons: [], source: 'declaration', policyVersion: 1, ...over,
    });
    const batch = [
      event(1, { source: 'serial', decision: 'deny', reasons: ['DECLARATION_MISSING'] }),
      event(2, { declaration: { answers: 0 }, wallMs: NOW - 120_000 }),
      // cough (bit 2) and contactCase (bit 8)
      event(3, { decision: 'deny', reasons: ['DECLARATION_FLAGGED'], declaration: { answers: (1 << 2) | (1 << 8) }, workerId: 'a2' }),
      event(4, { workerId: null, credentialKind: 'cccd', visitorId: 'vk1.0123456789abcdef0123456789abcdef', declaration: { answers: 1 } }),
      event(5, { workerId: 'W-none', declaration: { answers: 0 } }),
    ];
    const first = await kiosk.record('kiosk-x1', batch);
    expect(first.map((r) => [r.workerId, r.status, r.flagged, r.rosterChanged])).toEqual([['a1', 'recorded', false, true], ['a2', 'recorded', true, true]]);
    expect(first[0]!.sites).toEqual(['cong-kcn', 'xuong-1']);
    const again = await kiosk.record('kiosk-x1', batch);
    expect(again.map((r) => [r.status, r.rosterChanged])).toEqual([['duplicate', false], ['duplicate', false]]);
    const kept = await rows();
    expect(kept).toHaveLength(2);
    expect(kept.map((r) => r.decl_id).sort()).toEqual([kioskDeclarationId('kiosk-x1', 2), kioskDeclarationId('kiosk-x1', 3)].sort());
    expect(kioskDeclarationId('kiosk-x1', 2)).toHaveLength(22);
    expect(kioskDeclarationId('kiosk-x2', 2)).not.toBe(kioskDeclarationId('kiosk-x1', 2));
    const a1 = kept.find((r) => r.worker_id === 'a1')!;
    expect(a1).toMatchObject({ pass_id: 'kiosk:kiosk-x1', flagged: 0, answers: null });
    const a2 = kept.find((r) => r.worker_id === 'a2')!;
    expect(a2.flagged).toBe(1);
    const answers = JSON.parse(a2.answers as string) as Record<string, boolean>;
    expect(Object.keys(answers).filter((q) => answers[q]).sort()).toEqual(['contactCase', 'cough']);
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW - 120_000, declarationFlagged: false });
    expect(await rosterRecord('a2')).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: true });
    // The phone page reads it back like its own.
    expect((await declarations.ofWorker('a2'))[0]).toMatchObject({ flagged: true, answers: { cough: true, contactCase: true, fever: false } });

    // On to the worker's sites' kiosks, time and flag only.
    const sent: [string, string][] = [];
    const relay = new SiteRelay({ hubId: 'hub.1', sites: directory, beatMs: 60_000, maxAgeMs: DAY, publish: async (t, p) => void sent.push([t, p]), log: createLogger({ level: 'silent' }), now: () => now });
    relay.onDeclaration(first[1]!.sites, first[1]!);
    await vi.waitFor(() => expect(sent).toHaveLength(2));
    for (const [, p] of sent) {
      expect(p).not.toMatch(/cough|contactCase|answers/);
      expect(parseSiteStream(Buffer.from(p)).items).toEqual([{ kind: 'declaration', workerId: 'a2', declaredAtMs: NOW - 60_000, flagged: true }]);
    }
  });
  it("a kiosk's declaration for a worker not on the roster that kiosk receives is not recorded: a warning without answers, nothing in the directory", async () => {
    // kiosk-z1 stands at a gate serving kcn only: may-a's workers are not on its roster.
    await directory.addCheckpoint({ id: 'gate-z', siteId: 'cong-kcn', kind: 'gate', orgIds: ['kcn'] });
    await directory.placeDevices('gate-z', ['kiosk-z1']);
    const warned: unknown[][] = [];
    const kiosk = new KioskDeclarations({ sql: directory.sql, directory, now: () => now, log: { warn: (...a: unknown[]) => void warned.push(a) } as never });
    const flagged = { seq: 3, wallMs: NOW - 60_000, monoUs: 3_000, bootId: 'b', clockSynced: true, checkpointId: 'gate-z', zoneId: 'kcn', direction: 'entry', credentialKind: 'pass', workerId: 'a1', codeHash: null, decision: 'deny', reasons: ['DECLARATION_FLAGGED'], source: 'declaration', policyVersion: 1, declaration: { answers: 1 << 2 } } satisfies WireEvent;
    expect(await kiosk.record('kiosk-z1', [flagged])).toEqual([]);
    expect(await rows()).toEqual([]);
    expect(await rosterRecord('a1')).toMatchObject({ declaredAt: null, declarationFlagged: false });
    expect(warned).toHaveLength(1);
    expect(JSON.stringify(warned)).not.toMatch(/cough|answers|a1/);
    expect(warned[0]![0]).toEqual({ deviceId: 'kiosk-z1', seq: 3 });
    // The same worker's declaration from a kiosk that serves them is recorded.
    expect((await kiosk.record('kiosk-x1', [{ ...flagged, checkpointId: 'gate-x' }])).map((r) => r.status)).toEqual(['recorded']);
  });

  /**
   * Makes the directory fail for real until the returned function is called: on SQLite another
   * connection holds the file's write lock (a long import in another process); on PostgreSQL the
   * database stops accepting connections and the hub's are cut (as in a server restart).
   */
  async function breakDirectory(): Promise<() => Promise<void>> {
    if (target.kind === 'sqlite') {
      const other = new Database(target.path);
      other.exec('BEGIN EXCLUSIVE');
      return async () => {
        other.exec('ROLLBACK');
        other.close();
      };
    }
    const url = new URL(target.url);
    const name = decodeURIComponent(url.pathname.slice(1));
    url.pathname = '/postgres';
    const admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    await admin.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    return async () => {
      await admin.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS true`);
      await admin.end();
    };
  }

  it('a directory that cannot take a kiosk declaration holds the acknowledgement: the kiosk sends the batch again and, the directory back, it is recorded once (events stored once)', async () => {
    const dir = tempDir('safegate-kdecl-down-');
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      // The directory for declarations only (no downlink: the events' organisation stamps do not read it), so it fails at the declaration.
      const hub = new Hub({ broker: { url: 'mqtts://127.0.0.1:1', ca: '', cert: '', key: '', protocolVersion: 5 }, clientId: 'hub.1', declarations: { directory } }, store, createLogger({ level: 'silent' }));
      const seen: { recorded: number; relayed: number }[] = [];
      hub.on('declarations', (_d, c) => seen.push(c));
      const acks: string[] = [];
      const reply: HubReply = async (topic) => void acks.push(topic);
      const bytes = encodeBatch({
        deviceId: 'kiosk-x1', batchId: 'b-1', anchor: null,
        events: [{ seq: 1, wallMs: NOW - 60_000, monoUs: 1_000, bootId: 'b', clockSynced: true, checkpointId: 'gate-x', zoneId: 'xuong', direction: 'entry',
          credentialKind: 'pass', workerId: 'a1', codeHash: null, decision: 'deny', reasons: ['DECLARATION_FLAGGED'], source: 'declaration', policyVersion: 1, declaration: { answers: 2 } }],
      });
      const onBatch = (hub as unknown as { onBatch(d: string, t: string, p: Uint8Array, r: HubReply): Promise<void> }).onBatch.bind(hub);

      const restore = await breakDirectory();
      try {
        await expect(onBatch('kiosk-x1', topics.events('kiosk-x1'), bytes, reply)).rejects.toThrow();
        // Not acknowledged: the kiosk keeps the batch in its outbox.
        expect(acks).toEqual([]);
      } finally {
        await restore();
      }
      // The events themselves were stored; the directory has nothing yet.
      expect((await store.personData('a1')).events).toHaveLength(1);
      expect(await rows()).toEqual([]);
      expect(await rosterRecord('a1')).toMatchObject({ declaredAt: null });

      // The kiosk sends the batch again (and once more, its acknowledgement lost): recorded once.
      await onBatch('kiosk-x1', topics.events('kiosk-x1'), bytes, reply);
      await onBatch('kiosk-x1', topics.events('kiosk-x1'), bytes, reply);
      expect(acks).toHaveLength(2);
      expect(seen).toEqual([{ recorded: 1, relayed: 0 }, { recorded: 0, relayed: 0 }]);
      expect((await rows()).map((r) => [r.decl_id, r.pass_id, Number(r.flagged)])).toEqual([[kioskDeclarationId('kiosk-x1', 1), 'kiosk:kiosk-x1', 1]]);
      expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: true });
      expect((await store.personData('a1')).events).toHaveLength(1);
    } finally {
      await store.close();
      dir.remove();
    }
  }, 30_000);

  it("the hub's ingest takes a batch's kiosk declarations into the directory before it acknowledges the batch, once however often it comes", async () => {
    const dir = tempDir('safegate-kdecl-');
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      const hub = new Hub({ broker: { url: 'mqtts://127.0.0.1:1', ca: '', cert: '', key: '', protocolVersion: 5 }, clientId: 'hub.1', downlink: { directory, signingKey: createPrivateKey(key.privatePem) } }, store, createLogger({ level: 'silent' }));
      const seen: { recorded: number; relayed: number }[] = [];
      hub.on('declarations', (_d, c) => seen.push(c));
      const acks: string[] = [];
      const reply: HubReply = async (topic) => {
        // The declaration is in the directory by the time the kiosk hears the acknowledgement.
        expect(await rows()).toHaveLength(1);
        acks.push(topic);
      };
      const bytes = encodeBatch({
        deviceId: 'kiosk-x1', batchId: 'b-1', anchor: null,
        events: [{ seq: 1, wallMs: NOW - 60_000, monoUs: 1_000, bootId: 'b', clockSynced: true, checkpointId: 'gate-x', zoneId: 'xuong', direction: 'entry',
          credentialKind: 'pass', workerId: 'a1', codeHash: null, decision: 'deny', reasons: ['DECLARATION_FLAGGED'], source: 'declaration', policyVersion: 1, declaration: { answers: 2 } }],
      });
      const onBatch = (hub as unknown as { onBatch(d: string, t: string, p: Uint8Array, r: HubReply): Promise<void> }).onBatch.bind(hub);
      await onBatch('kiosk-x1', topics.events('kiosk-x1'), bytes, reply);
      await onBatch('kiosk-x1', topics.events('kiosk-x1'), bytes, reply);
      expect(acks).toHaveLength(2);
      expect(seen).toEqual([{ recorded: 1, relayed: 0 }, { recorded: 0, relayed: 0 }]);
      expect(await rosterRecord('a1')).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: true });
    } finally {
      await store.close();
      dir.remove();
    }
  });

  it("the hub acknowledges a batch whose declaration names a worker the kiosk's roster does not hold: the event is kept, the directory untouched (no resend forever)", async () => {
    await directory.addCheckpoint({ id: 'gate-z', siteId: 'cong-kcn', kind: 'gate', orgIds: ['kcn'] });
    await directory.placeDevices('gate-z', ['kiosk-z1']);
    const dir = tempDir('safegate-kdecl-scope-');
    const store = new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      const hub = new Hub({ broker: { url: 'mqtts://127.0.0.1:1', ca: '', cert: '', key: '', protocolVersion: 5 }, clientId: 'hub.1', declarations: { directory } }, store, createLogger({ level: 'silent' }));
      const acks: string[] = [];
      const reply: HubReply = async (topic) => void acks.push(topic);
      const bytes = encodeBatch({
        deviceId: 'kiosk-z1', batchId: 'b-1', anchor: null,
        events: [{ seq: 1, wallMs: NOW - 60_000, monoUs: 1_000, bootId: 'b', clockSynced: true, checkpointId: 'gate-z', zoneId: 'kcn', direction: 'entry',
          credentialKind: 'pass', workerId: 'a1', codeHash: null, decision: 'deny', reasons: ['DECLARATION_FLAGGED'], source: 'declaration', policyVersion: 1, declaration: { answers: 2 } }],
      });
      const onBatch = (hub as unknown as { onBatch(d: string, t: string, p: Uint8Array, r: HubReply): Promise<void> }).onBatch.bind(hub);
      await onBatch('kiosk-z1', topics.events('kiosk-z1'), bytes, reply);
      expect(acks).toHaveLength(1);
      expect((await store.personData('a1')).events).toHaveLength(1);
      expect(await rows()).toEqual([]);
      expect(await rosterRecord('a1')).toMatchObject({ declaredAt: null });
    } finally {
      await store.close();
      dir.remove();
    }
  });
});
