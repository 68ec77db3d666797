import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DECLARATION_QUESTIONS, type DeclarationAnswerSet } from '../../../../base/common/declaration.js';
import { defaultPolicy } from '../../../../base/common/policy/policy.js';
import { RequestRefusal } from '../../../../base/common/refusal.js';
import { VISITOR_ID_PATTERN } from '../../../../base/common/visitor.js';
import { HubKeyring } from '../../../../base/node/keys.js';
import { silentLogger } from '../../../../base/node/logger.js';
import { VisitorKeyring } from '../../../../base/node/visitor-keyring.js';
import type { GateActuator } from '../../../../device/gpio/gate-signals.js';
import { DeclareTokens } from '../../../../src-main/core/declarations/declare-tokens.js';
import { KioskDeclarationDesk } from '../../../../src-main/core/declarations/desk.js';
import { Gatekeeper, type Passage } from '../../../../src-main/core/gatekeeper.js';
import { openStore, type SqliteDatabase } from '../../../../src-main/core/store/database.js';
import { EventLog } from '../../../../src-main/core/store/event-log.js';
import { HeldSpool } from '../../../../src-main/core/store/held-spool.js';
import { Roster } from '../../../../src-main/core/store/roster.js';
import { SupervisorDesk } from '../../../../src-main/core/supervisor/desk.js';
import { KioskVisitors } from '../../../../src-main/core/visitors/visitors.js';
import type { DccCheck } from '../../../../src-main/core/visitors/dcc-port.js';
import { tempDir } from '../../../helpers/fixtures.js';

// Synthetic card: made-up number, name, address and dates.
const NUMBER = '079099000123';
const ADDRESS = 'So 7 Ngo Thu Nghiem, Phuong Mau';
const DOB = '15041990';
const NAME = 'Trần Thị Khách';
const card = (n = NUMBER) => [n, '', NAME, DOB, 'Nữ', ADDRESS, '01022021'].join('|');
const DAY = 86_400_000;

class Recording implements GateActuator {
  readonly signals: string[] = [];
  admit(): void {
    this.signals.push('admit');
  }
  refuse(): void {
    this.signals.push('refuse');
  }
  seeDriver(): void {
    this.signals.push('seeDriver');
  }
  acknowledgeRepeat(): void {
    this.signals.push('repeat');
  }
  holdOpen(): void {}
  safeState(): void {}
}

const clean = (): DeclarationAnswerSet => Object.fromEntries(DECLARATION_QUESTIONS.map((q) => [q, false])) as DeclarationAnswerSet;
const code = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof RequestRefusal) return err.code;
    throw err;
  }
  return 'no refusal';
};

