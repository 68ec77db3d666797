import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PgHubStore } from '../../../sync/hub/pg-store.js';
import { SqliteHubStore, type HubStore } from '../../../sync/hub/store.js';
import type { TraceResult } from '../../../sync/hub/trace.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';
import { addVisitors, at, buildTraceScenario, EXPECTED_F1, V1, V2, V3 } from '../../sync/hub/trace-scenario.js';

/**
 * `safegate hub trace` with visitors (issue 14), over the hand-built day of
 * test/sync/hub/trace-scenario.ts with its visitors, in a real hub store and directory (SQLite files,
 * or PostgreSQL through DATABASE_URL). Runs the compiled build.
 */
describe.each(directoryBackends)('hub trace command with visitors on $name', (backend) => {
  const dir = tempDir('safegate-hubtrace-visitors-');
  const config = join(dir.path, 'hub.yaml');
  let env: NodeJS.ProcessEnv = {};
  const run = (...args: string[]) => safegate(['hub', 'trace', ...args, '--config', config], { env });
  const period = ['--from', '2026-11-19T07:00', '--to', '2026-11-21T07:00'];

  beforeAll(async () => {
    const target = await backend.target();
    const where = hubDirectoryAt(target);
    env = where.env;
    const directory = await HubDirectory.open(target);
    const store: HubStore = target.kind === 'postgres' ? await PgHubStore.open(target.url) : new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      await buildTraceScenario(store, directory);
      await addVisitors(store, directory);
    } finally {
      await store.close();
      await directory.close();
    }
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: where.path }, store: { path: 'hub.db' }, time: { zone: 'Asia/Ho_Chi_Minh' } }));
  }, 60_000);
  afterAll(() => dir.remove());

  it("prints a worker's visitor contacts by their name and visit, and the visitors on the site meanwhile; --json carries them under contacts and visitorsOnSite", () => {
    const r = run('--worker', 'C', ...period);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/: 11 F1 contact\(s\)\n/);
    expect(r.stdout).toContain(`    #5 visitor Khách Một (visiting Phòng nhân sự, Phỏng vấn) ${V1}  F1  08:40 to 09:10  30.0 min\n`);
    expect(r.stdout).toContain(
      [
        'Visitors on the same site meanwhile (not contacts: a site is no narrow place): 3',
        `  2026-11-20 07:55 to 2026-11-20 10:20  site xuong-1  140.0 min  visitor Khách Một (visiting Phòng nhân sự, Phỏng vấn) ${V1}`,
        `  2026-11-20 14:20 to no exit  site xuong-1  20.0 min  visitor Khách Hai (visiting Tổ may 1, Kiểm hàng) ${V2}`,
        `  2026-11-20 08:50 to 2026-11-20 09:05  site xuong-1  15.0 min  visitor Khách Ba (visiting Bảo trì, Sửa máy) ${V3}`,
      ].join('\n'),
    );

    const json = JSON.parse(run('--worker', 'C', ...period, '--json').stdout) as TraceResult;
    expect(json.caseKind).toBe('worker');
    expect(json.contacts.filter((c) => c.kind === 'worker').map((c) => c.workerId)).toEqual(EXPECTED_F1.map((c) => c.workerId));
    expect(json.contacts.find((c) => c.kind === 'visitor')).toMatchObject({ workerId: V1, orgId: 'may-a', visitor: { name: 'Khách Một', host: 'Phòng nhân sự', purpose: 'Phỏng vấn' } });
    expect(json.visitorsOnSite!.map((v) => [v.visitorId, v.enteredMs, v.leftMs, v.overlapMinutes])).toEqual([
      [V1, at(55), at(200), 140],
      [V2, at(440), null, 20],
      [V3, at(110), at(125), 15],
    ]);
  });

  it('traces a visitor as the case (--visitor): their visits and their contacts, in the same JSON shape', () => {
    const r = run('--visitor', V1, ...period);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Visits of ${V1}:\n  2026-11-20 07:55 to 2026-11-20 10:20  site xuong-1  visiting Phòng nhân sự, Phỏng vấn\n`);
    const json = JSON.parse(run('--visitor', V1, ...period, '--json').stdout) as TraceResult;
    expect(json).toMatchObject({ caseWorkerId: V1, caseKind: 'visitor', caseVisits: [{ siteId: 'xuong-1', enteredMs: at(55), leftMs: at(200) }] });
    expect(json.contacts.map((c) => [c.workerId, c.overlapMinutes])).toEqual([['C', 30], ['Z1', 30], ['PZ', 10]]);
  });

  it('refuses a visitor named otherwise than by a pseudonym, an unknown one, and a case named twice or not at all, with exit code 2', () => {
    const refusals: [string[], RegExp][] = [
      [['--visitor', '079123456789', ...period], /--visitor: a visitor is named by the pseudonym the kiosk keeps/],
      [['--visitor', `vk1.${'f'.repeat(32)}`, ...period], /no visitor vk1\.f+ is known to this hub/],
      [['--visitor', V1, '--worker', 'C', ...period], /a worker \(--worker ID\) or a visitor \(--visitor PSEUDONYM\), one of them/],
      [[...period], /a worker \(--worker ID\) or a visitor \(--visitor PSEUDONYM\), one of them/],
    ];
    for (const [args, reason] of refusals) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(reason);
      expect(r.stdout).toBe('');
    }
  });
});
