import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubKeyring, generateSigningKeyPair, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { checkPass } from '../../../base/node/pass.js';
import { checkPhonePass, provePhonePass } from '../../../base/node/phone-pass.js';
import { openDatabase } from '../../../base/node/sqlite.js';
import { sql } from 'kysely';
import { streamCodecs } from '../../../sync/downlink-codec.js';
import { DIRECTORY_MIGRATIONS, HubDirectory } from '../../../sync/hub/directory.js';
import { PassError, PassRegistry } from '../../../sync/hub/passes.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { tempDir } from '../../helpers/fixtures.js';
import { directoryBackends } from '../../helpers/directory-db.js';
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
async function revokedAtKiosk(d: HubDirectory): Promise<Set<string>> {
  const parts = await d.respond({ v: PROTOCOL_VERSION, stream: 'revocations', cursor: 0 }, NOW);
  return new Set(parts.flatMap((p) => p.body.map((b) => streamCodecs.revocations.fromWire(b))).filter((r) => !r.deleted).map((r) => r.key));
}

describe.each(directoryBackends)('hub pass registry on $name', (backend) => {
  const dir = tempDir('safegate-passes-');
  let key: GeneratedKeyPair;
  let directory: HubDirectory;
  let registry: PassRegistry;
  let keyring: HubKeyring;

  beforeEach(async () => {
    key = generateSigningKeyPair('EdDSA');
    keyring = new HubKeyring();
    keyring.add(createPublicKey(key.publicPem), { role: 'pass', source: 'test' });
    directory = await HubDirectory.open(await backend.target());
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    await directory.addOrganisation({ id: 'cho-b', name: 'Chợ B', kind: 'market' }, NOW);
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.addSite({ id: 'cho-b-1', orgId: 'cho-b' });
    await directory.uploadWorkers('may-a', [listed('a1', 'Nguyễn Thị Hoa', 'Tổ May 1'), listed('a2', 'Trần Văn Đức', 'Tổ May 1', 3), listed('a3', 'Lê Thị Ánh', 'Tổ Cắt', 4)], { nowMs: NOW });
    await directory.uploadWorkers('cho-b', [listed('b1', 'Phạm Văn Bình', 'Sạp 1')], { nowMs: NOW });
    registry = new PassRegistry({ sql: directory.sql, passKey: createPrivateKey(key.privatePem), now: () => NOW });
  });
  afterEach(async () => {
    await directory.close();
  });
  afterAll(() => dir.remove());

  it('a pass issued while its worker is being taken off the list is refused or revoked, never left live', async () => {
    const [issued, removed] = await Promise.allSettled([registry.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'printed' }), directory.removeWorkers(['a1'])]);
    expect(removed.status).toBe('fulfilled');
    if (issued.status === 'rejected') expect(String(issued.reason)).toMatch(/no organisation's uploaded list/);
    expect((await registry.list({ workerId: 'a1' })).filter((p) => p.state === 'live')).toEqual([]);
  });

  it('issues to an organisation, a team or named workers, records each pass, and each code verifies as its worker', async () => {
    const org = await registry.of('may-a');
    const all = await org.issue({ expiresAt: IN_90_DAYS });
    expect(all.issued.map((p) => p.workerId).sort()).toEqual(['a1', 'a2', 'a3']);
    expect(all.alreadyHeld).toBe(0);
    for (const p of all.issued) {
      const check = checkPass(p.code, keyring, NOW);
      expect(check.ok && check.pass.claims.passId).toBe(p.passId);
      expect(check.ok && check.pass.claims.workerId).toBe(p.workerId);
      expect(p).toMatchObject({ orgId: 'may-a', kind: 'printed', state: 'live', issuedAtMs: NOW, expiresAtMs: IN_90_DAYS.getTime(), revokedAtMs: null });
      // What issue hands back is what the registry holds.
      const { code: _code, ...record } = p;
      expect(await registry.pass(p.passId)).toEqual(record);
    }
    const team = await org.issue({ team: 'Tổ May 1', expiresAt: IN_90_DAYS });
    expect(team.issued.map((p) => p.workerId)).toEqual(['a1', 'a2']);
    // Reissue keeps both: the worker's old pass is still live.
    expect(team.alreadyHeld).toBe(2);
    const named = await org.issue({ workerIds: ['a3'], expiresAt: IN_90_DAYS });
    expect(named.issued.map((p) => p.workerId)).toEqual(['a3']);
    expect((await org.list({ workerId: 'a1' })).map((p) => p.state)).toEqual(['live', 'live']);
    expect(await org.list({ team: 'Tổ Cắt' })).toHaveLength(2);
    expect(await registry.list()).toHaveLength(6);
    expect(await registry.list({ limit: 4 })).toHaveLength(4);
    // The registry never hands the QR text back in a listing.
    expect(Object.keys((await org.list())[0]!)).not.toContain('code');
    // The names a list of passes shows, one query for many workers; a worker of another organisation is not among them.
    expect(await org.workerNames(['a1', 'a3', 'a1', 'b1'])).toEqual(
      new Map([
        ['a1', { fullName: 'Nguyễn Thị Hoa', team: 'Tổ May 1' }],
        ['a3', { fullName: 'Lê Thị Ánh', team: 'Tổ Cắt' }],
      ]),
    );
    expect(await org.teams()).toEqual(['Tổ Cắt', 'Tổ May 1']);
  });

  it("refuses a worker of another organisation, an unknown team, a past or too distant expiry, all or nothing", async () => {
    const org = await registry.of('may-a');
    await expect(org.issue({ workerIds: ['a1', 'b1'], expiresAt: IN_90_DAYS })).rejects.toThrow(/not on may-a's list: b1/);
    await expect(org.issue({ workerIds: ['a1', 'nobody'], expiresAt: IN_90_DAYS })).rejects.toThrow(PassError);
    await expect(org.issue({ team: 'Tổ Không Có', expiresAt: IN_90_DAYS })).rejects.toThrow(/has no workers/);
    await expect(org.issue({ expiresAt: new Date(NOW - 1000) })).rejects.toThrow(/in the future/);
    await expect(org.issue({ expiresAt: new Date(NOW + 4 * 365 * 86_400_000) })).rejects.toThrow(/at most/);
    await expect(registry.of('no-such-org')).rejects.toThrow(/no organisation/);
    await expect(registry.issue({ workerId: 'ghost', expiresAt: IN_90_DAYS, kind: 'printed' })).rejects.toThrow(/no organisation's uploaded list/);
    expect(await registry.list()).toEqual([]);
  });

  it('puts a revoked pass on the revocations stream, which the kiosk check then refuses; a worker revoked loses every live pass', async () => {
    const org = await registry.of('may-a');
    const [p1, p2] = (await org.issue({ workerIds: ['a1', 'a2'], expiresAt: IN_90_DAYS })).issued;
    const p1b = (await org.issue({ workerIds: ['a1'], expiresAt: IN_90_DAYS })).issued[0]!;
    const before = await directory.revision('revocations');
    expect(await org.revokePass(p1!.passId)).toMatchObject({ state: 'revoked', revokedBecause: 'pass', revokedAtMs: NOW });
    expect(await directory.revision('revocations')).toBeGreaterThan(before);
    let revoked = await revokedAtKiosk(directory);
    expect(checkPass(p1!.code, keyring, NOW, (id) => revoked.has(id))).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
    expect(checkPass(p1b.code, keyring, NOW, (id) => revoked.has(id)).ok).toBe(true);
    // Revoking it again returns it as it is, and publishes nothing more.
    const rev = await directory.revision('revocations');
    expect(await org.revokePass(p1!.passId)).toMatchObject({ state: 'revoked', revokedBecause: 'pass' });
    expect(await directory.revision('revocations')).toBe(rev);

    expect((await org.revokeWorker('a1')).map((p) => p.passId)).toEqual([p1b.passId]);
    revoked = await revokedAtKiosk(directory);
    expect(revoked).toEqual(new Set([p1!.passId, p1b.passId]));
    expect(checkPass(p2!.code, keyring, NOW, (id) => revoked.has(id)).ok).toBe(true);
    // Each revocation took its own revision of the stream, as on every backend.
    expect(await directory.revision('revocations')).toBe(rev + 1);
  });

  it("reaches a kiosk: the signed revocations stream it downloads makes it refuse the revoked pass and the removed worker's", async () => {
    const org = await registry.of('may-a');
    const [p1, p2, p3] = (await org.issue({ expiresAt: IN_90_DAYS })).issued;
    await org.revokePass(p1!.passId);
    await directory.removeWorkers([p2!.workerId]);
    const downlinkPair = generateSigningKeyPair('EdDSA');
    keyring.add(createPublicKey(downlinkPair.publicPem), { role: 'downlink', source: 'test' });
    const kioskDb = openStore(join(dir.path, `kiosk-${backend.name}.db`));
    try {
      const revocations = new Revocations(kioskDb);
      const none = () => undefined;
      const downlink = new Downlink('kiosk-a', new DownlinkState(kioskDb), () => keyring, { roster: none, notices: none, revocations: (kind, changes) => revocations.applyChanges(kind, changes), policy: none, keys: none }, silentLogger);
      const request = downlink.requests().find((r) => r.stream === 'revocations')!;
      for await (const part of directory.respondSigned(request, Date.now(), createPrivateKey(downlinkPair.privatePem))) downlink.receive(part, Date.now());
      const atKiosk = (code: string) => checkPass(code, keyring, NOW, (id) => revocations.isRevoked(id));
      expect(atKiosk(p1!.code)).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
      expect(atKiosk(p2!.code)).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
      expect(atKiosk(p3!.code).ok).toBe(true);
    } finally {
      kioskDb.close();
    }
  });

  it("an organisation's desk cannot see or revoke another organisation's passes", async () => {
    const theirs = (await (await registry.of('cho-b')).issue({ expiresAt: IN_90_DAYS })).issued[0]!;
    const mine = await registry.of('may-a');
    expect(await mine.list()).toEqual([]);
    expect(await mine.list({ workerId: 'b1' })).toEqual([]);
    await expect(mine.revokePass(theirs.passId)).rejects.toThrow(`no pass ${theirs.passId} in organisation may-a`);
    await expect(mine.revokeWorker('b1')).rejects.toThrow('no worker b1 in organisation may-a');
    expect((await registry.pass(theirs.passId))?.state).toBe('live');
    expect((await revokedAtKiosk(directory)).size).toBe(0);
  });

  it('revokes the passes of a worker who leaves the roster: an upload without them, or hub roster remove', async () => {
    const org = await registry.of('may-a');
    const issued = (await org.issue({ expiresAt: IN_90_DAYS })).issued;
    const byWorker = new Map(issued.map((p) => [p.workerId, p.passId]));
    await directory.uploadWorkers('may-a', [listed('a1', 'Nguyễn Thị Hoa', 'Tổ May 1'), listed('a3', 'Lê Thị Ánh', 'Tổ Cắt', 3)], { nowMs: NOW });
    expect(await registry.pass(byWorker.get('a2')!)).toMatchObject({ state: 'revoked', revokedBecause: 'removed' });
    expect(await revokedAtKiosk(directory)).toEqual(new Set([byWorker.get('a2')]));
    await directory.removeWorkers(['a3']);
    expect(await registry.pass(byWorker.get('a3')!)).toMatchObject({ state: 'revoked', revokedBecause: 'removed' });
    expect(await revokedAtKiosk(directory)).toEqual(new Set([byWorker.get('a2'), byWorker.get('a3')]));
    expect((await registry.pass(byWorker.get('a1')!))?.state).toBe('live');
  });

  it('issues a phone-bound pass with the phone pass key: the phone proves it, the kiosk accepts it, and revoking the worker revokes it', async () => {
    const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const phoneKey = generateSigningKeyPair('EdDSA');
    keyring.add(createPublicKey(phoneKey.publicPem), { role: 'phone-pass', source: 'test' });
    const withPhoneKey = new PassRegistry({ sql: directory.sql, phonePassKey: createPrivateKey(phoneKey.privatePem), now: () => NOW });
    const p = await withPhoneKey.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'phone', holderKey: phone.publicKey });
    expect(p).toMatchObject({ kind: 'phone', workerId: 'a1', orgId: 'may-a', state: 'live' });
    const rules = { maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, kioskClockSynced: true, unverifiedKioskClock: 'check' as const };
    const shown = provePhonePass(p.signedPass, phone.privateKey, NOW);
    const check = checkPhonePass(shown, keyring, NOW + 5_000, rules);
    expect(check.ok && [check.pass.claims.passId, check.pass.claims.workerId]).toEqual([p.passId, 'a1']);
    // The phone's key is kept as the registry's record of the binding (SPKI DER).
    const held = await directory.sql.get<{ holder_key: Uint8Array; code: string | null }>(sql`SELECT holder_key, code FROM passes WHERE pass_id = ${p.passId}`);
    expect(Buffer.from(held!.holder_key).equals(phone.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(held!.code).toBeNull();
    // Another phone cannot show it.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(checkPhonePass(provePhonePass(p.signedPass, other.privateKey, NOW), keyring, NOW, rules)).toMatchObject({ ok: false, failure: 'BAD_SIGNATURE' });
    // The printed pass key cannot make phone passes, nor the phone key printed ones.
    await expect(withPhoneKey.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'printed' })).rejects.toThrow(/no pass key/);
    await expect(registry.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'phone', holderKey: phone.publicKey })).rejects.toThrow(/no phone pass key/);
    expect((await registry.revokeWorker('a1', { kind: 'phone', because: 'rebound' })).map((r) => r.passId)).toEqual([p.passId]);
    const revoked = await revokedAtKiosk(directory);
    expect(checkPhonePass(shown, keyring, NOW + 5_000, rules, (id) => revoked.has(id))).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
    expect(await registry.pass(p.passId)).toMatchObject({ state: 'revoked', revokedBecause: 'rebound' });
  });

  it('takes a phone key only for a phone pass, and only a P-256 public key', async () => {
    const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const notP256 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    await expect(registry.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'phone' })).rejects.toThrow(/needs the phone's public key/);
    await expect(registry.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'phone', holderKey: notP256 })).rejects.toThrow(/P-256/);
    await expect(registry.issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'printed', holderKey: phone })).rejects.toThrow(/carries no phone key/);
    await expect(new PassRegistry({ sql: directory.sql }).issue({ workerId: 'a1', expiresAt: IN_90_DAYS, kind: 'printed' })).rejects.toThrow(/no pass key/);
    expect(await registry.list()).toEqual([]);
  });

  it("finds a worker's and an organisation's passes by their indexes (the query plan), as revocation on removal does", async () => {
    // PostgreSQL plans a sequential scan for a table this small: with it switched off, a query its
    // indexes serve is planned on them (and one they cannot serve still scans the table).
    const plan = (q: string) =>
      directory.sql.write(async (tx) => {
        if (tx.dialect === 'postgres') await tx.run(sql`SET LOCAL enable_seqscan = off`);
        const rows = await tx.all<Record<string, string>>(sql.raw(`${tx.dialect === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN'} ${q}`));
        return rows.map((r) => r.detail ?? r['QUERY PLAN']).join(' | ');
      });
    const usesIndex = (name: string) => (backend.name === 'SQLite' ? new RegExp(`USING INDEX ${name}`) : new RegExp(`Index Scan (Backward )?using ${name}|Bitmap Index Scan on ${name}`));
    expect(await plan("SELECT * FROM passes p WHERE p.org_id = 'may-a' ORDER BY p.issued_ms DESC, p.pass_id")).toMatch(usesIndex('passes_org'));
    expect(await plan("SELECT * FROM passes p WHERE p.worker_id = 'a1' ORDER BY p.issued_ms DESC")).toMatch(usesIndex('passes_worker'));
    // The statement the removal trigger runs for each removed worker.
    expect(await plan("UPDATE passes SET revoked_ms = 1, revoked_why = 'removed', code = NULL WHERE worker_id = 'a1' AND revoked_ms IS NULL AND expires_ms > 0")).toMatch(usesIndex('passes_worker'));
    // The one revoking a worker's (or a new phone's workers') live passes.
    expect(await plan("SELECT pass_id FROM passes WHERE worker_id IN ('a1', 'a2') AND revoked_ms IS NULL AND expires_ms > 0 AND kind = 'phone' ORDER BY issued_ms, pass_id")).toMatch(usesIndex('passes_worker'));
    expect(await plan('SELECT pass_id FROM passes WHERE expires_ms > 0')).not.toMatch(usesIndex('passes_worker'));
  });

  it("the hub's retention purges passes expired longer ago than retentionDays, and takes their revocations off the stream", async () => {
    const DAY = 86_400_000;
    const org = await registry.of('may-a');
    const [shortA, shortB] = (await org.issue({ workerIds: ['a1', 'a2'], expiresAt: new Date(NOW + DAY) })).issued;
    const long = (await org.issue({ workerIds: ['a3'], expiresAt: IN_90_DAYS })).issued[0]!;
    await org.revokePass(shortA!.passId);
    await org.revokePass(long.passId);
    const cursor = await directory.revision('revocations');
    const later = NOW + 31 * DAY;
    await new HubRetention({ store: { purgeBefore: async () => ({ events: 0, alerts: 0, heartbeats: 0 }) }, passes: registry, retentionDays: 28, log: silentLogger, now: () => later }).purge();
    // Expired 30 days ago: gone from the registry; the one still valid stays, revoked.
    expect((await registry.list()).map((p) => p.passId)).toEqual([long.passId]);
    expect(await registry.pass(shortB!.passId)).toBeUndefined();
    expect(await revokedAtKiosk(directory)).toEqual(new Set([long.passId]));
    // A kiosk holding the old revocations gets the expired one's removal as a delta.
    const delta = (await directory.respond({ v: PROTOCOL_VERSION, stream: 'revocations', cursor }, later)).flatMap((p) => p.body.map((b) => streamCodecs.revocations.fromWire(b)));
    expect(delta).toEqual([{ deleted: true, key: shortA!.passId }]);
    expect(await registry.purgeExpired(later - 28 * DAY)).toEqual({ passes: 0, revocations: 0 });
  });

  it.runIf(backend.name === 'SQLite')('upgrades a directory written before the pass registry (migration 0008) and keeps its revocations', async () => {
    await directory.close();
    const old = join(dir.path, 'old.db');
    const before = openDatabase(old, { migrations: DIRECTORY_MIGRATIONS.filter((m) => m.version < 8) });
    before.prepare("INSERT INTO records (stream, key, value, deleted, rev) VALUES ('revocations', '00112233aabbccdd', '{\"passId\":\"00112233aabbccdd\",\"revokedAtMs\":1}', 0, 1)").run();
    before.prepare("INSERT INTO stream_revisions (stream, rev) VALUES ('revocations', 1)").run();
    before.close();
    directory = await HubDirectory.open({ kind: 'sqlite', path: old });
    registry = new PassRegistry({ sql: directory.sql, passKey: createPrivateKey(key.privatePem), now: () => NOW });
    expect(await registry.list()).toEqual([]);
    expect(await revokedAtKiosk(directory)).toEqual(new Set(['00112233aabbccdd']));
  });
});
