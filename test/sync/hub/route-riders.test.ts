import { describe, expect, it } from 'vitest';
import type { WorkerRecord } from '../../../base/common/types.js';
import { rosterCodec } from '../../../sync/downlink-codec.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { directoryBackends, type DirectoryBackend } from '../../helpers/directory-db.js';
import { listedWorker } from '../../helpers/listed-worker.js';

const NOW = Date.now();
const listed = (id: string) => listedWorker(id, NOW);

/** A bus kiosk's roster as the downlink applies it. */
class BusKiosk {
  cursor = 0;
  readonly held = new Map<string, WorkerRecord>();
  constructor(private readonly d: HubDirectory) {}
  async sync(): Promise<string> {
    const parts = await this.d.respondTo('kiosk-bus', { v: PROTOCOL_VERSION, stream: 'roster', cursor: this.cursor }, NOW);
    const kind = parts[0]!.kind;
    if (kind === 'current') return kind;
    if (kind === 'snapshot') this.held.clear();
    for (const c of parts.flatMap((p) => p.body.map((b) => rosterCodec.fromWire(b)))) {
      if (c.deleted) this.held.delete(c.key);
      else this.held.set(c.key, c.value);
    }
    this.cursor = parts[0]!.to;
    return kind;
  }
}

async function shuttle(backend: DirectoryBackend): Promise<{ d: HubDirectory; bus: BusKiosk }> {
  const d = await HubDirectory.open(await backend.target());
  for (const o of ['org-a', 'org-c']) {
    await d.addOrganisation({ id: o, name: o, kind: 'company' }, NOW);
    await d.addSite({ id: `site-${o}`, orgId: o }, NOW);
  }
  await d.uploadWorkers('org-a', [listed('x1'), listed('a2')], { nowMs: NOW });
  await d.addCheckpoint({ id: 'bus-1', siteId: 'site-org-a', kind: 'bus' }, NOW);
  await d.addRoute({ id: 'r1', orgIds: ['org-a'] }, NOW);
  await d.setRouteRiders('r1', ['x1', 'a2']);
  await d.setCheckpointRoutes('bus-1', ['r1']);
  await d.placeDevices('bus-1', ['kiosk-bus'], NOW);
  const bus = new BusKiosk(d);
  await bus.sync();
  expect([...bus.held.keys()].sort()).toEqual(['a2', 'x1']);
  return { d, bus };
}

describe.each(directoryBackends)('route riders on $name follow the organisations the route serves', (backend) => {
  it('a rider dropped by their organisation and listed by one the route does not serve leaves the bus kiosk, by delta and by snapshot', async () => {
    const { d, bus } = await shuttle(backend);
    await d.uploadWorkers('org-a', [listed('a2')], { nowMs: NOW + 1 });
    await bus.sync();
    expect([...bus.held.keys()]).toEqual(['a2']);
    await d.uploadWorkers('org-c', [listed('x1')], { nowMs: NOW + 2 });
    await bus.sync();
    expect([...bus.held.keys()]).toEqual(['a2']);
    bus.cursor = 0;
    await bus.sync();
    expect([...bus.held.keys()]).toEqual(['a2']);
    expect((await d.routes()).find((r) => r.id === 'r1')!.riders).toBe(1);
    await d.close();
  });

  it('a rider removed from the roster (as by an erasure) is no longer a rider, and the bus kiosk drops them', async () => {
    const { d, bus } = await shuttle(backend);
    await d.removeWorkers(['x1']);
    expect(await bus.sync()).toBe('snapshot');
    expect([...bus.held.keys()]).toEqual(['a2']);
    expect((await d.routes()).find((r) => r.id === 'r1')!.riders).toBe(1);
    await d.close();
  });
});