describe('visitors at the kiosk (real SQLite file)', () => {
  let dir: ReturnType<typeof tempDir>;
  let dbPath: string;
  let db: SqliteDatabase;
  let events: EventLog;
  let actuator: Recording;
  let gatekeeper: Gatekeeper;
  let visitors: KioskVisitors;
  let supervisor: SupervisorDesk;
  let keyring: VisitorKeyring;
  let wallMs = Date.now();
  let monoMs = 1_000_000;

  function compose(opts: { registers?: boolean; kind?: 'gate' | 'zone'; direction?: 'entry' | 'both'; keyFile?: string; dcc?: DccCheck } = {}): void {
    const policy = defaultPolicy();
    keyring = VisitorKeyring.open(join(dir.path, opts.keyFile ?? 'visitor.key'), { retentionDays: 28, now: () => wallMs });
    actuator = new Recording();
    visitors = new KioskVisitors({
      db,
      events,
      keyring,
      policy: () => policy,
      settings: { hosts: ['Phòng Nhân sự'], purposes: ['Họp / Meeting'], retentionDays: 28 },
      recordDeclaration: (r) => declarations.recordDeclaration(r),
      supervisorOf: (t) => supervisor.signedIn(t),
      supervisorName: (id) => supervisor.supervisorName(id),
      registers: opts.registers ?? true,
      ...(opts.dcc ? { dcc: opts.dcc } : {}),
      log: silentLogger,
      monoNow: () => monoMs,
    });
    const roster = new Roster(db);
    gatekeeper = new Gatekeeper({
      checkpoint: { id: 'gate-a', name: 'Cổng A', kind: opts.kind ?? 'gate', zone: 'factory-1', direction: opts.direction ?? 'both' },
      events,
      roster,
      keyring: new HubKeyring(),
      policy: () => policy,
      clock: { read: () => ({ wallMs, monoUs: (monoMs += 1) * 1000, bootId: 'test-boot', synced: true }) },
      actuator,
      badgePattern: /^[A-Z][0-9]{3,8}$/,
      codeHashKey: 'test-code-hash-key',
      log: silentLogger,
      held: new HeldSpool({ file: join(dir.path, 'run', 'held.jsonl'), dir: join(dir.path, 'run'), db, events, log: silentLogger }),
      visitors,
    });
    visitors.attach(gatekeeper);
    const declarations = new KioskDeclarationDesk({ db, events, gatekeeper, tokens: new DeclareTokens(), policy: () => policy, log: silentLogger });
    supervisor = new SupervisorDesk({
      db,
      events,
      roster,
      gatekeeper,
      rules: { sessionMinutes: 10, maxFailedLogins: 5, lockoutMinutes: 1, maxLockoutMinutes: 10 },
      policy: () => policy,
      zone: 'Asia/Ho_Chi_Minh',
      pinPepper: Buffer.alloc(32, 7),
      log: silentLogger,
      now: () => wallMs,
      visitorName: (id) => visitors.nameOf(id),
    });
  }

  const scan = (text: string): Passage => {
    monoMs += 10_000; // past the repeat window
    return gatekeeper.handleScan({ text, source: 'camera', receivedAtNs: process.hrtime.bigint() });
  };
  const rows = () => db.prepare('SELECT seq, source, decision, reasons, worker_id, code_hash, visitor_id, visit, credential_kind, direction FROM events ORDER BY seq').all() as Record<string, unknown>[];

  beforeEach(async () => {
    wallMs = Date.now();
    dir = tempDir('safegate-visitors-');
    dbPath = join(dir.path, 'kiosk.db');
    db = openStore(dbPath);
    events = new EventLog(db);
    compose();
    await supervisor.addSupervisor({ id: 'sup-lan', name: 'Chị Lan', pin: '246810' });
  });
  afterEach(() => {
    gatekeeper.stop();
    db.close();
    dir.remove();
  });

  it('register -> pending -> a named supervisor approves -> enter -> scan out; the database holds no ID number, address or date of birth', async () => {
    const first = scan(card());
    expect(first.decision).toMatchObject({ outcome: 'deny', reasons: ['VISITOR_NOT_REGISTERED'] });
    expect(first.seq).toBeNull();
    expect(first.visitor).toMatchObject({ name: NAME, credentialKind: 'cccd' });
    expect(rows()).toHaveLength(0); // nothing kept before they agree
    expect(actuator.signals).toEqual(['refuse']);

    const registered = visitors.register(first.visitor!.token, { host: 'Phòng Nhân sự', purpose: 'Họp / Meeting' }, clean());
    expect(registered.decision).toMatchObject({ outcome: 'deny', reasons: ['VISITOR_APPROVAL_PENDING'] });
    expect(registered.displayName).toBe(NAME);
    const r1 = rows();
    expect(r1.map((r) => [r.source, r.decision, r.reasons])).toEqual([
      ['visitor', 'allow', 'VISITOR_REGISTERED'],
      ['declaration', 'allow', ''],
      ['camera', 'deny', 'VISITOR_APPROVAL_PENDING'],
    ]);
    const visitorId = r1[0]!.visitor_id as string;
    expect(visitorId).toMatch(VISITOR_ID_PATTERN);
    for (const r of r1) expect(r).toMatchObject({ visitor_id: visitorId, worker_id: null, code_hash: null, credential_kind: 'cccd' });
    expect(JSON.parse(r1[0]!.visit as string)).toEqual({ name: NAME, host: 'Phòng Nhân sự', purpose: 'Họp / Meeting', noticeVersion: 1 });
    // The token is used once.
    expect(code(() => visitors.register(first.visitor!.token, { host: 'x', purpose: 'y' }, clean()))).toBe('token-unknown');

    // Scanning again before approval: still pending.
    expect(scan(card()).decision.reasons).toEqual(['VISITOR_APPROVAL_PENDING']);

    // A named supervisor: not signed in -> refused; signed in -> listed waiting first, approves.
    expect(() => visitors.list('nope')).toThrow(/not signed in/);
    const login = await supervisor.login('sup-lan', '246810');
    if (!login.ok) throw new Error('login failed');
    const listed = visitors.list(login.token);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ visitorId, name: NAME, state: 'pending-approval', decidedBy: null, credentialKind: 'cccd' });
    const decided = visitors.decide(login.token, visitorId, true);
    expect(decided).toMatchObject({ state: 'approved', decidedBy: { supervisorId: 'sup-lan', name: 'Chị Lan' } });
    expect(code(() => visitors.decide(login.token, visitorId, false))).toBe('already-decided');
    const approvalRow = rows().at(-1)!;
    expect(approvalRow).toMatchObject({ source: 'visitor', decision: 'allow', reasons: 'VISITOR_APPROVED', visitor_id: visitorId });
    expect(JSON.parse(approvalRow.visit as string)).toEqual({ decidedBy: 'sup-lan' });

    // Enter, then scan out (two-way: direction from the last passage).
    const enter = scan(card());
    expect(enter.decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    expect(enter.seq).not.toBeNull();
    expect(visitors.list(login.token)[0]!.state).toBe('inside');
    // The supervisor's inside-now and entry log name the visitor (by pseudonym, marked as a visitor).
    expect(supervisor.inside(login.token)).toEqual([{ workerId: visitorId, displayName: NAME, team: null, sinceMs: wallMs, visitor: true }]);
    const log = supervisor.entryLog(login.token, { fromMs: wallMs - 60_000, toMs: wallMs + 60_000, search: 'khach' }, 100);
    expect(log.rows.find((r) => r.seq === enter.seq)).toMatchObject({ workerId: null, visitorId, displayName: NAME, decision: 'allow', direction: 'entry' });
    expect(log.summary.entries).toBe(1);
    const out = scan(card());
    expect(out.decision).toMatchObject({ outcome: 'allow', direction: 'exit' });
    expect(visitors.list(login.token)[0]!.state).toBe('left');
    expect(actuator.signals.slice(-2)).toEqual(['admit', 'admit']);

    // Nothing identifying on disk: the visitors row and events hold the hash, the name and the visit only.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = [dbPath, `${dbPath}-wal`].map((f) => {
      try {
        return readFileSync(f).toString('latin1') + readFileSync(f).toString('utf8');
      } catch {
        return '';
      }
    }).join('');
    for (const secret of [NUMBER, ADDRESS, DOB, '01022021']) expect(bytes.includes(secret), secret).toBe(false);
    expect(bytes.includes(visitorId)).toBe(true); // the check can see what is there
    const vrow = db.prepare('SELECT * FROM visitors').get() as Record<string, unknown>;
    expect(vrow).toMatchObject({ visitor_id: visitorId, name: NAME, decision: 'approved', decided_by: 'sup-lan', declaration_flagged: 0 });
  });

  it('a refused visitor stays out; a flagged declaration refuses discreetly', async () => {
    const login = await supervisor.login('sup-lan', '246810');
    if (!login.ok) throw new Error('login failed');
    const p = scan(card());
    visitors.register(p.visitor!.token, { host: 'Kho', purpose: 'Giao hàng' }, clean());
    const id = (visitors.list(login.token)[0]!).visitorId;
    expect(visitors.decide(login.token, id, false).state).toBe('refused');
    expect(scan(card()).decision).toMatchObject({ outcome: 'deny', reasons: expect.arrayContaining(['VISITOR_REFUSED']) });

    const other = scan(card('079099000999'));
    const flagged = visitors.register(other.visitor!.token, { host: 'Kho', purpose: 'Giao hàng' }, { ...clean(), [DECLARATION_QUESTIONS[0]]: true });
    expect(flagged.decision.outcome).toBe('deny');
    expect(flagged.decision.reasons).toContain('DECLARATION_FLAGGED');
  });

  it('cancel and abandoned registrations leave nothing; malformed and unknown codes', () => {
    const p = scan(card());
    visitors.cancel(p.visitor!.token);
    expect(code(() => visitors.register(p.visitor!.token, { host: 'a', purpose: 'b' }, clean()))).toBe('token-unknown');
    expect(rows()).toHaveLength(0);
    expect(db.prepare('SELECT count(*) FROM visitors').pluck().get()).toBe(0);

    // An expired token.
    const q = scan(card());
    monoMs += 6 * 60_000;
    expect(code(() => visitors.register(q.visitor!.token, { host: 'a', purpose: 'b' }, clean()))).toBe('token-expired');
    expect(rows()).toHaveLength(0);

    // A malformed CCCD-like text: a logged MALFORMED_CODE with the code hash only.
    const bad = scan(`${NUMBER}|x|${NAME}`);
    expect(bad.decision).toMatchObject({ outcome: 'deny', reasons: ['MALFORMED_CODE'] });
    const r = rows();
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ credential_kind: 'cccd', worker_id: null, visitor_id: null });
    expect(r[0]!.code_hash).toMatch(/^[0-9a-f]{32}$/);

    // An HC1 with no verifier here: CERTIFICATE_INVALID.
    expect(scan('HC1:6BFOXN*TS0BI$ZD4N9').decision.reasons).toEqual(['CERTIFICATE_INVALID']);

    // Bad visit details are refused without using the token.
    const v = scan(card());
    expect(code(() => visitors.register(v.visitor!.token, { host: '', purpose: 'b' }, clean()))).toBe('invalid');
    expect(code(() => visitors.register(v.visitor!.token, { host: 'a'.repeat(81), purpose: 'b' }, clean()))).toBe('invalid');
    expect(db.prepare('SELECT count(*) FROM visitors').pluck().get()).toBe(0);
  });

  it("a second registration token of the same card does not replace the current visit: a supervisor's refusal stands", async () => {
    const login = await supervisor.login('sup-lan', '246810');
    if (!login.ok) throw new Error('login failed');
    // The card scanned twice before registering: two offers.
    const first = scan(card());
    const second = scan(card());
    expect(second.visitor!.token).not.toBe(first.visitor!.token);
    visitors.register(first.visitor!.token, { host: 'Kho', purpose: 'Giao hàng' }, clean());
    const id = visitors.list(login.token)[0]!.visitorId;
    visitors.decide(login.token, id, false);
    const count = rows().length;
    expect(code(() => visitors.register(second.visitor!.token, { host: 'Kho', purpose: 'Giao hàng' }, clean()))).toBe('already-registered');
    expect(rows()).toHaveLength(count);
    expect(db.prepare('SELECT visitor_id, decision, decided_by FROM visitors').all()).toEqual([{ visitor_id: id, decision: 'refused', decided_by: 'sup-lan' }]);
    expect(scan(card()).decision.reasons).toContain('VISITOR_REFUSED');
    // The refused token is gone.
    expect(code(() => visitors.register(second.visitor!.token, { host: 'Kho', purpose: 'Giao hàng' }, clean()))).toBe('token-unknown');
  });

  it('visit words with invisible formatting characters (a right-to-left override, a zero-width space) or half a character are refused, the token kept', () => {
    const p = scan(card());
    const t = p.visitor!.token;
    expect(code(() => visitors.register(t, { host: 'Kho\u202Eừa', purpose: 'Giao hàng' }, clean()))).toBe('invalid');
    expect(code(() => visitors.register(t, { host: 'Kho', purpose: 'Giao\u200Bhàng' }, clean()))).toBe('invalid');
    expect(code(() => visitors.register(t, { host: 'Kho', purpose: 'Giao \uD83D' }, clean()))).toBe('invalid');
    expect(rows()).toHaveLength(0);
    // Vietnamese with combining marks (decomposed) is plain text: kept composed (NFC).
    visitors.register(t, { host: 'Kho', purpose: 'Giao ha\u0300ng' }, clean());
    expect(JSON.parse(rows()[0]!.visit as string)).toMatchObject({ host: 'Kho', purpose: 'Giao hàng' });
  });

  it("a certificate holder's name is kept without control or formatting characters and cut at 120 characters, never inside one", () => {
    let name = '';
    const dcc: DccCheck = {
      claims: (text) => text.startsWith('HC1:'),
      check: () => ({ ok: true, name, certificateId: 'URN:UVCI:01:XX:SYNTHETIC0001', type: 'vaccination', accepted: true }),
    };
    compose({ dcc });
    name = `${'A'.repeat(119)}😀B`;
    expect(scan('HC1:SYNTHETIC').visitor!.name).toBe(`${'A'.repeat(119)}😀`);
    name = 'Anna\u202E\u0007 Müller';
    expect(scan('HC1:SYNTHETIC').visitor!.name).toBe('Anna Müller');
    name = '\u200B\u0000';
    expect(scan('HC1:SYNTHETIC').decision.reasons).toEqual(['CERTIFICATE_INVALID']);
  });

  it('the decision made at the registration does not start the repeat window: a scan right after the approval counts', async () => {
    const login = await supervisor.login('sup-lan', '246810');
    if (!login.ok) throw new Error('login failed');
    const p = scan(card());
    expect(visitors.register(p.visitor!.token, { host: 'a', purpose: 'b' }, clean()).decision.reasons).toEqual(['VISITOR_APPROVAL_PENDING']);
    visitors.decide(login.token, visitors.list(login.token)[0]!.visitorId, true);
    const now = gatekeeper.handleScan({ text: card(), source: 'camera', receivedAtNs: process.hrtime.bigint() });
    expect(now.decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    // A real scan does: the same card at once is a repeat.
    expect(gatekeeper.handleScan({ text: card(), source: 'camera', receivedAtNs: process.hrtime.bigint() }).decision.outcome).toBe('repeat');
  });

  it('retention: visitors registered before the cut-off are purged, later ones kept', () => {
    const p = scan(card());
    visitors.register(p.visitor!.token, { host: 'a', purpose: 'b' }, clean());
    expect(visitors.purgeBefore(wallMs - 1)).toBe(0);
    expect(visitors.purgeBefore(wallMs + 1)).toBe(1);
    expect(db.prepare('SELECT count(*) FROM visitors').pluck().get()).toBe(0);
    // Purged: the card is unregistered again (offered registration, nothing logged for it).
    const again = scan(card());
    expect(again.decision.reasons).toEqual(['VISITOR_NOT_REGISTERED']);
    expect(again.visitor).toBeDefined();
  });

  it('a kiosk that does not register visitors logs VISITOR_NOT_REGISTERED with the code hash only', () => {
    compose({ registers: false });
    const p = scan(card());
    expect(p.decision).toMatchObject({ outcome: 'deny', reasons: ['VISITOR_NOT_REGISTERED'] });
    expect(p.visitor).toBeUndefined();
    expect(p.seq).not.toBeNull();
    expect(rows()[0]).toMatchObject({ credential_kind: 'cccd', worker_id: null, visitor_id: null, reasons: 'VISITOR_NOT_REGISTERED' });
  });

  it('matching survives a key rotation: the visitor scans out after the key changed', async () => {
    // A keyring whose key is 28 days less an hour old: it rotates an hour after the visit starts.
    const start = wallMs;
    wallMs = start - 28 * DAY + 3_600_000;
    compose({ keyFile: 'old.key' });
    wallMs = start;
    const p = scan(card());
    visitors.register(p.visitor!.token, { host: 'a', purpose: 'b' }, clean());
    const login = await supervisor.login('sup-lan', '246810');
    if (!login.ok) throw new Error('login failed');
    const id = visitors.list(login.token)[0]!.visitorId;
    visitors.decide(login.token, id, true);
    expect(scan(card()).decision).toMatchObject({ outcome: 'allow', direction: 'entry' });
    const before = keyring.currentKeyId();
    wallMs = start + 2 * 3_600_000;
    expect(keyring.currentKeyId()).not.toBe(before);
    expect(keyring.pseudonym('cccd', NUMBER).visitorId).not.toBe(id);
    expect(keyring.candidates('cccd', NUMBER)).toContain(id);
    expect(scan(card()).decision).toMatchObject({ outcome: 'allow', direction: 'exit' });
    expect(rows().at(-1)).toMatchObject({ visitor_id: id, decision: 'allow', direction: 'exit' });
  });
});
