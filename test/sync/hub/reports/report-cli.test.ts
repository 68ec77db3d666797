import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { dayKeyIn } from '../../../../base/common/time.js';
import { HubDirectory } from '../../../../sync/hub/directory.js';
import { parseWorkerList } from '../../../../sync/hub/registry-upload.js';
import { hubDirectoryAt, safegate } from '../../../helpers/cli.js';
import { directoryBackends } from '../../../helpers/directory-db.js';
import { tempDir } from '../../../helpers/fixtures.js';

const ZONE = 'Asia/Ho_Chi_Minh';

/** `safegate hub report labour-list|summary`, as an operator runs them (the compiled command), on both directories. */
describe.each(directoryBackends)('hub report commands on $name', (backend) => {
  const dir = tempDir('safegate-report-cli-');
  const config = join(dir.path, 'hub.yaml');
  afterAll(() => dir.remove());
  let env: NodeJS.ProcessEnv = {};
  const run = (...args: string[]) => safegate(['hub', ...args, '--config', config], { env });

  it('writes the labour list as XLSX (private, never over a file) that uploads again, and prints a day summary as text or JSON; bad input is refused with a reason', async () => {
    const target = await backend.target();
    const at = hubDirectoryAt(target);
    env = at.env;
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path }, store: { path: join(dir.path, 'hub.db') } }));
    // The registry made in process (each command costs seconds); the reports through the command.
    const directory = await HubDirectory.open(target);
    try {
      await directory.addOrganisation({ id: 'cty-a', name: 'Công ty May A', kind: 'company' });
      await directory.addSite({ id: 'xuong-1', orgId: 'cty-a' });
      const list = 'Mã NV,Họ và tên,Số CCCD,Số điện thoại\nA001,Trần Thị Mai,079190000001,0912345601\nA002,Lê Văn Hùng,,\n';
      await directory.uploadWorkers('cty-a', await parseWorkerList(Buffer.from(list), ZONE, Date.now()));
    } finally {
      await directory.close();
    }

    const out = join(dir.path, 'cty-a.xlsx');
    const made = run('report', 'labour-list', '--org', 'cty-a', '--out', out);
    expect(made.stderr).toBe('');
    expect(made.stdout).toMatch(/^.*cty-a\.xlsx: the labour list of cty-a, 2 worker\(s\), as of \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(province time\)\n$/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect((await parseWorkerList(readFileSync(out), ZONE, Date.now())).map((w) => [w.workerId, w.fullName, w.idNumber, w.phone])).toEqual([
      ['A002', 'Lê Văn Hùng', null, null],
      ['A001', 'Trần Thị Mai', '079190000001', '0912345601'],
    ]);
    const again = run('report', 'labour-list', '--org', 'cty-a', '--out', out);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/EEXIST; an existing file is never overwritten/);
    expect(run('report', 'labour-list', '--org', 'cty-a', '--kept', '--out', join(dir.path, 'y.xlsx')).stderr).toMatch(/no labour list of cty-a has been kept by the schedule yet/);

    const json = run('report', 'summary', '--org', 'cty-a', '--json');
    expect(json.stderr).toBe('');
    const summary = JSON.parse(json.stdout) as { day: string; orgId: string; passages: unknown; lists: { orgId: string; outOfCompliance: boolean }[] };
    expect(summary).toMatchObject({ day: dayKeyIn(Date.now(), ZONE), orgId: 'cty-a', passages: { total: 0, allowed: 0, denied: 0, entries: 0 } });
    expect(summary.lists).toMatchObject([{ orgId: 'cty-a', outOfCompliance: false }]);
    const text = run('report', 'summary', '--date', '2026-11-20');
    expect(text.stdout).toMatch(/^Daily summary for 2026-11-20 — the province\n/);
    expect(text.stdout).toContain('Passages: 0 (allowed 0, of which entries 0; denied 0)');
    const bad = run('report', 'summary', '--date', '20/11/2026');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/date: expected YYYY-MM-DD/);
  }, 120_000);
});
