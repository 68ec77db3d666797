import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DECLARATION_QUESTIONS, DECLARE_TOKEN_TTL_MS, type DeclarationAnswerSet } from '../../../../base/common/declaration.js';
import { defaultPolicy, type Policy } from '../../../../base/common/policy/policy.js';
import { RequestRefusal } from '../../../../base/common/refusal.js';
import { HubKeyring, generateSigningKeyPair } from '../../../../base/node/keys.js';
import { silentLogger } from '../../../../base/node/logger.js';
import { issuePhonePass, provePhonePass } from '../../../../base/node/phone-pass.js';
import type { GateActuator } from '../../../../device/gpio/gate-signals.js';
import { DeclareTokens } from '../../../../src-main/core/declarations/declare-tokens.js';
import { KioskDeclarationDesk } from '../../../../src-main/core/declarations/desk.js';
import { RemoteDeclarations } from '../../../../src-main/core/store/remote-passages.js';
import { DEFAULT_TIME_ZONE, timeOfDayIn } from '../../../../base/common/time.js';
import { Gatekeeper, type Passage } from '../../../../src-main/core/gatekeeper.js';
import { openStore, type SqliteDatabase } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { HeldSpool } from '../../../../src-main/core/store/held-spool.js';
import { Roster } from '../../../../src-main/core/store/roster.js';
import { EntryLogReader } from '../../../../src-main/core/supervisor/entry-log.js';
import { healthyWorker, passFor, tempDir } from '../../../helpers/fixtures.js';

type Signal = 'admit' | 'refuse' | 'seeDriver' | 'declareElsewhere' | 'repeat';

class RecordingActuator implements GateActuator {
  readonly signals: Signal[] = [];
  admit(): void {
    this.signals.push('admit');
  }
  refuse(): void {
    this.signals.push('refuse');
  }
  seeDriver(): void {
    this.signals.push('seeDriver');
  }
  declareElsewhere(): void {
    this.signals.push('declareElsewhere');
  }
  acknowledgeRepeat(): void {
    this.signals.push('repeat');
  }
  holdOpen(): void {}
  safeState(): void {}
}

const clean = (): DeclarationAnswerSet => Object.fromEntries(DECLARATION_QUESTIONS.map((q) => [q, false])) as DeclarationAnswerSet;
const withYes = (...yes: (typeof DECLARATION_QUESTIONS)[number][]): DeclarationAnswerSet => ({ ...clean(), ...Object.fromEntries(yes.map((q) => [q, true])) });

const refusalCode = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof RequestRefusal) return err.code;
    throw err;
  }
  return 'no refusal';
};

/**
 * Declarations on the kiosk's screen against a real store file: the declaration event, the roster
 * record and the new decision, the token rules, the repeat window, the alert, the headless signal.
 */
