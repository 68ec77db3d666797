import { readFileSync, writeFileSync } from 'node:fs';
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
import { at, buildTraceScenario, EXPECTED_F1, EXPECTED_F2 } from '../../sync/hub/trace-scenario.js';

/**
 * `safegate hub trace`, as a health officer runs it on the hub machine, over the hand-built day of
 * test/sync/hub/trace-scenario.ts stored in a real hub store and directory (SQLite files, or
 * PostgreSQL through DATABASE_URL as `hub run` uses it). Runs the compiled build.
 */
describe.each(directoryBackends)('hub trace command on $name', (backend) => {
  const dir = tempDir('safegate-hubtrace-');
  const config = join(dir.path, 'hub.yaml');
  let env: NodeJS.ProcessEnv = {};
  let directoryTarget: Awaited<ReturnType<typeof backend.target>>;
  const run = (...args: string[]) => safegate(['hub', 'trace', ...args, '--config', config], { env });
  // The day of the scenario in the province zone (UTC+7): 2026-11-20 07:00 is minute 0.
  const period = ['--from', '2026-11-19T07:00', '--to', '2026-11-21T07:00'];

  beforeAll(async () => {
    directoryTarget = await backend.target();
    const where = hubDirectoryAt(directoryTarget);
    env = where.env;
    const directory = await HubDirectory.open(directoryTarget);
    const store: HubStore = directoryTarget.kind === 'postgres' ? await PgHubStore.open(directoryTarget.url) : new SqliteHubStore(join(dir.path, 'hub.db'));
    try {
      const { checkpointCodeKey, phonePassKey } = await buildTraceScenario(store, directory);
      writeFileSync(join(dir.path, 'phone-pass.pem'), phonePassKey.export({ format: 'pem', type: 'pkcs8' }) as string);
      writeFileSync(join(dir.path, 'checkpoint-code.pem'), checkpointCodeKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    } finally {
      await store.close();
      await directory.close();
    }
    writeFileSync(
      config,
      stringify({
        id: 'hub.1',
        broker: { url: 'mqtts://127.0.0.1:8883' },
        directory: { path: where.path },
        store: { path: 'hub.db' },
        phonePassKey: 'phone-pass.pem',
        checkpointCodeKey: 'checkpoint-code.pem',
        time: { zone: 'Asia/Ho_Chi_Minh' },
      }),
    );
  }, 60_000);
  afterAll(() => dir.remove());

  it('prints the contacts by day and place, with overlap minutes, phone check-ins and unverified clocks marked, then ranked', () => {
    const r = run('--worker', 'C', ...period);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^Trace of C from 2026-11-19 07:00:00 to 2026-11-21 07:00:00 \(Asia\/Ho_Chi_Minh\): 10 F1 contact\(s\)\n/);
    expect(out).toContain('(a canteen sitting is 30 min; an entry with no exit ends after 16 h)');
    expect(out).toContain('  2026-11-20 08:00 to 11:50  zone Khu A cửa 1 (zone:xuong-1:khu-a)\n');
    expect(out).toContain('  2026-11-20 13:40 to 14:40  team Tổ may 1 (team:to-may-1)  phone check-in\n');
    // Grouped: the day, the place, then each exposure there.
    expect(out).toContain(['  2026-11-20  bus Xe đưa rước 1 (bus:xe-1)', '    #4 B1  F1  07:10 to 07:40  30.0 min', '    #8 B4  F1  07:20 to 07:30  10.0 min', '    #10 B2  F1  07:00 to 07:05  5.0 min'].join('\n'));
    expect(out).toContain('    #7 Z4  F1  09:30 to 09:50  20.0 min  clock unverified\n');
    expect(out).toContain('    #3 P1  F1  14:00 to 14:40  40.0 min  phone check-in\n');
    const ranked = out.slice(out.indexOf('Ranked:'));
    expect([...ranked.matchAll(/^ +(\d+)\. (\S+) {2}F1 {2}([\d.]+) min/gm)].map((m) => [Number(m[1]), m[2], Number(m[3])])).toEqual(EXPECTED_F1.map((c, i) => [i + 1, c.workerId, c.minutes]));
    expect(ranked).toContain('organisation may-a');
    // Never a name: the output is ids, places and times.
    expect(out).not.toContain('Công nhân');
  });

  it('--json prints the trace (F2 with --second-degree) as the API returns it', () => {
    const r = run('--worker', 'C', ...period, '--json', '--second-degree');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as TraceResult;
    expect(result).toMatchObject({ caseWorkerId: 'C', fromMs: at(-1_440), toMs: at(1_440), options: { canteenWindowMinutes: 30, resetHours: 16 } });
    expect(result.contacts.map((c) => [c.workerId, c.degree, c.rank, c.overlapMinutes])).toEqual([
      ...EXPECTED_F1.map((c, i) => [c.workerId, 1, i + 1, c.minutes]),
      ...EXPECTED_F2.map((c, i) => [c.workerId, 2, EXPECTED_F1.length + i + 1, c.minutes]),
    ]);
    expect(result.contacts.find((c) => c.workerId === 'P2')!.exposures[0]).toMatchObject({ viaWorkerId: 'P1', overlapMinutes: 30 });
  });

  it('reads a plain date as the console does: --to is the end of that day in the province zone, --from D --to D the whole day, never past now', () => {
    // 2026-11-20 in Asia/Ho_Chi_Minh: 00:00 is minute -420 of the scenario, 24:00 minute 1020.
    const day = JSON.parse(run('--worker', 'C', '--from', '2026-11-20', '--to', '2026-11-20', '--json').stdout) as TraceResult;
    expect([day.fromMs, day.toMs]).toEqual([at(-420), at(1_020)]);
    expect(day.contacts.filter((c) => c.degree === 1).map((c) => c.workerId)).toEqual(EXPECTED_F1.map((c) => c.workerId));
    const before = Date.now();
    const capped = JSON.parse(run('--worker', 'C', '--from', '2026-11-20', '--to', '2099-12-31', '--json').stdout) as TraceResult;
    expect(capped.fromMs).toBe(at(-420));
    expect(capped.toMs).toBeGreaterThanOrEqual(before);
    expect(capped.toMs).toBeLessThanOrEqual(Date.now());
  });

  it("refuses an unknown worker, a period backwards, over 60 days or unreadable, with exit code 2 and the reason", () => {
    const refusals: [string[], RegExp][] = [
      [['--worker', 'NOBODY', ...period], /no worker NOBODY is known to this hub/],
      [['--worker', 'C', '--from', '2026-11-21', '--to', '2026-11-20'], /--from must be before --to/],
      [['--worker', 'C', '--from', '2026-08-01', '--to', '2026-11-20'], /the period is longer than 60 days/],
      [['--worker', 'C', '--from', '2099-01-01'], /--from: the period must start before now/],
      [['--worker', 'C', '--from', 'yesterday'], /--from: expected an ISO 8601 date or time/],
      [['--worker', 'C', '--to', '2026-02-30'], /--to: not a real date or time/],
    ];
    // The period and its text are refused before either database is read: once is enough.
    for (const [args, reason] of backend.name === 'SQLite' ? refusals : refusals.slice(0, 1)) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(reason);
      expect(r.stdout).toBe('');
    }
  });

  it("ends an entry with no exit at the published policy's reset time, unless the settings name one", async () => {
    const policy = JSON.parse(readFileSync(new URL('../../../base/common/policy/default-policy.json', import.meta.url), 'utf8')) as { version: number; params: Record<string, unknown> };
    const directory = await HubDirectory.open(directoryTarget);
    try {
      await directory.publishPolicy({ ...policy, version: 2, params: { ...policy.params, antiPassbackResetHours: 14 } });
    } finally {
      await directory.close();
    }
    // Z3 entered the zone 14 h 40 min before the case and never left: no longer present at 14 h.
    const r = JSON.parse(run('--worker', 'C', ...period, '--json').stdout) as TraceResult;
    expect(r.options.resetHours).toBe(14);
    expect(r.contacts.map((c) => c.workerId)).not.toContain('Z3');
    const settings = readFileSync(config, 'utf8');
    writeFileSync(config, `${settings}trace:\n  resetHours: 16\n  canteenWindowMinutes: 45\n`);
    try {
      const wide = JSON.parse(run('--worker', 'C', ...period, '--json').stdout) as TraceResult;
      expect(wide.options).toEqual({ resetHours: 16, canteenWindowMinutes: 45 });
      expect(wide.contacts.map((c) => c.workerId)).toEqual(expect.arrayContaining(['Z3', 'K3', 'K4']));
    } finally {
      writeFileSync(config, settings);
    }
  });
});
