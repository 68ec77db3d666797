import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultPolicy, type Policy } from '../../../base/common/policy/policy.js';
import { HubKeyring, generateSigningKeyPair } from '../../../base/node/keys.js';
import { silentLogger } from '../../../base/node/logger.js';
import { issuePass } from '../../../base/node/pass.js';
import { issuePhonePass, provePhonePass } from '../../../base/node/phone-pass.js';
import type { GateActuator } from '../../../device/gpio/gate-signals.js';
import { Gatekeeper } from '../../../src-main/core/gatekeeper.js';
import { openStore, type SqliteDatabase } from '../../../src-main/core/store/database.js';
import { EventLog } from '../../../src-main/core/store/event-log.js';
import { HeldSpool } from '../../../src-main/core/store/held-spool.js';
import { Roster } from '../../../src-main/core/store/roster.js';
import { healthyWorker, tempDir } from '../../helpers/fixtures.js';

const quietActuator: GateActuator = { admit() {}, refuse() {}, seeDriver() {}, acknowledgeRepeat() {}, holdOpen() {}, safeState() {} };

/**
 * What the gate does with a phone code while its own clock is not verified (clock.synced false), as
 * the policy's `passes.unverifiedKioskClock` says; on a verified clock the proof's age is always judged.
 */
describe('phone codes on an unverified kiosk clock', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: SqliteDatabase;
  let events: EventLog;
  let gatekeeper: Gatekeeper;
  let synced = false;
  let policy: Policy = defaultPolicy();
  const hubKey = generateSigningKeyPair();
  const ring = new HubKeyring();
  ring.add(createPublicKey(hubKey.publicPem), { role: 'phone-pass', source: 'test' });
  const printedKey = generateSigningKeyPair();
  ring.add(createPublicKey(printedKey.publicPem), { role: 'pass', source: 'test' });
  const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pass = (workerId: string) => issuePhonePass(hubKey.privatePem, { workerId, issuer: 'hub', expiresAt: new Date(Date.now() + 86_400_000), holderKey: phone.publicKey }).pass;
  /** A screenshot taken ten minutes ago. */
  const oldCode = (workerId: string) => provePhonePass(pass(workerId), phone.privateKey, Date.now() - 10 * 60_000);
  const withClockRule = (unverifiedKioskClock: 'check' | 'accept-with-flag' | 'deny'): Policy => {
    const p = defaultPolicy();
    return { ...p, params: { ...p.params, passes: { ...p.params.passes, unverifiedKioskClock } } };
  };
  const scan = (text: string) => gatekeeper.handleScan({ text, source: 'camera', receivedAtNs: process.hrtime.bigint() });

  beforeEach(() => {
    dir = tempDir('safegate-phone-clock-');
    db = openStore(join(dir.path, 'kiosk.db'));
    events = new EventLog(db);
    const roster = new Roster(db);
    roster.upsertAll(['W1', 'W2', 'W3', 'W4'].map((id) => healthyWorker(id)));
    let mono = 1_000_000;
    gatekeeper = new Gatekeeper({
      checkpoint: { id: 'gate-a', name: 'Cổng A', kind: 'gate', zone: 'factory-1', direction: 'entry' },
      events,
      roster,
      keyring: ring,
      policy: () => policy,
      clock: { read: () => ({ wallMs: Date.now(), monoUs: (mono += 1000), bootId: 'test-boot', synced }) },
      actuator: quietActuator,
      badgePattern: /^[A-Za-z0-9._-]{1,64}$/,
      codeHashKey: 'test-code-hash-key',
      log: silentLogger,
      held: new HeldSpool({ file: join(dir.path, 'run', 'held.jsonl'), dir: join(dir.path, 'run'), db, events, log: silentLogger }),
    });
  });
  afterEach(() => {
    gatekeeper.stop();
    db.close();
    dir.remove();
  });

  it("'deny' refuses phone codes with CLOCK_UNVERIFIED (printed passes are not concerned)", () => {
    synced = false;
    policy = withClockRule('deny');
    expect(scan(provePhonePass(pass('W1'), phone.privateKey, Date.now())).decision.reasons).toEqual(['CLOCK_UNVERIFIED']);
    const printed = issuePass(printedKey.privatePem, { workerId: 'W1', issuer: 'hub', issuedAt: new Date(Date.now() - 60_000), expiresAt: new Date(Date.now() + 86_400_000) });
    expect(scan(printed).decision.outcome).toBe('allow');
  });

  it("'accept-with-flag' admits an old code without judging its age, and the event says the clock was not synchronised", () => {
    synced = false;
    policy = withClockRule('accept-with-flag');
    const p = scan(oldCode('W2'));
    expect(p.decision.outcome).toBe('allow');
    expect(events.get(p.seq!)).toMatchObject({ decision: 'allow', workerId: 'W2', clockSynced: false });
  });

  it('the built-in policy refuses an old screenshot at a kiosk whose clock is not verified (a restart without network)', () => {
    synced = false;
    policy = defaultPolicy();
    expect(scan(oldCode('W1')).decision.reasons).toEqual(['PASS_STALE']);
  });

  it("'check' judges it by the unverified clock anyway; on a verified clock every rule judges it", () => {
    synced = false;
    policy = withClockRule('check');
    expect(scan(oldCode('W3')).decision.reasons).toEqual(['PASS_STALE']);
    synced = true;
    policy = withClockRule('accept-with-flag');
    expect(scan(oldCode('W4')).decision.reasons).toEqual(['PASS_STALE']);
  });
});
