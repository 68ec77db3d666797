import Database from 'better-sqlite3';
import { randomBytes, scryptSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { loadSettings } from '../../../../src-main/core/config.js';
import { Kiosk } from '../../../../src-main/app/kiosk.js';
import { createLogger } from '../../../../base/node/logger.js';
import { guardCell } from '../../../../src-main/core/supervisor/export.js';
import { foldForSearch } from '../../../../src-main/core/supervisor/entry-log.js';
import { hashPin, verifyPin } from '../../../../src-main/core/supervisor/pin.js';
import { lockoutMs } from '../../../../src-main/core/supervisor/accounts.js';
import { OverrideError } from '../../../../src-main/core/supervisor/desk.js';
import { addSupervisor, removeSupervisor, setSupervisorPin } from '../../../../src-main/cli/supervisor-commands.js';
import { passageView } from '../../../../src-main/api/screen-service.js';
import { openStore } from '../../../../src-main/core/store/database.js';
import { MIGRATIONS } from '../../../../src-main/core/store/migrations/index.js';
import builtInPolicy from '../../../../base/common/policy/default-policy.json' with { type: 'json' };
import { defaultPolicy, parsePolicy } from '../../../../base/common/policy/policy.js';
import { forbiddenOverride } from '../../../../base/common/policy/override.js';
import { healthyWorker, hubKeys, passFor, tempDir, writeKioskConfig } from '../../../helpers/fixtures.js';

const silent = createLogger({ level: 'silent' });
const HOUR = 3_600_000;

describe('supervisor PINs', () => {
  it('are stored as salted, peppered scrypt hashes; a new PIN is 6 to 12 digits', async () => {
    const pepper = Buffer.alloc(32, 7);
    const a = await hashPin('482615', pepper);
    const b = await hashPin('482615', pepper);
    expect(a).toMatch(/^scrypt-pepper\$15\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('482615');
    expect(await verifyPin('482615', a, pepper)).toBe(true);
    expect(await verifyPin('482616', a, pepper)).toBe(false);
    // Without the key file's pepper the right PIN does not verify: the database alone is not enough.
    expect(await verifyPin('482615', a, Buffer.alloc(32, 8))).toBe(false);
    await expect(hashPin('12a456', pepper)).rejects.toThrow('6 to 12 digits');
    await expect(hashPin('12345', pepper)).rejects.toThrow('6 to 12 digits');
  });

  it('lock out for longer after each lockout in a row, up to the cap', () => {
    const rules = { maxFailedLogins: 5, lockoutMinutes: 1, maxLockoutMinutes: 60 };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 60].map((n) => lockoutMs(rules, n) / 60_000)).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60]);
  });
});

describe('the override rule in the policy', () => {
  it('never lets a confirmed case or an active quarantine through by default, and a policy may say otherwise', () => {
    const policy = defaultPolicy();
    expect(policy.overrides.neverAtGate).toEqual(['CASE_F0', 'QUARANTINE_ACTIVE']);
    expect(forbiddenOverride(policy, ['DECLARATION_MISSING', 'QUARANTINE_ACTIVE'])).toBe('QUARANTINE_ACTIVE');
    expect(forbiddenOverride(policy, ['DECLARATION_MISSING'])).toBeNull();
    // An older document without the section keeps the built-in rule.
    const { overrides: _, ...older } = builtInPolicy;
    expect(parsePolicy(older).overrides.neverAtGate).toEqual(['CASE_F0', 'QUARANTINE_ACTIVE']);
    expect(() => parsePolicy({ ...builtInPolicy, overrides: { neverAtGate: ['NOT_A_REASON'] } })).toThrow('neverAtGate');
  });
});

