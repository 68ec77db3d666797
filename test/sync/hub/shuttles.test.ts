import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkerRecord } from '../../../base/common/types.js';
import { rosterCodec, streamCodecs } from '../../../sync/downlink-codec.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { listedWorker } from '../../helpers/listed-worker.js';

const NOW = Date.parse('2026-11-27T06:00:00Z');
const listed = (id: string) => listedWorker(id, NOW);

/** What a bus kiosk holds after each download (a snapshot replaces, a delta changes). */
function follow(d: HubDirectory, deviceId: string) {
  const held = { cursor: 0, workers: new Map<string, WorkerRecord>(), kind: '' };
  return {
    async sync() {
      const parts = await d.respondTo(deviceId, { v: PROTOCOL_VERSION, stream: 'roster', cursor: held.cursor }, NOW);
      held.kind = parts[0]!.kind;
      if (held.kind === 'current') return this;
      if (held.kind === 'snapshot') held.workers.clear();
      for (const c of parts.flatMap((p) => p.body.map((b) => rosterCodec.fromWire(b)))) {
        if (c.deleted) held.workers.delete(c.key);
        else held.workers.set(c.key, c.value);
      }
      held.cursor = parts[0]!.to;
      return this;
    },
    ids: () => [...held.workers.keys()].sort(),
    kind: () => held.kind,
  };
}

