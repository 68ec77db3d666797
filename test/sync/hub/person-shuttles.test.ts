import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditTarget } from '../../../console/server/server.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import { erasePerson, exportPerson, type PersonAuditLine } from '../../../sync/hub/person-data.js';
import { SqliteHubStore } from '../../../sync/hub/store.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';
import { listedWorker } from '../../helpers/listed-worker.js';

const NOW = Date.now();
const dir = tempDir('safegate-person-shuttles-');

describe.each(directoryBackends)('Decree 13 requests cover shuttles on $name', (backend) => {
  it("a rider and driver's export lists their routes and vehicles; erasure takes them off both, and a named driver can be removed", async () => {
    const d = await HubDirectory.open(await backend.target());
    await d.addOrganisation({ id: 'org-a', name: 'A', kind: 'company' }, NOW);
    await d.addSite({ id: 'site-a', orgId: 'org-a' }, NOW);
    await d.uploadWorkers('org-a', [listedWorker('x1', NOW), listedWorker('a2', NOW)], { nowMs: NOW });
    await d.addVehicle({ id: 'v1', plate: '51B-123.45', orgIds: ['org-a'], driverWorkers: ['x1'], driverNames: ['Nguyễn Văn Tài'] }, NOW);
    await d.addRoute({ id: 'r1', orgIds: ['org-a'], vehicleId: 'v1' }, NOW);
    await d.setRouteRiders('r1', ['x1', 'a2']);
    const passes = new PassRegistry({ sql: d.sql });
    const store = new SqliteHubStore(join(dir.path, `hub-${backend.name}.db`));
    const audit: PersonAuditLine[] = [];
    const sources = { directory: d, passes, store, audit: (l: PersonAuditLine) => audit.push(l), now: () => NOW };

    const doc = await exportPerson(sources, 'x1', 'op');
    expect(doc.shuttles).toEqual({ routesRidden: ['r1'], vehiclesDriven: ['v1'] });
    expect(audit[0]!.counts).toMatchObject({ shuttles: 2 });

    const erased = await erasePerson(sources, 'x1', 'op');
    expect(erased.shuttleRowsDeleted).toBe(2);
    expect((await d.vehicles())[0]!.drivers).toEqual(['Nguyễn Văn Tài']);
    expect((await d.routes())[0]!.riders).toBe(1);
    await expect(exportPerson(sources, 'x1', 'op')).rejects.toThrow(/holds nothing/);

    // A named driver (not a worker) leaves the vehicle by setting its drivers.
    expect(await d.setVehicleDrivers('v1', { workers: ['a2'] })).toEqual({ drivers: 1 });
    expect((await d.vehicles())[0]!.drivers).toEqual(['a2']);
    await expect(d.setVehicleDrivers('v1', { workers: ['x1'] })).rejects.toThrow(/on no organisation's worker list/);
    await store.close();
    await d.close();
  });
});

describe('Decree 13 requests in the console', () => {
  it("the console's audit trail names a request's route with its parameters, never a worker id", () => {
    expect(auditTarget('/api/organisations/:org/workers/:worker/revoke', { org: 'ORG-A', worker: 'x1' })).toBe('/api/organisations/ORG-A/workers/:worker/revoke');
    expect(auditTarget('/api/organisations/:org/passes/:passId/revoke', { org: 'ORG-A', passId: 'p 1' })).toBe('/api/organisations/ORG-A/passes/p%201/revoke');
    expect(auditTarget(undefined, undefined)).toBe('(no route)');
  });
});
