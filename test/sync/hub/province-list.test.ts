import { describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { WorkerListError } from '../../../sync/hub/registry-upload.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { healthyWorker } from '../../helpers/fixtures.js';
import { listedWorker } from '../../helpers/listed-worker.js';

const NOW = Date.now();

describe.each(directoryBackends)('the province-wide list on $name', (backend) => {
  it("an organisation's upload cannot take over a worker on the province-wide list: refused by line, nothing changed, the kiosks at no checkpoint keep them", async () => {
    const d = await HubDirectory.open(await backend.target());
    try {
      await d.addOrganisation({ id: 'org-a', name: 'A', kind: 'company' }, NOW);
      await d.addSite({ id: 'site-a', orgId: 'org-a' }, NOW);
      await d.importRoster([{ ...healthyWorker('p1', NOW), caseStatus: 'F1' }], false);
      await d.assignSite('site-x', ['kiosk-prov'], NOW);
      const list = [listedWorker('a1', NOW), { ...listedWorker('p1', NOW), line: 3 }];
      let refused: unknown;
      try {
        await d.uploadWorkers('org-a', list, { nowMs: NOW });
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(WorkerListError);
      expect((refused as WorkerListError).problems).toEqual([{ line: 3, code: 'registry.provinceList', params: { workerId: 'p1' }, message: expect.stringMatching(/province-wide list/) }]);
      expect(await d.searchWorkers('org-a', '', 10)).toEqual([]);
      const roster = await d.respondTo('kiosk-prov', { v: PROTOCOL_VERSION, stream: 'roster', cursor: 0 }, NOW);
      expect(roster.flatMap((p) => p.body)).toHaveLength(1);
      // A worker removed from the province list may be listed by an organisation.
      await d.removeWorkers(['p1']);
      expect((await d.uploadWorkers('org-a', list, { nowMs: NOW })).workers).toBe(2);
    } finally {
      await d.close();
    }
  });
});
