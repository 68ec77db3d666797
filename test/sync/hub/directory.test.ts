import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { healthyWorker, tempDir } from '../../helpers/fixtures.js';

/** Deleting a worker at the hub deletes their record: only a tombstone (id, revision) remains. */
describe('hub directory: removed people leave no record', () => {
  const dir = tempDir('safegate-directory-');
  afterEach(() => dir.remove());

  it('removing a worker, by command or by a replacing import, keeps no name or health data', () => {
    const file = join(dir.path, 'directory.db');
    const d = new HubDirectory(file);
    const now = Date.now();
    d.importRoster([healthyWorker('W1', now, { caseStatus: 'F0', displayName: 'Nguyễn Văn Ốm' }), healthyWorker('W2', now), healthyWorker('W3', now)], false);
    expect(d.removeWorkers(['W1', 'W-NOBODY'])).toMatchObject({ removed: 1 });
    d.importRoster([healthyWorker('W2', now)], true); // W3 removed by replacement
    d.close();
    const raw = new Database(file, { readonly: true });
    const rows = raw.prepare("SELECT key, value, deleted FROM records WHERE stream = 'roster' ORDER BY key").all() as { key: string; value: string; deleted: number }[];
    raw.close();
    expect(rows.map((r) => [r.key, r.deleted, r.value === 'null'])).toEqual([
      ['W1', 1, true],
      ['W2', 0, false],
      ['W3', 1, true],
    ]);
    expect(JSON.stringify(rows)).not.toContain('Ốm');
  });
});
