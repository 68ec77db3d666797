import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import type { HubSqlTarget } from '../../../sync/hub/hub-sql.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

/** `safegate hub org|site|checkpoint add|list` and `safegate hub roster upload`, as an operator runs them. */
describe.each(directoryBackends)('hub registry commands on $name', (backend) => {
  const dir = tempDir('safegate-hubregistry-');
  const config = join(dir.path, 'hub.yaml');
  let target: HubSqlTarget;
  let env: NodeJS.ProcessEnv = {};
  beforeAll(async () => {
    target = await backend.target();
    const at = hubDirectoryAt(target);
    env = at.env;
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path } }));
  });
  afterAll(() => dir.remove());
  const run = (...args: string[]) => safegate(['hub', ...args, '--config', config], { env });

  it('registers an organisation, its site and a gate two organisations share', () => {
    expect(run('org', 'add', 'cty-a', '--name', 'Công ty May A').stdout).toMatch(/^organisation cty-a added \(company\)/);
    expect(run('org', 'add', 'cho-b', '--name', 'Chợ B', '--kind', 'market').status).toBe(0);
    expect(run('site', 'add', 'xuong-1', '--org', 'cty-a', '--name', 'Xưởng 1').stdout).toMatch(/^site xuong-1 added to cty-a/);
    expect(run('checkpoint', 'add', 'cong-1', '--site', 'xuong-1', '--kind', 'gate', '--org', 'cty-a', 'cho-b').stdout).toMatch(/serving cho-b, cty-a/);
    expect(run('device', 'assign', '--checkpoint', 'cong-1', 'kiosk-a').stdout).toMatch(/^1 device\(s\) placed at checkpoint cong-1 in site xuong-1/);
  });

  it('lists organisations (none has a list yet: out of compliance), sites and checkpoints', () => {
    expect(run('site', 'list').stdout).toBe('xuong-1\tcty-a\t1 device(s)\t1 checkpoint(s)\tXưởng 1\n');
    expect(run('checkpoint', 'list').stdout).toBe('cong-1\tgate\txuong-1\tcho-b,cty-a\tkiosk-a\tcong-1\n');
    expect(run('org', 'list').stdout).toMatch(/^cho-b\tmarket\t0 site\(s\)\t0 worker\(s\)\tno list uploaded\t[^\t]+\tOUT OF COMPLIANCE: no list\tChợ B\ncty-a\tcompany\t1 site\(s\)\t0 worker\(s\)\tno list uploaded\t[^\t]+\tOUT OF COMPLIANCE: no list\tCông ty May A\n$/);
  });

  it("changes the organisations a checkpoint serves (its kiosks' roster follows)", () => {
    expect(run('checkpoint', 'serve', 'cong-1', '--org', 'cty-a').stdout).toMatch(/^checkpoint cong-1 no longer serves cho-b; its kiosks download their new roster/);
    expect(run('checkpoint', 'serve', 'cong-1', '--org', 'cty-a', 'cho-b').stdout).toMatch(/^checkpoint cong-1 now serves cho-b;/);
    const unknown = run('checkpoint', 'serve', 'cong-1', '--org', 'cty-z');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/no organisation cty-z/);
  });

  it('refuses an unknown organisation or a site of another one in plain words', () => {
    const unknown = run('site', 'add', 'xuong-2', '--org', 'cty-z');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/no organisation cty-z \(add it with `safegate hub org add`\)/);
    const nowhere = run('device', 'assign', 'kiosk-b');
    expect(nowhere.status).toBe(2);
    expect(nowhere.stderr).toMatch(/name the site \(--site\) or the checkpoint \(--checkpoint\)/);
    const taken = run('site', 'add', 'xuong-1', '--org', 'cho-b');
    expect(taken.status).toBe(2);
    expect(taken.stderr).toMatch(/site xuong-1 belongs to another organisation \(cty-a\)/);
  });

  it("refuses an organisation's list with bad rows whole, line by line", () => {
    const header = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';
    const bad = join(dir.path, 'bad.csv');
    writeFileSync(bad, `${header}\n1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,26/11/2026,Âm tính,2\n2,A002,,1991,Nam,12,0912345602,Bình Tân,Tổ May 1,,,1\n`);
    const refused = run('roster', 'upload', '--org', 'cty-a', bad);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('worker list refused, nothing changed');
    expect(refused.stderr).toContain('line 3: full name: required');
    expect(refused.stderr).toContain('line 3: ID card number: expected 12 digits (CCCD) or 9 digits (CMND)');
  });

  it("applies the fixed list to that organisation and its only site; an organisation with no site is refused", async () => {
    const header = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';
    const good = join(dir.path, 'good.csv');
    writeFileSync(good, `${header}\n1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,26/11/2026,Âm tính,2\n2,A002,Lê Văn Hùng,1991,Nam,079191000002,0912345602,Bình Tân,Tổ May 1,,,1\n`);
    const applied = run('roster', 'upload', '--org', 'cty-a', good);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toMatch(/^cty-a: 2 worker\(s\) on the list, 2 added or changed, 0 removed/);
    expect(run('org', 'list').stdout).toMatch(/cty-a\tcompany\t1 site\(s\)\t2 worker\(s\)\tlist uploaded \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(0 h ago\)\ttoday's list [^\t]+\tcompliant\tCông ty May A/);
    const noSite = run('roster', 'upload', '--org', 'cho-b', good);
    expect(noSite.status).toBe(2);
    expect(noSite.stderr).toContain('line 2: cho-b has no site yet');

    const d = await HubDirectory.open(target);
    try {
      expect(await d.hubOnlyWorker('A002')).toMatchObject({ orgId: 'cty-a', siteId: 'xuong-1', residence: 'Bình Tân' });
    } finally {
      await d.close();
    }
  });
}, 120_000);
