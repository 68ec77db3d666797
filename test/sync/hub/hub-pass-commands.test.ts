import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import type { HubSqlTarget } from '../../../sync/hub/hub-sql.js';
import { HubKeyring } from '../../../base/node/keys.js';
import { checkPass } from '../../../base/node/pass.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { streamCodecs } from '../../../sync/downlink-codec.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { installKey, tempDir } from '../../helpers/fixtures.js';
import { generateSigningKeyPair } from '../../../base/node/keys.js';
import { parseWorkerList } from '../../../sync/hub/registry-upload.js';

/** `safegate hub pass issue|list|revoke|sheet`, as an operator runs them, against a real directory file. */
describe.each(directoryBackends)('hub pass commands on $name', (backend) => {
  const dir = tempDir('safegate-hubpass-');
  const config = join(dir.path, 'hub.yaml');
  const noKey = join(dir.path, 'no-key.yaml');
  afterAll(() => dir.remove());
  let target: HubSqlTarget;
  let env: NodeJS.ProcessEnv = {};
  const run = (...args: string[]) => safegate(['hub', ...args, '--config', config], { env });
  const header = 'STT,Mã NV,Họ và tên,Năm sinh,Giới tính,Số CCCD,Số điện thoại,Nơi ở hiện tại,Bộ phận/Tổ,Ngày xét nghiệm,Kết quả xét nghiệm,Số mũi vắc xin';
  let keysDir = '';

  it('sets up (in process, the registry commands have their own test): a pass key, two organisations and their lists', async () => {
    keysDir = join(dir.path, 'hub-keys');
    const pair = generateSigningKeyPair('EdDSA');
    installKey(keysDir, 'pass', pair);
    const keyFile = join(dir.path, 'hub-pass.key.pem');
    writeFileSync(keyFile, pair.privatePem, { mode: 0o600 });
    keysDir = join(keysDir, 'pass');
    target = await backend.target();
    const at = hubDirectoryAt(target);
    env = at.env;
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path }, passKey: keyFile }));
    writeFileSync(noKey, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path } }));
    const d = await HubDirectory.open(target);
    try {
      await d.addOrganisation({ id: 'cty-a', name: 'Công ty May A', kind: 'company' });
      await d.addOrganisation({ id: 'cho-b', name: 'Chợ B', kind: 'market' });
      await d.addSite({ id: 'xuong-1', orgId: 'cty-a' });
      await d.addSite({ id: 'cho-b-1', orgId: 'cho-b' });
      const zone = 'Asia/Ho_Chi_Minh';
      await d.uploadWorkers('cty-a', await parseWorkerList(Buffer.from(`${header}\n1,A001,Trần Thị Mai,1990,Nữ,079190000001,0912345601,KTX Tân Tạo,Tổ May 1,26/11/2026,Âm tính,2\n2,A002,Lê Văn Hùng,1991,Nam,079191000002,0912345602,Bình Tân,Tổ May 1,,,1\n3,A003,Đỗ Thị Ngọc,1992,Nữ,,,,Tổ Cắt,,,2\n`), zone, Date.now()));
      await d.uploadWorkers('cho-b', await parseWorkerList(Buffer.from(`${header}\n1,B001,Phạm Văn Bình,1985,Nam,,,,Sạp 1,,,2\n`), zone, Date.now()));
    } finally {
      await d.close();
    }
  });

  it('issues to a team, lists the passes, and each printed code verifies with the public key', () => {
    const issued = run('pass', 'issue', '--org', 'cty-a', '--team', 'Tổ May 1', '--expires', '90d', '--codes');
    expect(issued.stderr).toBe('');
    expect(issued.status).toBe(0);
    const lines = issued.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^2 pass\(es\) issued to cty-a's workers in team Tổ May 1, valid until \d{4}-\d\d-\d\d/);
    const rows = lines.slice(1).map((l) => l.split('\t'));
    expect(rows.map((r) => r[1])).toEqual(['A002', 'A001']);
    const keyring = new HubKeyring().addFolder(keysDir, 'pass');
    for (const [passId, worker, code] of rows) {
      const check = checkPass(code!, keyring, Date.now());
      expect(check.ok && [check.pass.claims.passId, check.pass.claims.workerId]).toEqual([passId, worker]);
    }
    const listed = run('pass', 'list', '--org', 'cty-a').stdout.trim().split('\n');
    expect(listed).toHaveLength(2);
    expect(listed[0]).toMatch(/^[0-9a-f]{16}\tA00[12]\tprinted\tlive\tissued \d{4}-.*\texpires \d{4}-/);
    expect(run('pass', 'list', '--org', 'cty-a', '--worker', 'A003').stdout).toBe('no pass for A003 in cty-a\n');
    const again = run('pass', 'issue', '--org', 'cty-a', '--workers', 'A001');
    expect(again.stdout).toMatch(/1 of them already held a live pass, which stays valid until it expires or is revoked/);
  });

  it('refuses in plain words: a worker of another organisation, team and workers together, no pass key, an unknown pass', () => {
    const other = run('pass', 'issue', '--org', 'cty-a', '--workers', 'A001,B001');
    expect([other.status, other.stderr]).toEqual([2, "safegate: not on cty-a's list: B001\n"]);
    const both = run('pass', 'issue', '--org', 'cty-a', '--team', 'Tổ Cắt', '--workers', 'A003');
    expect(both.status).not.toBe(0);
    expect(both.stderr).toMatch(/cannot be used with/);
    const keyless = safegate(['hub', 'pass', 'issue', '--org', 'cty-a', '--config', noKey], { env });
    expect(keyless.status).toBe(2);
    expect(keyless.stderr).toMatch(/no passKey; make one with `safegate keys generate --role pass/);
    const past = run('pass', 'issue', '--org', 'cty-a', '--expires', '2020-01-01');
    expect([past.status, past.stderr]).toEqual([2, 'safegate: the expiry must be in the future\n']);
    expect(run('pass', 'revoke', '--pass', 'XYZ').stderr).toMatch(/expected 16 lower-case hex digits/);
    expect(run('pass', 'revoke').stderr).toMatch(/name a pass \(--pass ID\) or a worker \(--worker W\)/);
    expect(run('pass', 'list', '--org', 'cty-z').stderr).toBe('safegate: no organisation cty-z\n');
    const theirs = run('pass', 'issue', '--org', 'cho-b').stdout.trim().split('\n')[1]!.split('\t')[0]!;
    const scoped = run('pass', 'revoke', '--pass', theirs, '--org', 'cty-a');
    expect([scoped.status, scoped.stderr]).toEqual([2, `safegate: no pass ${theirs} in organisation cty-a\n`]);
  });

  it('revokes by pass and by worker onto the revocations stream; a pass signed elsewhere is revoked too', async () => {
    const [first, second] = run('pass', 'list', '--org', 'cty-a', '--worker', 'A001', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { passId: string });
    expect(run('pass', 'revoke', '--pass', first!.passId).stdout).toMatch(new RegExp(`^pass ${first!.passId} of A001 revoked`));
    expect(run('pass', 'revoke', first!.passId).stdout).toMatch(/was already revoked/);
    expect(run('pass', 'revoke', '--worker', 'A001').stdout).toBe(`1 live pass(es) of A001 revoked; kiosks refuse them after their next download\n${second!.passId}\n`);
    expect(run('pass', 'revoke', '--worker', 'A001').stdout).toBe('A001 holds no live pass (nothing to revoke)\n');
    expect(run('pass', 'revoke', '--worker', 'A003').stderr).toBe('safegate: no pass was ever issued to A003\n');
    expect(run('pass', 'revoke', '--pass', '0011223344556677').stdout).toMatch(/not in the hub's registry \(signed elsewhere\); put on the revocations stream anyway/);
    const d = await HubDirectory.open(target);
    try {
      const keys = (await d.respond({ v: PROTOCOL_VERSION, stream: 'revocations', cursor: 0 }, Date.now())).flatMap((p) => p.body.map((b) => streamCodecs.revocations.fromWire(b).key));
      expect(keys.sort()).toEqual([first!.passId, second!.passId, '0011223344556677'].sort());
    } finally {
      await d.close();
    }
  });

  it('writes a team sheet as a PDF, issuing passes to those without one', () => {
    const out = join(dir.path, 'to-cat.pdf');
    const sheet = run('pass', 'sheet', '--org', 'cty-a', '--team', 'Tổ Cắt', '--out', out);
    expect(sheet.stderr).toBe('');
    expect(sheet.stdout).toMatch(/to-cat\.pdf: 1 pass\(es\) of team Tổ Cắt on 1 page\(s\), 1 of them issued now/);
    expect(existsSync(out) && readFileSync(out).subarray(0, 5).toString()).toBe('%PDF-');
    const none = run('pass', 'sheet', '--org', 'cty-a', '--team', 'Tổ Không Có', '--out', out);
    expect([none.status, none.stderr]).toEqual([2, 'safegate: team "Tổ Không Có" of cty-a has no workers\n']);
  });
}, 120_000);
