import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubKeyring, generateSigningKeyPair, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { checkPass } from '../../../base/node/pass.js';
import { checkPhonePass, provePhonePass } from '../../../base/node/phone-pass.js';
import { openDatabase } from '../../../base/node/sqlite.js';
import { streamCodecs } from '../../../sync/downlink-codec.js';
import { DIRECTORY_MIGRATIONS, HubDirectory } from '../../../sync/hub/directory.js';
import { PassError, PassRegistry } from '../../../sync/hub/passes.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { tempDir } from '../../helpers/fixtures.js';
import { silentLogger } from '../../../base/node/logger.js';
import { openStore } from '../../../src-main/core/store/database.js';
import { DownlinkState } from '../../../src-main/core/store/downlink-state.js';
import { Revocations } from '../../../src-main/core/store/hub-data.js';
import { Downlink } from '../../../sync/downlink.js';
import { HubRetention } from '../../../sync/hub/retention.js';

/** Now, to the second (passes carry whole seconds): the roster-removal trigger revokes only passes not yet expired by the wall clock. */
const NOW = Math.floor(Date.now() / 1000) * 1000;
const IN_90_DAYS = new Date(NOW + 90 * 86_400_000);

function listed(workerId: string, fullName: string, team: string, line = 2): ListedWorker {
  return { line, workerId, fullName, team, birthYear: 1990, sex: 'female', idNumber: '079190000001', phone: '0912345601', residence: '1 Lê Lợi', siteId: null, testResult: 'negative', testedAtMs: NOW - 86_400_000, vaccineDoses: 2 };
}

/** What a kiosk would hold of the revocations stream after a full download. */
function revokedAtKiosk(d: HubDirectory): Set<string> {
  const parts = d.respond({ v: PROTOCOL_VERSION, stream: 'revocations', cursor: 0 }, NOW);
  return new Set(parts.flatMap((p) => p.body.map((b) => streamCodecs.revocations.fromWire(b))).filter((r) => !r.deleted).map((r) => r.key));
}

