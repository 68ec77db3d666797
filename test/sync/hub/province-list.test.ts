import { join } from 'node:path';
import { expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { WorkerListError } from '../../../sync/hub/registry-upload.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { healthyWorker, tempDir } from '../../helpers/fixtures.js';
import { listedWorker } from '../../helpers/listed-worker.js';

const NOW = Date.now();
const dir = tempDir('safegate-province-');

it("an organisation's upload cannot take over a worker on the province-wide list: refused by line, nothing changed, the kiosks at no checkpoint keep them", () => {
  const d = new HubDirectory(join(dir.path, 'directory.db'));
  d.addOrganisation({ id: 'org-a', name: 'A', kind: 'company' }, NOW);
  d.addSite({ id: 'site-a', orgId: 'org-a' }, NOW);
  d.importRoster([{ ...healthyWorker('p1', NOW), caseStatus: 'F1' }], false);
  d.assignSite('site-x', ['kiosk-prov'], NOW);
  const list = [listedWorker('a1', NOW), { ...listedWorker('p1', NOW), line: 3 }];
  let refused: unknown;
  try {
    d.uploadWorkers('org-a', list, { nowMs: NOW });
  } catch (err) {
    refused = err;
  }
  expect(refused).toBeInstanceOf(WorkerListError);
  expect((refused as WorkerListError).problems).toEqual([{ line: 3, code: 'registry.provinceList', params: { workerId: 'p1' }, message: expect.stringMatching(/province-wide list/) }]);
  expect(d.searchWorkers('org-a', '', 10)).toEqual([]);
  const roster = d.respondTo('kiosk-prov', { v: PROTOCOL_VERSION, stream: 'roster', cursor: 0 }, NOW);
  expect(roster.flatMap((p) => p.body)).toHaveLength(1);
  // A worker removed from the province list may be listed by an organisation.
  d.removeWorkers(['p1']);
  expect(d.uploadWorkers('org-a', list, { nowMs: NOW }).workers).toBe(2);
  d.close();
});