describe('the supervisor desk', () => {
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  let kiosk: Kiosk;
  // The desk's clock, injected: a test moves it forward instead of waiting.
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  let keys: ReturnType<typeof hubKeys>;
  const open = (config = file) => new Kiosk(loadSettings(config), { headless: true, log: silent, now });
  const scan = (workerId: string) => kiosk.gatekeeper.handleScan({ text: passFor(keys, workerId), source: 'camera', receivedAtNs: process.hrtime.bigint() });
  const signIn = async (id = 'lan', pin = '975310') => {
    const r = await kiosk.supervisor.login(id, pin);
    if (!r.ok) throw new Error(`no login: ${r.reason}`);
    return r.token;
  };

  beforeEach(() => {
    dir = tempDir('safegate-supervisor-');
    keys = hubKeys(dir.path);
    file = writeKioskConfig(dir.path, { screens: { supervisor: { maxFailedLogins: 3, lockoutMinutes: 1, maxLockoutMinutes: 4 } } });
    offsetMs = 0;
    kiosk = open();
  });

  afterEach(async () => {
    await kiosk.stop();
    dir.remove();
  });

  it('refuses a PIN under 6 digits, a taken id and a malformed id when adding a supervisor', async () => {
    expect(await kiosk.supervisor.login('lan', '975310')).toEqual({ ok: false, reason: 'no-supervisors' });
    await expect(kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '12345' })).rejects.toThrow('6 to 12 digits');
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    await expect(kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Someone else', pin: '123456' })).rejects.toThrow('already exists');
    await expect(kiosk.supervisor.addSupervisor({ id: 'Bad Id', name: 'X', pin: '123456' })).rejects.toThrow('supervisor id');
    expect(kiosk.supervisor.accountList()).toEqual([{ id: 'lan', name: 'Trần Thị Lan' }]);
    expect(await kiosk.supervisor.login('nobody', '975310')).toEqual({ ok: false, reason: 'unknown-supervisor' });
    expect(await kiosk.supervisor.login('lan', '975310')).toMatchObject({ ok: true, supervisor: { id: 'lan', name: 'Trần Thị Lan' } });
  });

  it('locks each supervisor on their own, for longer each time in a row, across a restart', async () => {
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    await kiosk.supervisor.addSupervisor({ id: 'minh', name: 'Lê Văn Minh', pin: '246813' });
    const wrongThrice = async () => {
      expect(await kiosk.supervisor.login('lan', '111111')).toMatchObject({ ok: false, reason: 'wrong-pin', attemptsLeft: 2 });
      expect(await kiosk.supervisor.login('lan', '111111')).toMatchObject({ ok: false, reason: 'wrong-pin', attemptsLeft: 1 });
      return kiosk.supervisor.login('lan', '111111');
    };
    expect(await wrongThrice()).toMatchObject({ ok: false, reason: 'locked', retryAfterS: 60 });
    // Another supervisor is not locked out by Lan's mistakes.
    expect(await kiosk.supervisor.login('minh', '246813')).toMatchObject({ ok: true });
    await kiosk.stop();

    // Pulling the plug neither resets the lockout nor its growth.
    kiosk = open();
    expect(await kiosk.supervisor.login('lan', '975310')).toMatchObject({ ok: false, reason: 'locked' });
    offsetMs = 61_000;
    expect(await wrongThrice()).toMatchObject({ ok: false, reason: 'locked', retryAfterS: 120 });
    offsetMs += 121_000;
    expect(await wrongThrice()).toMatchObject({ ok: false, reason: 'locked', retryAfterS: 240 });
    offsetMs += 241_000;
    // Capped at maxLockoutMinutes (4).
    expect(await wrongThrice()).toMatchObject({ ok: false, reason: 'locked', retryAfterS: 240 });
    offsetMs += 239_000;
    expect(await kiosk.supervisor.login('lan', '975310')).toMatchObject({ ok: false, reason: 'locked' });
    offsetMs += 2_000;
    expect(await kiosk.supervisor.login('lan', '975310')).toMatchObject({ ok: true });
    // A good PIN starts the count again from the first lockout.
    expect(await wrongThrice()).toMatchObject({ ok: false, reason: 'locked', retryAfterS: 60 });
    const trail = kiosk.supervisor.auditTrail();
    expect(trail.filter((r) => r.action === 'login').map((r) => r.supervisorId)).toEqual(['minh', 'lan']);
    expect(trail.filter((r) => r.action === 'login-failed').every((r) => r.supervisorId === 'lan')).toBe(true);
    expect(JSON.stringify(trail)).not.toMatch(/975310|111111|246813/);
  });

  it('refuses an override the policy never allows at the gate, and records who let someone through and why', async () => {
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    kiosk.roster.upsertAll([
      healthyWorker('W1'),
      healthyWorker('Q1', Date.now(), { quarantineUntil: Date.now() + 24 * HOUR }),
      healthyWorker('F0', Date.now(), { caseStatus: 'F0' }),
      healthyWorker('D1', Date.now(), { declaredAt: Date.now() - 48 * HOUR, displayName: 'Phạm Văn Dũng' }),
    ]);
    kiosk.start();
    const token = await signIn();
    const quarantined = scan('Q1');
    const confirmed = scan('F0');
    const noDeclaration = scan('D1');
    expect(noDeclaration.decision.reasons).toEqual(['DECLARATION_MISSING']);

    for (const denied of [quarantined, confirmed]) {
      const refused = (() => {
        try {
          kiosk.supervisor.override(token, denied.seq!, 'medical-clearance-shown');
        } catch (err) {
          return err;
        }
      })();
      expect(refused).toBeInstanceOf(OverrideError);
      expect((refused as Error).message).toContain('never lets a supervisor override');
    }
    expect(() => kiosk.supervisor.override(token, noDeclaration.seq!, 'other', '  ')).toThrow('note is required');
    const day = { fromMs: Date.now() - HOUR, toMs: Date.now() + HOUR };
    const before = kiosk.supervisor.entryLog(token, day, 50).rows;
    expect(before.find((r) => r.seq === quarantined.seq)).toMatchObject({ overridable: false, override: null });
    expect(before.find((r) => r.seq === confirmed.seq)).toMatchObject({ overridable: false });
    expect(before.find((r) => r.seq === noDeclaration.seq)).toMatchObject({ overridable: true, reasons: ['DECLARATION_MISSING'] });

    const allowed = kiosk.supervisor.override(token, noDeclaration.seq!, 'medical-clearance-shown', 'Giấy của trạm y tế xã');
    expect(allowed.decision.outcome).toBe('allow');
    const rows = kiosk.supervisor.entryLog(token, day, 50).rows;
    const record = { deniedSeq: noDeclaration.seq, allowedSeq: allowed.seq, supervisorId: 'lan', supervisorName: 'Trần Thị Lan', reasonCode: 'medical-clearance-shown', note: 'Giấy của trạm y tế xã' };
    expect(rows.find((r) => r.seq === noDeclaration.seq)).toMatchObject({ overridable: false, overriddenBySeq: allowed.seq, override: record });
    expect(rows.find((r) => r.seq === allowed.seq)).toMatchObject({ decision: 'allow', reasons: ['SUPERVISOR_OVERRIDE'], override: record });
    expect(() => kiosk.supervisor.override(token, noDeclaration.seq!, 'scanner-fault')).toThrow('already overridden');
    expect(kiosk.supervisor.auditTrail().filter((r) => r.action === 'override')).toMatchObject([
      { supervisorId: 'lan', detail: expect.stringContaining('never overridable') as string },
      { supervisorId: 'lan', detail: expect.stringContaining('never overridable') as string },
      { supervisorId: 'lan', detail: `event ${noDeclaration.seq} -> ${allowed.seq}: medical-clearance-shown: Giấy của trạm y tế xã` },
    ]);

    // Who and why are in the exports, with the headers in the language asked for.
    const csv = (lang: 'vi' | 'en') => kiosk.supervisor.exportLog(token, day, 'csv', lang).then((f) => new TextDecoder().decode(f.bytes));
    const vi = await csv('vi');
    expect(vi).toContain('Quản lý cho qua,Lý do cho qua,Ghi chú cho qua');
    expect(vi).toContain('Trần Thị Lan (lan),Đã xuất trình giấy xác nhận của y tế,Giấy của trạm y tế xã');
    const en = await csv('en');
    expect(en).toContain('Overridden by,Override reason,Override note');
    expect(en).toContain('Trần Thị Lan (lan),Medical clearance shown,Giấy của trạm y tế xã');
    const xlsx = await kiosk.supervisor.exportLog(token, day, 'xlsx', 'en');
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(Buffer.from(xlsx.bytes) as unknown as ArrayBuffer);
    const values = book.worksheets[0]!.getSheetValues().flat().map(String);
    expect(values).toEqual(expect.arrayContaining(['Overridden by', 'Trần Thị Lan (lan)', 'Medical clearance shown', 'Giấy của trạm y tế xã']));
    expect(kiosk.supervisor.auditTrail().filter((r) => r.action === 'export').map((r) => r.supervisorId)).toEqual(['lan', 'lan', 'lan']);
  });

  it('refuses an override once the roster says the person is quarantined or a confirmed case, whatever the old refusal was', async () => {
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    const late = { declaredAt: Date.now() - 48 * HOUR };
    kiosk.roster.upsertAll([healthyWorker('D1', Date.now(), late), healthyWorker('D2', Date.now(), late), healthyWorker('D3', Date.now(), late)]);
    kiosk.start();
    const token = await signIn();
    const [d1, d2, d3] = ['D1', 'D2', 'D3'].map(scan);
    expect(d1!.decision.reasons).toEqual(['DECLARATION_MISSING']);
    // After the scan, the roster learns that D1 is under quarantine and D2 is a confirmed case.
    kiosk.roster.upsertAll([
      healthyWorker('D1', Date.now(), { ...late, quarantineUntil: Date.now() + 24 * HOUR }),
      healthyWorker('D2', Date.now(), { ...late, caseStatus: 'F0' }),
    ]);
    const day = { fromMs: Date.now() - HOUR, toMs: Date.now() + HOUR };
    const rows = kiosk.supervisor.entryLog(token, day, 50).rows;
    expect(rows.find((r) => r.seq === d1!.seq)).toMatchObject({ overridable: false });
    expect(rows.find((r) => r.seq === d2!.seq)).toMatchObject({ overridable: false });
    expect(rows.find((r) => r.seq === d3!.seq)).toMatchObject({ overridable: true });
    expect(() => kiosk.supervisor.override(token, d1!.seq!, 'medical-clearance-shown')).toThrow(OverrideError);
    expect(() => kiosk.supervisor.override(token, d1!.seq!, 'medical-clearance-shown')).toThrow('"Under quarantine" at the gate: it applies to this person now');
    expect(() => kiosk.supervisor.override(token, d2!.seq!, 'medical-clearance-shown')).toThrow('"Confirmed case (F0)" at the gate: it applies to this person now');
    // Nothing was let through for them; the one whose record did not change still can be.
    expect(kiosk.supervisor.override(token, d3!.seq!, 'medical-clearance-shown').decision.outcome).toBe('allow');
    expect([...kiosk.events.since(0)].filter((e) => e.decision === 'allow').map((e) => e.workerId)).toEqual(['D3']);
  });

  it('keeps the deny reasons of a scan refused while the store failed, shows none of them publicly, and refuses its override', async () => {
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    kiosk.roster.upsertAll([healthyWorker('Q1', Date.now(), { quarantineUntil: Date.now() + 24 * HOUR })]);
    kiosk.start();
    const token = await signIn();
    // Another process holds the database: the scan cannot be stored and is held for retry.
    const other = new Database(join(dir.path, 'safegate.db'));
    other.pragma('busy_timeout = 0');
    other.exec('BEGIN EXCLUSIVE');
    let held;
    try {
      held = scan('Q1');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(held.decision.reasons).toEqual(['STORE_UNAVAILABLE']);
    expect(held.seq).toBeNull();
    // The public screen says only that the device failed, in discreet mode and out of it.
    for (const discreet of [true, false]) {
      const view = passageView(held, { discreet, healthGuidance: 'see-guard' });
      expect(view).toMatchObject({ kind: 'device', reasons: ['STORE_UNAVAILABLE'] });
      expect(JSON.stringify(view)).not.toContain('QUARANTINE');
    }
    kiosk.gatekeeper.resumeHeld();
    await expect.poll(() => kiosk.gatekeeper.heldCount).toBe(0);
    const [stored] = [...kiosk.events.since(0)];
    expect(stored).toMatchObject({ decision: 'deny', workerId: 'Q1', reasons: ['STORE_UNAVAILABLE', 'QUARANTINE_ACTIVE'] });
    expect(() => kiosk.supervisor.override(token, stored!.seq, 'scanner-fault')).toThrow('never lets a supervisor override "Under quarantine"');
  });

  it("follows the policy in force: a site's policy may forbid other overrides too", async () => {
    const policyFile = join(dir.path, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ ...builtInPolicy, overrides: { neverAtGate: ['DECLARATION_MISSING'] } }));
    await kiosk.stop();
    kiosk = open(writeKioskConfig(dir.path, { policyFile }));
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    kiosk.roster.upsertAll([healthyWorker('D1', Date.now(), { declaredAt: Date.now() - 48 * HOUR })]);
    kiosk.start();
    const token = await signIn();
    const denied = scan('D1');
    expect(() => kiosk.supervisor.override(token, denied.seq!, 'medical-clearance-shown')).toThrow('never lets a supervisor override');
  });

  it('refuses to override a deny of an unidentified person or an allow', async () => {
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    kiosk.roster.upsertAll([healthyWorker('W1')]);
    kiosk.start();
    const token = await signIn();
    const allowed = scan('W1');
    const unknown = kiosk.gatekeeper.handleScan({ text: 'garbage-code-123', source: 'camera', receivedAtNs: process.hrtime.bigint() });
    expect(() => kiosk.supervisor.override(token, allowed.seq!, 'scanner-fault')).toThrow('not a denied scan');
    expect(() => kiosk.supervisor.override(token, unknown.seq!, 'scanner-fault')).toThrow('only a named worker');
    expect(() => kiosk.supervisor.override('x'.repeat(32), unknown.seq!, 'scanner-fault')).toThrow('not signed in');
  });

  it('ends sessions at their next request when the PIN is set or the account removed and re-added by the command, in its own connection', async () => {
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    await kiosk.supervisor.addSupervisor({ id: 'minh', name: 'Lê Văn Minh', pin: '246813' });
    const lan = await signIn();
    const minh = await signIn('minh', '246813');
    // `safegate supervisor set-pin` opens the store itself, as another process does.
    await setSupervisorPin(file, 'lan', '864200\n');
    expect(() => kiosk.supervisor.inside(lan)).toThrow('PIN was set again');
    expect(() => kiosk.supervisor.inside(lan)).toThrow('not signed in');
    expect(kiosk.supervisor.inside(minh)).toEqual([]);
    const again = await signIn('lan', '864200');
    // Removed and added again under the same id, even with the same PIN: the old session is not theirs.
    await removeSupervisor(file, 'lan');
    await addSupervisor(file, 'lan', 'Trần Thị Lan', '864200\n');
    expect(() => kiosk.supervisor.inside(again)).toThrow('PIN was set again');
    expect(kiosk.supervisor.inside(await signIn('lan', '864200'))).toEqual([]);
  });

  it('ends the session of a supervisor who is removed', async () => {
    await kiosk.supervisor.addSupervisor({ id: 'lan', name: 'Trần Thị Lan', pin: '975310' });
    const token = await signIn();
    kiosk.supervisor.accounts.remove('lan', Date.now());
    expect(() => kiosk.supervisor.inside(token)).toThrow('no longer exists');
    expect(kiosk.supervisor.hasSupervisors()).toBe(false);
  });
});