describe('hub pass registry', () => {
  const dir = tempDir('safegate-passes-');
  let file: string;
  let key: GeneratedKeyPair;
  let directory: HubDirectory;
  let registry: PassRegistry;
  let keyring: HubKeyring;

  beforeEach(() => {
    file = join(dir.path, 'directory.db');
    key = generateSigningKeyPair('EdDSA');
    keyring = new HubKeyring();
    keyring.add(createPublicKey(key.publicPem), { role: 'pass', source: 'test' });
    directory = new HubDirectory(file);
    directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    directory.addOrganisation({ id: 'cho-b', name: 'Chợ B', kind: 'market' }, NOW);
    directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    directory.addSite({ id: 'cho-b-1', orgId: 'cho-b' });
    directory.uploadWorkers('may-a', [listed('a1', 'Nguyễn Thị Hoa', 'Tổ May 1'), listed('a2', 'Trần Văn Đức', 'Tổ May 1', 3), listed('a3', 'Lê Thị Ánh', 'Tổ Cắt', 4)], { nowMs: NOW });
    directory.uploadWorkers('cho-b', [listed('b1', 'Phạm Văn Bình', 'Sạp 1')], { nowMs: NOW });
    registry = new PassRegistry({ directoryPath: file, passKey: createPrivateKey(key.privatePem), now: () => NOW });
  });
  afterEach(() => {
    registry.close();
    directory.close();
    dir.remove();
  });

  it('issues to an organisation, a team or named workers, records each pass, and each code verifies as its worker', () => {
    const org = registry.of('may-a');
    const all = org.issue({ expiresAt: IN_90_DAYS });
    expect(all.issued.map((p) => p.workerId).sort()).toEqual(['a1', 'a2', 'a3']);
    expect(all.alreadyHeld).toBe(0);
    for (const p of all.issued) {
      const check = checkPass(p.code, keyring, NOW);
      expect(check.ok && check.pass.claims.passId).toBe(p.passId);
      expect(check.ok && check.pass.claims.workerId).toBe(p.workerId);
      expect(p).toMatchObject({ orgId: 'may-a', kind: 'printed', state: 'live', issuedAtMs: NOW, expiresAtMs: IN_90_DAYS.getTime(), revokedAtMs: null });
    }
    const team = org.issue({ team: 'Tổ May 1', expiresAt: IN_90_DAYS });
    expect(team.issued.map((p) => p.workerId)).toEqual(['a1', 'a2']);
    // Reissue keeps both: the worker's old pass is still live.
    expect(team.alreadyHeld).toBe(2);
    const named = org.issue({ workerIds: ['a3'], expiresAt: IN_90_DAYS });
    expect(named.issued.map((p) => p.workerId)).toEqual(['a3']);
    expect(org.list({ workerId: 'a1' }).map((p) => p.state)).toEqual(['live', 'live']);
    expect(org.list({ team: 'Tổ Cắt' })).toHaveLength(2);
    expect(registry.list()).toHaveLength(6);
    // The registry never hands the QR text back in a listing.
    expect(Object.keys(org.list()[0]!)).not.toContain('code');
  });

  it("refuses a worker of another organisation, an unknown team, a past or too distant expiry, all or nothing", () => {
    const org = registry.of('may-a');
    expect(() => org.issue({ workerIds: ['a1', 'b1'], expiresAt: IN_90_DAYS })).toThrow(/not on may-a's list: b1/);
    expect(() => org.issue({ workerIds: ['a1', 'nobody'], expiresAt: IN_90_DAYS })).toThrow(PassError);
    expect(() => org.issue({ team: 'Tổ Không Có', expiresAt: IN_90_DAYS })).toThrow(/has no workers/);
    expect(() => org.issue({ expiresAt: new Date(NOW - 1000) })).toThrow(/in the future/);
    expect(() => org.issue({ expiresAt: new Date(NOW + 4 * 365 * 86_400_000) })).toThrow(/at most/);
    expect(() => registry.of('no-such-org')).toThrow(/no organisation/);
    expect(() => registry.issue({ workerId: 'ghost', expiresAt: IN_90_DAYS, kind: 'printed' })).toThrow(/no organisation's uploaded list/);
    expect(registry.list()).toEqual([]);
  });

  it('puts a revoked pass on the revocations stream, which the kiosk check then refuses; a worker revoked loses every live pass', () => {
    const org = registry.of('may-a');
    const [p1, p2] = org.issue({ workerIds: ['a1', 'a2'], expiresAt: IN_90_DAYS }).issued;
    const p1b = org.issue({ workerIds: ['a1'], expiresAt: IN_90_DAYS }).issued[0]!;
    const before = directory.revision('revocations');
    expect(org.revokePass(p1!.passId)).toMatchObject({ state: 'revoked', revokedBecause: 'pass', revokedAtMs: NOW });
    expect(directory.revision('revocations')).toBeGreaterThan(before);
    let revoked = revokedAtKiosk(directory);
    expect(checkPass(p1!.code, keyring, NOW, (id) => revoked.has(id))).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
    expect(checkPass(p1b.code, keyring, NOW, (id) => revoked.has(id)).ok).toBe(true);

    expect(org.revokeWorker('a1').map((p) => p.passId)).toEqual([p1b.passId]);
    revoked = revokedAtKiosk(directory);
    expect(revoked).toEqual(new Set([p1!.passId, p1b.passId]));
    expect(checkPass(p2!.code, keyring, NOW, (id) => revoked.has(id)).ok).toBe(true);
  });

  it('reaches a kiosk: the signed revocations stream it downloads makes it refuse the revoked pass and the removed worker\'s', () => {
    const org = registry.of('may-a');
    const [p1, p2, p3] = org.issue({ expiresAt: IN_90_DAYS }).issued;
    org.revokePass(p1!.passId);
    directory.removeWorkers([p2!.workerId]);
    const downlinkPair = generateSigningKeyPair('EdDSA');
    keyring.add(createPublicKey(downlinkPair.publicPem), { role: 'downlink', source: 'test' });
    const kioskDb = openStore(join(dir.path, 'kiosk.db'));
    try {
      const revocations = new Revocations(kioskDb);
      const none = () => undefined;
      const downlink = new Downlink('kiosk-a', new DownlinkState(kioskDb), () => keyring, { roster: none, notices: none, revocations: (kind, changes) => revocations.applyChanges(kind, changes), policy: none, keys: none }, silentLogger);
      const request = downlink.requests().find((r) => r.stream === 'revocations')!;
      for (const part of directory.respondSigned(request, Date.now(), createPrivateKey(downlinkPair.privatePem))) downlink.receive(part, Date.now());
      const atKiosk = (code: string) => checkPass(code, keyring, NOW, (id) => revocations.isRevoked(id));
      expect(atKiosk(p1!.code)).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
      expect(atKiosk(p2!.code)).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
      expect(atKiosk(p3!.code).ok).toBe(true);
    } finally {
      kioskDb.close();
    }
  });

  it("an organisation's desk cannot see or revoke another organisation's passes", () => {
    const theirs = registry.of('cho-b').issue({ expiresAt: IN_90_DAYS }).issued[0]!;
    const mine = registry.of('may-a');
    expect(mine.list()).toEqual([]);
    expect(mine.list({ workerId: 'b1' })).toEqual([]);
    expect(() => mine.revokePass(theirs.passId)).toThrow(`no pass ${theirs.passId} in organisation may-a`);
    expect(() => mine.revokeWorker('b1')).toThrow('no worker b1 in organisation may-a');
    expect(registry.pass(theirs.passId)?.state).toBe('live');
    expect(revokedAtKiosk(directory).size).toBe(0);
  });

  it('revokes the passes of a worker who leaves the roster: an upload without them, or hub roster remove', () => {
    const org = registry.of('may-a');
    const issued = org.issue({ expiresAt: IN_90_DAYS }).issued;
    const byWorker = new Map(issued.map((p) => [p.workerId, p.passId]));
    directory.uploadWorkers('may-a', [listed('a1', 'Nguyễn Thị Hoa', 'Tổ May 1'), listed('a3', 'Lê Thị Ánh', 'Tổ Cắt', 3)], { nowMs: NOW });
    expect(registry.pass(byWorker.get('a2')!)).toMatchObject({ state: 'revoked', revokedBecause: 'removed' });
    expect(revokedAtKiosk(directory)).toEqual(new Set([byWorker.get('a2')]));
    directory.removeWorkers(['a3']);
    expect(registry.pass(byWorker.get('a3')!)).toMatchObject({ state: 'revoked', revokedBecause: 'removed' });
    expect(revokedAtKiosk(directory)).toEqual(new Set([byWorker.get('a2'), byWorker.get('a3')]));
    expect(registry.pass(byWorker.get('a1')!)?.state).toBe('live');
  });

  it('issues a phone-bound pass with the phone pass key: the phone proves it, the kiosk accepts it, and revoking the worker revokes it', () => {
    const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const phoneKey = generateSigningKeyPair('EdDSA');
    keyring.add(createPublicKey(phoneKey.publicPem), { role: 'phone-pass', source: 'test' });
    const withPhoneKey = new PassRegistry({ directoryPath: file, phonePassKey: createPrivateKey(phoneKey.privatePem), now: () => NOW });
    try {
      const p = withPhoneKey.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'phone', holderKey: phone.publicKey });
      expect(p).toMatchObject({ kind: 'phone', workerId: 'a1', orgId: 'may-a', state: 'live' });
      const rules = { maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, kioskClockSynced: true, unverifiedKioskClock: 'check' as const };
      const shown = provePhonePass(p.signedPass, phone.privateKey, NOW);
      const check = checkPhonePass(shown, keyring, NOW + 5_000, rules);
      expect(check.ok && [check.pass.claims.passId, check.pass.claims.workerId]).toEqual([p.passId, 'a1']);
      // Another phone cannot show it.
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      expect(checkPhonePass(provePhonePass(p.signedPass, other.privateKey, NOW), keyring, NOW, rules)).toMatchObject({ ok: false, failure: 'BAD_SIGNATURE' });
      // The printed pass key cannot make phone passes, nor the phone key printed ones.
      expect(() => withPhoneKey.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'printed' })).toThrow(/no pass key/);
      expect(() => registry.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'phone', holderKey: phone.publicKey })).toThrow(/no phone pass key/);
      expect(registry.revokeWorker('a1', { kind: 'phone', because: 'rebound' }).map((r) => r.passId)).toEqual([p.passId]);
      const revoked = revokedAtKiosk(directory);
      expect(checkPhonePass(shown, keyring, NOW + 5_000, rules, (id) => revoked.has(id))).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
      expect(registry.pass(p.passId)).toMatchObject({ state: 'revoked', revokedBecause: 'rebound' });
    } finally {
      withPhoneKey.close();
    }
  });

  it('takes a phone key only for a phone pass, and only a P-256 public key', () => {
    const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const notP256 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    expect(() => registry.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'phone' })).toThrow(/needs the phone's public key/);
    expect(() => registry.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'phone', holderKey: notP256 })).toThrow(/P-256/);
    expect(() => registry.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'printed', holderKey: phone })).toThrow(/carries no phone key/);
    expect(() => new PassRegistry({ directoryPath: file }).issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'printed' })).toThrow(/no pass key/);
    expect(registry.list()).toEqual([]);
  });

  it("finds a worker's and an organisation's passes by their indexes (EXPLAIN QUERY PLAN), as revocation on removal does", () => {
    const db = openDatabase(file, { migrations: DIRECTORY_MIGRATIONS });
    try {
      const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join(' | ');
      expect(plan("SELECT * FROM passes p WHERE p.org_id = 'may-a' ORDER BY p.issued_ms DESC, p.pass_id")).toMatch(/USING INDEX passes_org/);
      expect(plan("SELECT * FROM passes p WHERE p.worker_id = 'a1' ORDER BY p.issued_ms DESC")).toMatch(/USING INDEX passes_worker/);
      // The statement the removal trigger runs for each removed worker.
      expect(plan("UPDATE passes SET revoked_ms = 1, revoked_why = 'removed', code = NULL WHERE worker_id = 'a1' AND revoked_ms IS NULL AND expires_ms > 0")).toMatch(/USING INDEX passes_worker/);
      expect(plan("SELECT pass_id FROM passes WHERE worker_id = 'a1' AND revoked_ms IS NULL AND expires_ms > 0 AND (NULL IS NULL OR kind = NULL) ORDER BY issued_ms")).toMatch(/USING INDEX passes_worker/);
    } finally {
      db.close();
    }
  });

  it("the hub's retention purges passes expired longer ago than retentionDays, and takes their revocations off the stream", async () => {
    const DAY = 86_400_000;
    const org = registry.of('may-a');
    const [shortA, shortB] = org.issue({ workerIds: ['a1', 'a2'], expiresAt: new Date(NOW + DAY) }).issued;
    const long = org.issue({ workerIds: ['a3'], expiresAt: IN_90_DAYS }).issued[0]!;
    org.revokePass(shortA!.passId);
    org.revokePass(long.passId);
    const cursor = directory.revision('revocations');
    const later = NOW + 31 * DAY;
    await new HubRetention({ store: { purgeBefore: async () => ({ events: 0, alerts: 0, heartbeats: 0 }) }, passes: registry, retentionDays: 28, log: silentLogger, now: () => later }).purge();
    // Expired 30 days ago: gone from the registry; the one still valid stays, revoked.
    expect(registry.list().map((p) => p.passId)).toEqual([long.passId]);
    expect(registry.pass(shortB!.passId)).toBeUndefined();
    expect(revokedAtKiosk(directory)).toEqual(new Set([long.passId]));
    // A kiosk holding the old revocations gets the expired one's removal as a delta.
    const delta = directory.respond({ v: PROTOCOL_VERSION, stream: 'revocations', cursor }, later).flatMap((p) => p.body.map((b) => streamCodecs.revocations.fromWire(b)));
    expect(delta).toEqual([{ deleted: true, key: shortA!.passId }]);
    expect(registry.purgeExpired(later - 28 * DAY)).toEqual({ passes: 0, revocations: 0 });
  });

  it('upgrades a directory written before the pass registry (migration 0008) and keeps its revocations', () => {
    registry.close();
    directory.close();
    const old = join(dir.path, 'old.db');
    const before = openDatabase(old, { migrations: DIRECTORY_MIGRATIONS.filter((m) => m.version < 8) });
    before.prepare("INSERT INTO records (stream, key, value, deleted, rev) VALUES ('revocations', '00112233aabbccdd', '{\"passId\":\"00112233aabbccdd\",\"revokedAtMs\":1}', 0, 1)").run();
    before.prepare("INSERT INTO stream_revisions (stream, rev) VALUES ('revocations', 1)").run();
    before.close();
    directory = new HubDirectory(old);
    registry = new PassRegistry({ directoryPath: old, passKey: createPrivateKey(key.privatePem), now: () => NOW });
    expect(registry.list()).toEqual([]);
    expect(revokedAtKiosk(directory)).toEqual(new Set(['00112233aabbccdd']));
  });
});
