import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubKeyring, generateSigningKeyPair, type GeneratedKeyPair } from '../../../base/node/keys.js';
import { checkPhonePass, provePhonePass, type ProofTimeRules } from '../../../base/node/phone-pass.js';
import { openDatabase } from '../../../base/node/sqlite.js';
import { DIRECTORY_MIGRATIONS, HubDirectory } from '../../../sync/hub/directory.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { PhoneLinkError, PhoneLinks, linkUrl, tokenHashOf } from '../../../sync/hub/phone-links.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { tempDir } from '../../helpers/fixtures.js';

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

describe('phone links', () => {
  const dir = tempDir('safegate-links-');
  let file: string;
  let key: GeneratedKeyPair;
  let directory: HubDirectory;
  let links: PhoneLinks;
  let ring: HubKeyring;
  let now = NOW;

  beforeEach(() => {
    now = NOW;
    file = join(dir.path, `directory-${Math.random().toString(36).slice(2)}.db`);
    key = generateSigningKeyPair('EdDSA');
    ring = new HubKeyring();
    ring.add(createPublicKey(key.publicPem), { role: 'phone-pass', source: 'test' });
    directory = new HubDirectory(file);
    directory.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
    directory.addOrganisation({ id: 'cho-b', name: 'Chợ B', kind: 'market' }, NOW);
    directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    directory.addSite({ id: 'cho-b-1', orgId: 'cho-b' });
    directory.uploadWorkers('may-a', [listed('a1', 'Nguyễn Thị Hoa', 'Tổ May 1'), listed('a2', 'Trần Văn Đức', 'Tổ May 1'), listed('a3', 'Lê Thị Ánh', 'Tổ Cắt')], { nowMs: NOW });
    directory.uploadWorkers('cho-b', [listed('b1', 'Phạm Văn Bình', 'Sạp 1')], { nowMs: NOW });
    links = new PhoneLinks({ directoryPath: file, phonePassKey: createPrivateKey(key.privatePem), issuer: 'hub.1', now: () => now });
  });
  afterEach(() => {
    links.close();
    directory.close();
  });

  it('makes a single-use link whose token is stored only as its hash; using it binds a pass a kiosk admits with the phone proof', () => {
    const [made] = links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'manager-a' });
    expect(made).toMatchObject({ workerId: 'a1', fullName: 'Nguyễn Thị Hoa', expiresAtMs: NOW + 72 * HOUR });
    expect(linkUrl('https://hub.example.vn/', made!.token)).toBe(`https://hub.example.vn/phone/#t=${made!.token}`);
    // The database holds the hash, never the token.
    const db = openDatabase(file, { migrations: DIRECTORY_MIGRATIONS });
    const row = db.prepare('SELECT * FROM phone_links').get() as Record<string, unknown>;
    db.close();
    expect(Buffer.from(row.token_hash as Uint8Array).equals(tokenHashOf(made!.token))).toBe(true);
    expect(JSON.stringify(Object.values(row).map(String))).not.toContain(made!.token);

    expect(links.preview(made!.token)).toEqual({ fullName: 'Nguyễn Thị Hoa', orgName: 'Công ty May A', expiresAtMs: NOW + 72 * HOUR });
    const p = phone();
    const bound = links.redeem(made!.token, p.jwk);
    expect(bound).toMatchObject({ workerId: 'a1', fullName: 'Nguyễn Thị Hoa', orgName: 'Công ty May A' });
    const code = provePhonePass(bound.pass, p.privateKey, NOW);
    expect(checkPhonePass(code, ring, NOW, RULES)).toMatchObject({ ok: true, pass: { claims: { workerId: 'a1', passId: bound.passId } } });

    // Single use: a second phone with the same link is refused, and so is a preview.
    expect(() => links.redeem(made!.token, phone().jwk)).toThrow(expect.objectContaining({ refusal: 'used' }));
    expect(() => links.preview(made!.token)).toThrow(/already been used/);
    expect(links.list({ orgId: 'may-a' })).toMatchObject([{ workerId: 'a1', state: 'used', passId: bound.passId, madeBy: 'manager-a' }]);
  });

  it('a WebCrypto key (as the phone page exports it) is taken; a private key, another curve or a bad point is refused', async () => {
    const [a, b, c, d] = links.make({ orgId: 'may-a', team: 'Tổ May 1', madeBy: 'op' }).concat(links.make({ orgId: 'may-a', workerIds: ['a3'], madeBy: 'op' }), links.make({ orgId: 'cho-b', workerIds: ['b1'], madeBy: 'op' }));
    const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const jwk = await webcrypto.subtle.exportKey('jwk', pair.publicKey);
    expect(links.redeem(a!.token, jwk).workerId).toBe(a!.workerId);
    const withPrivate = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    expect(() => links.redeem(b!.token, withPrivate)).toThrow(/only the public key/);
    expect(() => links.redeem(b!.token, generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }))).toThrow(/P-256/);
    expect(() => links.redeem(b!.token, { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'B'.repeat(43) })).toThrow(/not a point/);
    expect(() => links.redeem(b!.token, 'not a key')).toThrow(PhoneLinkError);
    // A refused key leaves the link usable.
    expect(links.redeem(b!.token, phone().jwk).workerId).toBe(b!.workerId);
    expect([c!.workerId, d!.workerId]).toEqual(['a3', 'b1']);
  });

  it('refuses an unknown, malformed or expired link with its own reason', () => {
    const [made] = links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op', hours: 1 });
    expect(() => links.preview('x'.repeat(43))).toThrow(expect.objectContaining({ refusal: 'unknown' }));
    expect(() => links.preview('short')).toThrow(expect.objectContaining({ refusal: 'unknown' }));
    now = NOW + HOUR;
    expect(() => links.redeem(made!.token, phone().jwk)).toThrow(expect.objectContaining({ refusal: 'expired' }));
    expect(links.list({ workerId: 'a1' })[0]!.state).toBe('expired');
  });

  it("a new link for a worker retires the old phone: its pass is revoked at once and the worker's unused links are retired", () => {
    const [first] = links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op' });
    const oldPhone = links.redeem(first!.token, phone().jwk);
    const [unused] = links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op' });
    const registry = new PassRegistry({ directoryPath: file, now: () => now });
    expect(registry.pass(oldPhone.passId)).toMatchObject({ state: 'revoked', revokedBecause: 'rebound' });
    const [latest] = links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op' });
    expect(() => links.redeem(unused!.token, phone().jwk)).toThrow(expect.objectContaining({ refusal: 'retired' }));
    const newPhone = links.redeem(latest!.token, phone().jwk);
    expect(registry.pass(newPhone.passId)).toMatchObject({ state: 'live', kind: 'phone', workerId: 'a1' });
    // Another worker's phone is untouched.
    const [other] = links.make({ orgId: 'may-a', workerIds: ['a2'], madeBy: 'op' });
    links.redeem(other!.token, phone().jwk);
    links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op' });
    expect(registry.list({ workerId: 'a2' })[0]).toMatchObject({ state: 'live' });
    registry.close();
  });

  it("links are made only for workers on the organisation's own list, all or nothing", () => {
    expect(() => links.make({ orgId: 'may-a', workerIds: ['a1', 'b1'], madeBy: 'op' })).toThrow(/b1 is not on organisation may-a/);
    expect(() => links.make({ orgId: 'may-a', team: 'Sạp 1', madeBy: 'op' })).toThrow(/no team/);
    expect(() => links.make({ orgId: 'nobody', workerIds: ['a1'], madeBy: 'op' })).toThrow(/no organisation/);
    expect(() => links.make({ orgId: 'may-a', workerIds: ['a1'], team: 'Tổ Cắt', madeBy: 'op' })).toThrow(/not both/);
    expect(() => links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'op', hours: 0 })).toThrow(/1 to 720 hours/);
    expect(() => links.make({ orgId: 'may-a', workerIds: ['../x'], madeBy: 'op' })).toThrow(PhoneLinkError);
    expect(links.list()).toEqual([]);
    expect(links.make({ orgId: 'may-a', team: 'Tổ May 1', madeBy: 'op' }).map((l) => l.workerId)).toEqual(['a1', 'a2']);
    expect(links.list({ orgId: 'cho-b' })).toEqual([]);
  });

  it("a link is redeemable only while the worker is on the list of the organisation that made it; leaving the list retires it", () => {
    const registry = new PassRegistry({ directoryPath: file, now: () => now });
    const [moved, removed, kept] = links.make({ orgId: 'may-a', workerIds: ['a1', 'a2', 'a3'], madeBy: 'manager-a' });
    // may-a's upload without a1 (who then joins cho-b's list), and a2 removed by name at the hub.
    directory.uploadWorkers('may-a', [listed('a2', 'Trần Văn Đức', 'Tổ May 1'), listed('a3', 'Lê Thị Ánh', 'Tổ Cắt')], { nowMs: NOW + 1 });
    directory.uploadWorkers('cho-b', [listed('b1', 'Phạm Văn Bình', 'Sạp 1'), listed('a1', 'Nguyễn Thị Hoa', 'Sạp 2')], { nowMs: NOW + 2 });
    directory.removeWorkers(['a2']);
    for (const made of [moved!, removed!]) {
      expect(() => links.preview(made.token)).toThrow(expect.objectContaining({ refusal: 'left' }));
      expect(() => links.redeem(made.token, phone().jwk)).toThrow(expect.objectContaining({ refusal: 'left' }));
      expect(links.list({ workerId: made.workerId })[0]).toMatchObject({ state: 'left', retiredAtMs: expect.any(Number) });
    }
    expect(registry.list({ workerId: 'a1' })).toEqual([]);
    expect(registry.list({ workerId: 'a2' })).toEqual([]);
    // A worker still on the list is untouched.
    expect(links.redeem(kept!.token, phone().jwk)).toMatchObject({ workerId: 'a3', orgName: 'Công ty May A' });
    registry.close();
  });

  it('the claim itself checks the list: a link whose worker left while no trigger retired it is still refused, and no pass is issued', () => {
    const [made] = links.make({ orgId: 'may-a', workerIds: ['a1'], madeBy: 'manager-a' });
    const db = openDatabase(file, { migrations: DIRECTORY_MIGRATIONS });
    // The worker's row moves to another organisation behind the triggers' back (the claim must not rely on them).
    db.exec('DROP TRIGGER workers_moving_lose_their_links');
    db.prepare("UPDATE hub_workers SET org_id = 'cho-b' WHERE worker_id = 'a1'").run();
    expect(db.prepare('SELECT retired_ms FROM phone_links').get()).toEqual({ retired_ms: null });
    db.close();
    expect(() => links.redeem(made!.token, phone().jwk)).toThrow(expect.objectContaining({ refusal: 'left' }));
    const registry = new PassRegistry({ directoryPath: file, now: () => now });
    expect(registry.list({ workerId: 'a1' })).toEqual([]);
    registry.close();
  });

  it('without a phone-pass key, links are made but not used, and the link stays open', () => {
    const keyless = new PhoneLinks({ directoryPath: file, now: () => now });
    const [made] = keyless.make({ orgId: 'may-a', workerIds: ['a3'], madeBy: 'op' });
    expect(() => keyless.redeem(made!.token, phone().jwk)).toThrow(/no phone-pass key/);
    expect(keyless.list({ workerId: 'a3' })[0]!.state).toBe('open');
    keyless.close();
  });
});
