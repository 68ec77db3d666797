import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateSigningKeyPair, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { Declarations, DECLARATION_QUESTIONS, type DeclarationAnswers } from '../../../sync/hub/declarations.js';
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
});
