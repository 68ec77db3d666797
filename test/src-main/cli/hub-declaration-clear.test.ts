import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import type { HubSqlTarget } from '../../../sync/hub/hub-sql.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

const NOW = Date.now();
const listed = (workerId: string): ListedWorker => ({
  line: 2, workerId, fullName: `Người ${workerId}`, team: 'Tổ 1', birthYear: 1990, sex: 'female', idNumber: '079190000001', phone: '0912345601', residence: '1 Lê Lợi', siteId: null, testResult: 'negative', testedAtMs: NOW, vaccineDoses: 2,
});

/**
 * `safegate hub declaration clear WORKER --reason TEXT` (issue 14 declaration review 1): a health
 * officer clears a flagged declaration; the roster record (what the kiosks download) drops the flag,
 * who, when and why are kept. The compiled build, against a real directory (SQLite file or PostgreSQL).
 */
describe.each(directoryBackends)('hub declaration clear on $name', (backend) => {
  const dir = tempDir('safegate-decl-clear-');
  const config = join(dir.path, 'hub.yaml');
  let env: NodeJS.ProcessEnv = {};
  let target: HubSqlTarget;
  const run = (...args: string[]) => safegate(['hub', 'declaration', 'clear', ...args, '--config', config], { env });

  async function withDirectory<T>(f: (d: HubDirectory) => Promise<T>): Promise<T> {
    const d = await HubDirectory.open(target);
    try {
      return await f(d);
    } finally {
      await d.close();
    }
  }
  const record = () =>
    withDirectory(async (d) => JSON.parse((await d.sql.get<{ value: string }>(sql`SELECT value FROM records WHERE stream = 'roster' AND key = 'a1'`))!.value) as { declaredAt: number; declarationFlagged: boolean });

  beforeAll(async () => {
    target = await backend.target();
    const where = hubDirectoryAt(target);
    env = where.env;
    await withDirectory(async (d) => {
      await d.addOrganisation({ id: 'may-a', name: 'Công ty May A', kind: 'company' }, NOW);
      await d.addSite({ id: 'xuong-1', orgId: 'may-a' });
      await d.uploadWorkers('may-a', [listed('a1'), listed('a2')], { nowMs: NOW });
      await d.recordDeclaration('a1', NOW - 60_000, true);
    });
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: where.path }, store: { path: 'hub.db' }, time: { zone: 'Asia/Ho_Chi_Minh' } }));
  }, 60_000);
  afterAll(() => dir.remove());

  it('clears a flagged declaration: the roster record the kiosks download drops the flag (keeping its time), and who, when and why are kept', async () => {
    expect(await record()).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: true });
    const r = run('a1', '--reason', 'khám lại: không sốt / re-examined: no fever');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^a1: flagged declaration of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d cleared by shell:\S+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d; their kiosks admit them at their next roster download\n$/);
    expect(await record()).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: false });
    const kept = await withDirectory((d) => d.sql.all<{ worker_id: string; cleared_by: string; declared_ms: number | string; reason: string; cleared_ms: number | string }>(sql`SELECT * FROM declaration_clearances`));
    expect(kept.map((k) => [k.worker_id, k.cleared_by.startsWith('shell:'), Number(k.declared_ms), k.reason])).toEqual([['a1', true, NOW - 60_000, 'khám lại: không sốt / re-examined: no fever']]);
    expect(Number(kept[0]!.cleared_ms)).toBeGreaterThanOrEqual(NOW);
  });

  it('refuses clearly: nothing flagged, not on the roster, no or a multi-line reason, a malformed id', () => {
    const cases: [string[], RegExp][] = [
      [['a2', '--reason', 'x'], /a2 has no flagged declaration to clear/],
      [['zz9', '--reason', 'x'], /zz9 is not on the roster/],
      [['a1', '--reason', '  '], /--reason: say why/],
      [['a1', '--reason', 'line one\nline two'], /--reason: plain text on one line only/],
      [['bad id!', '--reason', 'x'], /not a worker id/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