describe('upgrading a kiosk from the single supervisor PIN', () => {
  it('keeps the old PIN as the supervisor "supervisor", with its lockout count and audit trail', async () => {
    const dir = tempDir('safegate-supervisor-upgrade-');
    let kiosk: Kiosk | undefined;
    try {
      hubKeys(dir.path);
      const file = writeKioskConfig(dir.path, { screens: { supervisor: { maxFailedLogins: 3, lockoutMinutes: 1 } } });
      // The database of the previous version (migrations up to 12), with a 4-digit PIN (allowed then),
      // two wrong PINs counted and an audit row. The hash is of the oldest kind (no pepper).
      const db = openStore(join(dir.path, 'safegate.db'), { migrations: MIGRATIONS.filter((m) => m.version <= 12) });
      const salt = randomBytes(16);
      const legacy = ['scrypt', 15, 8, 1, salt.toString('base64'), scryptSync('1357', salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 256 * 1024 * 1024 }).toString('base64')].join('$');
      db.prepare('INSERT INTO supervisor_pin (id, hash, set_at) VALUES (1, ?, 1000)').run(legacy);
      db.prepare('UPDATE supervisor_lockout SET failed = 2 WHERE id = 1').run();
      db.prepare("INSERT INTO supervisor_audit (at_ms, action, detail) VALUES (1000, 'pin-set', '')").run();
      db.close();

      let offsetMs = 0;
      kiosk = new Kiosk(loadSettings(file), { headless: true, log: silent, now: () => Date.now() + offsetMs });
      expect(kiosk.supervisor.accountList()).toEqual([{ id: 'supervisor', name: 'supervisor' }]);
      // The two wrong PINs from before the upgrade still count: one more locks.
      expect(await kiosk.supervisor.login('supervisor', '2468')).toMatchObject({ ok: false, reason: 'locked', retryAfterS: 60 });
      offsetMs = 61_000;
      // The right old PIN no longer signs in: a new one must be set first (and it is no failure).
      expect(await kiosk.supervisor.login('supervisor', '1357')).toEqual({ ok: false, reason: 'pin-change-required' });
      expect(await kiosk.screenService.dispatch('supervisor.login', { supervisorId: 'supervisor', pin: '1357' })).toEqual({
        ok: true,
        result: { ok: false, reason: 'pin-change-required' },
      });
      expect(await kiosk.supervisor.login('supervisor', '2468')).toMatchObject({ ok: false, reason: 'wrong-pin', attemptsLeft: 2 });
      await kiosk.supervisor.setSupervisorPin('supervisor', '135790');
      expect(await kiosk.supervisor.login('supervisor', '1357')).toMatchObject({ ok: false, reason: 'wrong-pin' });
      expect(await kiosk.supervisor.login('supervisor', '135790')).toMatchObject({ ok: true, supervisor: { id: 'supervisor' } });
      const trail = kiosk.supervisor.auditTrail();
      expect(trail[0]).toEqual({ atMs: 1000, action: 'pin-set', supervisorId: null, detail: '' });
      expect(trail.find((r) => r.action === 'login-failed' && r.detail.includes('new PIN must be set'))).toMatchObject({ supervisorId: 'supervisor' });
      expect(trail.at(-1)).toMatchObject({ action: 'login', supervisorId: 'supervisor' });
    } finally {
      await kiosk?.stop();
      dir.remove();
    }
  });
});

describe('the entry log export and search', () => {
  it('guards cells a spreadsheet would run as formulas', () => {
    for (const v of ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\t=x', '\r=x']) expect(guardCell(v)).toBe(`'${v}`);
    for (const v of ['Nguyễn Văn An', '2026-11-26 07:00:00', '', 'a=b']) expect(guardCell(v)).toBe(v);
  });

  it('finds names without accents or case', () => {
    expect(foldForSearch('Nguyễn Văn AN')).toBe('nguyen van an');
    expect(foldForSearch('Đặng Thị Ngọc')).toBe('dang thi ngoc');
  });
});