/** Shuttles in the registry: vehicles, routes, riders, drivers; a bus checkpoint's kiosks get its routes' riders. */
describe.each(directoryBackends)('shuttles on $name: vehicles, routes, riders and the bus roster', (backend) => {
  let d: HubDirectory;

  beforeEach(async () => {
    d = await HubDirectory.open(await backend.target());
    for (const o of ['org-a', 'org-b', 'org-c']) await d.addOrganisation({ id: o, name: o, kind: 'company' }, NOW);
    await d.addSite({ id: 'site-a', orgId: 'org-a' }, NOW);
    await d.addSite({ id: 'site-b', orgId: 'org-b' }, NOW);
    await d.addSite({ id: 'site-c', orgId: 'org-c' }, NOW);
    await d.uploadWorkers('org-a', [listed('A1'), listed('A2'), listed('DRV1')], { nowMs: NOW });
    await d.uploadWorkers('org-b', [listed('B1')], { nowMs: NOW });
    await d.uploadWorkers('org-c', [listed('C1')], { nowMs: NOW });
    await d.addCheckpoint({ id: 'bus-51b', siteId: 'site-a', kind: 'bus', orgIds: ['org-a'] }, NOW);
    await d.placeDevices('bus-51b', ['kiosk-bus'], NOW);
  });
  afterEach(async () => {
    await d.close();
  });

  it('registers a shared shuttle: its vehicle (plate, drivers), its route and riders of both organisations', async () => {
    await d.addVehicle({ id: 'xe-01', plate: '51b-123.45', orgIds: ['org-a', 'org-b'], driverWorkers: ['DRV1'], driverNames: ['Nguyễn Văn Tài'] }, NOW);
    await d.addRoute({ id: 'tuyen-1', name: 'Thủ Đức - KCN', orgIds: ['org-a', 'org-b'], vehicleId: 'xe-01' }, NOW);
    expect(await d.setRouteRiders('tuyen-1', ['A1', 'B1'])).toEqual({ riders: 2, added: 2, removed: 0 });
    expect(await d.vehicles()).toEqual([{ id: 'xe-01', plate: '51B-123.45', orgIds: ['org-a', 'org-b'], drivers: ['Nguyễn Văn Tài', 'DRV1'], routes: ['tuyen-1'] }]);
    expect(await d.routes()).toEqual([{ id: 'tuyen-1', name: 'Thủ Đức - KCN', orgIds: ['org-a', 'org-b'], vehicleId: 'xe-01', riders: 2, checkpoints: [] }]);
  });

  it("refuses riders of an organisation the route does not serve, unknown workers, a driver on no list, a bus link to a gate, all in plain words", async () => {
    await d.addRoute({ id: 'tuyen-1', orgIds: ['org-a'] }, NOW);
    await expect(d.setRouteRiders('tuyen-1', ['A1', 'C1', 'Z9'])).rejects.toThrow(/riders refused, nothing changed:\nC1: a worker of org-c, which route tuyen-1 does not serve\nZ9: on no organisation's worker list/);
    expect((await d.routes())[0]!.riders).toBe(0);
    await expect(d.addVehicle({ id: 'xe-02', plate: '51B-999.99', orgIds: ['org-a'], driverWorkers: ['Z9'] }, NOW)).rejects.toThrow(/driver Z9 is on no organisation's worker list/);
    await expect(d.addVehicle({ id: 'xe-03', plate: '!', orgIds: ['org-a'] }, NOW)).rejects.toThrow(/plate "!"/);
    await expect(d.addRoute({ id: 'tuyen-2', orgIds: ['org-a'], vehicleId: 'xe-404' }, NOW)).rejects.toThrow(/no vehicle xe-404/);
    await d.addCheckpoint({ id: 'gate-a', siteId: 'site-a', kind: 'gate' }, NOW);
    await expect(d.setCheckpointRoutes('gate-a', ['tuyen-1'])).rejects.toThrow(/gate, not a bus/);
    await expect(d.setCheckpointRoutes('bus-51b', ['tuyen-404'])).rejects.toThrow(/no route tuyen-404/);
  });

  it("gives a bus checkpoint's kiosk its routes' riders; a rider taken off, or a route unlinked, reaches it as a removal", async () => {
    await d.addRoute({ id: 'tuyen-1', orgIds: ['org-a', 'org-b'] }, NOW);
    await d.addRoute({ id: 'tuyen-2', orgIds: ['org-c'] }, NOW);
    await d.setRouteRiders('tuyen-1', ['A1', 'B1']);
    await d.setRouteRiders('tuyen-2', ['C1']);
    const bus = follow(d, 'kiosk-bus');
    expect((await bus.sync()).ids()).toEqual(['A1', 'A2', 'DRV1']); // not linked yet: the checkpoint's organisation

    await d.setCheckpointRoutes('bus-51b', ['tuyen-1']);
    expect((await bus.sync()).ids()).toEqual(['A1', 'B1']);
    expect(bus.kind()).toBe('snapshot');
    expect((await d.placementOf('kiosk-bus'))?.orgIds).toEqual(['org-a', 'org-b']);

    // A rider's record changes: a delta. A rider taken off: a fresh snapshot without them.
    await d.importRoster([{ ...streamlessWorker('B1'), caseStatus: 'F1' }], false);
    expect((await bus.sync()).kind()).toBe('delta');
    await d.setRouteRiders('tuyen-1', ['A1']);
    expect((await bus.sync()).ids()).toEqual(['A1']);
    // A rider removed from their organisation's list goes too.
    await d.setRouteRiders('tuyen-1', ['A1', 'A2']);
    await bus.sync();
    await d.uploadWorkers('org-a', [listed('A1'), listed('DRV1')], { nowMs: NOW });
    expect((await bus.sync()).ids()).toEqual(['A1']);

    await d.setCheckpointRoutes('bus-51b', ['tuyen-2']);
    expect((await bus.sync()).ids()).toEqual(['C1']);
    expect((await d.routes()).map((r) => [r.id, r.checkpoints])).toEqual([['tuyen-1', []], ['tuyen-2', ['bus-51b']]]);
    const placed = (await d.respondTo('kiosk-bus', { v: PROTOCOL_VERSION, stream: 'placement', cursor: 0 }, NOW)).flatMap((p) => p.body.map((b) => streamCodecs.placement.fromWire(b)));
    expect(placed).toEqual([{ deleted: false, key: 'kiosk-bus', value: { deviceId: 'kiosk-bus', checkpointId: 'bus-51b', siteId: 'site-a', orgIds: ['org-a', 'org-c'] } }]);
  });
});

function streamlessWorker(id: string): WorkerRecord {
  return { workerId: id, displayName: `Công nhân ${id}`, company: '', team: 'Tổ 1', declaredAt: NOW, declarationFlagged: false, testResult: null, testedAt: null, vaccineDoses: 2, quarantineUntil: null, caseStatus: 'none' };
}
