import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeyPair, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { openDatabase } from '../../../base/node/sqlite.js';
import { Declarations, DECLARATION_QUESTIONS, type DeclarationAnswers } from '../../../sync/hub/declarations.js';
import { DIRECTORY_MIGRATIONS, HubDirectory } from '../../../sync/hub/directory.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { PhoneLinks } from '../../../sync/hub/phone-links.js';
import { PhoneUploads, signPhoneUpload } from '../../../sync/hub/phone-uploads.js';
import { SiteRelay } from '../../../sync/hub/site-relay.js';
import { parseSiteStream, topics } from '../../../sync/protocol.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { createLogger } from '../../../base/node/logger.js';
import { tempDir } from '../../helpers/fixtures.js';

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

describe('health declarations from the phone page', () => {
  const dir = tempDir('safegate-decl-');
  let file: string;
  let key: GeneratedKeyPair;
  let directory: HubDirectory;
  let links: PhoneLinks;
  let passes: PassRegistry;
  let declarations: Declarations;
  let now = NOW;
  let phoneKey: KeyObject;
  let pass: Uint8Array;

  function bind(workerId: string, orgId = 'may-a'): { key: KeyObject; pass: Uint8Array } {
    const [made] = links.make({ orgId, workerIds: [workerId], madeBy: 'op' });
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { key: pair.privateKey, pass: links.redeem(made!.token, pair.publicKey.export({ format: 'jwk' })).pass };
  }

  beforeEach(() => {
    now = NOW;
    file = join(dir.path, `directory-${Math.random().toString(36).slice(2)}.db`);
    key = generateSigningKeyPair('EdDSA');
    directory = new HubDirectory(file);
    directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    directory.addOrganisation({ id: 'kcn', name: 'KCN Tân Bình', kind: 'agency' }, NOW);
    directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    directory.addSite({ id: 'cong-kcn', orgId: 'kcn' });
    directory.addCheckpoint({ id: 'cong-chung', siteId: 'cong-kcn', kind: 'gate', orgIds: ['may-a'] });
    directory.uploadWorkers('may-a', [listed('a1', 'Nguyễn Thị Hoa'), listed('a2', 'Trần Văn Đức')], { nowMs: NOW });
    const phonePassKey = createPrivateKey(key.privatePem);
    links = new PhoneLinks({ directoryPath: file, phonePassKey, issuer: 'hub.1', now: () => now });
    passes = new PassRegistry({ directoryPath: file, now: () => now });
    declarations = new Declarations({ directoryPath: file, directory, uploads: new PhoneUploads(phonePassKey, passes), now: () => now });
    ({ key: phoneKey, pass } = bind('a1'));
  });
  afterEach(() => {
    declarations.close();
    passes.close();
    links.close();
    directory.close();
  });

  function rows(): Record<string, unknown>[] {
    const db = openDatabase(file, { migrations: DIRECTORY_MIGRATIONS });
    try {
      return db.prepare('SELECT * FROM declarations ORDER BY made_ms').all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }

  function rosterRecord(workerId: string): { declaredAt: number | null; declarationFlagged: boolean } {
    const db = openDatabase(file, { migrations: DIRECTORY_MIGRATIONS });
    try {
      const row = db.prepare("SELECT value FROM records WHERE stream = 'roster' AND key = ? AND deleted = 0").get(workerId) as { value: string };
      return JSON.parse(row.value) as { declaredAt: number | null; declarationFlagged: boolean };
    } finally {
      db.close();
    }
  }

  it('keeps a signed declaration once (by the id the phone made), in the worker roster record, with the sites serving them', () => {
    const body = signPhoneUpload(pass, payload({}, NOW - 60_000, 'AAAAAAAAAAAAAAAAAAAAAA'), phoneKey);
    const first = declarations.submit(body);
    expect(first).toEqual({ status: 'recorded', flagged: false, declaredAtMs: NOW - 60_000, rosterChanged: true, sites: ['cong-kcn', 'xuong-1'], workerId: 'a1' });
    // Sent again (the answer was lost on the way back): kept once, nothing changes.
    now += 5_000;
    expect(declarations.submit(body)).toMatchObject({ status: 'duplicate', rosterChanged: false });
    expect(rows()).toHaveLength(1);
    // An unflagged declaration keeps no answers: worker, pass, times and the flag only.
    expect(rows()[0]).toMatchObject({ decl_id: 'AAAAAAAAAAAAAAAAAAAAAA', worker_id: 'a1', made_ms: NOW - 60_000, received_ms: NOW, flagged: 0, answers: null });
    expect(rosterRecord('a1')).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: false });
  });

  it("a bus the worker rides, at another organisation's site, is among the sites that hear the declaration", () => {
    directory.addSite({ id: 'bai-xe', orgId: 'kcn' });
    directory.addRoute({ id: 'tuyen-1', orgIds: ['may-a'] }, NOW);
    directory.setRouteRiders('tuyen-1', ['a1']);
    directory.addCheckpoint({ id: 'xe-01', siteId: 'bai-xe', kind: 'bus', orgIds: ['kcn'] });
    directory.setCheckpointRoutes('xe-01', ['tuyen-1']);
    expect(declarations.submit(signPhoneUpload(pass, payload(), phoneKey)).sites).toEqual(['bai-xe', 'cong-kcn', 'xuong-1']);
  });

  it('any "yes" flags it; a flagged declaration keeps its answers 14 days, then only the flag', () => {
    const r = declarations.submit(signPhoneUpload(pass, payload({ cough: true, travel: true, travelWhere: 'Đà Nẵng' }), phoneKey));
    expect(r).toMatchObject({ status: 'recorded', flagged: true });
    expect(rosterRecord('a1')).toMatchObject({ declaredAt: NOW, declarationFlagged: true });
    expect(declarations.ofWorker('a1')[0]).toMatchObject({ flagged: true, answers: { cough: true, travel: true, travelWhere: 'Đà Nẵng', fever: false } });
    now = NOW + 13 * DAY;
    expect(declarations.purge(30)).toEqual({ answers: 0, declarations: 0 });
    now = NOW + 15 * DAY;
    expect(declarations.purge(30)).toEqual({ answers: 1, declarations: 0 });
    expect(declarations.ofWorker('a1')[0]).toMatchObject({ flagged: true, answers: null });
    now = NOW + 31 * DAY;
    expect(declarations.purge(30)).toEqual({ answers: 0, declarations: 1 });
  });

  it('an older declaration uploaded late is kept but does not replace a newer one in the roster', () => {
    declarations.submit(signPhoneUpload(pass, payload({ fever: true }, NOW), phoneKey));
    const late = declarations.submit(signPhoneUpload(pass, payload({}, NOW - 3_600_000), phoneKey));
    expect(late).toMatchObject({ status: 'recorded', rosterChanged: false });
    expect(rosterRecord('a1')).toMatchObject({ declaredAt: NOW, declarationFlagged: true });
    expect(rows()).toHaveLength(2);
  });

  it('refuses an upload not signed by the bound phone, a changed payload, a revoked or foreign pass, and a phone clock far ahead', () => {
    const thief = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(() => declarations.submit(signPhoneUpload(pass, payload(), thief))).toThrow(expect.objectContaining({ status: 401, message: expect.stringMatching(/not signed by the phone/) }));
    const good = signPhoneUpload(pass, payload(), phoneKey);
    expect(() => declarations.submit({ ...good, payload: good.payload.replace('"fever":false', '"fever":true') })).toThrow(expect.objectContaining({ status: 401 }));
    // A pass signed by another hub's key.
    const other = generateSigningKeyPair('EdDSA');
    const otherLinks = new PhoneLinks({ directoryPath: file, phonePassKey: createPrivateKey(other.privatePem), issuer: 'evil', now: () => now });
    const [made] = otherLinks.make({ orgId: 'may-a', workerIds: ['a2'], madeBy: 'x' });
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const foreign = otherLinks.redeem(made!.token, pair.publicKey.export({ format: 'jwk' })).pass;
    otherLinks.close();
    expect(() => declarations.submit(signPhoneUpload(foreign, payload(), pair.privateKey))).toThrow(expect.objectContaining({ status: 401, message: expect.stringMatching(/not this hub's/) }));
    expect(() => declarations.submit(signPhoneUpload(pass, payload({}, NOW + 10 * 60_000), phoneKey))).toThrow(/clock is ahead/);
    expect(() => declarations.submit(signPhoneUpload(pass, payload({}, NOW - 8 * DAY), phoneKey))).toThrow(/more than 7 days old/);
    expect(() => declarations.submit(signPhoneUpload(pass, JSON.stringify({ kind: 'declaration', id: 'short', madeAtMs: NOW, answers: ALL_NO }), phoneKey))).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => declarations.submit({ ...good, extra: 1 })).toThrow(expect.objectContaining({ status: 400 }));
    // A new link for the worker retires this phone: its pass is revoked, its uploads refused.
    bind('a1');
    expect(() => declarations.submit(good)).toThrow(expect.objectContaining({ status: 401, message: expect.stringMatching(/PASS_REVOKED/) }));
    expect(rows()).toHaveLength(0);
  });

  it('the same id from another worker phone is refused, not taken as theirs', () => {
    const b = bind('a2');
    declarations.submit(signPhoneUpload(pass, payload({}, NOW, 'BBBBBBBBBBBBBBBBBBBBBB'), phoneKey));
    expect(() => declarations.submit(signPhoneUpload(b.pass, payload({ fever: true }, NOW, 'BBBBBBBBBBBBBBBBBBBBBB'), b.key))).toThrow(expect.objectContaining({ status: 409 }));
    expect(rosterRecord('a2')).toMatchObject({ declaredAt: null, declarationFlagged: false });
  });

  it("the site relay sends the declaration's time and flag, never its answers, to every device of the worker's sites", async () => {
    directory.assignSite('xuong-1', ['kiosk-x1', 'kiosk-x2']);
    directory.assignSite('cong-kcn', ['kiosk-k1']);
    const sent: [string, string][] = [];
    const relay = new SiteRelay({ hubId: 'hub.1', sites: directory, beatMs: 60_000, maxAgeMs: DAY, publish: async (t, p) => void sent.push([t, p]), log: createLogger({ level: 'silent' }), now: () => now });
    const r = declarations.submit(signPhoneUpload(pass, payload({ nausea: true }), phoneKey));
    relay.onDeclaration(r.sites, r);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.map(([t]) => t).sort()).toEqual(['kiosk-k1', 'kiosk-x1', 'kiosk-x2'].map((d) => topics.site(d)).sort());
    for (const [, p] of sent) {
      expect(p).not.toMatch(/nausea/);
      const read = parseSiteStream(Buffer.from(p));
      expect(read.items).toEqual([{ kind: 'declaration', workerId: 'a1', declaredAtMs: NOW, flagged: true }]);
      expect(read.skipped).toEqual({ unknownKind: 0, invalid: 0 });
    }
  });
});
