import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../../../src-main/core/config.js';
import { Kiosk } from '../../../../src-main/app/kiosk.js';
import { createLogger } from '../../../../base/node/logger.js';
import { guardCell } from '../../../../src-main/core/supervisor/export.js';
import { foldForSearch } from '../../../../src-main/core/supervisor/entry-log.js';
import { hashPin, verifyPin } from '../../../../src-main/core/supervisor/pin.js';
import { healthyWorker, hubKeys, passFor, tempDir, writeKioskConfig } from '../../../helpers/fixtures.js';
import { safegate } from '../../../helpers/cli.js';

describe('supervisor PINs', () => {
  it('are stored as salted scrypt hashes and verified in constant time', async () => {
    const pepper = Buffer.alloc(32, 7);
    const a = await hashPin('4826', pepper);
    const b = await hashPin('4826', pepper);
    expect(a).toMatch(/^scrypt-pepper\$15\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('4826');
    expect(await verifyPin('4826', a, pepper)).toBe(true);
    expect(await verifyPin('4827', a, pepper)).toBe(false);
    // Without the key file's pepper the right PIN does not verify: the database alone is not enough.
    expect(await verifyPin('4826', a, Buffer.alloc(32, 8))).toBe(false);
    await expect(hashPin('12a4', pepper)).rejects.toThrow('4 to 12 digits');
    await expect(hashPin('123', pepper)).rejects.toThrow('4 to 12 digits');
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

  beforeEach(() => {
    dir = tempDir('safegate-supervisor-');
    keys = hubKeys(dir.path);
    file = writeKioskConfig(dir.path, { screens: { supervisor: { maxFailedLogins: 3, lockoutMinutes: 5 } } });
    offsetMs = 0;
    kiosk = new Kiosk(loadSettings(file), { headless: true, log: createLogger({ level: 'silent' }), now });
  });

  afterEach(async () => {
    await kiosk.stop();
    dir.remove();
  });

  it('keeps a lockout across a restart and lifts it when its time is up', async () => {
    expect(await kiosk.supervisor.login('1234')).toEqual({ ok: false, reason: 'no-pin-set' });
    await kiosk.supervisor.setPin('97531');
    for (const left of [2, 1]) expect(await kiosk.supervisor.login('11111')).toEqual({ ok: false, reason: 'wrong-pin', attemptsLeft: left });
    expect(await kiosk.supervisor.login('11111')).toEqual({ ok: false, reason: 'locked', retryAfterS: 300 });
    await kiosk.stop();

    // Pulling the plug does not reset the lockout.
    kiosk = new Kiosk(loadSettings(file), { headless: true, log: createLogger({ level: 'silent' }), now });
    const locked = await kiosk.supervisor.login('97531');
    expect(locked).toMatchObject({ ok: false, reason: 'locked' });
    // Four minutes later still locked; five minutes later the right PIN works again.
    offsetMs = 240_000;
    expect(await kiosk.supervisor.login('97531')).toMatchObject({ ok: false, reason: 'locked' });
    offsetMs = 301_000;
    expect(await kiosk.supervisor.login('97531')).toMatchObject({ ok: true });
  });

  it('refuses to override a deny of an unidentified person or an allow', async () => {
    kiosk.roster.upsertAll([healthyWorker('W1')]);
    kiosk.start();
    await kiosk.supervisor.setPin('97531');
    const login = await kiosk.supervisor.login('97531');
    if (!login.ok) throw new Error('no login');
    const allowed = kiosk.gatekeeper.handleScan({ text: passFor(keys, 'W1'), source: 'camera', receivedAtNs: process.hrtime.bigint() });
    const unknown = kiosk.gatekeeper.handleScan({ text: 'garbage-code-123', source: 'camera', receivedAtNs: process.hrtime.bigint() });
    expect(() => kiosk.supervisor.override(login.token, allowed.seq!, 'because I say so')).toThrow('not a denied scan');
    expect(() => kiosk.supervisor.override(login.token, unknown.seq!, 'because I say so')).toThrow('only a named worker');
    expect(() => kiosk.supervisor.override('x'.repeat(32), unknown.seq!, 'because I say so')).toThrow('not signed in');
  });

  it('sets the PIN from the command line, refusing a malformed one', () => {
    const bad = safegate(['supervisor', 'set-pin', '--config', file], { input: '12ab\n' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('4 to 12 digits');
    const good = safegate(['supervisor', 'set-pin', '--config', file], { input: '864209\n' });
    expect(good.stderr).toBe('');
    expect(good.status).toBe(0);
    return kiosk.supervisor.login('864209').then((r) => expect(r.ok).toBe(true));
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
