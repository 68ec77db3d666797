import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../base/common/policy/policy.js';
import { HubKeyring, generateSigningKeyPair, type GeneratedKeyPair } from '../../base/node/keys.js';
import { silentLogger } from '../../base/node/logger.js';
import { issuePass, checkPass } from '../../base/node/pass.js';
import { openStore, type SqliteDatabase } from '../../src-main/core/store/database.js';
import { DownlinkState } from '../../src-main/core/store/downlink-state.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../src-main/core/store/hub-data.js';
import { Notices } from '../../src-main/core/store/notices.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { MAX_REVISION, sealDownlink, type DownlinkPart } from '../../sync/downlink-codec.js';
import { Downlink } from '../../sync/downlink.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { directoryBackends } from '../helpers/directory-db.js';
import { healthyWorker, installKey, tempDir } from '../helpers/fixtures.js';

const DAY = 86_400_000;

/**
 * The downlink's trust rules: keys have roles, keys the hub delivers never outrank or outlive the
 * ones IT staff installed, revisions and policy versions cannot freeze a stream, data age is renewed
 * only by a fresh signed confirmation, and a stream that does not fit is asked for again at a bounded rate.
 */
describe.each(directoryBackends)('downlink trust (hub directory on $name)', (backend) => {
  let dir: ReturnType<typeof tempDir>;
  let db: SqliteDatabase;
  let state: DownlinkState;
  let roster: Roster;
  let policy: DownloadedPolicy;
  let keys: DownloadedKeys;
  let ring: HubKeyring;
  let anchor: GeneratedKeyPair;
  let passPair: GeneratedKeyPair;
  const published: string[] = [];
  let now = Date.parse('2026-11-27T08:00:00Z');

  const receiver = (keyring: () => HubKeyring = () => ring) =>
    new Downlink(
      'kiosk-a',
      state,
      keyring,
      {
        roster: (k, c) => roster.applyChanges(k, c),
        notices: (k, c) => new Notices(db).applyChanges(k, c),
        revocations: (k, c) => new Revocations(db).applyChanges(k, c),
        policy: (k, c) => policy.applyChanges(k, c),
        keys: (k, c) => keys.applyChanges(k, c, keyring(), now),
      },
      silentLogger,
      { now: () => now, staleRetryMs: 30_000 },
    );
  const part = (over: Partial<DownlinkPart>): DownlinkPart => ({ v: 1, stream: 'roster', kind: 'snapshot', from: 0, to: 1, part: 0, parts: 1, issuedAtMs: now, body: [], ...over });
  const sealed = (over: Partial<DownlinkPart>, pair = anchor) => sealDownlink(part(over), createPrivateKey(pair.privatePem));
  const rosterBody = (...ids: string[]) => ids.map((id) => { const w = healthyWorker(id, now); return [0, w.workerId, w.displayName, w.company, w.team, w.declaredAt, w.declarationFlagged, w.testResult, w.testedAt, w.vaccineDoses, w.quarantineUntil, w.caseStatus]; });

  beforeEach(() => {
    dir = tempDir('safegate-trust-');
    db = openStore(join(dir.path, 'kiosk.db'));
    state = new DownlinkState(db);
    roster = new Roster(db);
    policy = new DownloadedPolicy(db);
    keys = new DownloadedKeys(db);
    anchor = generateSigningKeyPair();
    passPair = generateSigningKeyPair();
    installKey(join(dir.path, 'keys'), 'downlink', anchor);
    installKey(join(dir.path, 'keys'), 'pass', passPair);
    ring = HubKeyring.fromDirectory(join(dir.path, 'keys'));
    published.length = 0;
    now = Date.parse('2026-11-27T08:00:00Z');
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('a pass key cannot sign what the hub sends down, and a downlink key cannot sign a pass', () => {
    const d = receiver();
    expect(d.receive(sealed({ body: rosterBody('W1') }, passPair), now)).toEqual({
      status: 'rejected',
      detail: expect.stringMatching(/^UNKNOWN_KEY: key .* is a pass key and may not sign a downlink-part/),
    });
    expect(roster.count()).toBe(0);
    const forged = issuePass(anchor.privatePem, { workerId: 'W1', issuer: 'hub', issuedAt: new Date(now - 60_000), expiresAt: new Date(now + DAY) });
    expect(checkPass(forged, ring, now)).toMatchObject({ ok: false, failure: 'UNKNOWN_KEY', detail: expect.stringMatching(/downlink key and may not sign a worker-pass/) });
    const real = issuePass(passPair.privatePem, { workerId: 'W1', issuer: 'hub', issuedAt: new Date(now - 60_000), expiresAt: new Date(now + DAY) });
    expect(checkPass(real, ring, now).ok).toBe(true);
  });

  it('a kiosk keys folder with a key outside a role folder is refused with a message saying where it goes', () => {
    const flat = join(dir.path, 'flat');
    installKey(flat, 'pass', passPair);
    // A loose key straight in the folder, as before keys had roles.
    writeFileSync(join(flat, 'old.pub.pem'), passPair.publicPem);
    expect(() => HubKeyring.fromDirectory(flat)).toThrow(/old\.pub\.pem: a hub key must be in the folder of its role: .*\/pass\/ .*\/downlink\//);
  });

  it('a delivered key is trusted only while the installed key that vouched for it is, and for its lifetime at most', async () => {
    const hub = await HubDirectory.open(await backend.target());
    try {
      const rotated = generateSigningKeyPair();
      const { kid } = await hub.publishKey(rotated.publicPem, 'downlink');
      const d = receiver();
      for await (const p of hub.respondSigned(d.requests().find((r) => r.stream === 'keys')!, now, createPrivateKey(anchor.privatePem))) d.receive(p, now);
      expect(ring.lookup(kid)).toMatchObject({ origin: 'downloaded', role: 'downlink', anchorKid: anchor.kid, notAfterMs: now + 2 * 365 * DAY });
      // The delivered downlink key signs roster data...
      expect(d.receive(sealed({ body: rosterBody('W1') }, rotated), now)).toMatchObject({ status: 'applied' });
      // ...but may not change which keys are trusted.
      const another = generateSigningKeyPair();
      const keyPart = sealed({ stream: 'keys', to: 9, body: [[0, 'x', { kid: 'x', role: 'pass', publicPem: another.publicPem }]] }, rotated);
      expect(d.receive(keyPart, now)).toEqual({ status: 'rejected', detail: expect.stringMatching(/keys stream must be signed by an installed downlink key/) });

      // IT staff remove the installed key that vouched for it: after a restart the delivered key is not trusted either.
      const otherAnchor = generateSigningKeyPair();
      const keysDir = join(dir.path, 'keys2');
      installKey(keysDir, 'downlink', otherAnchor);
      const restarted = HubKeyring.fromDirectory(keysDir);
      keys.loadInto(restarted);
      expect(restarted.lookup(kid)).toBeDefined();
      const d2 = receiver(() => restarted);
      expect(d2.receive(sealed({ to: 2, body: rosterBody('W2') }, rotated), now)).toEqual({
        status: 'rejected',
        detail: expect.stringMatching(/UNKNOWN_KEY: key .* is no longer trusted/),
      });

      // And it never outlives its role's delivered lifetime.
      now += 2 * 365 * DAY + 1;
      expect(d.receive(sealed({ to: 3, body: rosterBody('W3') }, rotated), now)).toMatchObject({ status: 'rejected', detail: expect.stringMatching(/no longer trusted/) });
    } finally {
      await hub.close();
    }
  });

  it('a part claiming an absurd revision is refused, and one at the bound cannot freeze the stream', () => {
    const d = receiver();
    expect(d.receive(sealed({ to: 2 ** 40, body: rosterBody('W1') }), now)).toMatchObject({ status: 'rejected', detail: expect.stringMatching(/MALFORMED: to: /) });
    expect(d.receive(sealed({ to: MAX_REVISION, body: rosterBody('BAD') }), now)).toMatchObject({ status: 'applied', to: MAX_REVISION });
    // The hub answers a kiosk ahead of it with a snapshot from its own numbering, issued later: it is taken.
    now += 60_000;
    expect(d.receive(sealed({ to: 7, body: rosterBody('W1', 'W2') }), now)).toMatchObject({ status: 'applied', to: 7, records: 2 });
    expect(roster.get('BAD')).toBeUndefined();
    expect(state.cursor('roster').cursor).toBe(7);
    // A replay of the bad part (issued before what we hold) is refused.
    expect(d.receive(sealed({ to: MAX_REVISION, issuedAtMs: now - 60_000, body: rosterBody('BAD') }), now)).toMatchObject({ status: 'stale' });
  });

  it('a policy that claimed the highest version is replaced by the next one the hub sends', () => {
    const d = receiver();
    const doc = (version: number) => [[0, 'current', { document: { ...defaultPolicy(), version } }]];
    expect(d.receive(sealed({ stream: 'policy', to: 1, body: doc(999_999_999) }), now)).toMatchObject({ status: 'applied' });
    now += 1_000;
    expect(d.receive(sealed({ stream: 'policy', to: 2, body: doc(1_000_000_000) }), now)).toMatchObject({ status: 'rejected', detail: expect.stringMatching(/version/) });
    expect(d.receive(sealed({ stream: 'policy', kind: 'delta', from: 1, to: 2, body: doc(8) }), now)).toMatchObject({ status: 'applied' });
    expect(policy.current()?.version).toBe(8);
  });

  it('data age is renewed only by a confirmation issued after the last one: a replayed "current" changes nothing', () => {
    const d = receiver();
    d.receive(sealed({ body: rosterBody('W1') }), now);
    const t1 = now + 3_600_000;
    const current = sealed({ kind: 'current', from: 1, to: 1, issuedAtMs: t1 });
    expect(d.receive(current, t1)).toEqual({ status: 'current' });
    expect(state.cursor('roster').checkedAt).toBe(t1);
    // Three days later someone replays that confirmation: the data keeps its age (DATA_TOO_OLD stays).
    const t2 = t1 + 3 * DAY;
    expect(d.receive(current, t2)).toMatchObject({ status: 'stale', detail: expect.stringMatching(/replayed/) });
    expect(state.cursor('roster').checkedAt).toBe(t1);
    // A confirmation from a hub whose clock runs ahead counts from our own clock, not its future.
    expect(d.receive(sealed({ kind: 'current', from: 1, to: 1, issuedAtMs: t2 + 60_000 }), t2)).toEqual({ status: 'current' });
    expect(state.cursor('roster').checkedAt).toBe(t2);
  });

  it('parts that do not fit are asked for again at a bounded rate, not once per part (a hub whose directory went back in time)', async () => {
    // The kiosk holds revision 10 from a hub whose directory was then restored from an old backup.
    const d = receiver();
    d.receive(sealed({ to: 10, issuedAtMs: now - DAY, body: rosterBody('W1') }), now);
    const restored = await HubDirectory.open(await backend.target());
    try {
      await restored.importRoster([healthyWorker('W1', now), healthyWorker('W2', now)], false);
      const requests: string[] = [];
      let delivered = 0;
      // The broker: every request is answered by the restored hub in turn, every answer delivered at once.
      const unanswered: string[] = [];
      d.onOnline((_topic, payload) => {
        requests.push(payload);
        unanswered.push(payload);
      });
      for (let payload = unanswered.shift(); payload !== undefined && delivered <= 1_000; payload = unanswered.shift()) {
        const req = JSON.parse(payload) as Parameters<HubDirectory['respond']>[0];
        for await (const p of restored.respondSigned(req, now, createPrivateKey(anchor.privatePem))) {
          delivered++;
          // A stale copy arrives with each answer too (a delayed duplicate of the old transfer).
          d.onMessage('x', Buffer.from(sealed({ kind: 'delta', from: 3, to: 4, issuedAtMs: now - DAY, body: [] })));
          d.onMessage('x', Buffer.from(p));
        }
      }
      d.onOffline();
      // The restored hub's snapshot (revision 1, issued now) replaced what the kiosk held.
      expect(state.cursor('roster').cursor).toBe(1);
      expect(roster.count()).toBe(2);
      // One request per stream at start-up, plus at most one more for the roster in the retry window.
      expect(requests.filter((r) => r.includes('"roster"')).length).toBeLessThanOrEqual(2);
      expect(delivered).toBeLessThan(10);
    } finally {
      await restored.close();
    }
  });

  it('a stream the hub has nothing in is confirmed current (once), not asked for again every 30 s', () => {
    const d = receiver();
    const requests: string[] = [];
    d.onOnline((_t, payload) => requests.push(payload));
    const before = requests.length;
    // The hub's answer for an empty notices stream: "current at revision 0".
    d.onMessage('x', Buffer.from(sealed({ stream: 'notices', kind: 'current', from: 0, to: 0, issuedAtMs: now })));
    d.onOffline();
    expect(requests.length).toBe(before);
    expect(state.cursor('notices')).toMatchObject({ cursor: 0, checkedAt: now });
  });

  it('a part issued far ahead of a synchronised clock is refused, and an issue time held from one does not freeze the stream', () => {
    const d = receiver();
    expect(d.receive(sealed({ to: 1, issuedAtMs: now + DAY, body: rosterBody('W1') }), now)).toMatchObject({
      status: 'rejected',
      detail: expect.stringMatching(/ISSUED_IN_FUTURE/),
    });
    expect(state.cursor('roster').cursor).toBe(0);
    // A kiosk whose clock is not synchronised (behind, after a boot without network time) still takes it.
    const appliers = {
      roster: (k, c) => roster.applyChanges(k, c),
      notices: (k, c) => new Notices(db).applyChanges(k, c),
      revocations: (k, c) => new Revocations(db).applyChanges(k, c),
      policy: (k, c) => policy.applyChanges(k, c),
      keys: (k, c) => keys.applyChanges(k, c, ring, now),
    } satisfies ConstructorParameters<typeof Downlink>[3];
    const unsynced = new Downlink('kiosk-a', state, () => ring, appliers, silentLogger, { now: () => now, clockSynced: () => false });
    expect(unsynced.receive(sealed({ to: 1, issuedAtMs: now + DAY, body: rosterBody('W1') }), now)).toMatchObject({ status: 'applied' });
    expect(state.issuedAt('roster')).toBe(now + DAY);
    // Once the clock is synchronised, that issue time a day ahead orders nothing: the hub's next
    // confirmation and delta count again instead of being refused as "issued before what we hold".
    now += 60_000;
    expect(d.receive(sealed({ kind: 'current', from: 1, to: 1, issuedAtMs: now }), now)).toEqual({ status: 'current' });
    expect(d.receive(sealed({ kind: 'delta', from: 1, to: 2, issuedAtMs: now + 1, body: rosterBody('W2') }), now)).toMatchObject({ status: 'applied' });
    expect(roster.count()).toBe(2);
  });
});
