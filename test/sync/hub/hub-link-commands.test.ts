import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PhoneLinks } from '../../../sync/hub/phone-links.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

/** `safegate hub link make|list`, as an operator runs them, against a real directory file. */
describe.each(directoryBackends)('hub link commands on $name', (backend) => {
  const dir = tempDir('safegate-hublink-');
  const config = join(dir.path, 'hub.yaml');
  afterAll(() => dir.remove());
  let env: NodeJS.ProcessEnv = {};
  const run = (...args: string[]) => safegate(['hub', ...args, '--config', config], { env });
  const header = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';

  it('makes a link per worker of a team, prints them once, lists them without their tokens, and refuses a worker of another organisation', async () => {
    const target = await backend.target();
    const at = hubDirectoryAt(target);
    env = at.env;
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path }, console: { port: 8600 } }));
    expect(run('org', 'add', 'cty-a', '--name', 'Công ty May A').status).toBe(0);
    expect(run('org', 'add', 'cho-b', '--name', 'Chợ B', '--kind', 'market').status).toBe(0);
    expect(run('site', 'add', 'xuong-1', '--org', 'cty-a').status).toBe(0);
    expect(run('site', 'add', 'cho-b-1', '--org', 'cho-b').status).toBe(0);
    const a = join(dir.path, 'a.csv');
    writeFileSync(a, `${header}\n1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,26/11/2026,Âm tính,2\n2,A002,Lê Văn Hùng,1991,Nam,,,,Tổ May 1,,,1\n`);
    expect(run('roster', 'upload', '--org', 'cty-a', a).status).toBe(0);
    const b = join(dir.path, 'b.csv');
    writeFileSync(b, `${header}\n1,B001,Phạm Văn Bình,1985,Nam,,,,Sạp 1,,,2\n`);
    expect(run('roster', 'upload', '--org', 'cho-b', b).status).toBe(0);

    const made = run('link', 'make', '--org', 'cty-a', '--team', 'Tổ May 1', '--base-url', 'https://safegate.example.gov.vn/');
    expect(made.stderr).toBe('');
    const lines = made.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^2 link\(s\) for cty-a, each for one worker's phone, usable once until \d{4}-/);
    const rows = lines.slice(1).map((l) => l.split('\t'));
    expect(rows.map((r) => r.slice(0, 2))).toEqual([
      ['A002', 'Lê Văn Hùng'],
      ['A001', 'Trần Thị Mai'],
    ]);
    for (const r of rows) expect(r[2]).toMatch(/^https:\/\/safegate\.example\.gov\.vn\/phone\/#t=[A-Za-z0-9_-]{43}$/);
    // The default address is the console's own.
    expect(run('link', 'make', '--org', 'cty-a', '--workers', 'A001').stdout).toMatch(/\thttp:\/\/127\.0\.0\.1:8600\/phone\/#t=/);

    const directory = await HubDirectory.open(target);
    try {
      const links = new PhoneLinks({ sql: directory.sql });
      const token = /#t=(.+)$/.exec(rows[0]![2]!)![1]!;
      expect((await links.preview(token)).fullName).toBe('Lê Văn Hùng');
      await expect(links.redeem(token, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }))).rejects.toThrow(/no phone-pass key/);
    } finally {
      await directory.close();
    }

    const listed = run('link', 'list', '--org', 'cty-a');
    expect(listed.stdout.trim().split('\n').map((l) => { const f = l.split('\t'); return `${f[1]} ${f[2]!.split(' ')[0]}`; }).sort()).toEqual(['A001 open', 'A001 retired', 'A002 open']);
    for (const r of rows) expect(listed.stdout).not.toContain(/#t=(.+)$/.exec(r[2]!)![1]!);
    expect(run('link', 'list', '--org', 'cho-b').stdout).toMatch(/^no phone links for cho-b/);

    const refused = run('link', 'make', '--org', 'cty-a', '--workers', 'A001,B001');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/B001 is not on organisation cty-a's list/);
    expect(run('link', 'make', '--org', 'cty-a').stderr).toMatch(/--workers a,b\) or a team/);
    expect(run('link', 'make', '--org', 'cty-a', '--workers', 'A001', '--base-url', 'ftp://x').stderr).toMatch(/http\(s\) address/);
  });
}, 120_000);
