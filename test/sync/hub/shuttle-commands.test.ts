import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import type { HubSqlTarget } from '../../../sync/hub/hub-sql.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';
import { listedWorker } from '../../helpers/listed-worker.js';

/** `safegate hub vehicle|route add|list`, `hub route riders`, `hub checkpoint routes`, as an operator runs them. */
describe.each(directoryBackends)('hub shuttle commands on $name', (backend) => {
  const dir = tempDir('safegate-hubshuttle-');
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

  it('registers a vehicle and a route, names riders from a file, links a bus checkpoint, and lists them', async () => {
    const d = await HubDirectory.open(target);
    try {
      await d.addOrganisation({ id: 'cty-a', name: 'Công ty A', kind: 'company' });
      await d.addSite({ id: 'xuong-1', orgId: 'cty-a' });
      await d.uploadWorkers('cty-a', [listedWorker('A001', Date.now()), listedWorker('A002', Date.now()), listedWorker('TX01', Date.now())]);
      await d.addCheckpoint({ id: 'xe-buyt-1', siteId: 'xuong-1', kind: 'bus' });
    } finally {
      await d.close();
    }
    expect(run('vehicle', 'add', 'xe-01', '--plate', '51B-123.45', '--org', 'cty-a', '--driver-worker', 'TX01', '--driver-name', 'Nguyễn Văn Tài').stdout).toMatch(/^vehicle xe-01 \(51B-123\.45\) added for cty-a, drivers /);
    expect(run('route', 'add', 'tuyen-1', '--org', 'cty-a', '--vehicle', 'xe-01', '--name', 'Thủ Đức - KCN').stdout).toMatch(/^route tuyen-1 added, serving cty-a/);
    const riders = join(dir.path, 'riders.csv');
    writeFileSync(riders, '\uFEFFMã NV,Họ và tên\nA001,Trần Thị Mai\nA002,Lê Văn Hùng\n');
    expect(run('route', 'riders', '--route', 'tuyen-1', riders).stdout).toMatch(/^route tuyen-1: 2 rider\(s\), 2 added, 0 removed/);
    expect(run('route', 'riders', '--route', 'tuyen-1', 'A001').stdout).toMatch(/^route tuyen-1: 1 rider\(s\), 0 added, 1 removed/);
    expect(run('checkpoint', 'routes', 'xe-buyt-1', '--route', 'tuyen-1').stdout).toMatch(/^bus checkpoint xe-buyt-1 rides tuyen-1/);
    expect(run('vehicle', 'list').stdout).toBe('xe-01\t51B-123.45\tcty-a\tNguyễn Văn Tài,TX01\ttuyen-1\n');
    expect(run('route', 'list').stdout).toBe('tuyen-1\tcty-a\txe-01\t1 rider(s)\txe-buyt-1\tThủ Đức - KCN\n');
  });

  it('refuses an unknown rider, a file line that is not a worker id, and a plate already registered', () => {
    const unknown = run('route', 'riders', '--route', 'tuyen-1', 'A001', 'Z999');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/Z999: on no organisation's worker list/);
    const bad = join(dir.path, 'bad.txt');
    writeFileSync(bad, 'A001\nnot an id!\n');
    const refused = run('route', 'riders', '--route', 'tuyen-1', bad);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/not a worker id: line 2/);
    const twice = run('vehicle', 'add', 'xe-02', '--plate', '51b-123.45', '--org', 'cty-a');
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/plate 51B-123\.45 is already registered/);
  });
}, 120_000);
