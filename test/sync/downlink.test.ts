import { createPrivateKey, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubKeyring, generateSigningKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import { openStore, type SqliteDatabase } from '../../src-main/core/store/database.js';
import { DownlinkState } from '../../src-main/core/store/downlink-state.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../src-main/core/store/hub-data.js';
import { Notices } from '../../src-main/core/store/notices.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { sealDownlink } from '../../sync/downlink-codec.js';
import { checkPass, issuePass } from '../../base/node/pass.js';
import { defaultPolicy } from '../../base/common/policy/policy.js';
import { Downlink } from '../../sync/downlink.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { healthyWorker, tempDir } from '../helpers/fixtures.js';

const PART = 5_000;

describe.each(directoryBackends)('downlink: signed, staged, applied atomically (hub directory on $name)', (backend) => {
  let dir: ReturnType<typeof tempDir>;
  let hub: HubDirectory;
  let db: SqliteDatabase;
  let roster: Roster;
  let state: DownlinkState;
  let notices: Notices;
  let revocations: Revocations;
  let downloadedPolicy: DownloadedPolicy;
  let downloadedKeys: DownloadedKeys;
  // The hub's downlink key (signs what it sends down) and its pass key (signs worker passes).
  const pair = generateSigningKeyPair();
  const key = createPrivateKey(pair.privatePem);
  const passPair = generateSigningKeyPair();
  const passKey = createPrivateKey(passPair.privatePem);
  const ring = new HubKeyring();
  ring.add(createPublicKey(pair.publicPem), { role: 'downlink', source: 'test' });
  ring.add(createPublicKey(passPair.publicPem), { role: 'pass', source: 'test' });

  // The kiosk's clock, a minute behind the hub's (within what a synchronised clock may differ): the
  // data's age counts from the kiosk's own time, never from the hub's later one.
  const T0 = Date.now() - 60_000;
  const receiver = () => new Downlink('kiosk-a', state, () => ring, { roster: (kind, changes) => roster.applyChanges(kind, changes), notices: (kind, changes) => notices.applyChanges(kind, changes), revocations: (kind, changes) => revocations.applyChanges(kind, changes), policy: (kind, changes) => downloadedPolicy.applyChanges(kind, changes), keys: (kind, changes) => downloadedKeys.applyChanges(kind, changes, ring) }, silentLogger);
  const workers = (n: number, from = 0) => Array.from({ length: n }, (_, i) => healthyWorker(`W${String(from + i).padStart(6, '0')}`, 1_700_000_000_000));
  const signedFor = async (d: Downlink) => {
    const parts: Uint8Array[] = [];
    for await (const p of hub.respondSigned(d.requests()[0]!, Date.now(), key, PART)) parts.push(p);
    return parts;
  };

  beforeEach(async () => {
    dir = tempDir('safegate-downlink-');
    hub = await HubDirectory.open(await backend.target());
    db = openStore(join(dir.path, 'kiosk.db'));
    roster = new Roster(db);
    state = new DownlinkState(db);
    notices = new Notices(db);
    revocations = new Revocations(db);
    downloadedPolicy = new DownloadedPolicy(db);
    downloadedKeys = new DownloadedKeys(db);
  });
  afterEach(async () => {
    await hub.close();
    db.close();
    dir.remove();
  });

  it('applies a snapshot only when every part has arrived, together with its cursor', async () => {
    await hub.importRoster(workers(12_000), false);
    roster.upsertAll([healthyWorker('OLD-1')]);
    const d = receiver();
    const parts = await signedFor(d);
    expect(parts).toHaveLength(3);
    expect(d.receive(parts[0]!, T0 + 1)).toEqual({ status: 'staged', have: 1, parts: 3 });
    expect(d.receive(parts[2]!, T0 + 2)).toEqual({ status: 'staged', have: 2, parts: 3 });
    // Half-received: the kiosk still decides on the roster it had.
    expect(roster.count()).toBe(1);
    expect(state.cursor('roster').cursor).toBe(0);
    expect(d.receive(parts[1]!, T0 + 3)).toEqual({ status: 'applied', stream: 'roster', to: 1, records: 12_000 });
    expect(roster.count()).toBe(12_000);
    expect(roster.get('OLD-1')).toBeUndefined();
    expect(state.cursor('roster')).toEqual({ cursor: 1, appliedAt: T0 + 3, checkedAt: T0 + 3 });
  });

  it('resumes an interrupted transfer: after a restart only the missing parts are sent', async () => {
    await hub.importRoster(workers(12_000), false);
    const first = receiver();
    const parts = await signedFor(first);
    first.receive(parts[0]!, T0 + 1);
    first.receive(parts[1]!, T0 + 2);
    const afterRestart = receiver();
    expect(afterRestart.requests()[0]).toMatchObject({ cursor: 0, resume: { to: 1, parts: 3, have: [0, 1] } });
    const rest = await signedFor(afterRestart);
    expect(rest).toHaveLength(1);
    expect(afterRestart.receive(rest[0]!, T0 + 3)).toMatchObject({ status: 'applied', records: 12_000 });
  });

  it('then sends only changes: updates and removals since the kiosk\'s cursor', async () => {
    await hub.importRoster(workers(100), false);
    const d = receiver();
    for (const p of await signedFor(d)) d.receive(p, T0 + 1);
    const changed = { ...workers(1)[0]!, caseStatus: 'F1' as const };
    await hub.importRoster([changed, ...workers(99, 1).slice(0, 98)], true); // W000099 removed
    const delta = await signedFor(d);
    expect(delta).toHaveLength(1);
    expect(d.receive(delta[0]!, T0 + 2)).toEqual({ status: 'applied', stream: 'roster', to: 2, records: 2 });
    expect(roster.get('W000000')?.caseStatus).toBe('F1');
    expect(roster.get('W000099')).toBeUndefined();
    expect(roster.count()).toBe(99);
    // Nothing new: the hub says so, and the data's age is renewed.
    const current = await signedFor(d);
    expect(d.receive(current[0]!, T0 + 50)).toEqual({ status: 'current' });
    expect(state.cursor('roster')).toEqual({ cursor: 2, appliedAt: T0 + 2, checkedAt: T0 + 50 });
  });

  it('refuses a replayed (older) transfer and changes nothing', async () => {
    await hub.importRoster(workers(10), false);
    const d = receiver();
    const old = await signedFor(d);
    for (const p of old) d.receive(p, T0 + 1);
    await hub.importRoster(workers(10, 100), false);
    for (const p of await signedFor(d)) d.receive(p, T0 + 2);
    expect(d.receive(old[0]!, T0 + 3)).toMatchObject({ status: 'stale' });
    expect(roster.count()).toBe(20);
    expect(state.cursor('roster').cursor).toBe(2);
  });

  it('carries government notices: kept until they expire, withdrawn when the hub withdraws them', async () => {
    const d = receiver();
    const now = Date.now();
    const request = () => d.requests().find((r) => r.stream === 'notices')!;
    await hub.publishNotice({ id: 'n-1', vi: 'Đeo khẩu trang trong xưởng', en: 'Wear a mask in the workshop', priority: 'important', startsAtMs: now - 1000, expiresAtMs: now + 3_600_000 });
    await hub.publishNotice({ id: 'n-2', vi: 'Khẩn: tạm dừng ca đêm', en: null, priority: 'urgent', startsAtMs: now - 1000, expiresAtMs: now + 3_600_000 });
    await hub.publishNotice({ id: 'n-old', vi: 'Đã hết hạn', en: null, priority: 'info', startsAtMs: now - 7_200_000, expiresAtMs: now - 3_600_000 });
    for await (const p of hub.respondSigned(request(), now, key)) expect(d.receive(p, now).status).toBe('applied');
    expect(notices.current(now).map((n) => n.id)).toEqual(['n-2', 'n-1']);
    await hub.withdrawNotice('n-2');
    for await (const p of hub.respondSigned(request(), now, key)) expect(d.receive(p, now).status).toBe('applied');
    expect(notices.current(now).map((n) => n.id)).toEqual(['n-1']);
    expect(notices.current(now + 7_200_000)).toEqual([]);
    // A notice the kiosks would refuse is refused at the hub, before it can block the stream.
    await expect(hub.publishNotice({ id: 'bad', vi: 'x', en: null, priority: 'info', startsAtMs: 5, expiresAtMs: 5 })).rejects.toThrow(/expire after it starts/);
  });

  it('carries pass revocations: a revoked pass is refused with its own reason', async () => {
    const d = receiver();
    const text = issuePass(passKey, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(Date.now() + 86_400_000) });
    const check = checkPass(text, ring, Date.now());
    expect(check.ok).toBe(true);
    const passId = (check as { pass: { claims: { passId: string } } }).pass.claims.passId;
    await hub.revokePass(passId);
    for await (const p of hub.respondSigned(d.requests().find((r) => r.stream === 'revocations')!, Date.now(), key)) d.receive(p, T0 + 1);
    expect(checkPass(text, ring, Date.now(), (id) => revocations.isRevoked(id))).toMatchObject({ ok: false, failure: 'PASS_REVOKED' });
    await expect(hub.revokePass('not-a-pass-id')).rejects.toThrow();
  });

  it('carries the policy: a newer version replaces the one in force; the hub refuses an older or invalid one', async () => {
    const d = receiver();
    const pull = async () => {
      for await (const p of hub.respondSigned(d.requests().find((r) => r.stream === 'policy')!, Date.now(), key)) d.receive(p, T0 + 1);
    };
    const v7 = { ...defaultPolicy(), version: 7, params: { ...defaultPolicy().params, minVaccineDoses: 3 } };
    await hub.publishPolicy(v7);
    await pull();
    expect(downloadedPolicy.current()).toMatchObject({ version: 7, params: { minVaccineDoses: 3 } });
    await expect(hub.publishPolicy({ ...v7, version: 6 })).rejects.toThrow(/not newer/);
    await expect(hub.publishPolicy({ ...v7, version: 8, rules: [{ id: 'x', reason: 'CASE_F0', logic: { nope: [] } }] })).rejects.toThrow(/Unrecognized operation nope/);
    expect(downloadedPolicy.current()?.version).toBe(7);
  });

  it('rotates hub keys: a key sent under a trusted signature is trusted, and retired again; installed keys stay', async () => {
    const d = receiver();
    const pull = async () => {
      for await (const p of hub.respondSigned(d.requests().find((r) => r.stream === 'keys')!, Date.now(), key)) d.receive(p, T0 + 1);
    };
    const next = generateSigningKeyPair('ES256');
    const { kid } = await hub.publishKey(next.publicPem, 'pass');
    expect(ring.lookup(kid)).toBeUndefined();
    await pull();
    expect(ring.lookup(kid)).toMatchObject({ source: 'hub (downloaded)', role: 'pass', origin: 'downloaded', anchorKid: pair.kid });
    const text = issuePass(next.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(Date.now() + 86_400_000) });
    expect(checkPass(text, ring, Date.now()).ok).toBe(true);
    await hub.retireKey(kid);
    await pull();
    expect(ring.lookup(kid)).toBeUndefined();
    expect(checkPass(text, ring, Date.now())).toMatchObject({ ok: false, failure: 'UNKNOWN_KEY' });
    expect(ring.lookup(pair.kid)).toBeDefined();
  });

  it('refuses unsigned, wrongly signed and malformed messages with a reason, changing nothing', async () => {
    const d = receiver();
    const stranger = createPrivateKey(generateSigningKeyPair().privatePem);
    const part = { v: 1 as const, stream: 'roster' as const, kind: 'snapshot' as const, from: 0, to: 5, part: 0, parts: 1, issuedAtMs: 1, body: [] };
    expect(d.receive(new Uint8Array([1, 2, 3]), T0 + 1)).toMatchObject({ status: 'rejected', detail: expect.stringMatching(/^MALFORMED/) });
    expect(d.receive(sealDownlink(part, stranger), T0 + 1)).toMatchObject({ status: 'rejected', detail: expect.stringMatching(/^UNKNOWN_KEY/) });
    expect(d.receive(sealDownlink({ ...part, body: [[0, 'W1']] }, key), T0 + 1)).toMatchObject({ status: 'rejected', detail: expect.stringMatching(/MALFORMED: roster record/) });
    expect(d.receive(sealDownlink({ ...part, kind: 'delta', from: 3 } as never, key), T0 + 1)).toMatchObject({ status: 'stale' });
    expect(roster.count()).toBe(0);
    expect(state.cursor('roster').cursor).toBe(0);
  });
});
