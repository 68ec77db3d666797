import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { healthyWorker } from '../../helpers/fixtures.js';

/** Deleting a worker at the hub deletes their record: only a tombstone (id, revision) remains. */
describe.each(directoryBackends)('hub directory on $name: removed people leave no record', (backend) => {
  it('removing a worker, by command or by a replacing import, keeps no name or health data', async () => {
    const d = await HubDirectory.open(await backend.target());
    try {
      const now = Date.now();
      await d.importRoster([healthyWorker('W1', now, { caseStatus: 'F0', displayName: 'Nguyễn Văn Ốm' }), healthyWorker('W2', now), healthyWorker('W3', now)], false);
      expect(await d.removeWorkers(['W1', 'W-NOBODY'])).toMatchObject({ removed: 1 });
      await d.importRoster([healthyWorker('W2', now)], true); // W3 removed by replacement
      // What the database itself holds, read past the directory's methods.
      const rows = await d.sql.all<{ key: string; value: string; deleted: number }>(sql`SELECT key, value, deleted FROM records WHERE stream = 'roster' ORDER BY key`);
      expect(rows.map((r) => [r.key, r.deleted, r.value === 'null'])).toEqual([
        ['W1', 1, true],
        ['W2', 0, false],
        ['W3', 1, true],
      ]);
      expect(JSON.stringify(rows)).not.toContain('Ốm');
    } finally {
      await d.close();
    }
  });
});
