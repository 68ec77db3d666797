import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubKeyring, generateSigningKeyPair, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { checkPhonePass, provePhonePass, type ProofTimeRules } from '../../../base/node/phone-pass.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import type { HubSqlTarget } from '../../../sync/hub/hub-sql.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { PhoneLinkError, PhoneLinks, linkUrl, tokenHashOf } from '../../../sync/hub/phone-links.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { directoryBackends } from '../../helpers/directory-db.js';

const NOW = Date.parse('2026-11-27T03:00:00Z');
const HOUR = 3_600_000;
const RULES: ProofTimeRules = { maxProofAgeSeconds: 60, phoneClockSkewSeconds: 30, kioskClockSynced: true, unverifiedKioskClock: 'check' };

function listed(workerId: string, fullName: string, team: string): ListedWorker {
  return { line: 2, workerId, fullName, team, birthYear: 1990, sex: 'female', idNumber: '079190000001', phone: '0912345601', residence: '1 Lê Lợi', siteId: null, testResult: 'negative', testedAtMs: NOW - 86_400_000, vaccineDoses: 2 };
}

function phone() {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...pair, jwk: pair.publicKey.export({ format: 'jwk' }) };
}

describe.each(directoryBackends)('phone links on $name', (backend) => {
  let key: GeneratedKeyPair;
  let target: HubSqlTarget;
  let directory: HubDirectory;
  let links: PhoneLinks;
  let registry: PassRegistry;
  let ring: HubKeyring;
  let now = NOW;

  beforeEach(async () => {
    now = NOW;
    key = generateSigningKeyPair('EdDSA');
    ring = new HubKeyring();
    ring.add(createPublicKey(key.publicPem), { role: 'phone-pass', source: 'test' });
    target = await backend.target();
    directory = await HubDirectory.open(target);
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    await directory.addOrganisation({ id: 'cho-b', name: 'Chợ B', kind: 'market' }, NOW);
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.addSite({ id: 'cho-b-1', orgId: 'cho-b' });
    await directory.uploadWorkers('may-a', [listed('a1', 'Nguyễn Thị Hoa', 'Tổ May 1'), listed('a2', 'Trần Văn Đức', 'Tổ May 1'), listed('a3', 'Lê Thị Ánh', 'Tổ Cắt')], { nowMs: NOW });
    await directory.uploadWorkers('cho-b', [listed('b1', 'Phạm Văn Bình', 'Sạp 1')], { nowMs: NOW });
    links = new PhoneLinks({ sql: directory.sql, phonePassKey: createPrivateKey(key.privatePem), issuer: 'hub.1', now: () => now });
    registry = new PassRegistry({ sql: directory.sql, now: () => now });
  });
  afterEach(async () => {
    await directory.close();
  });

  it('makes a single-use link whose token is stored only as its hash; using it binds a pass a kiosk admits with the phone proof', async () => {
    const [made] = await links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'manager-a' });
    expect(made).toMatchObject({ workerId: 'a1', fullName: 'Nguyễn Thị Hoa', expiresAtMs: NOW + 72 * HOUR });
    expect(linkUrl('https://hub.example.vn/', made!.token)).toBe(`https://hub.example.vn/phone/#t=${made!.token}`);
    // The database holds the hash, never the token.
    const row = (await directory.sql.get<Record<string, unknown>>(sql`SELECT * FROM phone_links`))!;
    expect(Buffer.from(row.token_hash as Uint8Array).equals(tokenHashOf(made!.token))).toBe(true);
    expect(JSON.stringify(Object.values(row).map(String))).not.toContain(made!.token);

    expect(await links.preview(made!.token)).toEqual({ fullName: 'Nguyễn Thị Hoa', orgName: 'Công ty May A', expiresAtMs: NOW + 72 * HOUR });
    const p = phone();
    const bound = await links.redeem(made!.token, p.jwk);
    expect(bound).toMatchObject({ workerId: 'a1', fullName: 'Nguyễn Thị Hoa', orgName: 'Công ty May A' });
    const code = provePhonePass(bound.pass, p.privateKey, NOW);
    expect(checkPhonePass(code, ring, NOW, RULES)).toMatchObject({ ok: true, pass: { claims: { workerId: 'a1', passId: bound.passId } } });

    // Single use: a second phone with the same link is refused, and so is a preview.
    await expect(links.redeem(made!.token, phone().jwk)).rejects.toThrow(expect.objectContaining({ refusal: 'used' }));
    await expect(links.preview(made!.token)).rejects.toThrow(/already been used/);
    expect(await links.list({ orgId: 'may-a' })).toMatchObject([{ workerId: 'a1', state: 'used', passId: bound.passId, madeBy: 'manager-a' }]);
  });

  it('two phones opening the same link at once: one binds, the other is refused as used, and one pass is issued', async () => {
    const [made] = await links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'manager-a' });
    // A second handle on the same database (on PostgreSQL another pool: the two claims really race).
    const other = await HubDirectory.open(target);
    try {
      const rival = new PhoneLinks({ sql: other.sql, phonePassKey: createPrivateKey(key.privatePem), now: () => now });
      const results = await Promise.allSettled([links.redeem(made!.token, phone().jwk), rival.redeem(made!.token, phone().jwk)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { refusal: 'used' } });
      expect(await registry.list({ workerId: 'a1' })).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('a WebCrypto key (as the phone page exports it) is taken; a private key, another curve or a bad point is refused', async () => {
    const [a, b, c, d] = (await links.make({ orgId: 'may-a', team: 'Tổ May 1', madeBy: 'op' })).concat(await links.make({ orgId: 'may-a', workerIds: ['a3'], madeBy: 'op' }), await links.make({ orgId: 'cho-b', workerIds: ['b1'], madeBy: 'op' }));
    const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const jwk = await webcrypto.subtle.exportKey('jwk', pair.publicKey);
    expect((await links.redeem(a!.token, jwk)).workerId).toBe(a!.workerId);
    const withPrivate = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    await expect(links.redeem(b!.token, withPrivate)).rejects.toThrow(/only the public key/);
    await expect(links.redeem(b!.token, generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }))).rejects.toThrow(/P-256/);
    await expect(links.redeem(b!.token, { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'B'.repeat(43) })).rejects.toThrow(/not a point/);
    await expect(links.redeem(b!.token, 'not a key')).rejects.toThrow(PhoneLinkError);
    // A refused key leaves the link usable.
    expect((await links.redeem(b!.token, phone().jwk)).workerId).toBe(b!.workerId);
    expect([c!.workerId, d!.workerId]).toEqual(['a3', 'b1']);
  });

  it('refuses an unknown, malformed or expired link with its own reason', async () => {
    const [made] = await links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op', hours: 1 });
    await expect(links.preview('x'.repeat(43))).rejects.toThrow(expect.objectContaining({ refusal: 'unknown' }));
    await expect(links.preview('short')).rejects.toThrow(expect.objectContaining({ refusal: 'unknown' }));
    now = NOW + HOUR;
    await expect(links.redeem(made!.token, phone().jwk)).rejects.toThrow(expect.objectContaining({ refusal: 'expired' }));
    expect((await links.list({ workerId: 'a1' }))[0]!.state).toBe('expired');
  });

  it("a new link for a worker retires the old phone: its pass is revoked at once and the worker's unused links are retired", async () => {
    const [first] = await links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op' });
    const oldPhone = await links.redeem(first!.token, phone().jwk);
    const [unused] = await links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op' });
    expect(await registry.pass(oldPhone.passId)).toMatchObject({ state: 'revoked', revokedBecause: 'rebound' });
    const [latest] = await links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op' });
    await expect(links.redeem(unused!.token, phone().jwk)).rejects.toThrow(expect.objectContaining({ refusal: 'retired' }));
    const newPhone = await links.redeem(latest!.token, phone().jwk);
    expect(await registry.pass(newPhone.passId)).toMatchObject({ state: 'live', kind: 'phone', workerId: 'a1' });
    // Another worker's phone is untouched.
    const [other] = await links.make({ orgId: 'may-a', workerIds: ['a2'], madeBy: 'op' });
    await links.redeem(other!.token, phone().jwk);
    await links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op' });
    expect((await registry.list({ workerId: 'a2' }))[0]).toMatchObject({ state: 'live' });
    // A team's links retire each of its workers' phones in the same call.
    now = NOW + 1;
    await links.make({ orgId: 'may-a', team: 'Tổ May 1', madeBy: 'op' });
    expect((await registry.list({ workerId: 'a2' }))[0]).toMatchObject({ state: 'revoked', revokedBecause: 'rebound' });
    expect((await links.list({ workerId: 'a2' })).map((l) => l.state)).toEqual(['open', 'used']);
  });

  it("links are made only for workers on the organisation's own list, all or nothing", async () => {
    await expect(links.make({ orgId: 'may-a', workerIds: ['a1', 'b1'], madeBy: 'op' })).rejects.toThrow(/b1 is not on organisation may-a/);
    await expect(links.make({ orgId: 'may-a', team: 'Sạp 1', madeBy: 'op' })).rejects.toThrow(/no team/);
    await expect(links.make({ orgId: 'nobody', workerIds: ['a1'], madeBy: 'op' })).rejects.toThrow(/no organisation/);
    await expect(links.make({ orgId: 'may-a', workerIds: ['a1'], team: 'Tổ Cắt', madeBy: 'op' })).rejects.toThrow(/not both/);
    await expect(links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op', hours: 0 })).rejects.toThrow(/1 to 720 hours/);
    await expect(links.make({ orgId: 'may-a', workerIds: ['../x'], madeBy: 'op' })).rejects.toThrow(PhoneLinkError);
    expect(await links.list()).toEqual([]);
    expect((await links.make({ orgId: 'may-a', team: 'Tổ May 1', madeBy: 'op' })).map((l) => l.workerId)).toEqual(['a1', 'a2']);
    expect(await links.list({ orgId: 'cho-b' })).toEqual([]);
    expect(await links.list({ orgId: 'may-a', limit: 1 })).toHaveLength(1);
  });

  it("a link is redeemable only while the worker is on the list of the organisation that made it; leaving the list retires it", async () => {
    const [moved, removed, kept] = await links.make({ orgId: 'may-a', workerIds: ['a1', 'a2', 'a3'], madeBy: 'manager-a' });
    // may-a's upload without a1 (who then joins cho-b's list), and a2 removed by name at the hub.
    await directory.uploadWorkers('may-a', [listed('a2', 'Trần Văn Đức', 'Tổ May 1'), listed('a3', 'Lê Thị Ánh', 'Tổ Cắt')], { nowMs: NOW + 1 });
    await directory.uploadWorkers('cho-b', [listed('b1', 'Phạm Văn Bình', 'Sạp 1'), listed('a1', 'Nguyễn Thị Hoa', 'Sạp 2')], { nowMs: NOW + 2 });
    await directory.removeWorkers(['a2']);
    for (const made of [moved!, removed!]) {
      await expect(links.preview(made.token)).rejects.toThrow(expect.objectContaining({ refusal: 'left' }));
      await expect(links.redeem(made.token, phone().jwk)).rejects.toThrow(expect.objectContaining({ refusal: 'left' }));
      expect((await links.list({ workerId: made.workerId }))[0]).toMatchObject({ state: 'left', retiredAtMs: expect.any(Number) });
    }
    expect(await registry.list({ workerId: 'a1' })).toEqual([]);
    expect(await registry.list({ workerId: 'a2' })).toEqual([]);
    // A worker still on the list is untouched.
    expect(await links.redeem(kept!.token, phone().jwk)).toMatchObject({ workerId: 'a3', orgName: 'Công ty May A' });
  });

  it('the claim itself checks the list: a link whose worker left while no trigger retired it is still refused, and no pass is issued', async () => {
    const [made] = await links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'manager-a' });
    // The worker's row moves to another organisation behind the triggers' back (the claim must not rely on them).
    await directory.sql.run(sql.raw(`DROP TRIGGER workers_moving_lose_their_links${directory.sql.dialect === 'postgres' ? ' ON hub_workers' : ''}`));
    await directory.sql.run(sql`UPDATE hub_workers SET org_id = 'cho-b' WHERE worker_id = 'a1'`);
    expect(await directory.sql.get(sql`SELECT retired_ms FROM phone_links`)).toEqual({ retired_ms: null });
    await expect(links.redeem(made!.token, phone().jwk)).rejects.toThrow(expect.objectContaining({ refusal: 'left' }));
    expect(await registry.list({ workerId: 'a1' })).toEqual([]);
  });

  it('without a phone-pass key, links are made but not used, and the link stays open', async () => {
    const keyless = new PhoneLinks({ sql: directory.sql, now: () => now });
    const [made] = await keyless.make({ orgId: 'may-a', workerIds: ['a3'], madeBy: 'op' });
    await expect(keyless.redeem(made!.token, phone().jwk)).rejects.toThrow(/no phone-pass key/);
    expect((await keyless.list({ workerId: 'a3' }))[0]!.state).toBe('open');
  });
});
