import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kiosk } from '../../../src-main/app/kiosk.js';
import { loadSettings } from '../../../src-main/core/config.js';
import { createLogger } from '../../../base/node/logger.js';
import { hubKeys, tempDir, writeKioskConfig } from '../../helpers/fixtures.js';
import { safegate } from '../../helpers/cli.js';

describe('safegate supervisor add|set-pin|remove|list', () => {
  let dir: ReturnType<typeof tempDir>;
  let config: string;

  beforeAll(() => {
    dir = tempDir('safegate-supervisor-cli-');
    hubKeys(dir.path);
    config = writeKioskConfig(dir.path, { screens: { supervisor: { maxFailedLogins: 2 } } });
  });
  afterAll(() => dir.remove());

  const add = (id: string, name: string, stdin: string) => safegate(['supervisor', 'add', '--config', config, '--id', id, '--name', name], { input: stdin });

  it('adds a supervisor with the PIN from stdin, refusing a short PIN, a taken id, a bad id and a PIN on the command line', () => {
    const short = add('lan', 'Trần Thị Lan', '12345\n');
    expect(short.status).toBe(2);
    expect(short.stderr).toContain('6 to 12 digits');
    const none = add('lan', 'Trần Thị Lan', '');
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no PIN on stdin');
    const good = add('lan', 'Trần Thị Lan', '975310\n');
    expect(good.stderr).toBe('');
    expect(good.stdout).toContain('supervisor "lan" (Trần Thị Lan) added');
    const taken = add('lan', 'Someone else', '123456\n');
    expect(taken.status).toBe(2);
    expect(taken.stderr).toContain('already exists');
    expect(add('Lan Tran', 'X', '123456\n').stderr).toContain('supervisor id');
    const argv = safegate(['supervisor', 'add', '--config', config, '--id', 'minh', '--name', 'Minh', '--pin', '123456']);
    expect(argv.status).not.toBe(0);
    expect(argv.stderr).toMatch(/unknown option '--pin'/);
    expect(add('minh', 'Lê Văn Minh', '246813\r\n').status).toBe(0);
  });

  it('lists id, name, created, last login and lockout, never a hash', async () => {
    // Minh signs in on the kiosk; Lan gets locked out.
    const kiosk = new Kiosk(loadSettings(config), { headless: true, log: createLogger({ level: 'silent' }) });
    expect(await kiosk.supervisor.login('minh', '246813')).toMatchObject({ ok: true });
    await kiosk.supervisor.login('lan', '000000');
    expect(await kiosk.supervisor.login('lan', '000000')).toMatchObject({ ok: false, reason: 'locked' });
    await kiosk.stop();

    const list = safegate(['supervisor', 'list', '--config', config]);
    expect(list.status).toBe(0);
    const lines = list.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(lines[0]).toEqual(['id', 'name', 'created', 'last login', 'locked']);
    expect(lines.slice(1).map((l) => [l[0], l[1]])).toEqual([
      ['minh', 'Lê Văn Minh'],
      ['lan', 'Trần Thị Lan'],
    ]);
    const [minh, lan] = lines.slice(1) as [string[], string[]];
    expect(minh[2]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(minh[3]).toMatch(/^\d{4}-\d{2}-\d{2} /);
    expect(minh[4]).toBe('no');
    expect(lan[3]).toBe('never');
    expect(lan[4]).toMatch(/^until \d{4}-/);
    const json = JSON.parse(safegate(['supervisor', 'list', '--config', config, '--json']).stdout) as { id: string; locked: boolean; lastLogin: string | null }[];
    expect(json.map((s) => [s.id, s.locked, s.lastLogin === null])).toEqual([
      ['minh', false, false],
      ['lan', true, true],
    ]);
    const hashes = readFileSync(join(dir.path, 'safegate.db')).toString('latin1').match(/scrypt-pepper\$[^\0]{20}/g) ?? [];
    expect(hashes.length).toBeGreaterThan(0);
    expect(list.stdout + JSON.stringify(json)).not.toContain('scrypt');
  });

  it("sets a supervisor's PIN (clearing their lockout) and removes a supervisor", async () => {
    expect(safegate(['supervisor', 'set-pin', '--config', config, '--id', 'lan'], { input: '1234\n' }).stderr).toContain('6 to 12 digits');
    expect(safegate(['supervisor', 'set-pin', '--config', config, '--id', 'lan'], { input: '864209\n' }).status).toBe(0);
    const kiosk = new Kiosk(loadSettings(config), { headless: true, log: createLogger({ level: 'silent' }) });
    expect(await kiosk.supervisor.login('lan', '864209')).toMatchObject({ ok: true });
    await kiosk.stop();
    expect(safegate(['supervisor', 'remove', '--config', config, '--id', 'nobody']).stderr).toContain('no supervisor with id "nobody"');
    expect(safegate(['supervisor', 'remove', '--config', config, '--id', 'minh']).stdout).toContain('supervisor "minh" removed');
    const last = safegate(['supervisor', 'remove', '--config', config, '--id', 'lan']);
    expect(last.stdout).toContain('no supervisor can sign in on this kiosk now');
    expect(safegate(['supervisor', 'list', '--config', config]).stdout).toContain('no supervisors');
  });
});