describe('health declarations at the kiosk', () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let db: SqliteDatabase;
  let events: EventLog;
  let roster: Roster;
  let actuator: RecordingActuator;
  let gatekeeper: Gatekeeper;
  let tokens: DeclareTokens;
  let desk: KioskDeclarationDesk;
  /** The kiosk's clocks: wall time (ms) and a monotonic one (ms), moved by the tests. */
  let wallOffsetMs = 0;
  let monoMs = 1_000_000;
  /** The hub's revocations as the gate asks them. */
  let revokedAll = false;
  const keys = generateSigningKeyPair();
  const phoneKeys = generateSigningKeyPair();
  const ring = new HubKeyring();
  ring.add(createPublicKey(keys.publicPem), { role: 'pass', source: 'test' });
  ring.add(createPublicKey(phoneKeys.publicPem), { role: 'phone-pass', source: 'test' });

  function compose(options: { screen: boolean; kind?: 'gate' | 'bus'; policy?: Policy }): void {
    const policy = options.policy ?? defaultPolicy();
    const kind = options.kind ?? 'gate';
    actuator = new RecordingActuator();
    tokens = new DeclareTokens({ now: () => monoMs });
    gatekeeper = new Gatekeeper({
      checkpoint: { id: 'gate-a', name: 'Cổng A', kind, zone: 'factory-1', direction: 'entry' },
      events,
      roster,
      keyring: ring,
      policy: () => policy,
      clock: { read: () => ({ wallMs: Date.now() + wallOffsetMs, monoUs: (monoMs += 1) * 1000, bootId: 'test-boot', synced: true }) },
      actuator,
      badgePattern: /^[A-Z][0-9]{3,8}$/,
      codeHashKey: 'test-code-hash-key',
      log: silentLogger,
      held: new HeldSpool({ file: join(dir.path, 'run', 'held.jsonl'), dir: join(dir.path, 'run'), db, events, log: silentLogger }),
      isRevoked: () => revokedAll,
      ...(options.screen ? { declareTokens: tokens } : { declareElsewhere: true }),
    });
    desk = new KioskDeclarationDesk({ db, events, gatekeeper, tokens, policy: () => defaultPolicy(), log: silentLogger });
  }

  beforeEach(() => {
    wallOffsetMs = 0;
    revokedAll = false;
    dir = tempDir('safegate-declare-');
    path = join(dir.path, 'kiosk.db');
    db = openStore(path);
    events = new EventLog(db);
    roster = new Roster(db);
    roster.upsertAll([
      healthyWorker('W1', Date.now(), { declaredAt: null }),
      healthyWorker('W2'),
      healthyWorker('W3', Date.now(), { declaredAt: Date.now() - 30 * 3_600_000 }),
      healthyWorker('W4', Date.now(), { declaredAt: null, quarantineUntil: Date.now() + 5 * 86_400_000 }),
    ]);
    compose({ screen: true });
  });
  afterEach(() => {
    gatekeeper.stop();
    db.close();
    dir.remove();
  });

  const scan = (text: string, source: 'camera' | 'serial' = 'camera'): Passage => gatekeeper.handleScan({ text, source, receivedAtNs: process.hrtime.bigint() });
  const rows = () => db.prepare('SELECT seq, source, worker_id, decision, reasons, declaration_bits FROM events ORDER BY seq').all();
  const alerts = () => db.prepare('SELECT seq, kind FROM alerts ORDER BY seq').all();

  it('a worker refused for a missing declaration declares clean and is admitted: a declaration event, then a new allow event, and the roster record takes it', () => {
    const refused = scan(passFor(keys, 'W1'));
    expect(refused.decision).toMatchObject({ outcome: 'deny', reasons: ['DECLARATION_MISSING'] });
    expect(refused.declareToken).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
    monoMs += 20_000;
    const admitted = desk.submit(refused.declareToken!, clean());
    expect(admitted.decision).toMatchObject({ outcome: 'allow', reasons: [] });
    expect(admitted.displayName).toBe('Người lao động W1');
    expect(actuator.signals).toEqual(['refuse', 'admit']);
    expect(rows()).toEqual([
      { seq: refused.seq, source: 'camera', worker_id: 'W1', decision: 'deny', reasons: 'DECLARATION_MISSING', declaration_bits: null },
      { seq: refused.seq! + 1, source: 'declaration', worker_id: 'W1', decision: 'allow', reasons: '', declaration_bits: 0 },
      { seq: admitted.seq, source: 'camera', worker_id: 'W1', decision: 'allow', reasons: '', declaration_bits: null },
    ]);
    expect(admitted.seq).toBe(refused.seq! + 2);
    const declaration = events.get(refused.seq! + 1)!;
    expect(declaration).toMatchObject({ credentialKind: 'pass', codeHash: null, direction: 'entry', declaration: { answers: 0 } });
    expect(roster.get('W1')).toMatchObject({ declaredAt: declaration.wallMs, declarationFlagged: false });
    expect(alerts()).toEqual([]);
  });

  it('a declaration with a warning answer refuses DECLARATION_FLAGGED and raises the flagged-entry alert on the new scan event (not on the declaration)', () => {
    const refused = scan(passFor(keys, 'W1'));
    const result = desk.submit(refused.declareToken!, withYes('cough', 'contactCase'));
    expect(result.decision).toMatchObject({ outcome: 'deny', reasons: ['DECLARATION_FLAGGED'] });
    expect(actuator.signals).toEqual(['refuse', 'refuse']);
    const declarationSeq = refused.seq! + 1;
    expect(events.get(declarationSeq)).toMatchObject({
      source: 'declaration',
      decision: 'deny',
      reasons: ['DECLARATION_FLAGGED'],
      declaration: { answers: (1 << DECLARATION_QUESTIONS.indexOf('cough')) | (1 << DECLARATION_QUESTIONS.indexOf('contactCase')) },
    });
    expect(alerts()).toEqual([{ seq: result.seq, kind: 'flagged-entry-attempt' }]);
    expect(roster.get('W1')).toMatchObject({ declarationFlagged: true });
    // No "Declare now" after a flagged declaration: the refusal stands (see the next test).
    expect(result.declareToken).toBeUndefined();
    monoMs += 10_000;
    const again = scan(passFor(keys, 'W1'));
    expect(again.decision.reasons).toEqual(['DECLARATION_FLAGGED']);
    expect(again.declareToken).toBeUndefined();
  });

  it('a flagged declaration stands for the rest of the day (province time): a clean one later that day, at the kiosk or on the phone, is recorded but does not admit; the next day\'s clean one does', () => {
    const noon = timeOfDayIn(Date.now(), '12:00', DEFAULT_TIME_ZONE);
    wallOffsetMs = noon - Date.now();
    roster.upsertAll([healthyWorker('W1', noon, { declaredAt: null })]);
    // A pass issued well before the kiosk's (moved) clock and valid well after it.
    const pass = passFor(keys, 'W1', { issuedAgoMs: 2 * 86_400_000, expiresInMs: 5 * 86_400_000 });
    const refused = scan(pass);
    expect(desk.submit(refused.declareToken!, withYes('fever')).decision.reasons).toEqual(['DECLARATION_FLAGGED']);
    // 18:00: declared "no" from the idle button (recorded as an event), and on the phone (the site stream).
    wallOffsetMs += 6 * 3_600_000;
    const seq = desk.recordDeclaration({ workerId: 'W1', credentialKind: 'pass', answers: 0 });
    expect(events.get(seq)).toMatchObject({ source: 'declaration', decision: 'allow', declaration: { answers: 0 } });
    expect(new RemoteDeclarations(db, DEFAULT_TIME_ZONE).apply([{ workerId: 'W1', declaredAtMs: noon + 7 * 3_600_000, flagged: false }])).toBe(0);
    expect(roster.get('W1')).toMatchObject({ declarationFlagged: true });
    expect(roster.get('W1')!.declaredAt).toBeLessThan(noon + 3_600_000);
    monoMs += 10_000;
    expect(scan(pass).decision).toMatchObject({ outcome: 'deny', reasons: ['DECLARATION_FLAGGED'] });
    // 08:00 the next day: a clean declaration clears it.
    wallOffsetMs += 14 * 3_600_000;
    desk.recordDeclaration({ workerId: 'W1', credentialKind: 'pass', answers: 0 });
    expect(roster.get('W1')).toMatchObject({ declarationFlagged: false });
    monoMs += 10_000;
    expect(scan(pass).decision.outcome).toBe('allow');
  });

  it('someone let through who declares from the idle button: the declaration is recorded and nothing is decided again (no anti-passback refusal in the entry log); one found inside already likewise, a flagged one alerting on the declaration', () => {
    const admitted = scan(passFor(keys, 'W2'));
    expect(admitted.decision.outcome).toBe('allow');
    const first = rows().length;
    const recorded = desk.submit(admitted.declareToken!, clean());
    expect(recorded).toMatchObject({ declared: true, decision: { outcome: 'repeat', reasons: [] }, displayName: 'Người lao động W2', credentialAccepted: true });
    expect(rows().slice(first - 1)).toEqual([
      expect.objectContaining({ seq: admitted.seq, source: 'camera', worker_id: 'W2', decision: 'allow' }),
      expect.objectContaining({ seq: recorded.seq, source: 'declaration', worker_id: 'W2', decision: 'allow', declaration_bits: 0 }),
    ]);
    // The gate opened once, for the scan; the declaration neither opens nor refuses.
    expect(actuator.signals).toEqual(['admit']);

    // Later, from inside, they scan at the entry again (refused: inside already) and declare with a warning answer.
    monoMs += 60_000;
    const inside = scan(passFor(keys, 'W2'));
    expect(inside.decision.reasons).toEqual(['ANTI_PASSBACK']);
    const flagged = desk.submit(inside.declareToken!, withYes('fever'));
    expect(flagged.declared).toBeUndefined();
    expect(flagged.decision).toEqual({ outcome: 'deny', direction: 'entry', reasons: ['DECLARATION_FLAGGED'] });
    const after = rows().filter((r) => (r as { seq: number }).seq > inside.seq!);
    expect(after).toEqual([expect.objectContaining({ seq: flagged.seq, source: 'declaration', decision: 'deny', reasons: 'DECLARATION_FLAGGED' })]);
    expect(alerts()).toEqual([{ seq: flagged.seq, kind: 'flagged-entry-attempt' }]);
    expect(actuator.signals).toEqual(['admit', 'refuse']);
    expect(roster.get('W2')).toMatchObject({ declarationFlagged: true });
  });

  it('a refusal a declaration cannot change is not decided again: the declaration is recorded and the refusal stands as it was logged', () => {
    const policy = defaultPolicy();
    compose({ screen: true, policy: { ...policy, params: { ...policy.params, minVaccineDoses: 9 } } });
    const refused = scan(passFor(keys, 'W2'));
    expect(refused.decision.reasons).toEqual(['VACCINATION_INSUFFICIENT']);
    const count = rows().length;
    const answer = desk.submit(refused.declareToken!, clean());
    expect(answer.declared).toBeUndefined();
    expect(answer.decision).toEqual(refused.decision);
    expect(rows()).toHaveLength(count + 1);
    expect(events.get(answer.seq!)).toMatchObject({ source: 'declaration', decision: 'allow' });
    expect(alerts()).toEqual([]);
  });

  it('a token is used once; an unknown one and an expired one are refused and record nothing', () => {
    const refused = scan(passFor(keys, 'W1'));
    desk.submit(refused.declareToken!, clean());
    const count = rows().length;
    expect(refusalCode(() => desk.submit(refused.declareToken!, clean()))).toBe('token-used');
    expect(refusalCode(() => desk.submit('A'.repeat(24), clean()))).toBe('token-unknown');
    monoMs += 10_000;
    const late = scan(passFor(keys, 'W3'));
    expect(late.decision.reasons).toEqual(['DECLARATION_MISSING']);
    monoMs += DECLARE_TOKEN_TTL_MS + 1;
    expect(refusalCode(() => desk.submit(late.declareToken!, clean()))).toBe('token-expired');
    expect(refusalCode(() => desk.submit(late.declareToken!, clean()))).toBe('token-unknown');
    expect(rows()).toHaveLength(count + 1);
    expect(roster.get('W3')!.declaredAt).toBeLessThan(Date.now() - 29 * 3_600_000);
  });

  it('a scan by someone else meanwhile does not disturb it: the declaration and the new decision are the first worker\'s', () => {
    const first = scan(passFor(keys, 'W1'));
    const other = scan(passFor(keys, 'W2'));
    expect(other.decision.outcome).toBe('allow');
    expect(other.declareToken).toBeDefined();
    expect(other.declareToken).not.toBe(first.declareToken);
    const result = desk.submit(first.declareToken!, clean());
    expect(result.displayName).toBe('Người lao động W1');
    expect(events.get(result.seq!)).toMatchObject({ workerId: 'W1', decision: 'allow' });
    expect(events.get(result.seq! - 1)).toMatchObject({ workerId: 'W1', source: 'declaration' });
    expect(roster.get('W2')!.declaredAt).toBeLessThan(Date.now() - 3_600_000);
  });

  it('the repeat window does not swallow the decision after a declaration, and still holds for the next real scan', () => {
    const code = passFor(keys, 'W1');
    const refused = scan(code);
    monoMs += 1_000; // well inside the 5 s repeat window
    const result = desk.submit(refused.declareToken!, clean());
    expect(result.decision.outcome).toBe('allow');
    expect(result.seq).not.toBeNull();
    monoMs += 1_000;
    const repeat = scan(code);
    expect(repeat.decision.outcome).toBe('repeat');
    expect(repeat.seq).toBeNull();
    expect(repeat.declareToken).toBeUndefined();
  });

  it("decides a phone code again by what was verified at the scan: its proof is minutes old by the time the form is done", () => {
    const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { pass } = issuePhonePass(phoneKeys.privatePem, { workerId: 'W1', issuer: 'hub', expiresAt: new Date(Date.now() + 86_400_000), holderKey: phone.publicKey });
    const code = provePhonePass(pass, phone.privateKey, Date.now());
    const refused = scan(code);
    expect(refused.decision.reasons).toEqual(['DECLARATION_MISSING']);
    wallOffsetMs = 2.5 * 60_000;
    monoMs += 2.5 * 60_000;
    // The same text read now is stale: deciding it afresh would refuse the worker for their phone code.
    expect(scan(code).decision.reasons).toEqual(['PASS_STALE']);
    const result = desk.submit(refused.declareToken!, clean());
    expect(result.decision.outcome).toBe('allow');
  });

  it('a pass that expired or was revoked while the form was open is refused for it when decided again', () => {
    const shortPass = passFor(keys, 'W1', { expiresInMs: 60_000 });
    const refused = scan(shortPass);
    wallOffsetMs = 2 * 60_000;
    monoMs += 2 * 60_000;
    expect(desk.submit(refused.declareToken!, clean()).decision.reasons).toEqual(['PASS_EXPIRED']);
    // The declaration itself stands: it is the worker's, whatever they showed.
    expect(roster.get('W1')!.declaredAt).not.toBeNull();

    const phone = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { pass } = issuePhonePass(phoneKeys.privatePem, { workerId: 'W3', issuer: 'hub', expiresAt: new Date(Date.now() + 86_400_000), holderKey: phone.publicKey });
    const second = scan(provePhonePass(pass, phone.privateKey, Date.now() + wallOffsetMs));
    expect(second.decision.reasons).toEqual(['DECLARATION_MISSING']);
    revokedAll = true;
    expect(desk.submit(second.declareToken!, clean()).decision.reasons).toEqual(['PASS_REVOKED']);
  });

  it('only a decided scan naming a roster worker gets a token: not an unknown code, not a refused credential', () => {
    expect(scan('not a code at all').declareToken).toBeUndefined();
    expect(scan(passFor(keys, 'NOBODY')).declareToken).toBeUndefined();
    // A badge is refused at this checkpoint by the default policy's credential rules, or admitted; a token only when accepted.
    const badge = scan('W2');
    expect(badge.declareToken === undefined).toBe(!badge.credentialAccepted);
  });

  it('records a visitor\'s declaration for the visitor desk: their id, their credential kind, no worker, no roster change', () => {
    const visitorId = 'vk1.0123456789abcdef0123456789abcdef';
    const before = roster.get('W1');
    const seq = desk.recordDeclaration({ visitorId, credentialKind: 'cccd', answers: withYes('fever') });
    expect(events.get(seq)).toMatchObject({ source: 'declaration', visitorId, workerId: null, codeHash: null, credentialKind: 'cccd', decision: 'deny', declaration: { answers: 2 } });
    expect(desk.recordDeclaration({ visitorId, credentialKind: 'dcc', answers: 0 })).toBe(seq + 1);
    expect(roster.get('W1')).toEqual(before);
    expect(() => desk.recordDeclaration({ visitorId: 'Nguyen Van A', credentialKind: 'cccd', answers: 0 })).toThrow(RangeError);
    expect(() => desk.recordDeclaration({ workerId: 'W1', credentialKind: 'pass', answers: 4096 })).toThrow(RangeError);
    expect(alerts()).toEqual([]);
  });

  it('a store that cannot take the declaration refuses it and keeps the token for another try', () => {
    const refused = scan(passFor(keys, 'W1'));
    const locker = new Database(path, { timeout: 0 });
    locker.exec('BEGIN IMMEDIATE');
    try {
      expect(refusalCode(() => desk.submit(refused.declareToken!, clean()))).toBe('store-unavailable');
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect(rows()).toHaveLength(1);
    expect(roster.get('W1')!.declaredAt).toBeNull();
    expect(desk.submit(refused.declareToken!, clean()).decision.outcome).toBe('allow');
  }, 20_000);

  it('a unit without a screen gives no token and signals "declare at a kiosk with a screen" for a missing declaration only', () => {
    compose({ screen: false });
    const missing = scan(passFor(keys, 'W1'));
    expect(missing.decision.reasons).toEqual(['DECLARATION_MISSING']);
    expect(missing.declareToken).toBeUndefined();
    expect(actuator.signals).toEqual(['declareElsewhere']);
    // Refused for more than the declaration (a quarantine too): declaring would not help, the plain refusal.
    const quarantined = scan(passFor(keys, 'W4'));
    expect(quarantined.decision.reasons).toContain('QUARANTINE_ACTIVE');
    expect(actuator.signals).toEqual(['declareElsewhere', 'refuse']);
    expect(scan(passFor(keys, 'W2')).decision.outcome).toBe('allow');
    expect(actuator.signals.at(-1)).toBe('admit');
    expect(tokens.size).toBe(0);
  });

  it('a declaration is never a passage: not inside, not in the trace, not counted as an entry; the scan after it is', () => {
    const refused = scan(passFor(keys, 'W1'));
    // Declared, then walked away before the result (the decision is made all the same): one allow scan.
    desk.recordDeclaration({ workerId: 'W1', credentialKind: 'pass', answers: 0 });
    const from = Date.now() - 60_000;
    const to = Date.now() + 60_000;
    const log = new EntryLogReader(events, roster, { of: () => null, overridable: () => false });
    expect(log.inside(from, to)).toEqual([]);
    expect(events.passagesOf('W1', from, to)).toEqual([]);
    expect(events.lastPassage('W1', { zoneId: 'factory-1' })).toBeNull();
    expect(log.summary(from, to)).toEqual({ entries: 0, exits: 0, denied: 1 });
    desk.recordDeclaration({ workerId: 'W2', credentialKind: 'pass', answers: 1 });
    expect(events.refusalsNear('gate-a', from, to).map(([, w]) => w)).toEqual(['W1']);
    const admitted = scan(passFor(keys, 'W1'));
    expect(admitted.seq).toBeGreaterThan(refused.seq!);
    expect(admitted.decision.outcome).toBe('allow');
    expect(log.inside(from, to).map((w) => w.workerId)).toEqual(['W1']);
    expect(events.passagesOf('W1', from, to).map((p) => p.seq)).toEqual([admitted.seq]);
  });

  it('the policy decides whether a bus needs a declaration: by default a headless bus unit signals "declare elsewhere"; with bus left out of declarationRequiredAt it admits', () => {
    compose({ screen: false, kind: 'bus' });
    expect(scan(passFor(keys, 'W1')).decision.reasons).toEqual(['DECLARATION_MISSING']);
    expect(actuator.signals).toEqual(['declareElsewhere']);
    const p = defaultPolicy();
    expect(p.params.declarationRequiredAt).toContain('bus');
    const kinds = p.params.declarationRequiredAt as string[];
    const withoutBus: Policy = { ...p, params: { ...p.params, declarationRequiredAt: kinds.filter((k) => k !== 'bus') } };
    compose({ screen: false, kind: 'bus', policy: withoutBus });
    monoMs += 10_000;
    // W3's declaration is 30 hours old: not needed on the bus.
    expect(scan(passFor(keys, 'W3')).decision.outcome).toBe('allow');
    expect(actuator.signals).toEqual(['admit']);
  });

  it('a kiosk with a screen refuses a missing declaration plainly (the screen offers the form)', () => {
    scan(passFor(keys, 'W1'));
    expect(actuator.signals).toEqual(['refuse']);
  });
});
